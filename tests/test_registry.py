"""The registry's recorded metadata against built models and published figures."""

import json
import subprocess
import sys
from pathlib import Path

import keras
import pytest

import keras_resnet
from keras_resnet import plotting
from keras_resnet.builders import BUILDERS
from keras_resnet.registry import list_models, model_info, register
from keras_resnet.specs import TORCH_VARIANTS

ALL = list_models()
# Models whose architecture torchvision or timm publishes (as v1.5).
TORCH_PEERS = [n for n in ALL
               if {"torchvision_params", "timm_params"} & set(model_info(n).reference)]


def trainable(model):
    return sum(int(w.numpy().size) for w in model.trainable_weights)


def test_every_family_is_registered():
    assert ALL == ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnet200",
                   "resnet50d", "resnet101d", "resnext50_32x4d",
                   "resnext101_32x8d", "wide_resnet50_2", "wide_resnet101_2",
                   "resnet10t", "resnet14t", "resnet18d", "resnet26",
                   "resnet26d", "resnet26t", "resnet34d", "resnet50c",
                   "resnet50s", "resnet101c", "resnet101s", "resnet152c",
                   "resnet152d", "resnet152s", "resnet200d", "resnext50d_32x4d",
                   "resnext101_32x4d", "resnext101_32x16d", "resnext101_32x32d",
                   "resnext101_64x4d", "ecaresnet26t", "ecaresnet50d",
                   "ecaresnet50d_pruned", "ecaresnet50t", "ecaresnetlight",
                   "ecaresnet101d", "ecaresnet101d_pruned", "ecaresnet269d",
                   "seresnet50", "seresnet152d", "seresnext26d_32x4d",
                   "seresnext26t_32x4d", "seresnext50_32x4d",
                   "seresnext101_32x4d", "seresnext101_32x8d",
                   "seresnext101d_32x8d", "seresnext101_64x4d",
                   "seresnextaa101d_32x8d", "seresnextaa201d_32x8d", "senet154",
                   "resnetaa50", "resnetaa50d", "resnetaa101d", "resnetblur50",
                   "resnetrs50", "resnetrs101", "resnetrs152", "resnetrs200",
                   "resnetrs270", "resnetrs350", "resnetrs420", "test_resnet",
                   "resnet50v2", "resnet101v2", "resnet152v2", "resnetv2_18",
                   "resnetv2_18d", "resnetv2_34", "resnetv2_34d", "resnetv2_50",
                   "resnetv2_50d_gn", "resnetv2_50d_evos", "resnetv2_101",
                   "resnetv2_50x1_bit", "resnetv2_50x3_bit",
                   "resnetv2_101x1_bit", "resnetv2_101x3_bit",
                   "resnetv2_152x2_bit", "resnetv2_152x4_bit", "resnet50_gn",
                   "resnet20", "resnet32", "resnet44", "resnet56", "resnet110"]
    # every registered model is a public builder of the package, documented
    for name in ALL:
        builder = getattr(keras_resnet, model_info(name).builder_name)
        assert builder is BUILDERS[name] and builder.__doc__
        assert str(model_info(name).spec.blocks_per_stage) in builder.__doc__


# BiT's x2-x4 widths are built nowhere in the tests (up to 937M parameters); their counts
# are checked against timm's in tests/test_resnetv2_family.py, and their code is BiT x1's.
HUGE = 200_000_000


@pytest.mark.parametrize("name", ALL)
def test_recorded_metadata_matches_the_built_model(name):
    info = model_info(name)
    if info.params > HUGE:
        pytest.skip(f"{name} has {info.params:,} parameters: checked against timm's count")
    model = keras_resnet.get_model(name)
    assert model.input_shape[1:] == info.input_shape
    assert model.output_shape == (None, info.num_classes)
    assert model.count_params() == info.params
    assert trainable(model) == info.trainable_params
    assert keras_resnet.count_macs(model) == info.macs
    # plots/ records its diagrams' sources too (built once here, for both)
    stale = [filename for filename, entry in _committed_diagrams(name).items()
             if plotting.fingerprint(model, entry["level"]) != entry["fingerprint"]]
    assert not stale, ("stale diagrams in plots/; run "
                       f"`keras-resnet plot --all --out plots --level both`: {stale}")


def _committed_diagrams(name) -> dict:
    """{file: its MANIFEST.json entry} of `name`'s diagrams in plots/ (test_plotting.py
    checks that every model has them)."""
    path = Path(__file__).resolve().parents[1] / "plots" / "MANIFEST.json"
    return json.loads(path.read_text())["models"].get(name, {})


@pytest.mark.parametrize("name", ALL)
def test_recorded_metadata_matches_published_figures(name):
    info = model_info(name)
    reference = info.reference
    assert reference, "every model is compared with at least one published figure"
    if "keras_applications_params" in reference:
        assert info.params == reference["keras_applications_params"]
    if "paper_params" in reference:  # the paper's CIFAR nets, option A (section 4.2)
        assert info.trainable_params == reference["paper_params"]
    if "paper_gmacs" in reference:  # the paper's Table 1, given to 2 significant digits
        assert info.macs / 1e9 == pytest.approx(reference["paper_gmacs"], rel=0.03)


@pytest.mark.parametrize("name", TORCH_PEERS)
def test_v1_5_trainable_parameters_equal_torchvision_and_timm(name):
    info = model_info(name)
    reference = info.reference
    published = reference.get("torchvision_params", reference.get("timm_params"))
    if info.variant in TORCH_VARIANTS:  # the recorded count, checked against the built model
        assert info.trainable_params == published
        return
    model = keras_resnet.get_model(name, variant="v1.5")
    assert trainable(model) == published


def test_registering_a_name_twice_raises():
    info = model_info("resnet50")
    with pytest.raises(ValueError, match="already registered"):
        register(name="resnet50", builder_name="AnotherResNet50", spec=info.spec, params=0,
                 trainable_params=0, macs=0, reference={})
    with pytest.raises(ValueError, match="already registered"):
        register(name="resnet50_again", builder_name="ResNet50", spec=info.spec, params=0,
                 trainable_params=0, macs=0, reference={})
    assert list_models() == ALL


def test_the_registry_needs_no_framework():
    # `keras-resnet list` and `import keras_resnet` must not pay for TensorFlow.
    code = ("import sys, keras_resnet; keras_resnet.list_models(); "
            "keras_resnet.model_info('resnet50'); keras_resnet.list_pretrained; "
            "from keras_resnet import report; report.list_table(); report.pretrained_table(); "
            "print(sorted(m for m in ('tensorflow', 'keras', 'jax', 'torch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parents[1]).stdout
    assert out.strip() == "[]"


def test_resnet_d_from_the_generic_builder_is_resnet50d():
    # The deep stem is an ImageNet stem: base width 64 and a 224x224 default input
    # (it once got the CIFAR widths 16-128 and a 32x32 input).
    model = keras_resnet.ResNet((3, 4, 6, 3), block_type="bottleneck", stem="deep",
                                avg_down=True, variant="v1.5")
    assert trainable(model) == 25_576_264 == model_info("resnet50d").reference["timm_params"]
    assert model.input_shape == (None, 224, 224, 3)


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
