"""Exported files that take images (issue 23, "Ship"): uint8 RGB in, probabilities out, class
names and preprocessing in each file's metadata, `keras-resnet predict` on the file.

fp32 files must equal the Keras model on the same raw images within 1e-4; int8 ones agree
with fp32 on top-1 for >= 97% of the digits held-out images and stay within 1 point of its
accuracy (a ResNet20 trained briefly, the normalisation put in front as a run from
pretrained weights has it).
"""

import json
import os

import keras
import numpy as np
import pytest

import keras_resnet
from conftest import randomize_bn_statistics
from keras_resnet import cli
from keras_resnet.deploy import export
from keras_resnet.exported import load_exported, predict_exported, read_metadata
from keras_resnet.pretrained import IMAGENET_MEAN_STD, InputNormalization

NAMES = ["ant", "bee", "cat", "dog", "eel"]
NORM = InputNormalization("mean_std", (0.5, 0.4, 0.3), (0.2, 0.25, 0.3))


@pytest.fixture(scope="module")
def model():
    """A small model that normalises its own input and ends in logits."""
    keras.utils.set_random_seed(0)
    m = keras_resnet.ResNet((1, 1, 1, 1), (32, 32, 3), 5, variant="v1.5",
                            include_preprocessing=True, classifier_activation=None)
    randomize_bn_statistics(m, np.random.default_rng(1))
    return m


def _probabilities(model, images):
    return keras.ops.convert_to_numpy(keras.ops.softmax(model(images.astype("float32"))))


@pytest.mark.parametrize("fmt, name", [("onnx", "m.onnx"), ("tflite", "m.tflite"),
                                       ("savedmodel", "saved")])
def test_file_takes_uint8_images_and_returns_probabilities(model, fmt, name, tmp_path, rng):
    path = tmp_path / name
    export(model, path, fmt, label_names=NAMES)
    assert os.listdir(tmp_path) == [name]  # nothing else left
    run, metadata = load_exported(str(path))
    for batch in (1, 3):  # any batch size
        x = rng.integers(0, 256, (batch, 32, 32, 3)).astype("uint8")
        got = run(x)
        np.testing.assert_allclose(got, _probabilities(model, x), rtol=0, atol=1e-4)
        np.testing.assert_allclose(got.sum(-1), 1, atol=1e-5)
    assert metadata == read_metadata(str(path))
    assert metadata["class_names"] == NAMES
    assert metadata["input"] == {"name": "images", "dtype": "uint8", "shape": [None, 32, 32, 3],
                                 "values": "RGB 0-255"}
    assert metadata["output"] == "probabilities" and metadata["quantization"] is None
    pre = metadata["preprocessing"]
    assert pre["inside"] and not pre["resize"]
    assert pre["normalization"] == {"mode": "mean_std", "mean": list(IMAGENET_MEAN_STD.mean),
                                    "std": list(IMAGENET_MEAN_STD.std)}  # ImageNet's
    assert pre["eval_transform"] == {"size": 32, "crop_pct": 0.875, "interpolation": "bilinear"}


def test_savedmodel_signature_names_its_uint8_input(model, tmp_path):
    import tensorflow as tf
    export(model, tmp_path / "saved", "savedmodel")
    _, inputs = tf.saved_model.load(str(tmp_path / "saved")).signatures[
        "serve"].structured_input_signature
    assert list(inputs) == ["images"] and inputs["images"].dtype == tf.uint8
    assert os.path.isfile(tmp_path / "saved" / "assets.extra" / "keras_resnet.json")


def _jpegs(directory, rng, shapes=((40, 52), (64, 33), (32, 32))):
    import tensorflow as tf
    paths = []
    for i, (h, w) in enumerate(shapes):
        image = rng.integers(0, 256, (h, w, 3)).astype("uint8")
        path = str(directory / f"photo{i}.jpg")
        tf.io.write_file(path, tf.io.encode_jpeg(image, quality=90))
        paths.append(path)
    return paths


def test_resize_in_savedmodel_agrees_with_predict_on_jpegs(model, tmp_path, rng):
    """A run from pretrained weights: the model takes normalised input, the export puts
    the run's normalisation and eval transform in; `keras-resnet predict` on the .keras
    run and on the file agree within 1e-3."""
    plain = keras_resnet.ResNet((1, 1, 1, 1), (32, 32, 3), 5, variant="v1.5")
    randomize_bn_statistics(plain, np.random.default_rng(2))
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    plain.save(run_dir / "model.keras")
    (run_dir / "run.json").write_text(json.dumps({
        "class_names": NAMES, "mean": list(NORM.mean), "std": list(NORM.std),
        "image_size": 32, "model": "resnet18", "weights": "a1_in1k"}))
    out = tmp_path / "saved"
    assert cli.main(["export", str(run_dir / "model.keras"), str(out), "--format",
                     "savedmodel", "--resize"]) == 0
    metadata = read_metadata(str(out))
    assert metadata["preprocessing"]["resize"]
    assert metadata["input"]["shape"] == [None, None, None, 3]
    from keras_resnet.training.run import eval_crop
    assert metadata["preprocessing"]["eval_transform"] == {
        "size": 32, **eval_crop("resnet18", "a1_in1k")}  # the checkpoint's crop
    photos = _jpegs(tmp_path, rng)
    from keras_resnet.training import predict
    expected = predict(str(run_dir / "model.keras"), photos, top_k=5)
    got = predict_exported(str(out), photos, top_k=5)
    for (_, want), (_, have) in zip(expected, got):
        assert [n for n, _ in want] == [n for n, _ in have]
        np.testing.assert_allclose([p for _, p in have], [p for _, p in want], atol=1e-3)


@pytest.mark.parametrize("fmt", ["onnx", "tflite"])
def test_resize_is_refused_where_the_format_cannot_hold_it(model, fmt, tmp_path, capsys):
    with pytest.raises(ValueError, match=f"cannot go into a {fmt} file"):
        export(model, tmp_path / f"m.{fmt}", fmt, resize=True)
    model.save(tmp_path / "m.keras")
    assert cli.main(["export", str(tmp_path / "m.keras"), str(tmp_path / f"x.{fmt}"),
                     "--format", fmt, "--resize"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "--format savedmodel" in err
    assert sorted(os.listdir(tmp_path)) == ["m.keras"]


def test_bad_arguments_are_one_line(model, tmp_path):
    with pytest.raises(ValueError, match="`label_names` has 2 names but the model has 5"):
        export(model, tmp_path / "m.onnx", "onnx", label_names=["a", "b"])
    with pytest.raises(ValueError, match="raw RGB images in"):
        export(model, tmp_path / "m.onnx", "onnx", quantize="int8",
               calibration=np.full((2, 32, 32, 3), -1.0))
    plain = keras_resnet.ResNet((1, 1, 1, 1), (32, 32, 3), 5)
    with pytest.raises(ValueError, match="`resize` needs a file that takes images"):
        export(plain, tmp_path / "s", "savedmodel", resize=True)
    assert os.listdir(tmp_path) == []


def test_predict_on_a_file_without_onnxruntime_is_one_line(model, tmp_path, monkeypatch,
                                                           capsys, rng):
    import importlib.util
    export(model, tmp_path / "m.onnx", "onnx", label_names=NAMES)
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "onnxruntime" else real(name, *a))
    photos = _jpegs(tmp_path, rng, shapes=((32, 32),))
    assert cli.main(["predict", "--model-file", str(tmp_path / "m.onnx"), *photos]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "needs onnxruntime" in err and "keras-resnet-zoo[onnx]" in err


def test_cli_predict_reads_class_names_from_the_file(model, tmp_path, capsys, rng):
    export(model, tmp_path / "m.tflite", "tflite", label_names=NAMES)
    photos = _jpegs(tmp_path, rng, shapes=((32, 32), (48, 40)))
    assert cli.main(["predict", "--model-file", str(tmp_path / "m.tflite"), "--top-k", "2",
                     *photos]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2
    for line, (_, top) in zip(lines, predict_exported(str(tmp_path / "m.tflite"), photos,
                                                      top_k=2)):
        assert line.split(": ")[1].split(", ")[0].split()[0] in NAMES
        assert top[0][0] in line


# --- int8 on digits ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    """ResNet20 trained 4 epochs on digits (normalised input); the raw held-out images."""
    from keras_resnet.data import load_source
    from keras_resnet.data.pipeline import make_dataset
    from keras_resnet.training import calibration_data
    keras.utils.set_random_seed(0)
    data = load_source("digits")
    model = keras_resnet.ResNet20(num_classes=10)
    model.compile(keras.optimizers.Adam(2e-3), "sparse_categorical_crossentropy")
    model.fit(make_dataset(data, "train", (32, 32), 64, training=True, augment_images=False),
              epochs=4, verbose=0)
    raw = dict(mean=(0.0,) * 3, std=(1 / 255,) * 3)
    import dataclasses
    test = np.concatenate([x.numpy() for x, _ in make_dataset(
        dataclasses.replace(data, **raw), "test", (32, 32), 128, training=False)])
    test = np.clip(np.round(test), 0, 255).astype("uint8")
    run = {"class_names": data.class_names, "mean": list(data.mean), "std": list(data.std),
           "image_size": 32, "model": "resnet20", "weights": None}
    norm = InputNormalization("mean_std", tuple(data.mean), tuple(data.std))
    return dict(model=model, norm=norm, test=test, labels=data.test.labels,
                names=data.class_names,
                calibration=calibration_data(run, "digits", 128, raw=True))


@pytest.mark.parametrize("fmt", ["onnx", "tflite"])
def test_int8_file_of_images_agrees_with_float(digits, fmt, tmp_path):
    f32, q8 = tmp_path / f"f32.{fmt}", tmp_path / f"int8.{fmt}"
    export(digits["model"], f32, fmt, normalization=digits["norm"],
           label_names=digits["names"])
    export(digits["model"], q8, fmt, normalization=digits["norm"], quantize="int8",
           calibration=digits["calibration"], label_names=digits["names"])
    run32, _ = load_exported(str(f32))
    run8, metadata = load_exported(str(q8))
    assert metadata["quantization"] == "int8" and metadata["input"]["dtype"] == "uint8"
    assert metadata["class_names"] == digits["names"]
    p32, p8 = run32(digits["test"]).argmax(-1), run8(digits["test"]).argmax(-1)
    agreement = np.mean(p32 == p8)
    acc32, acc8 = np.mean(p32 == digits["labels"]), np.mean(p8 == digits["labels"])
    print(f"{fmt}: int8 agrees on {agreement:.4f}; accuracy {acc32:.4f} -> {acc8:.4f}")
    assert acc32 > 0.85
    assert agreement >= 0.97, agreement
    assert acc8 >= acc32 - 0.01, (acc32, acc8)


def test_cli_int8_of_a_pretrained_run_calibrates_on_raw_images(tmp_path, capsys):
    """`--calibration digits` of a run from pretrained weights: the file takes uint8 images,
    so calibration images are raw; its top-1 agrees with the float file on them."""
    from keras_resnet.data import load_source
    plain = keras_resnet.ResNet((1, 1, 1, 1), (32, 32, 3), 10, variant="v1.5",
                                widths=(8, 16, 16, 16))
    randomize_bn_statistics(plain, np.random.default_rng(3))
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    plain.save(run_dir / "model.keras")
    names = load_source("digits").class_names
    run = {"class_names": names, "mean": list(NORM.mean), "std": list(NORM.std),
           "image_size": 32, "model": "resnet18", "weights": "a1_in1k"}
    (run_dir / "run.json").write_text(json.dumps(run))
    out = tmp_path / "q.onnx"
    assert cli.main(["export", str(run_dir / "model.keras"), str(out), "--format", "onnx",
                     "--int8", "--calibration", "digits", "--calibration-images", "32"]) == 0
    assert "takes uint8 images -> probabilities" in capsys.readouterr().out
    run8, metadata = load_exported(str(out))
    assert metadata["class_names"] == names and metadata["quantization"] == "int8"
    from keras_resnet.training import calibration_data
    images = calibration_data(run, "digits", 32, raw=True)
    assert images.dtype == np.uint8 and images.max() > 200  # raw, not normalised
    expected = keras.ops.convert_to_numpy(keras.ops.softmax(plain(
        (images / 255.0 - np.asarray(NORM.mean)) / np.asarray(NORM.std))))
    assert np.mean(run8(images).argmax(-1) == expected.argmax(-1)) >= 0.9
