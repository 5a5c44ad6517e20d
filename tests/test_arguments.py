"""Bad arguments raise a ValueError naming the argument, before any layer is built."""

import keras
import pytest

import keras_resnet

CASES = [
    (dict(input_shape=(16, 16, 3)), r"`input_shape` must be at least 32x32"),
    (dict(input_shape=(224, 31, 3)), r"`input_shape` must be at least 32x32"),
    (dict(input_shape=(224, 224)), r"`input_shape` must be a tuple of 3 integers"),
    (dict(input_shape=(1, 224, 224, 3)), r"`input_shape` must be a tuple of 3 integers"),
    (dict(input_shape=(224, -224, 3)), r"`input_shape` entries must be positive"),
    (dict(input_shape=(224, 224, 0)), r"`input_shape` entries must be positive"),
    (dict(input_shape=(224, 224, None)), r"`input_shape` must give the number of channels"),
    (dict(input_shape="224x224"), r"`input_shape` must be a tuple"),
    (dict(num_classes=0), r"`num_classes` must be a positive integer"),
    (dict(num_classes=2.5), r"`num_classes` must be a positive integer"),
    (dict(num_classes=True), r"`num_classes` must be a positive integer"),
    (dict(variant="v3"), r"`variant` must be one of \['v1', 'v1.5', 'v2', 'v2.timm'\]"),
    (dict(shortcut="D"), r"`shortcut` must be one of \['A', 'B', 'C'\]"),
    (dict(include_top=False, pooling="mean"), r"`pooling` must be one of \[None, 'avg', 'max'\]"),
    (dict(weights="/no/such/file.weights.h5"), r"`weights` file does not exist"),
    (dict(weights=3), r"`weights` must be one of: None, 'imagenet', 'timm'"),
    (dict(weights="no_such_tag"), r"Unknown pretrained tag 'no_such_tag' for resnet18\..*"
                                  r"tv_in1k"),
    (dict(weights="tv_in1k", variant="v1"), r"weights='tv_in1k' needs variant='v1\.5'.*"
                                            r"Received: variant='v1'"),
    (dict(weights="hf://timm"), r"`weights` must name a Hub repo as 'hf://ORG/REPO'"),
    (dict(classifier_activation="softmaxx"), r"`classifier_activation` must be"),
    (dict(remat="blocks"), r"`remat` must be one of \[None, False, True, 'block', 'stage'\]"),
]


@pytest.mark.parametrize("kwargs,message", CASES)
def test_bad_arguments_fail_before_building(kwargs, message, monkeypatch):
    built = []
    original = keras.layers.Conv2D.__init__

    def spy(self, *args, **kw):
        built.append(kw.get("name"))
        original(self, *args, **kw)

    monkeypatch.setattr(keras.layers.Conv2D, "__init__", spy)
    with pytest.raises(ValueError, match=message):
        keras_resnet.ResNet18(**kwargs)
    assert built == []


def test_cifar_nets_accept_8x8_and_reject_smaller():
    assert keras_resnet.ResNet20((8, 8, 3)).output_shape == (None, 10)
    with pytest.raises(ValueError, match=r"at least 8x8"):
        keras_resnet.ResNet20((4, 8, 3))


def test_input_tensor_shape_is_checked():
    with pytest.raises(ValueError, match=r"at least 32x32"):
        keras_resnet.ResNet50(input_tensor=keras.Input((16, 16, 3)))


def test_custom_builder_arguments():
    with pytest.raises(ValueError, match=r"`blocks_per_stage` must be a non-empty list"):
        keras_resnet.ResNet(())
    with pytest.raises(ValueError, match=r"`blocks_per_stage`"):
        keras_resnet.ResNet((2, 0, 2))
    with pytest.raises(ValueError, match=r"`widths` must list one positive integer per stage"):
        keras_resnet.ResNet((2, 2), widths=(64,))
    with pytest.raises(ValueError, match=r"`block_type` must be one of"):
        keras_resnet.ResNet((2, 2), block_type="wide")
    with pytest.raises(ValueError, match=r"`stem` must be one of"):
        keras_resnet.ResNet((2, 2), stem="tiny")


def test_option_a_cannot_reduce_channels():
    x = keras.Input((8, 8, 32))
    with pytest.raises(ValueError, match=r"option A cannot reduce channels"):
        keras_resnet.block(x, 16, block_type="basic", shortcut="A", name="b")
