"""`keras_resnet.export` and `keras-resnet export`: SavedModel, TFLite and ONNX, float32 and int8.

ONNX is run with onnxruntime and compared with Keras for every architecture kind
(small stage lists of each: the export path is per layer kind, not per depth).
int8 is checked on a ResNet20 trained briefly on scikit-learn's digits: the
quantized model must really be integer, and must classify the held-out digits
about as the float model does (the benchmark measures the full-length version).
"""

import json
import os

import keras
import numpy as np
import pytest

import keras_resnet
from conftest import randomize_bn_statistics, tflite_run
from keras_resnet import cli
from keras_resnet.deploy import export

KINDS = {  # one model per architecture kind, one block per stage (they differ per layer kind)
    "basic": lambda: keras_resnet.ResNet((1, 1, 1, 1), (32, 32, 3), 10, variant="v1.5"),
    "bottleneck": lambda: keras_resnet.ResNet((1, 1, 1, 1), (32, 32, 3), 10,
                                              block_type="bottleneck", widths=(16, 32, 64, 128)),
    "v2": lambda: keras_resnet.ResNet((1, 1, 1, 1), (32, 32, 3), 10, block_type="bottleneck",
                                      variant="v2", widths=(16, 32, 64, 128)),
    "cifar-option-a": lambda: keras_resnet.ResNet20(),
    "resnext": lambda: keras_resnet.ResNet((1, 1, 1, 1), (32, 32, 3), 10,
                                           block_type="bottleneck", groups=8, width_per_group=4,
                                           variant="v1.5"),
    "resnet-d": lambda: keras_resnet.ResNet((1, 1, 1, 1), (32, 32, 3), 10,
                                            block_type="bottleneck", stem="deep", avg_down=True,
                                            variant="v1.5", widths=(16, 32, 64, 128)),
    # timm's BiT (GroupNorm + weight-standardised convs) and EvoNorm, 32 channels a group
    "bit": lambda: keras_resnet.ResNet((1, 1, 1, 1), (32, 32, 3), 10, block_type="bottleneck",
                                       variant="v2.timm", stem="fixed", norm="group", conv="ws",
                                       widths=(32, 64, 96, 128)),
    "evonorm": lambda: keras_resnet.ResNet((1, 1, 1, 1), (32, 32, 3), 10, block_type="bottleneck",
                                           variant="v2.timm", stem="deep", avg_down=True,
                                           norm="evonorm", widths=(64, 32, 64, 64)),
}


def _onnx_run(path, x):
    import onnxruntime as ort
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})[0]


def _logits_model(kind, rng):
    model = KINDS[kind]()
    model = keras.Model(model.input, model.get_layer("predictions").output)  # before softmax
    randomize_bn_statistics(model, rng)
    return model


@pytest.mark.parametrize("kind", list(KINDS))
def test_onnx_matches_keras_with_any_batch(kind, tmp_path, rng):
    model = _logits_model(kind, rng)
    path = tmp_path / "model.onnx"
    assert export(model, path, "onnx") == path
    assert os.listdir(tmp_path) == ["model.onnx"]  # no temporary file left
    for batch in (1, 3):  # the batch dimension is dynamic
        x = rng.uniform(-2, 2, (batch, 32, 32, 3)).astype("float32")
        expected = keras.ops.convert_to_numpy(model(x, training=False))
        got = _onnx_run(path, x)
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-4)


def test_savedmodel_and_tflite_match_keras(tmp_path, rng):
    import tensorflow as tf
    model = _logits_model("basic", rng)
    x = rng.uniform(-2, 2, (2, 32, 32, 3)).astype("float32")
    expected = keras.ops.convert_to_numpy(model(x, training=False))

    export(model, tmp_path / "saved", "savedmodel")
    export(model, tmp_path / "unfolded", "savedmodel", fold_batchnorm=False)
    for name in ("saved", "unfolded"):
        loaded = tf.saved_model.load(str(tmp_path / name))
        np.testing.assert_allclose(loaded.serve(x).numpy(), expected, rtol=0, atol=1e-4)
        statistics = [v.name for v in loaded.variables if "moving_mean" in v.name]
        assert len(statistics) == (0 if name == "saved" else 12)  # folded: no BN left
    with pytest.raises(ValueError, match="already exists"):  # never written over
        export(model, tmp_path / "saved", "savedmodel")

    export(model, tmp_path / "model.tflite", "tflite", fold_batchnorm=False)
    got, interpreter = tflite_run(tmp_path / "model.tflite", x)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-4)
    assert sorted(os.listdir(tmp_path)) == ["model.tflite", "saved", "unfolded"]


# --- int8 ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    """A ResNet20 trained 4 epochs on digits (32x32), saved as a `train` run directory,
    with its held-out images, float predictions and 128 calibration images."""
    from keras_resnet.data import load_source
    from keras_resnet.data.pipeline import make_dataset
    from keras_resnet.training import calibration_data
    keras.utils.set_random_seed(0)
    data = load_source("digits")
    model = keras_resnet.ResNet20(num_classes=10)
    model.compile(keras.optimizers.Adam(2e-3), "sparse_categorical_crossentropy")
    train = make_dataset(data, "train", (32, 32), 64, training=True, augment_images=False)
    model.fit(train, epochs=4, verbose=0)  # no random augmentation: the same net every run
    run_dir = tmp_path_factory.mktemp("run")
    model.save(run_dir / "model.keras")
    run = {"class_names": data.class_names, "mean": list(data.mean), "std": list(data.std),
           "image_size": 32, "model": "resnet20", "weights": None}
    (run_dir / "run.json").write_text(json.dumps(run))
    test = np.concatenate([x.numpy() for x, _ in make_dataset(data, "test", (32, 32), 128,
                                                              training=False)])
    p32 = model.predict(test, verbose=0).argmax(-1)
    accuracy = np.mean(p32 == data.test.labels)
    assert accuracy > 0.85, accuracy  # trained enough for agreement to mean something
    return dict(model=model, dir=run_dir, test=test, labels=data.test.labels, p32=p32,
                calibration=calibration_data(run, "digits", 128))


def _check_int8_predictions(got, run):
    agreement = np.mean(got.argmax(-1) == run["p32"])
    accuracy = np.mean(got.argmax(-1) == run["labels"])
    assert agreement >= 0.95, agreement
    assert accuracy >= np.mean(run["p32"] == run["labels"]) - 0.03, accuracy


def test_int8_onnx_is_integer_and_agrees_with_float(digits_run, tmp_path):
    import onnx
    path = tmp_path / "int8.onnx"
    export(digits_run["model"], path, "onnx", quantize="int8",
           calibration=digits_run["calibration"])
    graph = onnx.load(str(path)).graph
    ops = [n.op_type for n in graph.node]
    assert ops.count("QuantizeLinear") >= 20
    last = next(n for n in graph.node if graph.output[0].name in n.output)
    assert last.op_type == "Softmax"  # probabilities stay float32, not 1/256 steps
    int8_kernels = [t for t in graph.initializer if t.data_type == onnx.TensorProto.INT8
                    and len(t.dims) == 4]
    convs = sum(isinstance(layer, keras.layers.Conv2D) for layer in digits_run["model"].layers)
    assert len(int8_kernels) == convs == 19  # every convolution's kernel
    _check_int8_predictions(_onnx_run(path, digits_run["test"]), digits_run)


def test_int8_tflite_is_integer_and_agrees_with_float(digits_run, tmp_path):
    path = tmp_path / "int8.tflite"
    batches = ((x, 0) for x in np.split(digits_run["calibration"], 4))  # (x, y) batches work
    export(digits_run["model"], path, "tflite", quantize="int8", calibration=batches)
    got, interpreter = tflite_run(path, digits_run["test"])
    kinds = {d["dtype"] for d in interpreter.get_tensor_details()}
    assert np.int8 in kinds and np.float32 in kinds  # int8 inside, float32 at the edges
    _check_int8_predictions(got, digits_run)


def test_cli_exports_a_run_as_int8(digits_run, tmp_path, capsys):
    out = tmp_path / "model.onnx"
    assert cli.main(["export", str(digits_run["dir"] / "model.keras"), str(out), "--format",
                     "onnx", "--int8", "--calibration", "digits",
                     "--calibration-images", "64"]) == 0
    message = capsys.readouterr().out
    assert f"wrote {out}" in message and "int8, calibrated on 64 images of digits" in message
    _check_int8_predictions(_onnx_run(out, digits_run["test"]), digits_run)


def test_calibration_data_is_the_runs_preprocessing():
    from keras_resnet.data import load_source
    from keras_resnet.training import calibration_data
    data = load_source("digits")
    run = {"mean": [0.5] * 3, "std": [0.25] * 3, "image_size": 16}
    images = calibration_data(run, "digits", 50)
    assert images.shape == (50, 16, 16, 3) and images.dtype == np.float32
    # 0..255 pixels -> (x / 255 - 0.5) / 0.25: the run's normalisation, not the data's
    assert images.min() == pytest.approx(-2.0) and images.max() == pytest.approx(2.0)
    assert len(calibration_data(run, "digits", 10_000)) == len(data.train)
    np.testing.assert_array_equal(images, calibration_data(run, "digits", 50))  # fixed seed


@pytest.mark.parametrize("kwargs, message", [
    (dict(format="keras"), "`format` must be one of savedmodel, tflite, onnx"),
    (dict(format="onnx", path="m.tflite"), r"must end in \.onnx"),
    (dict(format="savedmodel", quantize="int8", calibration=np.zeros((1, 32, 32, 3))),
     "needs format 'tflite' or 'onnx'"),
    (dict(format="onnx", quantize="int8"), "needs `calibration`"),
    (dict(format="onnx", quantize="int4"), "`quantize` must be None or 'int8'"),
    (dict(format="onnx", calibration=np.zeros((1, 32, 32, 3))), "only used with"),
    (dict(format="onnx", quantize="int8", calibration=np.zeros((4, 64, 64, 3))),
     r"shape \(batch, 32, 32, 3\).*\(4, 64, 64, 3\)"),
    (dict(format="onnx", quantize="int8", calibration=np.zeros((0, 32, 32, 3))), "no images"),
    (dict(format="onnx", quantize="int8", calibration=3), "an array of images"),
    (dict(format="onnx", quantize="int8", calibration=np.zeros((1, 32, 32, 3)),
          calibration_images=0), "`calibration_images` must be a positive integer"),
    (dict(format="onnx", fold_batchnorm="yes"), "`fold_batchnorm` must be True or False"),
    (dict(format="onnx", path="nodir/m.onnx"), "the directory of `path` does not exist"),
])
def test_bad_arguments_are_named(kwargs, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model = keras_resnet.ResNet20()
    kwargs = {"path": f"m.{kwargs.get('format', 'x')}", **kwargs}
    with pytest.raises(ValueError, match=message):
        export(model, **kwargs)
    assert os.listdir(tmp_path) == []


def test_other_backends_get_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    with pytest.raises(ValueError, match="needs the TensorFlow backend.*KERAS_BACKEND"):
        export(keras_resnet.ResNet20(), tmp_path / "m.onnx", "onnx")
