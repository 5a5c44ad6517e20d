"""The model registry: every named model, its builder and its metadata.

`params`, `trainable_params` and `macs` are recorded for each model at its
default input size and variant (as torchvision records `_meta`); the test suite
rebuilds every model and checks them, so they cannot drift. `reference` holds
the published figures the model is compared against.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Dict, List, Optional

import keras

from keras_resnet import models
from keras_resnet.specs import ARCHS


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    """Metadata of one registered model (at its default size and variant).

    Attributes:
        name: Registry name, e.g. "resnet50".
        arch: Spec name in `keras_resnet.specs.ARCHS`.
        variant: Default convention ("v1", "v1.5", "v2").
        input_shape: Default input shape (channels last).
        num_classes: Default number of classes.
        params: `model.count_params()`, BN moving statistics included.
        trainable_params: Trainable parameters only (torchvision's figure).
        macs: Multiply-accumulates for one image at `input_shape`.
        reference: Published figures: "paper_gmacs" (Table 1),
            "keras_applications_params" (count_params), "torchvision_params"
            (trainable, the same architecture with variant="v1.5"),
            "paper_params" (section 4.2), "paper_cifar10_error" (%).
    """

    name: str
    arch: str
    variant: str
    input_shape: tuple
    num_classes: int
    params: int
    trainable_params: int
    macs: int
    reference: Dict[str, float]
    builder: Callable[..., keras.Model] = dataclasses.field(repr=False, compare=False)


_MODELS = [
    # name, builder, arch, variant, params, trainable, macs, reference
    ("resnet18", models.ResNet18, "resnet18", "v1", 11_703_912, 11_694_312, 1_814_073_344,
     dict(paper_gmacs=1.8, torchvision_params=11_689_512)),
    ("resnet34", models.ResNet34, "resnet34", "v1", 21_823_208, 21_806_184, 3_663_761_408,
     dict(paper_gmacs=3.6, torchvision_params=21_797_672)),
    ("resnet50", models.ResNet50, "resnet50", "v1", 25_636_712, 25_583_592, 3_857_973_248,
     dict(paper_gmacs=3.8, keras_applications_params=25_636_712,
          torchvision_params=25_557_032)),
    ("resnet101", models.ResNet101, "resnet101", "v1", 44_707_176, 44_601_832, 7_570_194_432,
     dict(paper_gmacs=7.6, keras_applications_params=44_707_176,
          torchvision_params=44_549_160)),
    ("resnet152", models.ResNet152, "resnet152", "v1", 60_419_944, 60_268_520, 11_282_415_616,
     dict(paper_gmacs=11.3, keras_applications_params=60_419_944,
          torchvision_params=60_192_808)),
    ("resnet200", models.ResNet200, "resnet200", "v1", 64_937_832, 64_761_832, 14_776_270_848,
     dict(timm_params=64_673_832)),
    ("resnet50d", models.ResNet50D, "resnet50d", "v1.5", 25_629_512, 25_576_264, 4_328_824_832,
     dict(timm_params=25_576_264)),
    ("resnet101d", models.ResNet101D, "resnet101d", "v1.5", 44_673_864, 44_568_392,
     8_041_046_016, dict(timm_params=44_568_392)),
    ("resnext50_32x4d", models.ResNeXt50_32x4d, "resnext50_32x4d", "v1.5", 25_097_128,
     25_028_904, 4_230_479_872, dict(torchvision_params=25_028_904)),
    ("resnext101_32x8d", models.ResNeXt101_32x8d, "resnext101_32x8d", "v1.5", 88_994_216,
     88_791_336, 16_414_015_488, dict(torchvision_params=88_791_336)),
    ("wide_resnet50_2", models.WideResNet50_2, "wide_resnet50_2", "v1.5", 68_951_464,
     68_883_240, 11_398_021_120, dict(torchvision_params=68_883_240)),
    ("wide_resnet101_2", models.WideResNet101_2, "wide_resnet101_2", "v1.5", 127_024_552,
     126_886_696, 22_753_050_624, dict(torchvision_params=126_886_696)),
    ("resnet50v2", models.ResNet50V2, "resnet50", "v2", 25_613_800, 25_568_360, 3_482_255_360,
     dict(keras_applications_params=25_613_800)),
    ("resnet101v2", models.ResNet101V2, "resnet101", "v2", 44_675_560, 44_577_896, 7_194_476_544,
     dict(keras_applications_params=44_675_560)),
    ("resnet152v2", models.ResNet152V2, "resnet152", "v2", 60_380_648, 60_236_904, 10_906_697_728,
     dict(keras_applications_params=60_380_648)),
    ("resnet20", models.ResNet20, "resnet20", "v1.5", 271_098, 269_722, 40_551_040,
     dict(paper_params=269_722, paper_cifar10_error=8.75)),
    ("resnet32", models.ResNet32, "resnet32", "v1.5", 466_426, 464_154, 68_862_592,
     dict(paper_params=464_154, paper_cifar10_error=7.51)),
    ("resnet44", models.ResNet44, "resnet44", "v1.5", 661_754, 658_586, 97_174_144,
     dict(paper_params=658_586, paper_cifar10_error=7.17)),
    ("resnet56", models.ResNet56, "resnet56", "v1.5", 857_082, 853_018, 125_485_696,
     dict(paper_params=853_018, paper_cifar10_error=6.97)),
    ("resnet110", models.ResNet110, "resnet110", "v1.5", 1_736_058, 1_727_962, 252_887_680,
     dict(paper_params=1_727_962, paper_cifar10_error=6.43)),
]


def _info(name, builder, arch, variant, params, trainable, macs, reference) -> ModelInfo:
    spec = ARCHS[arch]
    return ModelInfo(name, arch, variant, spec.default_input_shape, spec.default_num_classes,
                     params, trainable, macs, reference, builder)


REGISTRY: Dict[str, ModelInfo] = {row[0]: _info(*row) for row in _MODELS}


def list_models() -> List[str]:
    """Names of every registered model, in registry order (by family, then depth)."""
    return list(REGISTRY)


def model_info(name: str) -> ModelInfo:
    """Metadata of a registered model (see `ModelInfo`)."""
    return REGISTRY[_check_name(name)]


def get_model(name: str, **kwargs) -> keras.Model:
    """Build a registered model by name; keyword arguments go to its builder.

    Example: `get_model("resnet50", input_shape=(64, 64, 3), num_classes=10)`.
    """
    return REGISTRY[_check_name(name)].builder(**kwargs)


def _check_name(name: Optional[str]) -> str:
    key = name.lower() if isinstance(name, str) else name
    if key not in REGISTRY:
        raise ValueError(f"Unknown model {name!r}. `name` must be one of: "
                         f"{', '.join(REGISTRY)}.")
    return key
