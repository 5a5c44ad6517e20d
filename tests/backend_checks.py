"""The model side of keras_resnet on one Keras backend, against TensorFlow's results.

Run by tests/test_backends.py in a fresh process with KERAS_BACKEND=jax or torch
(the backend is fixed when Keras is imported):

    KERAS_BACKEND=jax python tests/backend_checks.py CASES_DIR

CASES_DIR is what the TensorFlow side wrote (`write_cases` in test_backends.py):
`kinds.json` (each architecture kind's builder and arguments), per kind its
seeded weights (`KIND.weights.h5`, non-trivial BN statistics) and `KIND.npz`
(inputs, labels, TensorFlow's inference and training-mode logits), plus a
`.keras` file TensorFlow saved, backbone and include_preprocessing outputs,
a torchvision-layout `.safetensors` file and a Hugging Face Hub cache holding it
under a pretrained tag. Every check runs; each failure is printed as one
`FAIL name: message` line, and the exit code is 1 when any failed.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
import traceback

import keras
import numpy as np

import keras_resnet
from keras_resnet.preprocessing import (InputNormalization, normalize_input,
                                        preprocess_input)
from keras_resnet.weights import load_weights

import torch_goldens as goldens
from conftest import assert_close

BF16_TOLERANCE = 5e-2  # bfloat16 keeps 8 bits of mantissa


class Checks:
    """Runs named checks, keeping every failure."""

    def __init__(self):
        self.failures, self.timings = [], {}

    def run(self, name, check, *args):
        start = time.perf_counter()
        try:
            check(*args)
        except Exception as e:  # report every failure, not only the first
            detail = "".join(traceback.format_exception_only(type(e), e)).strip()
            where = traceback.extract_tb(e.__traceback__)[-1]
            self.failures.append(f"{name}: {detail} (at {os.path.basename(where.filename)}:"
                                 f"{where.lineno})")
            print(f"FAIL {self.failures[-1]}", flush=True)
        self.timings[name] = round(time.perf_counter() - start, 2)
        keras.backend.clear_session()


def build(spec, **kwargs):
    """A model of one kind, as kinds.json describes it."""
    builder = getattr(keras_resnet, spec["builder"])
    return builder(*spec["args"], **{**spec["kwargs"], **kwargs})


def check_kind(cases, kind, spec, checks):
    data = np.load(os.path.join(cases, f"{kind}.npz"))
    x, y = data["x"], data["y"]
    weights = os.path.join(cases, f"{kind}.weights.h5")
    built = {}

    def inference():
        built["model"] = build(spec, weights=weights)  # keras_resnet's .weights.h5 reader
        built["logits"] = built["model"].predict(x, verbose=0)
        assert_close(built["logits"], data["logits"], what="logits")

    checks.run(f"{kind}/inference", inference)
    if "logits" not in built:
        return  # the other checks need the model
    model, ours = built["model"], built["logits"]

    def folded():
        folded = keras_resnet.fold_batchnorm(model, allow_partial=spec["partial_fold"])
        assert_close(folded.predict(x, verbose=0), data["logits"], what="folded logits")
        if spec["bfloat16"]:
            fast = keras_resnet.with_dtype_policy(folded, "mixed_bfloat16")
            out = fast.predict(x, verbose=0)
            assert keras.backend.standardize_dtype(out.dtype) == "float32", out.dtype
            assert_close(out, data["logits"], BF16_TOLERANCE, "folded bfloat16 logits")

    def keras_file():
        path = os.path.join(tempfile.mkdtemp(), f"{kind}.keras")
        model.save(path)
        loaded = keras.saving.load_model(path)
        np.testing.assert_array_equal(loaded.predict(x, verbose=0), ours,
                                      err_msg=".keras round trip")

    def training():
        model.compile(optimizer=keras.optimizers.SGD(0.02, momentum=0.9),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        losses = model.fit(x, y, batch_size=len(x), epochs=6, shuffle=False,
                           verbose=0).history["loss"]
        # The first step's loss comes before any update, from training-mode
        # BatchNormalization (batch statistics): Keras' ops here, TensorFlow's
        # fused kernel there.
        assert_close(np.array(losses[:1]), data["train_loss"][None],
                     what="first training step's loss")
        assert np.isfinite(losses).all() and losses[-1] < losses[0], (
            f"fit did not lower the loss: {losses}")

    for name, check in (("fold_batchnorm", folded),
                        ("keras_file", keras_file), ("training", training)):
        checks.run(f"{kind}/{name}", check)


def check_tensorflow_keras_file(cases):
    """A `.keras` file written on TensorFlow loads here (directly and as `weights=`)."""
    data = np.load(os.path.join(cases, "cifar_a.npz"))
    path = os.path.join(cases, "cifar_a_tensorflow.keras")
    assert_close(keras.saving.load_model(path).predict(data["x"], verbose=0), data["logits"],
                 what="keras.saving.load_model")
    model = keras_resnet.ResNet20(classifier_activation=None, weights=path)
    assert_close(model.predict(data["x"], verbose=0), data["logits"],
                 what="ResNet20(weights=.keras)")


def check_backbone(cases):
    data = np.load(os.path.join(cases, "backbone.npz"))
    model = keras_resnet.backbone("resnet20", (32, 32, 3),
                                  weights=os.path.join(cases, "cifar_a.weights.h5"))
    features = model.predict(data["x"], verbose=0)
    assert sorted(features) == ["conv2", "conv3", "conv4"], sorted(features)
    for stage, value in features.items():
        assert_close(value, data[stage], what=f"backbone {stage}")


def check_freeze():
    """Frozen layers (and their BN statistics) keep their values through fit; the
    rest train. DropPath and the option-A shortcut run in the training step too."""
    model = keras_resnet.ResNet((1, 1, 1), (32, 32, 3), 10, stem="cifar", shortcut="A",
                                variant="v1.5", drop_path_rate=0.1)
    keras_resnet.freeze(model, up_to="conv3")
    before = {layer.name: [np.array(w) for w in layer.get_weights()] for layer in model.layers}
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(1)
    model.fit(rng.normal(size=(8, 32, 32, 3)).astype("float32"), rng.integers(0, 10, 8),
              epochs=1, verbose=0)
    for name, frozen in (("conv1_conv", True), ("conv3_block1_2_bn", True),
                         ("conv4_block1_1_conv", False), ("conv4_block1_2_bn", False),
                         ("predictions", False)):
        after = model.get_layer(name).get_weights()
        same = all(np.array_equal(a, b) for a, b in zip(before[name], after))
        assert same == frozen, f"{name}: {'changed' if frozen else 'unchanged'} by fit"


def check_include_preprocessing(cases, spec):
    data = np.load(os.path.join(cases, "preprocessing.npz"))
    model = build(spec, include_preprocessing=True,
                  weights=os.path.join(cases, "basic.weights.h5"))
    assert_close(model.predict(data["images"], verbose=0), data["logits"], what="uint8 input")
    copy = keras_resnet.with_dtype_policy(model, "mixed_bfloat16")
    dtypes = {layer.compute_dtype for layer in copy.layers
              if layer.name.startswith("preprocessing_")}
    assert dtypes == {"float32"}, f"preprocessing layers of a bfloat16 copy compute in {dtypes}"
    # The other two normalisations, against preprocess_input (numpy).
    for mode, variant in (("caffe", "v1"), ("tf", "v2")):
        inputs = keras.Input((8, 8, 3))
        layer_model = keras.Model(inputs, normalize_input(inputs, InputNormalization(mode)))
        images = data["images"][:, :8, :8].astype("float32")
        assert_close(layer_model.predict(images, verbose=0),
                     preprocess_input(images, "imagenet", variant=variant),
                     what=f"{mode} layers")


def check_torch_weights(cases):
    """torchvision-layout weights: .safetensors, .pth (needs torch) and a pretrained tag
    from the Hub cache, each against the logits torchvision recorded."""
    expected = np.load(goldens.GOLDENS_PATH)["resnet18_logits"]
    x = goldens.random_input().transpose(0, 2, 3, 1)
    # The builder with a tag (which fixes variant="v1.5"); then the files, each
    # loaded into that model after zeroing it.
    model = keras_resnet.ResNet18((64, 64, 3), goldens.NUM_CLASSES, weights="tv_in1k",
                                  classifier_activation=None)
    assert_close(model.predict(x, verbose=0), expected,
                 what="ResNet18(weights='tv_in1k') from the Hub cache")
    safetensors = os.path.join(cases, "resnet18.safetensors")
    sources = {"safetensors": safetensors}
    try:
        import torch
    except ImportError:
        torch = None
        print("note: torch is not installed; the .pth check is skipped")
    if torch is not None:
        from safetensors.numpy import load_file
        pth = os.path.join(tempfile.mkdtemp(), "resnet18.pth")
        torch.save({k: torch.from_numpy(v) for k, v in load_file(safetensors).items()}, pth)
        sources["pth"] = pth
    for what, path in sources.items():
        model.set_weights([np.zeros_like(w) for w in model.get_weights()])
        load_weights(model, path, arch="resnet18", variant="v1.5")
        assert_close(model.predict(x, verbose=0), expected, what=f"ResNet18 from .{what}")


def check_benchmark():
    """`keras-resnet benchmark`'s inference rows on this backend (`--backend` runs it so;
    its training rows are `model.fit`, which the kinds' training check runs)."""
    from keras_resnet import benchmark
    result = benchmark.run("resnet20", batch=2, rounds=1, warmup=1, peak=False)
    assert result["machine"]["backend"] == keras.backend.backend()
    assert result["rows"][0]["path"] == "model.predict_on_batch(x)"
    assert all(np.isfinite(r["img_s"]) and r["img_s"] > 0 for r in result["rows"])


def main(cases):
    print(f"backend {keras.backend.backend()}, keras {keras.__version__}", flush=True)
    with open(os.path.join(cases, "kinds.json")) as f:
        kinds = json.load(f)
    checks = Checks()
    for kind, spec in kinds.items():
        check_kind(cases, kind, spec, checks)
    checks.run("tensorflow_keras_file", check_tensorflow_keras_file, cases)
    checks.run("backbone", check_backbone, cases)
    checks.run("freeze", check_freeze)
    checks.run("include_preprocessing", check_include_preprocessing, cases, kinds["basic"])
    checks.run("torch_weights", check_torch_weights, cases)
    checks.run("benchmark", check_benchmark)
    print("timings " + json.dumps(checks.timings), flush=True)
    print(f"{len(checks.timings) - len(checks.failures)} of {len(checks.timings)} checks "
          "passed", flush=True)
    return 1 if checks.failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
