"""The model registry: one row per named model, the single place a model is added.

Each row (`register(...)`) holds the model's architecture, its default
convention, the public builder it gets (`keras_resnet.ResNet50`, ...) and its
metadata: `params`, `trainable_params` and `macs` recorded at its default input
size and variant (as torchvision records `_meta`; the test suite rebuilds every
model and checks them, so they cannot drift), and `reference`, the published
figures it is compared against. The public builders, their docstrings, the
`keras-resnet list` table and the tests' per-model expectations all derive from
these rows. The builders themselves are in `keras_resnet.builders`.

This module imports no framework: listing models and their metadata is instant.
"""

from __future__ import annotations

import dataclasses
import types
from typing import Dict, List, Mapping, Optional

from keras_resnet.specs import STEMS, ArchSpec, cifar_arch, get_variant


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    """Metadata of one registered model (at its default size and variant).

    Attributes:
        name: Registry name, e.g. "resnet50".
        builder_name: Name of its public builder, e.g. "ResNet50".
        spec: Its architecture (`keras_resnet.specs.ArchSpec`).
        variant: Default convention ("v1", "v1.5", "v2", "v2.timm").
        description: What the builder's docstring says the model is, e.g.
            "pre-activation" (may be empty).
        params: `model.count_params()`, BN moving statistics included.
        trainable_params: Trainable parameters only (torchvision's figure).
        macs: Multiply-accumulates for one image at `input_shape`.
        reference: Published figures: "paper_gmacs" (the paper's Table 1),
            "keras_applications_params" (count_params), "torchvision_params"
            and "timm_params" (trainable, the same architecture with
            variant="v1.5"), "paper_params" (section 4.2), "paper_cifar10_error"
            (%, section 4.2).
    """

    name: str
    builder_name: str
    spec: ArchSpec
    variant: str
    description: str
    params: int
    trainable_params: int
    macs: int
    reference: Mapping[str, float]

    @property
    def arch(self) -> str:
        """Architecture name (the spec's), which keys its weight files."""
        return self.spec.name

    @property
    def input_shape(self) -> tuple:
        """Default input shape (channels last)."""
        return self.spec.default_input_shape

    @property
    def num_classes(self) -> int:
        """Default number of classes."""
        return self.spec.default_num_classes


REGISTRY: Dict[str, ModelInfo] = {}


def register(*, name: str, builder_name: str, spec: ArchSpec, params: int,
             trainable_params: int, macs: int, reference: Mapping[str, float],
             variant: Optional[str] = None, description: str = "") -> ModelInfo:
    """Add one model to the registry; a name or builder used twice raises."""
    variant = spec.default_variant if variant is None else variant
    get_variant(variant)
    taken = {info.builder_name: info.name for info in REGISTRY.values()}
    if name in REGISTRY or builder_name in taken:
        raise ValueError(f"Model {name!r} (builder {builder_name}) is already registered.")
    same_arch = [i.spec for i in REGISTRY.values() if i.spec.name == spec.name]
    if same_arch and same_arch[0] != spec:
        raise ValueError(f"Architecture {spec.name!r} is already registered with another spec.")
    info = ModelInfo(name=name, builder_name=builder_name, spec=spec, variant=variant,
                     description=description, params=params,
                     trainable_params=trainable_params, macs=macs,
                     reference=types.MappingProxyType(dict(reference)))
    REGISTRY[name] = info
    return info


# --- the rows: the paper's ImageNet nets (Table 1), by depth -------------------

_resnet50 = ArchSpec("resnet50", "bottleneck", (3, 4, 6, 3))
_resnet101 = ArchSpec("resnet101", "bottleneck", (3, 4, 23, 3))
_resnet152 = ArchSpec("resnet152", "bottleneck", (3, 8, 36, 3))

register(name="resnet18", builder_name="ResNet18",
         spec=ArchSpec("resnet18", "basic", (2, 2, 2, 2)),
         params=11_703_912, trainable_params=11_694_312, macs=1_814_073_344,
         reference=dict(paper_gmacs=1.8, torchvision_params=11_689_512))
register(name="resnet34", builder_name="ResNet34",
         spec=ArchSpec("resnet34", "basic", (3, 4, 6, 3)),
         params=21_823_208, trainable_params=21_806_184, macs=3_663_761_408,
         reference=dict(paper_gmacs=3.6, torchvision_params=21_797_672))
register(name="resnet50", builder_name="ResNet50", spec=_resnet50,
         params=25_636_712, trainable_params=25_583_592, macs=3_857_973_248,
         reference=dict(paper_gmacs=3.8, keras_applications_params=25_636_712,
                        torchvision_params=25_557_032))
register(name="resnet101", builder_name="ResNet101", spec=_resnet101,
         params=44_707_176, trainable_params=44_601_832, macs=7_570_194_432,
         reference=dict(paper_gmacs=7.6, keras_applications_params=44_707_176,
                        torchvision_params=44_549_160))
register(name="resnet152", builder_name="ResNet152", spec=_resnet152,
         params=60_419_944, trainable_params=60_268_520, macs=11_282_415_616,
         reference=dict(paper_gmacs=11.3, keras_applications_params=60_419_944,
                        torchvision_params=60_192_808))
register(name="resnet200", builder_name="ResNet200",
         spec=ArchSpec("resnet200", "bottleneck", (3, 24, 36, 3)),
         params=64_937_832, trainable_params=64_761_832, macs=14_776_270_848,
         reference=dict(timm_params=64_673_832))

# --- the family: ResNet-D (Bag of Tricks, as in timm), ResNeXt, Wide ResNet ------

register(name="resnet50d", builder_name="ResNet50D", description="ResNet-D, Bag of Tricks",
         spec=ArchSpec("resnet50d", "bottleneck", (3, 4, 6, 3), stem=STEMS["deep"],
                       avg_down=True, default_variant="v1.5"),
         params=25_629_512, trainable_params=25_576_264, macs=4_328_824_832,
         reference=dict(timm_params=25_576_264))
register(name="resnet101d", builder_name="ResNet101D", description="ResNet-D, Bag of Tricks",
         spec=ArchSpec("resnet101d", "bottleneck", (3, 4, 23, 3), stem=STEMS["deep"],
                       avg_down=True, default_variant="v1.5"),
         params=44_673_864, trainable_params=44_568_392, macs=8_041_046_016,
         reference=dict(timm_params=44_568_392))
register(name="resnext50_32x4d", builder_name="ResNeXt50_32x4d",
         spec=ArchSpec("resnext50_32x4d", "bottleneck", (3, 4, 6, 3), groups=32,
                       width_per_group=4, default_variant="v1.5"),
         params=25_097_128, trainable_params=25_028_904, macs=4_230_479_872,
         reference=dict(torchvision_params=25_028_904))
register(name="resnext101_32x8d", builder_name="ResNeXt101_32x8d",
         spec=ArchSpec("resnext101_32x8d", "bottleneck", (3, 4, 23, 3), groups=32,
                       width_per_group=8, default_variant="v1.5"),
         params=88_994_216, trainable_params=88_791_336, macs=16_414_015_488,
         reference=dict(torchvision_params=88_791_336))
register(name="wide_resnet50_2", builder_name="WideResNet50_2",
         spec=ArchSpec("wide_resnet50_2", "bottleneck", (3, 4, 6, 3), width_per_group=128,
                       default_variant="v1.5"),
         params=68_951_464, trainable_params=68_883_240, macs=11_398_021_120,
         reference=dict(torchvision_params=68_883_240))
register(name="wide_resnet101_2", builder_name="WideResNet101_2",
         spec=ArchSpec("wide_resnet101_2", "bottleneck", (3, 4, 23, 3), width_per_group=128,
                       default_variant="v1.5"),
         params=127_024_552, trainable_params=126_886_696, macs=22_753_050_624,
         reference=dict(torchvision_params=126_886_696))

# --- pre-activation (He et al. 2016), keras.applications' ResNetV2 ------------

register(name="resnet50v2", builder_name="ResNet50V2", spec=_resnet50, variant="v2",
         description="pre-activation",
         params=25_613_800, trainable_params=25_568_360, macs=3_482_255_360,
         reference=dict(keras_applications_params=25_613_800))
register(name="resnet101v2", builder_name="ResNet101V2", spec=_resnet101, variant="v2",
         description="pre-activation",
         params=44_675_560, trainable_params=44_577_896, macs=7_194_476_544,
         reference=dict(keras_applications_params=44_675_560))
register(name="resnet152v2", builder_name="ResNet152V2", spec=_resnet152, variant="v2",
         description="pre-activation",
         params=60_380_648, trainable_params=60_236_904, macs=10_906_697_728,
         reference=dict(keras_applications_params=60_380_648))

# --- timm's resnetv2.py: pre-activation as timm builds it ("v2.timm"), BiT ----------


def _timm_v2(name: str, block_type: str, blocks: tuple, *, deep: bool = False,
             norm: str = "batch", width_factor: int = 0) -> ArchSpec:
    """A timm resnetv2 architecture: "d" is the deep stem with average-pool shortcuts;
    a `width_factor` makes it BiT (the "fixed" stem, GroupNorm, weight-standardised
    convs, every width times the factor)."""
    if width_factor:
        return ArchSpec(name, block_type, blocks,
                        tuple(64 * width_factor * 2 ** i for i in range(4)), STEMS["fixed"],
                        norm="group", conv="ws", default_variant="v2.timm")
    return ArchSpec(name, block_type, blocks, stem=STEMS["deep" if deep else "imagenet"],
                    avg_down=deep, norm=norm, default_variant="v2.timm")


_TIMM_V2 = "pre-activation, timm"
_BIT = "BiT: GroupNorm + weight standardisation"
# name, builder, spec, description, params (= trainable for GN/EvoNorm/BiT), trainable, MACs.
# 101x3, 152x2 and 152x4 are recorded from timm's model on torch's meta device (its
# parameters and conv MACs equal this zoo's on every model built here, 50x3 included);
# the tests build none over 200M parameters, and check every count against timm's goldens.
for _name, _builder, _spec, _description, _params, _trainable, _macs in (
        ("resnetv2_18", "ResNetV2_18", _timm_v2("resnetv2_18", "basic", (2, 2, 2, 2)),
         _TIMM_V2, 11_695_528, 11_687_720, 1_814_073_344),
        ("resnetv2_18d", "ResNetV2_18D",
         _timm_v2("resnetv2_18d", "basic", (2, 2, 2, 2), deep=True),
         _TIMM_V2 + ", ResNet-D", 11_714_888, 11_706_952, 2_053_713_920),
        ("resnetv2_34", "ResNetV2_34", _timm_v2("resnetv2_34", "basic", (3, 4, 6, 3)),
         _TIMM_V2, 21_811_112, 21_795_880, 3_663_761_408),
        ("resnetv2_34d", "ResNetV2_34D",
         _timm_v2("resnetv2_34d", "basic", (3, 4, 6, 3), deep=True),
         _TIMM_V2 + ", ResNet-D", 21_830_472, 21_815_112, 3_903_401_984),
        ("resnetv2_50", "ResNetV2_50", _timm_v2("resnetv2_50", "bottleneck", (3, 4, 6, 3)),
         _TIMM_V2, 25_594_792, 25_549_352, 4_089_184_256),
        ("resnetv2_50d_gn", "ResNetV2_50D_GN",
         _timm_v2("resnetv2_50d_gn", "bottleneck", (3, 4, 6, 3), deep=True, norm="group"),
         _TIMM_V2 + ", ResNet-D, GroupNorm", 25_568_584, 25_568_584, 4_328_824_832),
        ("resnetv2_50d_evos", "ResNetV2_50D_EvoS",
         _timm_v2("resnetv2_50d_evos", "bottleneck", (3, 4, 6, 3), deep=True, norm="evonorm"),
         _TIMM_V2 + ", ResNet-D, EvoNorm-S0", 25_591_368, 25_591_368, 4_328_824_832),
        ("resnetv2_101", "ResNetV2_101",
         _timm_v2("resnetv2_101", "bottleneck", (3, 4, 23, 3)),
         _TIMM_V2, 44_639_144, 44_541_480, 7_801_405_440),
        ("resnetv2_50x1_bit", "ResNetV2_50x1_BiT",
         _timm_v2("resnetv2_50x1_bit", "bottleneck", (3, 4, 6, 3), width_factor=1),
         _BIT, 25_549_352, 25_549_352, 4_089_184_256),
        ("resnetv2_50x3_bit", "ResNetV2_50x3_BiT",
         _timm_v2("resnetv2_50x3_bit", "bottleneck", (3, 4, 6, 3), width_factor=3),
         _BIT, 217_319_080, 217_319_080, 36_082_286_592),
        ("resnetv2_101x1_bit", "ResNetV2_101x1_BiT",
         _timm_v2("resnetv2_101x1_bit", "bottleneck", (3, 4, 23, 3), width_factor=1),
         _BIT, 44_541_480, 44_541_480, 7_801_405_440),
        ("resnetv2_101x3_bit", "ResNetV2_101x3_BiT",
         _timm_v2("resnetv2_101x3_bit", "bottleneck", (3, 4, 23, 3), width_factor=3),
         _BIT, 387_934_888, 387_934_888, 69_492_277_248),
        ("resnetv2_152x2_bit", "ResNetV2_152x2_BiT",
         _timm_v2("resnetv2_152x2_bit", "bottleneck", (3, 8, 36, 3), width_factor=2),
         _BIT, 236_335_208, 236_335_208, 45_814_382_592),
        ("resnetv2_152x4_bit", "ResNetV2_152x4_BiT",
         _timm_v2("resnetv2_152x4_bit", "bottleneck", (3, 8, 36, 3), width_factor=4),
         _BIT, 936_533_224, 936_533_224, 182_777_282_560)):
    register(name=_name, builder_name=_builder, spec=_spec, description=_description,
             params=_params, trainable_params=_trainable, macs=_macs,
             reference=dict(timm_params=_trainable))

# timm's resnet.py with GroupNorm in place of every BatchNormalization.
register(name="resnet50_gn", builder_name="ResNet50_GN", description="GroupNorm",
         spec=ArchSpec("resnet50_gn", "bottleneck", (3, 4, 6, 3), norm="group",
                       default_variant="v1.5"),
         params=25_557_032, trainable_params=25_557_032, macs=4_089_184_256,
         reference=dict(timm_params=25_557_032))

# --- the paper's CIFAR nets (section 4.2), depth 6n + 2 -------------------------

# n, params, trainable, MACs, and the paper's parameter count and CIFAR-10 error (%).
for _n, _params, _trainable, _macs, _paper_params, _error in (
        (3, 271_098, 269_722, 40_551_040, 269_722, 8.75),
        (5, 466_426, 464_154, 68_862_592, 464_154, 7.51),
        (7, 661_754, 658_586, 97_174_144, 658_586, 7.17),
        (9, 857_082, 853_018, 125_485_696, 853_018, 6.97),
        (18, 1_736_058, 1_727_962, 252_887_680, 1_727_962, 6.43)):
    register(name=f"resnet{6 * _n + 2}", builder_name=f"ResNet{6 * _n + 2}",
             spec=cifar_arch(f"resnet{6 * _n + 2}", _n), description="for CIFAR (paper, 4.2)",
             params=_params, trainable_params=_trainable, macs=_macs,
             reference=dict(paper_params=_paper_params, paper_cifar10_error=_error))

# Every registered architecture by name (a V2 model shares its v1 twin's).
ARCHS: Dict[str, ArchSpec] = {info.spec.name: info.spec for info in REGISTRY.values()}


def list_models() -> List[str]:
    """Names of every registered model, in registry order (by family, then depth)."""
    return list(REGISTRY)


def model_info(name: str) -> ModelInfo:
    """Metadata of a registered model (see `ModelInfo`)."""
    return REGISTRY[_check_name(name)]


def builder_names() -> List[str]:
    """Names of the public builders, e.g. ["ResNet18", ...], in registry order."""
    return [info.builder_name for info in REGISTRY.values()]


def model_for(spec: ArchSpec, variant: Optional[str] = None) -> Optional[str]:
    """The registered model of architecture `spec` built with `variant` (None: the
    model named like the spec), or None for a custom architecture."""
    same = [info for info in REGISTRY.values() if info.spec == spec]
    if variant is not None:
        same = [info for info in same if info.variant == variant] or same
    else:
        same = [info for info in same if info.name == spec.name] or same
    return same[0].name if same else None


def _check_name(name: Optional[str]) -> str:
    key = name.lower() if isinstance(name, str) else name
    if key not in REGISTRY:
        raise ValueError(f"Unknown model {name!r}. `name` must be one of: "
                         f"{', '.join(REGISTRY)}.")
    return key
