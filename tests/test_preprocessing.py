"""preprocess_input matches each weight source's own preprocessing; decode_predictions
reads the class index from the Keras cache and never downloads in tests."""

import json

import keras
import numpy as np
import pytest

import keras_resnet
from keras_resnet import preprocessing
from keras_resnet.weights import imagenet


@pytest.fixture
def images(rng):
    return rng.uniform(0, 255, (2, 8, 8, 3)).astype("float32")


def test_keras_applications_v1_is_caffe(images):
    expected = keras.applications.resnet.preprocess_input(images.copy())
    np.testing.assert_allclose(keras_resnet.preprocess_input(images), expected, rtol=1e-6)
    # caffe: BGR order, mean pixel subtracted, no scaling
    np.testing.assert_allclose(expected[..., 0], images[..., 2] - 103.939, rtol=1e-5)


def test_keras_applications_v2_is_minus_one_to_one(images):
    expected = keras.applications.resnet_v2.preprocess_input(images.copy())
    got = keras_resnet.preprocess_input(images, "imagenet", variant="v2")
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    np.testing.assert_allclose(got, images / 127.5 - 1, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("source", ["torchvision", "timm"])
def test_torchvision_and_timm_use_imagenet_mean_and_std(images, source):
    mean = np.array([0.485, 0.456, 0.406], "float32")
    std = np.array([0.229, 0.224, 0.225], "float32")
    got = keras_resnet.preprocess_input(images, source)
    np.testing.assert_allclose(got, (images / 255.0 - mean) / std, rtol=1e-5, atol=1e-5)


def test_channels_first_and_tensors(images):
    first = keras_resnet.preprocess_input(images.transpose(0, 3, 1, 2), "torchvision",
                                          data_format="channels_first")
    last = keras_resnet.preprocess_input(images, "torchvision")
    np.testing.assert_allclose(first.transpose(0, 2, 3, 1), last, rtol=1e-6)
    tensor = keras_resnet.preprocess_input(keras.ops.convert_to_tensor(images), "torchvision")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(tensor), last, rtol=1e-6)


def test_input_is_never_modified_in_place(images):
    original = images.copy()
    keras_resnet.preprocess_input(images, "imagenet", variant="v2")
    np.testing.assert_array_equal(images, original)


def test_bad_arguments():
    with pytest.raises(ValueError, match="`weights` must be one of"):
        keras_resnet.preprocess_input(np.zeros((1, 4, 4, 3)), "caffe")
    with pytest.raises(ValueError, match="variant 'v1' and 'v2' only"):
        keras_resnet.preprocess_input(np.zeros((1, 4, 4, 3)), "imagenet", variant="v1.5")


@pytest.fixture
def class_index(tmp_path, monkeypatch):
    """A pre-filled Keras cache with a class index in keras' format (md5 patched in)."""
    index = {str(i): [f"n{i:08d}", f"class_{i}"] for i in range(1000)}
    (tmp_path / "models").mkdir()
    path = tmp_path / "models" / imagenet.CLASS_INDEX.fname
    path.write_text(json.dumps(index))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(imagenet, "CLASS_INDEX", imagenet.RemoteFile(
        imagenet.CLASS_INDEX.fname, "http://127.0.0.1:9/index.json", imagenet._md5(str(path))))
    monkeypatch.setattr(preprocessing, "_CLASS_INDEX", None)
    return index


def test_decode_predictions_matches_keras(class_index, rng, monkeypatch):
    preds = rng.uniform(size=(3, 1000)).astype("float32")
    got = keras_resnet.decode_predictions(preds, top=4)
    from keras.src.applications import imagenet_utils
    monkeypatch.setattr(imagenet_utils, "CLASS_INDEX", class_index)  # no download
    assert got == keras.applications.imagenet_utils.decode_predictions(preds, top=4)
    best = int(preds[0].argmax())
    assert got[0][0] == (f"n{best:08d}", f"class_{best}", preds[0, best])


def test_decode_predictions_offline_without_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(imagenet, "CLASS_INDEX", imagenet.RemoteFile(
        "imagenet_class_index.json", "http://127.0.0.1:9/index.json", "0" * 32))
    monkeypatch.setattr(preprocessing, "_CLASS_INDEX", None)
    with pytest.raises(ValueError, match="imagenet_class_index.json.*put it at"):
        keras_resnet.decode_predictions(np.zeros((1, 1000)))
    with pytest.raises(ValueError, match=r"shape \(batch, 1000\)"):
        keras_resnet.decode_predictions(np.zeros((1, 10)))
