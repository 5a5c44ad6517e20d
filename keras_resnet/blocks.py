"""Functional builders: stems, residual blocks, stacks and heads, each `x -> x`.

These mirror the seed code and keras.applications (`block(x, filters, ...)`,
`stack(x, filters, blocks, ...)`) with every convention made an argument, and
name every layer with the keras.applications grammar
`conv{stage}_block{i}_{0|1|2|3}_{conv|bn|relu}` so weights and feature maps can
be found by name.
"""

from __future__ import annotations

from typing import Optional, Sequence, Union

import keras
import numpy as np
from keras import layers

from keras_resnet.layers import (Conv2D, DropPath, EvoNormS0, FusedBatchNormalization,
                                 StdConv2D, ZeroPadChannels)
from keras_resnet.specs import (BLUR_SUFFIX, NORM_GROUPS, SHORTCUTS, STEM_POOLS, STEMS,
                                WS_EPSILON, Variant, check_anti_alias, check_attention_options,
                                check_block_options, check_choice, check_zero_init_residual,
                                eca_kernel_size, expansion, get_variant, se_channels)


def _channel_axis() -> int:
    return 1 if keras.config.image_data_format() == "channels_first" else 3


def _as_variant(variant: Union[str, Variant], norm: Optional[str] = None,
                conv: Optional[str] = None) -> Variant:
    """The convention, with the normalisation and convolution kinds `norm` and
    `conv` (None: the variant's own, "batch" and "plain" for a named one)."""
    v = variant if isinstance(variant, Variant) else get_variant(variant)
    return v.with_layers(norm, conv)


def _conv(x, filters, kernel_size, stride, v: Variant, name, *, before_bn: bool,
          groups: int = 1, dilation: int = 1):
    """A convolution with the variant's bias, padding and initializer rules.

    Strided kxk convs are padded explicitly with ZeroPadding2D + "valid"
    (symmetric, like torch) so shapes and torch weights line up; TensorFlow's
    "same" would pad only the bottom/right of an even input.
    """
    use_bias = {"all": True, "none": False, "unless_bn": not before_bn}[v.conv_bias]
    padding = "valid"
    if kernel_size > 1:
        if stride > 1 or v.pad_3x3_explicitly:
            pad = dilation * (kernel_size - 1) // 2
            x = layers.ZeroPadding2D(pad, name=f"{name}_pad")(x)
        else:
            padding = "same"
    conv_class, extra = (StdConv2D, {"epsilon": WS_EPSILON}) if v.conv == "ws" else (Conv2D, {})
    return conv_class(
        filters, kernel_size, strides=stride, padding=padding, use_bias=use_bias,
        groups=groups, dilation_rate=dilation,
        kernel_initializer=keras.initializers.get(v.kernel_initializer),
        name=f"{name}_conv", **extra,
    )(x)


def _bn(x, v: Variant, name, *, zero_gamma: bool = False, act: bool = False):
    """The variant's normalisation layer (named `name` whatever its kind), and with
    `act` its ReLU (`{name minus _bn}_relu`; EvoNorm is its own non-linearity)."""
    gamma = "zeros" if zero_gamma else "ones"
    if v.norm == "evonorm":
        return EvoNormS0(NORM_GROUPS, epsilon=v.bn_epsilon, apply_act=act,
                         axis=_channel_axis(), name=name)(x)
    if v.norm == "group":
        channels = x.shape[_channel_axis()]
        if channels % NORM_GROUPS:
            raise ValueError(f"`norm`='group' needs channels in multiples of {NORM_GROUPS}; "
                             f"layer {name!r} has {channels}.")
        x = layers.GroupNormalization(NORM_GROUPS, axis=_channel_axis(), epsilon=v.bn_epsilon,
                                      gamma_initializer=gamma, name=name)(x)
    else:
        x = FusedBatchNormalization(axis=_channel_axis(), epsilon=v.bn_epsilon,
                                    momentum=v.bn_momentum, gamma_initializer=gamma,
                                    name=name)(x)
    if not act:
        return x
    return layers.Activation("relu", name=name[:-len("_bn")] + "_relu")(x)


def _conv_bn_relu(x, filters, kernel_size, stride, v: Variant, name, **conv_options):
    x = _conv(x, filters, kernel_size, stride, v, name, before_bn=True, **conv_options)
    return _bn(x, v, f"{name}_bn", act=True)


def _last_conv(x, filters, kernel_size, v: Variant, name, zero_init: bool, **conv_options):
    """The branch's last conv: followed by BN, except in pre-activation blocks."""
    x = _conv(x, filters, kernel_size, 1, v, name, before_bn=not v.preactivation,
              **conv_options)
    return x if v.preactivation else _bn(x, v, f"{name}_bn", zero_gamma=zero_init)


def _strided_conv_bn_relu(x, filters, kernel_size, stride, v: Variant, name, anti_alias,
                          **conv_options):
    """conv-BN-ReLU that downsamples by `stride`: in the conv, or with
    `anti_alias` by a pool after a stride-1 conv (timm's `aa_layer`)."""
    if anti_alias is None or stride == 1:
        return _conv_bn_relu(x, filters, kernel_size, stride, v, name, **conv_options)
    x = _conv_bn_relu(x, filters, kernel_size, 1, v, name, **conv_options)
    return anti_alias_pool(x, anti_alias, stride, name)


def _basic_branch(x, filters, stride, v: Variant, name, *, groups, width_per_group,
                  dilation, zero_init, anti_alias, reduce_first, conv_widths):
    first, out = conv_widths or (filters // reduce_first, filters)
    x = _strided_conv_bn_relu(x, first, 3, stride, v, f"{name}_1", anti_alias,
                              dilation=dilation)
    return _last_conv(x, out, 3, v, f"{name}_2", zero_init, dilation=dilation)


def _bottleneck_branch(x, filters, stride, v: Variant, name, *, groups, width_per_group,
                       dilation, zero_init, anti_alias, reduce_first, conv_widths):
    width = filters * width_per_group // 64 * groups
    first, width, out = conv_widths or (width // reduce_first, width, filters * 4)
    stride_1x1, stride_3x3 = (1, stride) if v.stride_in_3x3 else (stride, 1)
    x = _conv_bn_relu(x, first, 1, stride_1x1, v, f"{name}_1")
    x = _strided_conv_bn_relu(x, width, 3, stride_3x3, v, f"{name}_2", anti_alias,
                              groups=groups, dilation=dilation)
    return _last_conv(x, out, 1, v, f"{name}_3", zero_init)


RESIDUAL_BRANCHES = {"basic": _basic_branch, "bottleneck": _bottleneck_branch}


def _shortcut(x, projection_input, out_channels, stride, shortcut, v: Variant, name,
              avg_down: bool, down_kernel_size: int = 1):
    in_channels = x.shape[_channel_axis()]
    if shortcut == "C" or (shortcut == "B" and in_channels != out_channels):
        if avg_down and stride > 1:  # ResNet-D: average, then a stride-1 projection
            projection_input = layers.AveragePooling2D(
                stride, strides=stride, padding="same", name=f"{name}_0_pool")(projection_input)
            stride = 1
        kernel_size = down_kernel_size if stride > 1 else 1  # SENet-154's 3x3 projection
        s = _conv(projection_input, out_channels, kernel_size, stride, v, f"{name}_0",
                  before_bn=not v.preactivation)
        return s if v.preactivation else _bn(s, v, f"{name}_0_bn")
    if stride > 1:  # parameter-free subsampling, as x[:, ::stride, ::stride]
        x = layers.MaxPooling2D(1, strides=stride, name=f"{name}_0_pool")(x)
    if out_channels != in_channels:
        if out_channels < in_channels:
            raise ValueError(
                f"Shortcut option A cannot reduce channels ({in_channels} -> "
                f"{out_channels}) in block {name!r}; use `shortcut='B'` or 'C'."
            )
        x = ZeroPadChannels(out_channels - in_channels, name=f"{name}_0_pad")(x)
    return x


def _reflect_pad1(x, name):
    """Reflect-pad height and width by 1 (torch's `F.pad(mode="reflect")`) with
    Keras' own layers, for any input size: zero padding plus the reflected
    rows/columns, each cut out as `t - shift(crop(t))` (exact: the rest cancels)."""
    for axis in ("h", "w"):
        def crop(t, before, after, tag):
            c = ((before, after), (0, 0)) if axis == "h" else ((0, 0), (before, after))
            return layers.Cropping2D(c, name=f"{name}_{axis}{tag}_crop")(t)

        def pad(t, before, after, tag):
            p = ((before, after), (0, 0)) if axis == "h" else ((0, 0), (before, after))
            return layers.ZeroPadding2D(p, name=f"{name}_{axis}{tag}_pad")(t)

        first_spatial = 2 if keras.config.image_data_format() == "channels_first" else 1
        size = x.shape[first_spatial + (axis == "w")]
        first = crop(x, 1, 0, "first")  # starts at row 1, the top border's reflection
        last = crop(x, 0, 1, "last")  # ends at row n-2, the bottom border's reflection
        if size != 2:  # (at 2 rows each crop is already that one row)
            first = layers.Subtract(name=f"{name}_{axis}first_only")(
                [first, pad(crop(first, 1, 0, "first2"), 1, 0, "first2")])
            last = layers.Subtract(name=f"{name}_{axis}last_only")(
                [last, pad(crop(last, 0, 1, "last2"), 0, 1, "last2")])
        x = layers.Add(name=f"{name}_{axis}reflect")(
            [pad(x, 1, 1, ""), pad(first, 0, 3, "first"), pad(last, 3, 0, "last")])
    return x


def anti_alias_pool(x, kind: str, stride: int, name: str):
    """timm's anti-aliasing layers: "avg" is a stride x stride average pool
    (`nn.AvgPool2d(stride)`), "blur" BlurPool2d: reflect padding by 1, then a
    fixed 3x3 binomial filter ([1, 2, 1] / 4 in each direction) per channel with
    `stride`, a non-trainable DepthwiseConv2D named `{name}_blur`."""
    if kind == "avg":
        return layers.AveragePooling2D(stride, strides=stride, name=f"{name}_aa")(x)
    taps = np.array([1.0, 2.0, 1.0]) / 4.0
    blur = np.outer(taps, taps)[:, :, None, None]
    x = _reflect_pad1(x, f"{name}_blur")
    return layers.DepthwiseConv2D(
        3, strides=stride, padding="valid", use_bias=False, trainable=False,
        depthwise_initializer=keras.initializers.Constant(blur),
        name=f"{name}{BLUR_SUFFIX}")(x)


def channel_attention(x, kind: str, name: str, *, se_ratio: float = 1 / 16,
                      nominal_channels: Optional[int] = None,
                      variant: Union[str, Variant] = "v1.5"):
    """timm's channel attention, `x * gate(x)`, from Keras' own layers.

    "se": global average pool, 1x1 conv to `se_channels(C, se_ratio)` with
    ReLU, 1x1 conv back to C with sigmoid (`{name}_se_reduce`, `_se_expand`).
    "eca": global average pool, a 1-D conv across the channels (no bias,
    kernel `eca_kernel_size(nominal_channels or C)`, zero padded), sigmoid
    (`{name}_eca_conv`).
    """
    axis = _channel_axis()
    channels = x.shape[axis]
    init = keras.initializers.get(_as_variant(variant).kernel_initializer)
    if kind == "se":
        s = layers.GlobalAveragePooling2D(keepdims=True, name=f"{name}_se_pool")(x)
        s = Conv2D(se_channels(channels, se_ratio), 1, activation="relu",
                   kernel_initializer=init, name=f"{name}_se_reduce")(s)
        s = Conv2D(channels, 1, activation="sigmoid", kernel_initializer=init,
                   name=f"{name}_se_expand")(s)
        return layers.Multiply(name=f"{name}_se")([x, s])
    size = eca_kernel_size(nominal_channels or channels)
    s = layers.GlobalAveragePooling2D(name=f"{name}_eca_pool")(x)
    s = layers.Reshape((channels, 1), name=f"{name}_eca_reshape")(s)
    s = layers.Conv1D(1, size, padding="same", use_bias=False, activation="sigmoid",
                      data_format="channels_last", kernel_initializer=init,
                      name=f"{name}_eca_conv")(s)
    gate_shape = (channels, 1, 1) if axis == 1 else (1, 1, channels)
    s = layers.Reshape(gate_shape, name=f"{name}_eca_gate")(s)
    return layers.Multiply(name=f"{name}_eca")([x, s])


def block(x, filters: int, stride: int = 1, *, block_type: str = "bottleneck",
          variant: Union[str, Variant] = "v1", shortcut: str = "B", groups: int = 1,
          width_per_group: int = 64, dilation: int = 1, avg_down: bool = False,
          drop_path_rate: float = 0.0, zero_init_residual: bool = False,
          attention: Optional[str] = None, se_ratio: float = 1 / 16,
          anti_alias: Optional[str] = None, reduce_first: int = 1, down_kernel_size: int = 1,
          conv_widths: Optional[Sequence[int]] = None, name: str | None = None,
          norm: Optional[str] = None, conv: Optional[str] = None):
    """One residual block: `shortcut(x) + branch(x)`.

    Args:
        x: Input tensor.
        filters: Width of the block; a bottleneck block outputs `4 * filters`
            channels, a basic block `filters`.
        stride: Spatial stride of the block.
        block_type: "basic" (two 3x3 convs) or "bottleneck" (1x1, 3x3, 1x1).
        variant: "v1", "v1.5", "v2" or "v2.timm" (see `keras_resnet.specs.VARIANTS`).
        shortcut: "A" (identity, zero-padded channels), "B" (projection when
            the channel count changes) or "C" (projection always).
        groups, width_per_group: Grouped / widened 3x3 conv of a bottleneck
            (ResNeXt, Wide ResNet); see `keras_resnet.specs.ArchSpec`.
        dilation: Dilation rate of the 3x3 convs.
        avg_down: Average-pool before a stride-1 projection shortcut (ResNet-D).
        drop_path_rate: Probability of dropping the residual branch per sample
            while training (stochastic depth).
        zero_init_residual: Start the branch's last BN gamma at zero, so the
            block starts as the identity (needs a BN there: not "v2").
        attention: None, "se" or "eca": channel attention at the end of the
            branch, before the addition (see `channel_attention`).
        se_ratio: Squeeze ratio of "se" (timm: 1/16; ResNet-RS 1/4).
        anti_alias: None, "avg" or "blur": downsample after a stride-1 3x3
            conv with that pool instead (see `anti_alias_pool`; "v1.5" only).
        reduce_first: Divide the width of the branch's first conv by this.
        down_kernel_size: Kernel of a strided projection shortcut (1 or 3).
        conv_widths: Output widths of the branch's convs, overriding the
            ones `filters` implies (pruned nets).
        name: Layer-name prefix, e.g. "conv3_block1".
        norm: Normalisation: "batch", "group" (GroupNormalization, 32 groups)
            or "evonorm" (timm's EvoNorm2dS0); None: the variant's ("batch").
            The layers keep the `_bn` names whatever their kind.
        conv: Convolutions: "plain" or "ws" (weight-standardised, BiT); None:
            the variant's ("plain").

    Returns:
        The block's output tensor.
    """
    check_block_options(block_type, groups, width_per_group)
    check_choice("shortcut", shortcut, SHORTCUTS)
    check_attention_options(attention, se_ratio, anti_alias, reduce_first, down_kernel_size)
    v = _as_variant(variant, norm, conv)
    check_zero_init_residual(zero_init_residual, v)
    check_anti_alias(anti_alias, v)
    if conv_widths is not None:
        conv_widths = tuple(conv_widths)
        if (len(conv_widths) != (3 if block_type == "bottleneck" else 2)
                or not all(isinstance(w, int) and w > 0 for w in conv_widths)):
            raise ValueError("`conv_widths` must give one positive width per conv of the "
                             f"branch. Received: conv_widths={conv_widths!r}")
    name = name or f"block{keras.backend.get_uid('keras_resnet_block')}"
    nominal_channels = filters * expansion(block_type)
    out_channels = conv_widths[-1] if conv_widths else nominal_channels
    if v.preactivation:
        branch_input = _bn(x, v, f"{name}_preact_bn", act=True)
    else:
        branch_input = x
    residual = _shortcut(x, branch_input, out_channels, stride, shortcut, v, name, avg_down,
                         down_kernel_size)
    branch = RESIDUAL_BRANCHES[block_type](
        branch_input, filters, stride, v, name, groups=groups, width_per_group=width_per_group,
        dilation=dilation, zero_init=zero_init_residual, anti_alias=anti_alias,
        reduce_first=reduce_first, conv_widths=conv_widths)
    if attention is not None:
        branch = channel_attention(branch, attention, name, se_ratio=se_ratio,
                                   nominal_channels=nominal_channels, variant=v)
    if drop_path_rate:
        branch = DropPath(drop_path_rate, name=f"{name}_drop_path")(branch)
    if v.preactivation:
        return layers.Add(name=f"{name}_out")([residual, branch])
    x = layers.Add(name=f"{name}_add")([residual, branch])
    return layers.Activation("relu", name=f"{name}_out")(x)


def stack(x, filters: int, blocks: int, stride: int = 2, *,
          block_type: str = "bottleneck", variant: Union[str, Variant] = "v1",
          shortcut: str = "B", dilation: int = 1, dilate: bool = False,
          drop_path_rate: Union[float, Sequence[float]] = 0.0, name: str | None = None,
          return_feature_map: bool = False, block_widths=None, norm: Optional[str] = None,
          conv: Optional[str] = None, **block_options):
    """A stage of `blocks` residual blocks that downsamples by `stride` once.

    The stride sits on the first block, or on the last one for "v2" (as in
    keras.applications' ResNetV2, where a model passes each stage the stride
    of the next).

    Args:
        x: Input tensor.
        filters: Width of every block in the stage.
        blocks: Number of blocks (at least 1).
        stride: Downsampling factor of the stage.
        block_type, variant, shortcut: As in `block`.
        dilation: Dilation rate in effect when the stage starts.
        dilate: Replace the stride by dilation (torchvision's
            `replace_stride_with_dilation`): the block that would stride keeps
            `dilation`, the blocks after it use `dilation * stride`.
        drop_path_rate: One rate for every block, or one per block.
        name: Stage prefix, e.g. "conv3"; blocks are named `{name}_block{i}`.
        return_feature_map: Also return the stage's feature map at its own
            resolution: its output, or for "v2" (whose last block strides for
            the next stage) the input of its last block.
        block_widths: Optional `conv_widths` of each block (pruned nets).
        norm, conv: Normalisation and convolution kinds, as in `block`.
        **block_options: `groups`, `width_per_group`, `avg_down`,
            `zero_init_residual`, `attention`, `se_ratio`, `anti_alias`,
            `reduce_first`, `down_kernel_size`, passed to every `block`.

    Returns:
        The stage's output tensor, or `(output, feature_map)`.
    """
    if not isinstance(blocks, int) or blocks < 1:
        raise ValueError(f"`blocks` must be a positive integer. Received: blocks={blocks!r}")
    v = _as_variant(variant, norm, conv)
    name = name or f"stack{keras.backend.get_uid('keras_resnet_stack')}"
    rates = ([drop_path_rate] * blocks if isinstance(drop_path_rate, (int, float))
             else list(drop_path_rate))
    if len(rates) != blocks:
        raise ValueError(f"`drop_path_rate` must be a number or give one rate per block "
                         f"({blocks}). Received: drop_path_rate={drop_path_rate!r}")
    if block_widths is not None and len(block_widths) != blocks:
        raise ValueError(f"`block_widths` must give the widths of each block ({blocks}). "
                         f"Received: block_widths={block_widths!r}")
    strided = blocks if v.stride_at_stage_end else 1
    feature_map = x
    for i in range(1, blocks + 1):
        if i == blocks:
            feature_map = x  # the input of the last block
        block_stride, block_dilation = 1, dilation
        if i == strided and not dilate:
            block_stride = stride
        elif i > strided and dilate:
            block_dilation = dilation * stride
        x = block(x, filters, block_stride, block_type=block_type, variant=v,
                  shortcut=shortcut, dilation=block_dilation, drop_path_rate=rates[i - 1],
                  conv_widths=block_widths[i - 1] if block_widths else None,
                  name=f"{name}_block{i}", **block_options)
    if not v.stride_at_stage_end:
        feature_map = x
    return (x, feature_map) if return_feature_map else x


def stem(x, filters: int = 64, *, kind: str = "imagenet",
         variant: Union[str, Variant] = "v1", pool: str = "max",
         anti_alias: Optional[str] = None, norm: Optional[str] = None,
         conv: Optional[str] = None):
    """The layers before the first stage; `filters` is its output width.

    "imagenet": ZeroPadding2D(3) + 7x7/2 conv, BN, ReLU, ZeroPadding2D(1) +
    3x3/2 max-pool (names `conv1_*`, `pool1_*`). "deep" (ResNet-C/D/S): three
    3x3 convs (`conv1_1..3_*`, widths filters/2, filters/2, filters, the first
    strided) with BN-ReLU, then the same max-pool. "tiered" (timm's "t"): the
    same with widths 3 * filters/8, filters/2, filters. "cifar": a 3x3/1 conv,
    BN, ReLU (section 4.2 of the paper), no pool. "fixed" (BiT) is "imagenet"
    whose max-pool always reads a zero-padded map. Pre-activation variants
    leave out the final BN and ReLU: the first block applies them. With the
    variant's `stem_pool_padding="ignore"` ("v2.timm") the max-pool of
    "imagenet" and "deep" is torch's `MaxPool2d(3, 2, padding=1)`: a 3x3/1
    "same" max-pool (padding never wins) read at every second position
    (`pool1_pool`).

    `pool="conv"` (ResNet-RS) replaces the max-pool by a 3x3/2 conv, BN and
    ReLU (`pool1_conv`, `pool1_bn`). `anti_alias` (timm's stem with
    `aa_layer`): "avg" replaces the max-pool by a 2x2/2 average pool; "blur"
    max-pools with stride 1, then blurs with stride 2 (see `anti_alias_pool`);
    with `pool="conv"` the conv has stride 1 and the pool follows it.
    `norm` and `conv` are as in `block`.
    """
    check_choice("stem", kind, tuple(STEMS))
    check_choice("pool", pool, STEM_POOLS)
    check_attention_options(None, 1 / 16, anti_alias, 1, 1)
    v = _as_variant(variant, norm, conv)
    last_before_bn = not v.preactivation
    if kind in ("imagenet", "fixed"):
        x = _conv(x, filters, 7, 2, v, "conv1", before_bn=last_before_bn)
    elif kind in ("deep", "tiered"):
        first = 3 * (filters // 8) if kind == "tiered" else filters // 2
        x = _conv_bn_relu(x, first, 3, 2, v, "conv1_1")
        x = _conv_bn_relu(x, filters // 2, 3, 1, v, "conv1_2")
        x = _conv(x, filters, 3, 1, v, "conv1_3", before_bn=last_before_bn)
    else:
        x = _conv(x, filters, 3, 1, v, "conv1", before_bn=last_before_bn)
    if not v.preactivation:
        x = _bn(x, v, "conv1_bn", act=True)
    if kind == "cifar":
        return x
    if pool == "conv":
        return _strided_conv_bn_relu(x, filters, 3, 2, v, "pool1", anti_alias)
    if anti_alias == "avg":
        return layers.AveragePooling2D(2, strides=2, name="pool1_pool")(x)
    if anti_alias == "blur":
        x = layers.MaxPooling2D(3, strides=1, padding="same", name="pool1_pool")(x)
        return anti_alias_pool(x, "blur", 2, "pool1")
    if v.stem_pool_padding == "ignore" and kind != "fixed":
        x = layers.MaxPooling2D(3, strides=1, padding="same", name="pool1_max")(x)
        return layers.MaxPooling2D(1, strides=2, name="pool1_pool")(x)
    x = layers.ZeroPadding2D(1, name="pool1_pad")(x)
    return layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)


def head(x, *, include_top: bool = True, num_classes: int = 1000, pooling=None,
         classifier_activation="softmax", variant: Union[str, Variant] = "v1",
         norm: Optional[str] = None, conv: Optional[str] = None):
    """The layers after the last stage: final norm-ReLU for pre-activation
    variants, then pooling and the classifier (`avg_pool`, `predictions`) or
    the pooling alone. `norm` and `conv` are as in `block`."""
    v = _as_variant(variant, norm, conv)
    if v.preactivation:
        x = _bn(x, v, "post_bn", act=True)
    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        # Under a mixed precision policy the probabilities stay in float32.
        mixed = keras.config.dtype_policy().name.startswith("mixed")
        return layers.Dense(num_classes, activation=classifier_activation,
                            dtype="float32" if mixed else None, name="predictions")(x)
    if pooling == "avg":
        return layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if pooling == "max":
        return layers.GlobalMaxPooling2D(name="max_pool")(x)
    return x
