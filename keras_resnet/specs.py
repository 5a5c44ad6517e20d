"""The one table of architectures and conventions every model is built from.

An architecture (`ArchSpec`) says which block, how many blocks per stage, how
wide each stage is, and which stem it uses. A convention (`Variant`) says where
the stride sits, which convolutions carry a bias, and the BatchNormalization
constants. Adding a depth is one line in `ARCHS`.
"""

from __future__ import annotations

import dataclasses
from typing import Tuple

BLOCK_TYPES = ("basic", "bottleneck")
STEMS = ("imagenet", "deep", "cifar")
OUTPUT_STRIDES = (8, 16, 32)
SHORTCUTS = ("A", "B", "C")
POOLINGS = (None, "avg", "max")


@dataclasses.dataclass(frozen=True)
class Variant:
    """A ResNet convention: the explicit choices that tell implementations apart.

    Attributes:
        name: "v1", "v1.5" or "v2".
        preactivation: BN-ReLU before each convolution (He et al. 2016, "v2").
        stride_in_3x3: Put a bottleneck's stride on its 3x3 conv instead of its
            first 1x1 conv.
        stride_at_stage_end: Move each stage's stride to the last block of the
            previous stage (keras.applications' ResNetV2 layout).
        conv_bias: "all" (every conv), "none", or "unless_bn" (only convs whose
            output does not go straight into a BatchNormalization).
        pad_3x3_explicitly: Always use ZeroPadding2D + "valid" for 3x3 convs.
            Strided convs are always padded explicitly so that the padding is
            symmetric, as in torch.
        bn_epsilon: BatchNormalization epsilon.
        bn_momentum: BatchNormalization momentum (Keras convention; torch's 0.1
            is Keras' 0.9).
        kernel_initializer: Keras initializer for the convolution kernels.
    """

    name: str
    preactivation: bool
    stride_in_3x3: bool
    stride_at_stage_end: bool
    conv_bias: str
    pad_3x3_explicitly: bool
    bn_epsilon: float
    bn_momentum: float
    kernel_initializer: object = "glorot_uniform"


_HE_FAN_OUT = {
    "class_name": "VarianceScaling",
    "config": {"scale": 2.0, "mode": "fan_out", "distribution": "untruncated_normal"},
}

VARIANTS = {
    # keras.applications ResNet50/101/152 and the seeds' code.
    "v1": Variant("v1", preactivation=False, stride_in_3x3=False,
                  stride_at_stage_end=False, conv_bias="all",
                  pad_3x3_explicitly=False, bn_epsilon=1.001e-5, bn_momentum=0.99),
    # torchvision / timm / keras-hub.
    "v1.5": Variant("v1.5", preactivation=False, stride_in_3x3=True,
                    stride_at_stage_end=False, conv_bias="none",
                    pad_3x3_explicitly=False, bn_epsilon=1e-5, bn_momentum=0.9,
                    kernel_initializer=_HE_FAN_OUT),
    # keras.applications ResNet50V2/101V2/152V2 (pre-activation).
    "v2": Variant("v2", preactivation=True, stride_in_3x3=True,
                  stride_at_stage_end=True, conv_bias="unless_bn",
                  pad_3x3_explicitly=True, bn_epsilon=1.001e-5, bn_momentum=0.99),
}


@dataclasses.dataclass(frozen=True)
class ArchSpec:
    """One architecture: its blocks, stage depths and widths, stem and defaults.

    Attributes:
        name: Registry name, e.g. "resnet50".
        block_type: "basic" (two 3x3 convs) or "bottleneck" (1x1-3x3-1x1, x4).
        blocks_per_stage: Number of residual blocks in each stage.
        widths: Filters of each stage (a bottleneck outputs 4x this).
        stem: "imagenet" (7x7/2 conv + 3x3/2 max-pool), "deep" (ResNet-D:
            three 3x3 convs + max-pool) or "cifar" (one 3x3 conv).
        groups: Groups of a bottleneck's 3x3 conv (ResNeXt's cardinality).
        width_per_group: Channels per group at width 64; a bottleneck's inner
            width is `widths[i] * width_per_group // 64 * groups` (torchvision's
            rule: 4 with 32 groups is ResNeXt 32x4d, 128 is Wide ResNet-2).
        avg_down: ResNet-D shortcut: a 2x2 average pool before a stride-1
            projection instead of a strided 1x1 projection.
        default_input_shape: Channels-last input shape used when none is given
            with `include_top=True`, and for the registry's MAC count.
        default_num_classes: Classifier width by default.
        default_variant: Convention used by default.
        default_shortcut: Shortcut option used by default ("A", "B" or "C").
    """

    name: str
    block_type: str
    blocks_per_stage: Tuple[int, ...]
    widths: Tuple[int, ...] = (64, 128, 256, 512)
    stem: str = "imagenet"
    groups: int = 1
    width_per_group: int = 64
    avg_down: bool = False
    default_input_shape: Tuple[int, int, int] = (224, 224, 3)
    default_num_classes: int = 1000
    default_variant: str = "v1"
    default_shortcut: str = "B"

    @property
    def stage_strides(self) -> Tuple[int, ...]:
        """The first stage keeps the stem's resolution, each later one halves it."""
        return (1,) + (2,) * (len(self.blocks_per_stage) - 1)

    @property
    def min_input_size(self) -> int:
        """Smallest height/width accepted: 32 for the ImageNet stem (a 1x1 last
        feature map), 8 for the CIFAR stem (2x2)."""
        return 8 if self.stem == "cifar" else 32

    @property
    def stem_stride(self) -> int:
        """Downsampling of the stem: 4 with its max-pool, 1 for CIFAR."""
        return 1 if self.stem == "cifar" else 4


def _cifar(name: str, n: int) -> ArchSpec:
    # Section 4.2 of the paper: depth 6n + 2, option A, no bias (BN follows
    # every conv), which gives its parameter counts exactly.
    return ArchSpec(name, "basic", (n, n, n), widths=(16, 32, 64), stem="cifar",
                    default_input_shape=(32, 32, 3), default_num_classes=10,
                    default_variant="v1.5", default_shortcut="A")


ARCHS = {
    spec.name: spec
    for spec in (
        ArchSpec("resnet18", "basic", (2, 2, 2, 2)),
        ArchSpec("resnet34", "basic", (3, 4, 6, 3)),
        ArchSpec("resnet50", "bottleneck", (3, 4, 6, 3)),
        ArchSpec("resnet101", "bottleneck", (3, 4, 23, 3)),
        ArchSpec("resnet152", "bottleneck", (3, 8, 36, 3)),
        ArchSpec("resnet200", "bottleneck", (3, 24, 36, 3)),
        # Bag of Tricks' ResNet-D as in timm: deep stem, average-pool shortcut.
        ArchSpec("resnet50d", "bottleneck", (3, 4, 6, 3), stem="deep", avg_down=True,
                 default_variant="v1.5"),
        ArchSpec("resnet101d", "bottleneck", (3, 4, 23, 3), stem="deep", avg_down=True,
                 default_variant="v1.5"),
        ArchSpec("resnext50_32x4d", "bottleneck", (3, 4, 6, 3), groups=32, width_per_group=4,
                 default_variant="v1.5"),
        ArchSpec("resnext101_32x8d", "bottleneck", (3, 4, 23, 3), groups=32, width_per_group=8,
                 default_variant="v1.5"),
        ArchSpec("wide_resnet50_2", "bottleneck", (3, 4, 6, 3), width_per_group=128,
                 default_variant="v1.5"),
        ArchSpec("wide_resnet101_2", "bottleneck", (3, 4, 23, 3), width_per_group=128,
                 default_variant="v1.5"),
        _cifar("resnet20", 3),
        _cifar("resnet32", 5),
        _cifar("resnet44", 7),
        _cifar("resnet56", 9),
        _cifar("resnet110", 18),
    )
}


def get_variant(variant: str) -> Variant:
    """Look a convention up by name, with a clear error for an unknown one."""
    if variant not in VARIANTS:
        raise ValueError(
            f"`variant` must be one of {sorted(VARIANTS)}. Received: variant={variant!r}"
        )
    return VARIANTS[variant]


def expansion(block_type: str) -> int:
    """Output channels of a block per unit of its width."""
    return 4 if block_type == "bottleneck" else 1


def output_channels(spec: ArchSpec) -> int:
    """Channels of the last stage's output."""
    return spec.widths[-1] * expansion(spec.block_type)


def check_choice(argument: str, value: object, allowed: tuple) -> None:
    """Raise a ValueError naming `argument` unless `value` is one of `allowed`."""
    if value not in allowed:
        raise ValueError(
            f"`{argument}` must be one of {list(allowed)}. Received: {argument}={value!r}"
        )


def check_block_options(block_type: str, groups: int, width_per_group: int) -> None:
    """Check a block's grouped/widened-conv options (used by `block` and `ResNet`)."""
    check_choice("block_type", block_type, BLOCK_TYPES)
    for argument, value in (("groups", groups), ("width_per_group", width_per_group)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"`{argument}` must be a positive integer. "
                             f"Received: {argument}={value!r}")
    if block_type == "basic" and (groups, width_per_group) != (1, 64):
        raise ValueError("Basic blocks have no grouped or widened conv: `groups` must be 1 "
                         f"and `width_per_group` 64. Received: groups={groups}, "
                         f"width_per_group={width_per_group}")


def check_zero_init_residual(zero_init_residual: bool, variant: Variant) -> None:
    """`zero_init_residual` zeroes the BN that ends each branch: "v2" has none."""
    if zero_init_residual and variant.preactivation:
        raise ValueError("`zero_init_residual=True` needs a BatchNormalization at the end of "
                         "each residual branch: use variant 'v1' or 'v1.5', not "
                         f"{variant.name!r}.")


def paper_depth(spec: ArchSpec) -> int:
    """Weighted layers along the main path as the paper counts them (the
    convolutions of every block, the stem conv and the classifier)."""
    per_block = 3 if spec.block_type == "bottleneck" else 2
    return per_block * sum(spec.blocks_per_stage) + 2
