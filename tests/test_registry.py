"""The registry's recorded metadata against built models and published figures."""

import keras
import pytest

import keras_resnet
from keras_resnet.registry import list_models, model_info

ALL = list_models()

# Layer-by-layer multiply-adds of the paper's Table 1 (REFERENCE.md).
PAPER_GMACS = {"resnet18": 1.814, "resnet34": 3.664, "resnet50": 3.858,
               "resnet101": 7.570, "resnet152": 11.282}
# torchvision's trainable parameters (REFERENCE.md), our variant="v1.5".
TORCHVISION = {"resnet18": 11_689_512, "resnet34": 21_797_672, "resnet50": 25_557_032,
               "resnet101": 44_549_160, "resnet152": 60_192_808,
               "resnext50_32x4d": 25_028_904, "resnext101_32x8d": 88_791_336,
               "wide_resnet50_2": 68_883_240, "wide_resnet101_2": 126_886_696,
               # timm's ResNet-D and ResNet200
               "resnet50d": 25_576_264, "resnet101d": 44_568_392, "resnet200": 64_673_832}
# keras.applications count_params() (REFERENCE.md).
KERAS_APPLICATIONS = {"resnet50": 25_636_712, "resnet101": 44_707_176, "resnet152": 60_419_944,
                      "resnet50v2": 25_613_800, "resnet101v2": 44_675_560,
                      "resnet152v2": 60_380_648}
# The paper's CIFAR nets with option A (section 4.2).
CIFAR = {"resnet20": 269_722, "resnet32": 464_154, "resnet44": 658_586,
         "resnet56": 853_018, "resnet110": 1_727_962}


def trainable(model):
    return sum(int(w.numpy().size) for w in model.trainable_weights)


def test_every_family_is_registered():
    assert ALL == ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnet200",
                   "resnet50d", "resnet101d", "resnext50_32x4d", "resnext101_32x8d",
                   "wide_resnet50_2", "wide_resnet101_2", "resnet50v2",
                   "resnet101v2", "resnet152v2", "resnet20", "resnet32", "resnet44",
                   "resnet56", "resnet110"]


@pytest.mark.parametrize("name", ALL)
def test_recorded_metadata_matches_the_built_model(name):
    info = model_info(name)
    model = keras_resnet.get_model(name)
    assert model.input_shape[1:] == info.input_shape
    assert model.output_shape == (None, info.num_classes)
    assert model.count_params() == info.params
    assert trainable(model) == info.trainable_params
    assert keras_resnet.count_macs(model) == info.macs


@pytest.mark.parametrize("name", ALL)
def test_recorded_metadata_matches_published_figures(name):
    info = model_info(name)
    if name in KERAS_APPLICATIONS:
        assert info.params == KERAS_APPLICATIONS[name]
    if name in CIFAR:
        assert info.trainable_params == CIFAR[name] == info.reference["paper_params"]
    if name in PAPER_GMACS:
        assert info.macs / 1e9 == pytest.approx(PAPER_GMACS[name], rel=0.03)
        assert info.macs / 1e9 == pytest.approx(info.reference["paper_gmacs"], rel=0.03)


@pytest.mark.parametrize("name", sorted(TORCHVISION))
def test_v1_5_trainable_parameters_equal_torchvision_and_timm(name):
    model = keras_resnet.get_model(name, variant="v1.5")
    reference = model_info(name).reference
    assert trainable(model) == TORCHVISION[name] == reference.get(
        "torchvision_params", reference.get("timm_params"))


def test_v1_5_macs_match_torchvision_figure():
    # torchvision quotes 4.09 GMAC for its ResNet50 (stride on the 3x3).
    model = keras_resnet.ResNet50(variant="v1.5")
    assert keras_resnet.count_macs(model) / 1e9 == pytest.approx(4.09, abs=0.005)


def test_count_macs_by_hand():
    inputs = keras.Input((10, 12, 3))
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same")(inputs)      # 5x6x8, 3*3*3
    x = keras.layers.Conv2D(16, 1, groups=2)(x)                           # 5x6x16, 8/2
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dense(4)(x)
    model = keras.Model(inputs, x)
    assert keras_resnet.count_macs(model) == 5 * 6 * 8 * 27 + 5 * 6 * 16 * 4 + 16 * 4


def test_count_macs_needs_a_fixed_size():
    with pytest.raises(ValueError, match="fixed input size"):
        keras_resnet.count_macs(keras_resnet.ResNet20(include_top=False))


def test_get_model_passes_arguments_and_rejects_unknown_names():
    model = keras_resnet.get_model("ResNet50", input_shape=(64, 64, 3), num_classes=3)
    assert model.output_shape == (None, 3)
    with pytest.raises(ValueError, match=r"Unknown model 'resnet99'.*resnet18"):
        keras_resnet.get_model("resnet99")
