"""Files that plain Keras loads: the fast training layers save as Keras' own.

A `.keras` file (or config) of a model built with stock-equivalent options names
only Keras' layers, so `keras.saving.load_model` loads it in a Python where
keras_resnet cannot be imported (checked in a child process, tests/plain_keras_child.py),
with the same outputs. The fast layers (`FusedBatchNormalization`, the small-map GEMM
`Conv2D`) are what the zoo's models train with; `with_fast_layers` and
`train --resume` put them back into a loaded model.
"""

import json
import os
import subprocess
import sys
import zipfile

import keras
import numpy as np
import pytest

import keras_resnet
from keras_resnet.inference import with_fast_layers, with_stock_layers
from keras_resnet.layers import Conv2D, FusedBatchNormalization
from keras_resnet.pretrained import PRETRAINED
from plain_keras_child import fill

HERE = os.path.dirname(os.path.abspath(__file__))
TOLERANCE = 1e-5
SIZE = (32, 32, 3)  # the smallest input every ImageNet-family builder takes
# One ImageNet model per layout (basic, bottleneck, deep stem + avg-down, grouped, wide,
# pre-activation): a deeper net of the same layout adds blocks, not layer kinds.
IMAGENET_BUILDERS = ["ResNet18", "ResNet50", "ResNet50D", "ResNeXt50_32x4d", "WideResNet50_2",
                     "ResNet50V2"]
# Saved as whole .keras files (weights included); the others, whose files would be
# 90-500 MB, go to the child as their config (`model.to_json()`), which it builds
# with Keras and fills with the same deterministic weights (`fill`). A file keys
# the weights by layer class and position, which these two check as well as all.
WHOLE_FILES = {"ResNet18", "ResNet50"}


def _fast_counts(model):
    return (sum(type(layer) is FusedBatchNormalization for layer in model.layers),
            sum(type(layer) is Conv2D for layer in model.layers))


def _names_only_keras(path) -> str:
    """The config.json of the .keras file at `path`, checked to name no keras_resnet class."""
    config = zipfile.ZipFile(path).read("config.json").decode()
    assert "keras_resnet" not in config and "FusedBatchNormalization" not in config, path
    return config


class ChildBatch:
    """Models for one child process (importing TensorFlow there costs seconds)."""

    def __init__(self, directory):
        self.directory = directory
        self.entries = []
        self.rng = np.random.default_rng(0)

    def add(self, name: str, model, whole_file: bool, filled: bool = True):
        """Queue `model` (given `fill`'s weights unless `filled` is False) as a whole
        `.keras` file or as its JSON config."""
        if filled:
            fill(model)
        x = self.rng.normal(size=(2, *model.input_shape[1:])).astype("float32")
        base = os.path.join(self.directory, name)
        np.save(base + ".x.npy", x)
        # an eager call: `predict` would trace a function per model, seconds each
        np.save(base + ".expected.npy", np.asarray(model(x, training=False)))
        if whole_file:
            model.save(base + ".keras")
            _names_only_keras(base + ".keras")
            path, kind = base + ".keras", "file"
        else:
            config = model.to_json()
            assert "keras_resnet" not in config, name
            with open(base + ".json", "w") as f:
                f.write(config)
            path, kind = base + ".json", "json"
        self.entries.append(dict(name=name, kind=kind, path=path, x=base + ".x.npy",
                                 expected=base + ".expected.npy"))
        keras.backend.clear_session()

    def run(self) -> dict:
        manifest = os.path.join(self.directory, "manifest.json")
        results = os.path.join(self.directory, "results.json")
        with open(manifest, "w") as f:
            json.dump(self.entries, f)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        env.update(TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
        done = subprocess.run([sys.executable, os.path.join(HERE, "plain_keras_child.py"),
                               manifest, results], cwd=self.directory, env=env,
                              capture_output=True, text=True, timeout=1800)
        assert done.returncode == 0, done.stderr[-3000:]
        with open(results) as f:
            return json.load(f)


def _check(results: dict, name: str):
    result = results[name]
    assert "error" not in result, result.get("error")
    assert result["max_abs_diff"] <= TOLERANCE, (name, result["max_abs_diff"])
    assert all(c.startswith("keras.") for c in result["classes"]), result["classes"]


# ------------------------------------------------------------------ in the child, quick

@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    """A ResNet18 after `fit`: its file, with the compiled optimizer's state."""
    batch = ChildBatch(str(tmp_path_factory.mktemp("quick")))
    keras.utils.set_random_seed(0)
    model = keras_resnet.ResNet18(SIZE, 10)
    model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(1)
    model.fit(rng.normal(size=(16, *SIZE)).astype("float32"), rng.integers(0, 10, 16),
              batch_size=8, epochs=1, verbose=0)
    assert _fast_counts(model) == (20, 20)  # it trained with the fast layers
    batch.add("resnet18_after_fit", model, whole_file=True, filled=False)
    return batch.run()


def test_plain_keras_loads_a_model_after_fit(quick):
    _check(quick, "resnet18_after_fit")


# ------------------------------------------------------------------ in the child, all

@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """A `keras-resnet train` run of a ResNet18 on the digits (one step)."""
    from keras_resnet.training import train
    out = str(tmp_path_factory.mktemp("train") / "run")
    result = train("resnet18", "digits", out=out, epochs=1, batch_size=16, steps_per_epoch=1,
                   image_size=32, verbose=0)
    return out, result.model


@pytest.fixture(scope="module")
def everything(tmp_path_factory, trained_run):
    """Every ImageNet-family builder at its defaults, every architecture and variant of
    the pretrained table, and the model of a `keras-resnet train` run."""
    batch = ChildBatch(str(tmp_path_factory.mktemp("all")))
    for builder in IMAGENET_BUILDERS:
        batch.add(builder, getattr(keras_resnet, builder)(SIZE, 5),
                  whole_file=builder in WHOLE_FILES)
    defaults = {(keras_resnet.model_info(n).name, keras_resnet.model_info(n).variant)
                for n in keras_resnet.list_models()}
    for model, variant in sorted({(row.model, row.variant) for row in PRETRAINED} - defaults):
        batch.add(f"{model}-{variant}", keras_resnet.get_model(model, input_shape=SIZE,
                                                               num_classes=5, variant=variant),
                  whole_file=model == "resnet18")
    out, model = trained_run
    _names_only_keras(os.path.join(out, "model.keras"))
    batch.add("keras-resnet train", model, whole_file=True, filled=False)
    return batch.run()


@pytest.mark.slow  # builds 11 ImageNet-sized models twice and trains one: a minute
def test_plain_keras_loads_every_imagenet_and_pretrained_model(everything):
    pairs = {(row.model, row.variant) for row in PRETRAINED}
    assert len(everything) == len(IMAGENET_BUILDERS) + 5 + 1  # +5 non-default variants
    assert {(keras_resnet.model_info(n).name, keras_resnet.model_info(n).variant)
            for n in keras_resnet.list_models()} | {
        tuple(k.split("-")) for k in everything if "-" in k} >= pairs
    for name in everything:
        _check(everything, name)


@pytest.mark.slow  # trains a ResNet18 for one step
def test_resume_trains_with_the_fast_layers(trained_run):
    from keras_resnet.training import train
    out, model = trained_run
    resumed = train(None, None, out=out, resume=True, verbose=0).model
    assert _fast_counts(resumed) == _fast_counts(model) == (20, 20)
    assert int(resumed.optimizer.iterations.numpy()) == 1  # the checkpoint's optimizer state


# ------------------------------------------------------------------ in this process

def test_the_fast_layers_save_as_keras_layers(tmp_path):
    model = keras_resnet.ResNet18(SIZE, 10)
    assert _fast_counts(model) == (20, 20)  # a fresh model trains with the fast layers
    config = model.get_config()
    layers = {layer["config"]["name"]: layer for layer in config["layers"]}
    for name, class_name in (("conv1_bn", "BatchNormalization"), ("conv1_conv", "Conv2D")):
        assert layers[name]["module"] == "keras.layers"
        assert layers[name]["class_name"] == class_name
        assert layers[name]["registered_name"] is None
    model.save(tmp_path / "m.keras")
    _names_only_keras(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert _fast_counts(loaded) == (0, 0)
    assert type(loaded.get_layer("conv1_bn")) is keras.layers.BatchNormalization
    assert type(loaded.get_layer("conv1_conv")) is keras.layers.Conv2D


def test_with_fast_layers_inverts_with_stock_layers(rng):
    model = keras_resnet.ResNet18(SIZE, 10, variant="v1.5")
    fill(model)
    stock = with_stock_layers(model)
    assert _fast_counts(stock) == (0, 0)
    fast = with_fast_layers(stock)
    assert _fast_counts(fast) == (20, 20)
    assert [layer.get_config() for layer in fast.layers] == \
        [layer.get_config() for layer in model.layers]
    x = rng.normal(size=(2, *SIZE)).astype("float32")
    expected = model.predict(x, verbose=0)
    for copy in (stock, fast):  # (training steps: test_fused_batchnorm, test_small_map_conv)
        np.testing.assert_array_equal(copy.predict(x, verbose=0), expected)


def test_with_fast_layers_keeps_other_layers_and_checks_its_argument():
    class MyConv(keras.layers.Conv2D):
        pass

    inputs = keras.Input((4, 4, 3))
    x = MyConv(2, 1, name="mine")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    model = keras.Model(inputs, keras.layers.Conv2D(2, 1, name="stock")(x))
    fast = with_fast_layers(model)
    assert type(fast.get_layer("mine")) is MyConv  # a subclass of Keras' layer: kept
    assert type(fast.get_layer("bn")) is FusedBatchNormalization
    assert type(fast.get_layer("stock")) is Conv2D
    for function in (with_fast_layers, with_stock_layers):
        with pytest.raises(ValueError, match="functional or Sequential"):
            function("resnet18")


def test_loading_fast_layers_loads_a_file_with_them(tmp_path):
    from keras_resnet.layers import loading_fast_layers
    model = keras_resnet.ResNet18(SIZE, 10)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    model.save(tmp_path / "m.keras")
    with loading_fast_layers():
        loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert _fast_counts(loaded) == (20, 20) and loaded.optimizer is not None
    # only inside the block
    assert _fast_counts(keras.saving.load_model(tmp_path / "m.keras")) == (0, 0)


def test_a_file_saved_by_keras_resnet_0_1_still_loads_and_converts(tmp_path):
    """tests/goldens/keras_resnet_0_1_file.keras was saved by keras_resnet at 70e78af,
    before the fast layers saved as Keras' own: it names keras_resnet>FusedBatchNormalization
    and keras_resnet>Conv2D. It loads with keras_resnet, with its outputs, and
    `with_fast_layers` turns it into a model whose file plain Keras loads."""
    from keras_resnet.layers import SavedFusedBatchNormalization
    golden = os.path.join(HERE, "goldens", "keras_resnet_0_1_file.keras")
    io = np.load(os.path.join(HERE, "goldens", "keras_resnet_0_1_file_io.npz"))
    assert "keras_resnet>FusedBatchNormalization" in zipfile.ZipFile(golden).read(
        "config.json").decode()
    old = keras.saving.load_model(golden)
    assert sum(type(layer) is SavedFusedBatchNormalization for layer in old.layers) == 6
    np.testing.assert_allclose(np.asarray(old(io["x"], training=False)), io["y"], atol=1e-6)
    today = with_fast_layers(old)
    assert _fast_counts(today) == (6, 6)
    today.save(tmp_path / "today.keras")
    _names_only_keras(tmp_path / "today.keras")
    assert _fast_counts(with_fast_layers(keras.saving.load_model(tmp_path / "today.keras"))) \
        == (6, 6)
    stock = with_stock_layers(old)
    assert not any(isinstance(layer, FusedBatchNormalization) for layer in stock.layers)
    np.testing.assert_allclose(np.asarray(stock(io["x"], training=False)), io["y"], atol=1e-6)
