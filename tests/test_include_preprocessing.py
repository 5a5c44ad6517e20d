"""include_preprocessing=True: the model normalises raw RGB [0, 255] input as its weights
expect, equal to preprocess_input + the plain model; survives .keras, fold_batchnorm and
mixed precision."""

import inspect

import keras
import numpy as np
import pytest
from conftest import assert_close, randomize_bn_statistics

import keras_resnet
from keras_resnet import preprocessing
from keras_resnet.models import build_resnet
from keras_resnet.registry import REGISTRY, model_info

SIZE = 64
# (build_resnet's preprocessing override, variant, registry name, preprocess_input kwargs)
CASES = {
    "mean_std_row": ("ra4_e3600_r224_in1k", "v1.5", "resnet34",
                     dict(weights="resnet34.ra4_e3600_r224_in1k")),
    "no_weights": (None, "v1.5", "resnet18", dict(weights="torchvision")),
    "caffe_imagenet_v1": ("imagenet", "v1", "resnet50", dict(weights="imagenet")),
    "tf_imagenet_v2": ("imagenet", "v2", "resnet50v2", dict(weights="imagenet", variant="v2")),
}


def _pair(case, rng):
    """(model with preprocessing, the same model without, preprocess_input kwargs)."""
    override, variant, name, kwargs = CASES[case]
    spec = model_info("resnet18").spec  # small and fast; the normalisation is what's tested
    with_pre = build_resnet(spec, (SIZE, SIZE, 3), 10, variant=variant,
                            classifier_activation=None, include_preprocessing=True,
                            preprocessing=override, registry_name=name)
    plain = build_resnet(spec, (SIZE, SIZE, 3), 10, variant=variant, classifier_activation=None)
    randomize_bn_statistics(with_pre, rng)
    plain.set_weights(with_pre.get_weights())
    return with_pre, plain, kwargs


@pytest.fixture
def images(rng):
    return rng.uniform(0, 255, (2, SIZE, SIZE, 3)).astype("float32")


# The fast loop keeps the mean/std case; the keras.applications modes are slow (ResNet50s).
@pytest.mark.parametrize("case", [pytest.param(c, marks=[] if c == "mean_std_row" else
                                               [pytest.mark.slow]) for c in CASES])
def test_equals_preprocess_input_then_plain_model(case, images, rng, tmp_path):
    model, plain, kwargs = _pair(case, rng)
    expected = plain.predict(keras_resnet.preprocess_input(images, **kwargs), verbose=0)
    got = model.predict(images, verbose=0)
    assert_close(got, expected, 1e-5)
    names = [layer.name for layer in model.layers[1:4]]
    assert names[0].startswith("preprocessing_") and "conv1_pad" in names
    # uint8 input: cast to float first
    ints = np.round(images).astype("uint8")
    assert_close(model.predict(ints, verbose=0), model.predict(ints.astype("float32"), verbose=0),
                 1e-6)
    # .keras round trip (safe mode: no Lambda; the caffe flip is a registered layer)
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(loaded.predict(images, verbose=0), got)
    # fold_batchnorm leaves the preprocessing untouched
    folded = keras_resnet.fold_batchnorm(model, allow_partial=CASES[case][1] == "v2")
    pre = [layer for layer in model.layers if layer.name.startswith("preprocessing_")]
    assert [(layer.name, layer.get_config()) for layer in folded.layers[1:1 + len(pre)]] == [
        (layer.name, layer.get_config()) for layer in pre]
    assert_close(folded.predict(images, verbose=0), got, 1e-5)


def test_modes_and_layers():
    spec = model_info("resnet50").spec
    v1 = build_resnet(spec, (32, 32, 3), 10, include_preprocessing=True,
                      preprocessing="imagenet", registry_name="resnet50")
    v2 = keras_resnet.ResNet50V2  # the public builder passes its registry row's name
    assert [type(layer).__name__ for layer in v1.layers[1:3]] == ["ReverseChannels",
                                                                  "Normalization"]
    tf_mode = build_resnet(spec, (32, 32, 3), 10, variant="v2", include_preprocessing=True,
                           preprocessing="imagenet", registry_name="resnet50v2")
    assert type(tf_mode.layers[1]).__name__ == "Rescaling"
    assert tf_mode.layers[1].scale == pytest.approx(1 / 127.5) and tf_mode.layers[1].offset == -1
    assert "include_preprocessing" in inspect.signature(v2).parameters
    plain = keras_resnet.ResNet18((32, 32, 3), 10, include_preprocessing=True)
    norm = plain.get_layer("preprocessing_normalization").get_config()
    np.testing.assert_allclose(norm["mean"], [0.485, 0.456, 0.406])
    np.testing.assert_allclose(np.sqrt(norm["variance"]), [0.229, 0.224, 0.225])
    assert keras_resnet.ResNet18((32, 32, 3), 10).layers[1].name == "conv1_pad"  # default off
    custom = keras_resnet.ResNet((1, 1), (32, 32, 3), 10, include_preprocessing=True)
    assert custom.layers[1].name == "preprocessing_rescaling"


def test_every_builder_takes_include_preprocessing():
    for info in REGISTRY.values():
        params = inspect.signature(getattr(keras_resnet, info.builder_name)).parameters
        assert params["include_preprocessing"].default is False, info.builder_name
        assert "include_preprocessing" in getattr(keras_resnet, info.builder_name).__doc__
    assert inspect.signature(keras_resnet.ResNet).parameters["include_preprocessing"]


@pytest.mark.slow  # two models, channels_first
def test_channels_first(rng):
    keras.config.set_image_data_format("channels_first")
    spec = model_info("resnet18").spec
    images = rng.uniform(0, 255, (1, 3, 32, 32)).astype("float32")
    for override, variant in (("imagenet", "v1"), (None, "v1.5")):
        model = build_resnet(spec, (3, 32, 32), 10, variant=variant, include_preprocessing=True,
                             preprocessing=override, classifier_activation=None)
        plain = build_resnet(spec, (3, 32, 32), 10, variant=variant, classifier_activation=None)
        plain.set_weights(model.get_weights())
        x = keras_resnet.preprocess_input(images, override or "timm", variant=variant,
                                          data_format="channels_first")
        assert_close(model.predict(images, verbose=0), plain.predict(x, verbose=0), 1e-5)


def test_mixed_precision_normalises_in_float32(images, rng):
    model, _, _ = _pair("caffe_imagenet_v1", rng)
    reference = model.predict(images, verbose=0)
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        built = build_resnet(model_info("resnet18").spec, (SIZE, SIZE, 3), 10, variant="v1",
                             classifier_activation=None, include_preprocessing=True,
                             preprocessing="imagenet")
    finally:
        keras.config.set_dtype_policy("float32")
    built.set_weights(model.get_weights())
    copy = keras_resnet.with_dtype_policy(model, "mixed_bfloat16")
    for m in (built, copy):
        for layer in m.layers[1:3]:
            assert layer.name.startswith("preprocessing_") and layer.compute_dtype == "float32"
        assert m.get_layer("conv1_conv").compute_dtype == "bfloat16"
    got = built.predict(images, verbose=0)
    np.testing.assert_allclose(copy.predict(images, verbose=0), got, atol=1e-6)
    # bfloat16 rounding through the network, not in the normalisation
    assert np.abs(got - reference).max() <= 0.05 * np.abs(reference).max()


def test_bad_arguments():
    spec = model_info("resnet18").spec
    with pytest.raises(ValueError, match="`include_preprocessing` must be True or False"):
        keras_resnet.ResNet18(include_preprocessing="yes")
    with pytest.raises(ValueError, match="`preprocessing` needs include_preprocessing=True"):
        build_resnet(spec, preprocessing="imagenet")
    with pytest.raises(ValueError, match="Tags of resnet18: .*tv_in1k"):
        build_resnet(spec, include_preprocessing=True, preprocessing="nope_in1k")
    with pytest.raises(ValueError, match="InputNormalization with mode"):
        preprocessing.normalize_input(keras.Input((8, 8, 3)),
                                      preprocessing.InputNormalization("torch"))
