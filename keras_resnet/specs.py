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
import math
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
ATTENTIONS = (None, "se", "eca")
ANTI_ALIASES = (None, "avg", "blur")
STEM_POOLS = ("max", "conv")
# Layer names of the fixed anti-aliasing blur filters end with this: their values
# are their initializer's, and weight files never set them.
BLUR_SUFFIX = "_blur"


@dataclasses.dataclass(frozen=True)
class Stem:
    """The layers before the first stage, and what follows from them.

    Attributes:
        name: "imagenet" (7x7/2 conv + 3x3/2 max-pool), "deep" (ResNet-C/D/S:
            three 3x3 convs of widths w/2, w/2, w + max-pool), "tiered" (timm's
            "t": three 3x3 convs of widths 3w/8, w/2, w + max-pool), "cifar"
            (one 3x3/1 conv) or "fixed" (BiT: 7x7/2 conv + 3x3/2 max-pool over a
            zero-padded map); w is the stem's output width.
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
    Stem("tiered", stride=4, base_width=64, default_input_size=224, min_input_size=32),
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
        stem_width: Output channels of the stem (default `widths[0]`); a deep
            stem's convs are w/2, w/2, w wide (timm's stem_width is w/2: 32 for
            the "c", "d" and "t" nets, 64 for "s" and SENet-154).
        stem_pool: "max" (3x3/2 max-pool) or "conv" (ResNet-RS: a 3x3/2 conv,
            BN and ReLU in its place).
        attention: Channel attention at the end of each residual branch,
            before the addition: None, "se" (squeeze-and-excitation: global
            average pool, 1x1 conv to `make_divisible(C * se_ratio, 8)`
            channels, ReLU, 1x1 conv back to C, sigmoid gate; timm's SEModule)
            or "eca" (efficient channel attention: global average pool, a 1-D
            conv across channels of odd size from log2(C), sigmoid gate).
        se_ratio: Reduction of "se" (1/16, ResNet-RS 1/4).
        anti_alias: Anti-aliased downsampling (Zhang 2019): None, "avg" (a
            2x2/2 average pool after the stride-1 3x3 conv of each strided
            block, and in place of the stem's max-pool) or "blur" (a fixed 3x3
            binomial blur with stride 2, reflect-padded, in the same places
            and after a stride-1 stem max-pool); needs variant "v1.5".
        reduce_first: Divide the first conv's width of each block by this
            (SENet-154: 2).
        down_kernel_size: Kernel of the strided projection shortcuts (SENet-154: 3).
        stage_block_types: One block type per stage where they differ (timm's
            test_resnet); `block_type` is then the last stage's.
        block_widths: Per-block output widths of each conv (pruned nets), one
            tuple per block over all stages, e.g. (conv1, conv2, conv3) for a
            bottleneck; the last must be the same within a stage. ECA keeps the
            kernel size of the nominal width, as timm does.
        input_size: Default input height and width (default the stem's, 224);
            where every timm checkpoint of the architecture uses another.
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
    stem_width: Optional[int] = None
    stem_pool: str = "max"
    attention: Optional[str] = None
    se_ratio: float = 1 / 16
    anti_alias: Optional[str] = None
    reduce_first: int = 1
    down_kernel_size: int = 1
    stage_block_types: Optional[Tuple[str, ...]] = None
    block_widths: Optional[Tuple[Tuple[int, ...], ...]] = None
    input_size: Optional[int] = None
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
        if self.stem_width is None:
            object.__setattr__(self, "stem_width", self.widths[0])

    @property
    def block_types(self) -> Tuple[str, ...]:
        """The block type of each stage."""
        return self.stage_block_types or (self.block_type,) * len(self.blocks_per_stage)

    @property
    def stage_block_widths(self) -> Tuple[Optional[Tuple[Tuple[int, ...], ...]], ...]:
        """`block_widths` split by stage (None per stage without them)."""
        if self.block_widths is None:
            return (None,) * len(self.blocks_per_stage)
        out, start = [], 0
        for n in self.blocks_per_stage:
            out.append(self.block_widths[start:start + n])
            start += n
        return tuple(out)

    @property
    def default_input_shape(self) -> Tuple[int, int, int]:
        """Channels-last input shape used when none is given with the classifier,
        and for the registry's MAC count."""
        size = self.input_size or self.stem.default_input_size
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


def se_channels(channels: int, ratio: float) -> int:
    """Squeeze width of "se" attention: timm's `make_divisible(channels * ratio, 8,
    round_limit=0)` (the nearest multiple of 8, at least 8)."""
    v = channels * ratio
    return max(8, int(v + 4) // 8 * 8)


def eca_kernel_size(channels: int) -> int:
    """Kernel of "eca" attention (ECA-Net's rule with gamma 2, beta 1): the odd
    number nearest above |log2(channels) + 1| / 2, at least 3."""
    t = int(abs(math.log(channels, 2) + 1) / 2)
    return max(t if t % 2 else t + 1, 3)


def _positive_int(argument: str, value) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"`{argument}` must be a positive integer. "
                         f"Received: {argument}={value!r}")


def check_attention_options(attention, se_ratio, anti_alias, reduce_first,
                            down_kernel_size) -> None:
    """Check the options of channel attention, anti-aliasing and SENet's
    reductions (used by `block`, `stem` and `ResNet`)."""
    check_choice("attention", attention, ATTENTIONS)
    check_choice("anti_alias", anti_alias, ANTI_ALIASES)
    if (not isinstance(se_ratio, (int, float)) or isinstance(se_ratio, bool)
            or not 0 < se_ratio <= 1):
        raise ValueError(f"`se_ratio` must be a number in (0, 1]. Received: se_ratio={se_ratio!r}")
    _positive_int("reduce_first", reduce_first)
    _positive_int("down_kernel_size", down_kernel_size)
    if down_kernel_size % 2 == 0:
        raise ValueError("`down_kernel_size` must be odd (1 or 3). "
                         f"Received: down_kernel_size={down_kernel_size!r}")


def check_anti_alias(anti_alias, variant: "Variant") -> None:
    """Anti-aliasing follows a stride-1 3x3 conv: the "v1.5" convention."""
    if anti_alias is not None and variant.name != "v1.5":
        raise ValueError(f"`anti_alias={anti_alias!r}` needs the stride on the 3x3 conv and "
                         f"BN-ReLU before the pool: use variant 'v1.5', not {variant.name!r}.")


def check_zero_init_residual(zero_init_residual: bool, variant: Variant) -> None:
    """`zero_init_residual` zeroes the BN that ends each branch: "v2" has none."""
    if zero_init_residual and variant.preactivation:
        raise ValueError("`zero_init_residual=True` needs a BatchNormalization at the end of "
                         "each residual branch: use variant 'v1' or 'v1.5', not "
                         f"{variant.name!r}.")


def paper_depth(spec: ArchSpec) -> int:
    """Weighted layers along the main path as the paper counts them (the
    convolutions of every block, the stem conv and the classifier)."""
    return sum((3 if kind == "bottleneck" else 2) * n
               for kind, n in zip(spec.block_types, spec.blocks_per_stage)) + 2
