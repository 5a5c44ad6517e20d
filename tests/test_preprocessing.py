"""preprocess_input matches each weight source's own preprocessing; decode_predictions
reads the class index from the Keras cache and never downloads in tests."""

import json

import keras
import numpy as np
import pytest

import keras_resnet
from keras_resnet import preprocessing
from keras_resnet import downloads, imagenet_labels


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
    path = tmp_path / "models" / imagenet_labels.CLASS_INDEX.fname
    path.write_text(json.dumps(index))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(imagenet_labels, "CLASS_INDEX", downloads.RemoteFile(
        imagenet_labels.CLASS_INDEX.fname, "http://127.0.0.1:9/index.json",
        downloads._md5(str(path))))
    monkeypatch.setattr(imagenet_labels, "_CLASS_INDEX", None)
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
    monkeypatch.setattr(imagenet_labels, "CLASS_INDEX", downloads.RemoteFile(
        "imagenet_class_index.json", "http://127.0.0.1:9/index.json", "0" * 32))
    monkeypatch.setattr(imagenet_labels, "_CLASS_INDEX", None)
    with pytest.raises(ValueError, match="imagenet_class_index.json.*put it at"):
        keras_resnet.decode_predictions(np.zeros((1, 1000)))
    with pytest.raises(ValueError, match=r"shape \(batch, 1000\)"):
        keras_resnet.decode_predictions(np.zeros((1, 10)))


# ----------------------------------------------------------------------------- pretrained tags

@pytest.mark.parametrize("call", [dict(weights="a1_in1k", model="resnet50"),
                                  dict(weights="resnet50.a1_in1k"),
                                  dict(weights="hf://timm/resnet50.a1_in1k")])
def test_pretrained_tags_use_their_rows_mean_and_std(images, call):
    expected = keras_resnet.preprocess_input(images, "timm")
    np.testing.assert_allclose(keras_resnet.preprocess_input(images, **call), expected,
                               rtol=1e-6)


def test_a_row_with_its_own_mean_and_std(images):
    # timm's ra4 checkpoints normalise with mean = std = 0.5: [-1, 1]
    got = keras_resnet.preprocess_input(images, "ra4_e3600_r224_in1k", model="resnet34")
    np.testing.assert_allclose(got, images / 127.5 - 1, rtol=1e-5, atol=1e-6)
    assert preprocessing.input_normalization("resnet50d.ra4_e3600_r224_in1k") == (
        preprocessing.InputNormalization("mean_std", (0.5,) * 3, (0.5,) * 3))


def test_imagenet_rows_choose_caffe_or_tf(images):
    v2 = keras_resnet.preprocess_input(images, "imagenet", model="resnet50v2")
    np.testing.assert_allclose(v2, images / 127.5 - 1, rtol=1e-5, atol=1e-6)
    for call in (dict(weights="resnet50.imagenet"), dict(weights="imagenet", model="resnet101")):
        np.testing.assert_allclose(keras_resnet.preprocess_input(images, **call),
                                   keras_resnet.preprocess_input(images), rtol=1e-6)
    assert preprocessing.input_normalization("resnet152v2.imagenet").mode == "tf"


def test_unknown_tags():
    x = np.zeros((1, 4, 4, 3))
    with pytest.raises(ValueError, match="tag with `model=`.*Received: weights='a1_in1k'"):
        keras_resnet.preprocess_input(x, "a1_in1k")
    with pytest.raises(ValueError, match="Tags of resnet50: imagenet, a1_in1k, .*'zz_in1k'"):
        keras_resnet.preprocess_input(x, "zz_in1k", model="resnet50")
    with pytest.raises(ValueError, match="full name 'MODEL.TAG'.*'resnet99.a1_in1k'"):
        keras_resnet.preprocess_input(x, "resnet99.a1_in1k")
    with pytest.raises(ValueError, match="is a checkpoint of resnet50, not of model='resnet18'"):
        keras_resnet.preprocess_input(x, "resnet50.a1_in1k", model="resnet18")
    with pytest.raises(ValueError, match="Unknown model 'nosuchnet'"):
        keras_resnet.preprocess_input(x, "a1_in1k", model="nosuchnet")
    with pytest.raises(ValueError, match="published for resnet50/101/152"):
        keras_resnet.preprocess_input(x, "imagenet", model="resnet18")


# ----------------------------------------------------------------------------- eval transform

def test_eval_transform_is_resize_shorter_side_then_center_crop(rng):
    import tensorflow as tf
    image = rng.integers(0, 256, (300, 200, 3), dtype=np.uint8)  # H x W, portrait
    got = preprocessing.eval_transform(image, 100, crop_pct=0.8)
    # shorter side 200 -> floor(100 / 0.8) = 125, longer 300 * 125 / 200 = 187.5 -> 187;
    # torchvision's centre offsets round((187 - 100) / 2) = 44, round((125 - 100) / 2) = 12
    resized = tf.image.resize(image.astype("float32"), (187, 125), antialias=True).numpy()
    expected = np.clip(resized[44:144, 12:112], 0, 255)
    assert isinstance(got, np.ndarray) and got.shape == (100, 100, 3) and got.dtype == "float32"
    np.testing.assert_allclose(got, expected, atol=1e-4)
    # landscape, bicubic, and a batch of tensors
    wide = tf.constant(np.transpose(image, (1, 0, 2))[None].astype("float32"))
    out = preprocessing.eval_transform(wide, 100, 0.8, "bicubic")
    resized = tf.image.resize(wide, (125, 187), "bicubic", antialias=True).numpy()
    np.testing.assert_allclose(out.numpy(), resized[:, 12:112, 44:144], atol=1e-4)
    assert preprocessing.resize_size(224) == 256  # torchvision's resize(256) + crop(224)


def test_eval_transform_keeps_the_aspect_ratio_of_a_square_crop(rng):
    # crop_pct 1: the whole shorter side is kept; a square image is only resized
    square = rng.uniform(0, 255, (50, 50, 3)).astype("float32")
    np.testing.assert_allclose(preprocessing.eval_transform(square, 50, 1.0), square, atol=1e-3)


def test_load_eval_image(tmp_path, rng):
    from PIL import Image
    pixels = rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "a.png")
    got = preprocessing.load_eval_image(tmp_path / "a.png", 16, 0.5)
    np.testing.assert_allclose(got, preprocessing.eval_transform(pixels, 16, 0.5), atol=1e-5)
    (tmp_path / "junk.png").write_bytes(b"junk")
    with pytest.raises(ValueError, match="unreadable image"):
        preprocessing.load_eval_image(tmp_path / "junk.png", 16)
    with pytest.raises(ValueError, match="image file does not exist"):
        preprocessing.load_eval_image(tmp_path / "none.png", 16)


def test_eval_transform_bad_arguments():
    image = np.zeros((8, 8, 3), "uint8")
    for kwargs, message in ((dict(size=0), "`size` must be a positive integer"),
                            (dict(size=4, crop_pct=1.5), r"`crop_pct` must be a number in \(0"),
                            (dict(size=4, interpolation="lanczos"), "`interpolation` must be")):
        with pytest.raises(ValueError, match=message):
            preprocessing.eval_transform(image, **kwargs)
    with pytest.raises(ValueError, match="HxWxC image or an NxHxWxC batch"):
        preprocessing.eval_transform(np.zeros((8, 8)), 4)
