"""The vocabulary every model is described in: stems, conventions, architectures.

A stem (`Stem`) says how the network starts: its stride, its first width and
the input sizes it suits. A convention (`Variant`) says where the stride sits,
which convolutions carry a bias, and the BatchNormalization constants. An
architecture (`ArchSpec`) says which block, how many blocks per stage, how
wide each stage is, and which stem it uses. The registered architectures are
rows of `keras_resnet.registry`. Nothing here imports a framework.
"""

from __future__ import annotations

import dataclasses
from typing import Optional, Tuple

BLOCK_TYPES = ("basic", "bottleneck")
OUTPUT_STRIDES = (8, 16, 32)
SHORTCUTS = ("A", "B", "C")
POOLINGS = (None, "avg", "max")
# Normalisation layers: BatchNormalization, GroupNormalization (NORM_GROUPS groups, as
# timm's GroupNorm / GroupNormAct) or timm's EvoNorm2dS0 (a normalisation and its
# non-linearity in one layer).
NORMS = ("batch", "group", "evonorm")
NORM_GROUPS = 32
# Convolutions: plain, or weight-standardised ("ws": BiT's StdConv2d, each output
# channel's kernel standardised to zero mean and unit variance before use).
CONVS = ("plain", "ws")
WS_EPSILON = 1e-8  # timm's BiT models (`_create_resnetv2_bit`: StdConv2d(eps=1e-8))


@dataclasses.dataclass(frozen=True)
class Stem:
    """The layers before the first stage, and what follows from them.

    Attributes:
        name: "imagenet" (7x7/2 conv + 3x3/2 max-pool), "deep" (ResNet-D:
            three 3x3 convs + max-pool), "cifar" (one 3x3/1 conv) or "fixed"
            (BiT: 7x7/2 conv + 3x3/2 max-pool over a zero-padded map).
        stride: Downsampling of the stem (4 with its max-pool, 1 for CIFAR).
        base_width: Width of the first stage when none is given (each later
            stage doubles it).
        default_input_size: Height and width of the input when none is given.
        min_input_size: Smallest height/width accepted: 32 with stride 4 (a
            1x1 last feature map after four stages), 8 for CIFAR's (2x2).
    """

    name: str
    stride: int
    base_width: int
    default_input_size: int
    min_input_size: int


STEMS = {stem.name: stem for stem in (
    Stem("imagenet", stride=4, base_width=64, default_input_size=224, min_input_size=32),
    Stem("deep", stride=4, base_width=64, default_input_size=224, min_input_size=32),
    Stem("cifar", stride=1, base_width=16, default_input_size=32, min_input_size=8),
    # BiT's 7x7/2 conv, then a max-pool over a zero-padded map (timm's stem_type "fixed").
    Stem("fixed", stride=4, base_width=64, default_input_size=224, min_input_size=32),
)}


@dataclasses.dataclass(frozen=True)
class Variant:
    """A ResNet convention: the explicit choices that tell implementations apart.

    Attributes:
        name: "v1", "v1.5", "v2" or "v2.timm".
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
        stem_pool_padding: How the stem's 3x3/2 max-pool pads: "zero"
            (ZeroPadding2D, as keras.applications) or "ignore" (torch's
            MaxPool2d(padding=1): padded positions never win, which differs
            when the stem ends without a ReLU, as in timm's pre-activation nets).
        norm, conv: The normalisation ("batch", "group", "evonorm") and
            convolution ("plain", "ws") kinds. The architecture sets them
            (`ArchSpec.norm` / `ArchSpec.conv`, `with_layers`); a named
            convention leaves them at "batch" and "plain".
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
    stem_pool_padding: str = "zero"
    norm: str = "batch"
    conv: str = "plain"

    def with_layers(self, norm: Optional[str] = None, conv: Optional[str] = None) -> "Variant":
        """This convention with normalisation `norm` and convolution `conv` (None: keep)."""
        if norm is not None:
            check_choice("norm", norm, NORMS)
        if conv is not None:
            check_choice("conv", conv, CONVS)
        return dataclasses.replace(self, norm=norm or self.norm, conv=conv or self.conv)


_HE_FAN_OUT = {
    "class_name": "VarianceScaling",
    "config": {"scale": 2.0, "mode": "fan_out", "distribution": "untruncated_normal"},
}

VARIANTS = {
    # keras.applications ResNet50/101/152, and the Keras code of the blog posts this
    # project grew from.
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
    # timm's resnetv2.py (pre-activation, BiT): stride on the first block's 3x3, no
    # conv bias, torch's stem max-pool, a final norm before the pooled classifier.
    "v2.timm": Variant("v2.timm", preactivation=True, stride_in_3x3=True,
                       stride_at_stage_end=False, conv_bias="none",
                       pad_3x3_explicitly=False, bn_epsilon=1e-5, bn_momentum=0.9,
                       kernel_initializer=_HE_FAN_OUT, stem_pool_padding="ignore"),
}
# The conventions of torchvision/timm state dicts (their key names load into these).
TORCH_VARIANTS = ("v1.5", "v2.timm")


@dataclasses.dataclass(frozen=True)
class ArchSpec:
    """One architecture: its blocks, stage depths and widths, stem and defaults.

    Attributes:
        name: Architecture name, e.g. "resnet50" (also the default model name
            and the key of its weight files).
        block_type: "basic" (two 3x3 convs) or "bottleneck" (1x1-3x3-1x1, x4).
        blocks_per_stage: Number of residual blocks in each stage.
        widths: Filters of each stage (a bottleneck outputs 4x this); default
            the stem's base width, doubled each stage.
        stem: The `Stem` record (see `STEMS`).
        groups: Groups of a bottleneck's 3x3 conv (ResNeXt's cardinality).
        width_per_group: Channels per group at width 64; a bottleneck's inner
            width is `widths[i] * width_per_group // 64 * groups` (torchvision's
            rule: 4 with 32 groups is ResNeXt 32x4d, 128 is Wide ResNet-2).
        avg_down: ResNet-D shortcut: a 2x2 average pool before a stride-1
            projection instead of a strided 1x1 projection.
        default_num_classes: Classifier width by default.
        default_variant: Convention used by default.
        default_shortcut: Shortcut option used by default ("A", "B" or "C").
        norm: Normalisation layers: "batch", "group" (GroupNormalization,
            32 groups) or "evonorm" (timm's EvoNorm2dS0).
        conv: Convolutions: "plain" or "ws" (weight-standardised, BiT).
    """

    name: str
    block_type: str
    blocks_per_stage: Tuple[int, ...]
    widths: Optional[Tuple[int, ...]] = None
    stem: Stem = STEMS["imagenet"]
    groups: int = 1
    width_per_group: int = 64
    avg_down: bool = False
    default_num_classes: int = 1000
    default_variant: str = "v1"
    default_shortcut: str = "B"
    norm: str = "batch"
    conv: str = "plain"

    def __post_init__(self):
        if self.widths is None:
            widths = tuple(self.stem.base_width * 2 ** i
                           for i in range(len(self.blocks_per_stage)))
            object.__setattr__(self, "widths", widths)

    @property
    def default_input_shape(self) -> Tuple[int, int, int]:
        """Channels-last input shape used when none is given with the classifier,
        and for the registry's MAC count."""
        size = self.stem.default_input_size
        return (size, size, 3)

    @property
    def min_input_size(self) -> int:
        """Smallest height/width accepted (the stem's)."""
        return self.stem.min_input_size

    @property
    def stage_strides(self) -> Tuple[int, ...]:
        """The first stage keeps the stem's resolution, each later one halves it."""
        return (1,) + (2,) * (len(self.blocks_per_stage) - 1)

    @property
    def stage_names(self) -> Tuple[str, ...]:
        """Names of the stages, "conv2" onwards (the stem is "conv1")."""
        return tuple(f"conv{s}" for s in range(2, len(self.blocks_per_stage) + 2))


def cifar_arch(name: str, n: int) -> ArchSpec:
    """The paper's CIFAR net of depth 6n + 2 (section 4.2): three stages of n
    basic blocks, widths 16-32-64, option A, no conv bias (BN follows every
    conv), which gives its parameter counts exactly."""
    return ArchSpec(name, "basic", (n, n, n), stem=STEMS["cifar"], default_num_classes=10,
                    default_variant="v1.5", default_shortcut="A")


def get_stem(name: str) -> Stem:
    """Look a stem up by name, with a clear error for an unknown one."""
    check_choice("stem", name, tuple(STEMS))
    return STEMS[name]


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
