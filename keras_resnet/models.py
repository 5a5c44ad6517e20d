"""The builder every model ends in (`build_resnet`), argument checks, and `ResNet`.

`build_resnet` resolves `weights` (`keras_resnet.pretrained.resolve`), checks
every argument, then builds: the input (and its normalisation), the stem and
stages (`keras_resnet.blocks`), the head, and loads the weights. The public
builders of the registered models (`ResNet50`, ...) are in `keras_resnet.builders`.
"""

from __future__ import annotations

import inspect
import textwrap
from typing import Optional, Sequence

import keras

from keras_resnet import blocks
from keras_resnet.pretrained import InputNormalization, resolve
from keras_resnet.registry import REGISTRY, model_for
from keras_resnet.remat import check_remat, rematerialise
from keras_resnet.specs import (CONVS, NORMS, OUTPUT_STRIDES, POOLINGS, SHORTCUTS, STEM_POOLS,
                                ArchSpec, check_anti_alias, check_attention_options,
                                check_block_options, check_choice, check_zero_init_residual,
                                get_stem, get_variant)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _channels_first() -> bool:
    return keras.config.image_data_format() == "channels_first"


def _resolve_input_shape(spec: ArchSpec, input_shape, input_tensor, include_top):
    """Check `input_shape` (or the shape of `input_tensor`) and fill in defaults.

    Like keras.applications: with no shape, a model with its classifier gets
    the spec's default size and a headless one accepts any size.
    """
    if input_shape is None and input_tensor is not None:
        input_shape = tuple(input_tensor.shape[1:])
    if input_shape is None:
        h, w, c = spec.default_input_shape
        if not include_top:
            h = w = None
        return (c, h, w) if _channels_first() else (h, w, c)
    order = "(channels, height, width)" if _channels_first() else "(height, width, channels)"
    if not isinstance(input_shape, (tuple, list)) or len(input_shape) != 3:
        raise ValueError(
            f"`input_shape` must be a tuple of 3 integers {order}. "
            f"Received: input_shape={input_shape!r}"
        )
    input_shape = tuple(input_shape)
    if not all(d is None or (_is_int(d) and d > 0) for d in input_shape):
        raise ValueError(
            "`input_shape` entries must be positive integers (or None for a "
            f"variable height/width). Received: input_shape={input_shape!r}"
        )
    channels, *spatial = (input_shape[0], *input_shape[1:]) if _channels_first() else (
        input_shape[2], *input_shape[:2])
    if channels is None:
        raise ValueError(f"`input_shape` must give the number of channels {order}. "
                         f"Received: input_shape={input_shape!r}")
    smallest = spec.min_input_size
    if any(d is not None and d < smallest for d in spatial):
        raise ValueError(
            f"`input_shape` must be at least {smallest}x{smallest} in height and width "
            f"for {spec.name}. Received: input_shape={input_shape!r}"
        )
    return input_shape


def _check_anti_alias_sizes(spec: ArchSpec, input_shape, output_stride: int) -> None:
    """timm's "avg" anti-aliasing pools floor odd sizes where the shortcut's strided conv
    rounds up: each downsampled map must be even, so the input a multiple of the total
    stride (as in timm, where other sizes fail at the addition)."""
    if spec.anti_alias != "avg":
        return
    stride = min(spec.stem.stride * 2 ** (len(spec.blocks_per_stage) - 1), output_stride)
    spatial = input_shape[1:] if _channels_first() else input_shape[:2]
    if any(d is not None and d % stride for d in spatial):
        raise ValueError(f"`input_shape` must have a height and width that are a multiple of "
                         f"{stride} with anti_alias='avg' ({spec.name}). "
                         f"Received: input_shape={input_shape!r}")


def _check_arguments(spec, *, num_classes, include_top, pooling, classifier_activation,
                     variant, shortcut, output_stride, zero_init_residual, drop_path_rate):
    check_choice("output_stride", output_stride, OUTPUT_STRIDES)
    check_zero_init_residual(zero_init_residual, get_variant(variant))
    if (not isinstance(drop_path_rate, (int, float)) or isinstance(drop_path_rate, bool)
            or not 0 <= drop_path_rate < 1):
        raise ValueError("`drop_path_rate` must be a number in [0, 1). "
                         f"Received: drop_path_rate={drop_path_rate!r}")
    check_choice("shortcut", shortcut, SHORTCUTS)
    check_choice("pooling", pooling, POOLINGS)
    if include_top and not (_is_int(num_classes) and num_classes > 0):
        raise ValueError("`num_classes` must be a positive integer. "
                         f"Received: num_classes={num_classes!r}")
    if include_top and classifier_activation is not None:
        try:
            keras.activations.get(classifier_activation)
        except Exception as e:  # keras raises ValueError or TypeError here
            raise ValueError(
                "`classifier_activation` must be None, a Keras activation name or a "
                f"callable. Received: classifier_activation={classifier_activation!r}"
            ) from e


# The options every builder takes, written once: `build_resnet`'s keyword
# arguments after `weights`, documented in `OPTIONS_DOC` (the public builders'
# docstrings end with it; `keras_resnet.builders` copies this signature).
OPTIONS_DOC = """\
    include_top: Keep the global-average-pool + Dense classifier.
    weights: None (random); "imagenet" (keras.applications' file), "timm"
        or "torchvision" (their default checkpoint of the model), a
        pretrained tag ("a1_in1k"; `keras-resnet list --pretrained`),
        "hf://ORG/REPO" (a Hugging Face Hub repo's torchvision/timm
        model.safetensors; its config.json's head size and preprocessing),
        a path to a weights file or a saved directory (config.json +
        model.safetensors, as `save_pretrained` and timm write); see
        `keras_resnet.pretrained.resolve`. Tags and "hf://" files come
        through the Hugging Face Hub cache (HF_HUB_CACHE, HF_HUB_OFFLINE).
        RGB weights load into 1 or N input channels by adapting the first
        convolution as timm's `adapt_input_conv` does.
    input_tensor: Optional tensor to use as the model's input.
    pooling: With `include_top=False`: None (4D feature map), "avg" or "max".
    classifier_activation: Activation of the classifier; None gives logits.
    variant: "v1" (keras.applications: stride on the first 1x1, conv bias),
        "v1.5" (torchvision: stride on the 3x3, no conv bias), "v2"
        (pre-activation, keras.applications) or "v2.timm" (pre-activation as
        timm's resnetv2: stride on the stage's first 3x3). Default None:
        the checkpoint's convention, else the model's; an explicit variant
        the checkpoint does not fit raises.
    shortcut: "A" (parameter-free), "B" (projection when channels change)
        or "C" (projection everywhere), as in the paper; default the model's.
    zero_init_residual: Start each block's last BN gamma at zero (v1, v1.5).
    drop_path_rate: Stochastic depth rate of the last block, scaled linearly
        from 0 at the first block (timm's rule).
    output_stride: 32, or 16 / 8 to replace the last strides by dilation.
    include_preprocessing: Take RGB images in [0, 255] (uint8 or float) and
        normalise them inside the model as `weights` expect (the
        checkpoint's `normalization`; ImageNet's mean and std without
        weights or with a file).
    remat: Gradient checkpointing (timm's `set_grad_checkpointing`):
        "block" (or True) keeps only the stem's and each residual block's
        output for the backward pass and recomputes the rest, "stage" the
        stem's and each stage's; None / False (default) keeps everything. Training only, TensorFlow
        or JAX backend (not torch); names, weights, outputs and saved files are unchanged (a
        loaded file is not rematerialised). See `keras_resnet.remat`.
    name: Model name.
"""


def build_resnet(spec: ArchSpec, input_shape=None, num_classes: Optional[int] = None, *,
                 include_top: bool = True, weights=None, input_tensor=None, pooling=None,
                 classifier_activation="softmax", variant: Optional[str] = None,
                 shortcut: Optional[str] = None, zero_init_residual: bool = False,
                 drop_path_rate: float = 0.0, output_stride: int = 32,
                 include_preprocessing: bool = False, remat=None,
                 name: Optional[str] = None, preprocessing=None,
                 registry_name: Optional[str] = None) -> keras.Model:
    """Build the functional model for `spec`; every public builder ends here.

    All arguments are checked, and `weights` resolved, before any layer is
    created. The options are documented once, in `OPTIONS_DOC`; `None` for
    `num_classes` takes the checkpoint's: the classifier width of the pretrained
    row `weights` names (21843 for an in21k tag) or a saved directory's or Hub
    repo's config.json, else the spec's default; `None` for `shortcut` the
    spec's default. `registry_name` is
    the registered model whose pretrained tags `weights` may name (default:
    the model of `spec` with `variant`, if any). With `include_preprocessing`,
    `preprocessing` (an `InputNormalization`, or any `weights` value) builds in
    that normalisation instead of the one `weights` imply, without loading them.
    """
    shortcut = spec.default_shortcut if shortcut is None else shortcut
    if variant is not None:
        get_variant(variant)  # the argument's own message first
    registry_name = registry_name or model_for(spec, variant)
    checkpoint = resolve(weights, registry_name)
    if checkpoint.kind == "hub" and checkpoint.row is None:  # its config.json, if any
        from keras_resnet.weights import with_hub_config
        checkpoint = with_hub_config(checkpoint)
    if num_classes is None:  # the checkpoint's head (an in21k tag: 21843), else the spec's
        row = checkpoint.row
        if row is not None and row.num_classes > 0:
            num_classes = row.num_classes
        else:
            num_classes = checkpoint.num_classes or spec.default_num_classes
    if checkpoint.kind == "convention":
        raise ValueError(f"{checkpoint.label} names the default checkpoint of a registered "
                         "model; a custom architecture has none. Pass a tag, 'hf://ORG/REPO' "
                         "or a file.")
    default = REGISTRY[registry_name].variant if registry_name else spec.default_variant
    variant = checkpoint.fit_variant(variant, default)
    _check_arguments(spec, num_classes=num_classes, include_top=include_top, pooling=pooling,
                     classifier_activation=classifier_activation, variant=variant,
                     shortcut=shortcut, output_stride=output_stride,
                     zero_init_residual=zero_init_residual, drop_path_rate=drop_path_rate)
    check_anti_alias(spec.anti_alias, get_variant(variant))
    check_remat(remat)
    if spec.anti_alias == "blur" and output_stride != 32:
        raise ValueError("`output_stride` must be 32 with anti_alias='blur' (timm blurs without "
                         f"striding where a stride becomes dilation). Received: "
                         f"output_stride={output_stride!r}")
    normalization = _input_normalization(include_preprocessing, preprocessing, checkpoint,
                                         model=registry_name, variant=variant)
    input_shape = _resolve_input_shape(spec, input_shape, input_tensor, include_top)
    _check_anti_alias_sizes(spec, input_shape, output_stride)

    inputs, x = _model_input(input_shape, input_tensor)
    if normalization is not None:
        from keras_resnet.preprocessing import normalize_input
        x = normalize_input(x, normalization)
    layers_variant = get_variant(variant).with_layers(spec.norm, spec.conv)
    x, stage_outputs, pyramid_outputs = _body(
        x, spec, layers_variant, shortcut=shortcut, output_stride=output_stride,
        drop_path_rate=drop_path_rate, zero_init_residual=zero_init_residual)
    x = blocks.head(x, include_top=include_top, num_classes=num_classes, pooling=pooling,
                    classifier_activation=classifier_activation, variant=layers_variant)
    model = keras.Model(inputs, x, name=name or _default_name(spec, variant))
    # Recorded while building (as keras-hub's `pyramid_outputs`), so `freeze` and
    # `backbone` find the stages without reading layer names. Keras does not save
    # these attributes: a model loaded from a file has neither.
    model.stage_outputs = stage_outputs
    model.pyramid_outputs = pyramid_outputs
    if checkpoint.has_file:
        from keras_resnet.weights import load_weights  # keeps the model code import-light
        load_weights(model, checkpoint, arch=spec.name, variant=variant)
    return rematerialise(model, remat)


def _model_input(input_shape, input_tensor):
    """(the model's inputs, the tensor the network starts from)."""
    if input_tensor is None:
        inputs = keras.Input(shape=input_shape, name="input")
        return inputs, inputs
    if keras.backend.is_keras_tensor(input_tensor):
        sources = keras.utils.get_source_inputs(input_tensor)
        return (sources[0] if len(sources) == 1 else sources), input_tensor
    inputs = keras.Input(tensor=input_tensor, shape=input_shape, name="input")
    return inputs, inputs


def _body(x, spec: ArchSpec, v, *, shortcut, output_stride, drop_path_rate,
          zero_init_residual):
    """The stem and the stages: (output, stage outputs, pyramid feature maps)."""
    stem_output = x = blocks.stem(x, spec.stem_width, kind=spec.stem.name, variant=v,
                                  pool=spec.stem_pool, anti_alias=spec.anti_alias)
    stage_outputs, pyramid_outputs = {"conv1": stem_output}, {}
    strides = spec.stage_strides
    if v.stride_at_stage_end:  # each stage downsamples for the next one
        strides = strides[1:] + (1,)
    # Stochastic depth grows linearly from 0 at the first block (timm's rule).
    total = sum(spec.blocks_per_stage)
    rates = [drop_path_rate * i / max(total - 1, 1) for i in range(total)]
    reached, dilation = spec.stem.stride, 1
    for stage, width, depth, stride, block_type, block_widths in zip(
            spec.stage_names, spec.widths, spec.blocks_per_stage, strides, spec.block_types,
            spec.stage_block_widths):
        dilate = reached * stride > output_stride
        x, feature_map = blocks.stack(
            x, width, depth, stride, block_type=block_type, variant=v, shortcut=shortcut,
            dilation=dilation, dilate=dilate, drop_path_rate=rates[:depth], groups=spec.groups,
            width_per_group=spec.width_per_group, avg_down=spec.avg_down,
            zero_init_residual=zero_init_residual, attention=spec.attention,
            se_ratio=spec.se_ratio, anti_alias=spec.anti_alias, reduce_first=spec.reduce_first,
            down_kernel_size=spec.down_kernel_size, block_widths=block_widths, name=stage,
            return_feature_map=True)
        stage_outputs[stage], pyramid_outputs[stage] = x, feature_map
        rates = rates[depth:]
        if dilate:
            dilation *= stride
        else:
            reached *= stride
    return x, stage_outputs, pyramid_outputs


def _input_normalization(include_preprocessing, preprocessing, checkpoint, *,
                         model: Optional[str], variant: str):
    """The `InputNormalization` to build in, or None without `include_preprocessing`."""
    if not isinstance(include_preprocessing, bool):
        raise ValueError("`include_preprocessing` must be True or False. "
                         f"Received: include_preprocessing={include_preprocessing!r}")
    if not include_preprocessing:
        if preprocessing is not None:
            raise ValueError("`preprocessing` needs include_preprocessing=True. "
                             f"Received: preprocessing={preprocessing!r}")
        return None
    if isinstance(preprocessing, InputNormalization):
        return preprocessing
    if preprocessing is not None:
        # Only a normalisation is asked for: "imagenet"'s is the variant's alone
        # ("caffe" or [-1, 1]), whether or not this model has the file.
        checkpoint = resolve(preprocessing, None if preprocessing == "imagenet" else model,
                             variant=variant)
    return checkpoint.normalization


def _default_name(spec: ArchSpec, variant: str) -> str:
    if variant == spec.default_variant:
        return spec.name
    return spec.name + variant.replace(".", "_")


def options_signature(head: Sequence[inspect.Parameter]) -> inspect.Signature:
    """A builder's signature: `head` (its own parameters), then every option of
    `build_resnet` as keyword-only (what `help()` and IDEs show for `**options`)."""
    own = {p.name for p in head}
    options = [p for p in inspect.signature(build_resnet).parameters.values()
               if p.kind is inspect.Parameter.KEYWORD_ONLY
               and p.name not in own | {"preprocessing", "registry_name"}]
    return inspect.Signature([*head, *options], return_annotation=keras.Model)


def check_options(options: dict, builder: str) -> None:
    """ValueError for a keyword that is no option of the builders (a typo)."""
    allowed = options_signature(()).parameters
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ValueError(f"{builder}() got unknown option(s) {', '.join(unknown)}; the options "
                         f"are: {', '.join(allowed)}.")


def ResNet(blocks_per_stage: Sequence[int], input_shape=None, num_classes: int = 1000, *,
           block_type: str = "basic", widths: Optional[Sequence[int]] = None,
           stem: str = "imagenet", groups: int = 1, width_per_group: int = 64,
           avg_down: bool = False, stem_width: Optional[int] = None, stem_pool: str = "max",
           attention: Optional[str] = None, se_ratio: float = 1 / 16,
           anti_alias: Optional[str] = None, reduce_first: int = 1, down_kernel_size: int = 1,
           norm: str = "batch", conv: str = "plain",
           **options) -> keras.Model:
    """Build a ResNet from a custom list of blocks per stage.

    Example: `ResNet((2, 2, 2, 2), block_type="bottleneck")` is a ResNet26;
    `ResNet((3, 4, 6, 3), block_type="bottleneck", stem="deep", avg_down=True,
    attention="se", variant="v1.5")` an SE-ResNet-50-D.

    It takes the options every builder takes (the arguments after `conv`);
    here `variant` defaults to "v1", `shortcut` to "B" and `name` to "resnet",
    and `weights` cannot name a pretrained tag (a custom architecture has none).

    Args:
        blocks_per_stage: Residual blocks in each stage, e.g. (3, 4, 6, 3).
        input_shape: Image shape in `keras.config.image_data_format()` order;
            default the stem's size with the classifier ((224, 224, 3), or
            (32, 32, 3) for "cifar") and any size without.
        num_classes: Classifier width.
        block_type: "basic" or "bottleneck".
        widths: Filters of each stage; default doubles each stage from the
            stem's base width (64 for "imagenet" and "deep", 16 for "cifar").
        stem: "imagenet" (7x7/2 conv + max-pool), "deep" (ResNet-C/D/S: three
            3x3 convs of widths w/2, w/2, w + max-pool), "tiered" (timm's "t":
            3w/8, w/2, w), "cifar" (one 3x3 conv) or "fixed" (BiT's 7x7/2 conv +
            max-pool over a zero-padded map); w is `stem_width`.
        groups: Groups of each bottleneck's 3x3 conv (ResNeXt cardinality).
        width_per_group: Bottleneck inner width per group at width 64 (64 is
            plain, 4 with 32 groups is ResNeXt 32x4d, 128 is Wide ResNet-2).
        avg_down: ResNet-D shortcut (average-pool, then stride-1 projection).
        stem_width: Output width of the stem (default the first stage's
            width): 64 gives timm's "c"/"d" deep stem 32-32-64 and "t" 24-32-64,
            128 the "s" stem 64-64-128.
        stem_pool: "max" (3x3/2 max-pool) or "conv" (ResNet-RS: 3x3/2 conv,
            BN, ReLU).
        attention: Channel attention at the end of each residual branch: None,
            "se" (squeeze-and-excitation, timm's SEModule) or "eca" (ECA-Net).
        se_ratio: Squeeze ratio of "se": 1/16 (SE-ResNet), 1/4 (ResNet-RS);
            the squeeze width is rounded to a multiple of 8, as timm does.
        anti_alias: Anti-aliased downsampling (timm's `aa_layer`): None, "avg"
            (2x2 average pool after a stride-1 3x3 conv, and in place of the
            stem's max-pool) or "blur" (a fixed 3x3 binomial blur, stride 2,
            after the stride-1 conv and a stride-1 stem max-pool). "v1.5" only.
        reduce_first: Divide each block's first conv width by this (SENet: 2).
        down_kernel_size: Kernel of strided projection shortcuts (SENet: 3).
        norm: Normalisation layers: "batch" (BatchNormalization), "group"
            (GroupNormalization, 32 groups, as timm's GroupNorm; channels
            must be multiples of 32) or "evonorm" (timm's EvoNorm2dS0, its
            own non-linearity). Layers keep their `*_bn` names.
        conv: Convolutions: "plain" or "ws" (weight-standardised as BiT's
            StdConv2d, epsilon 1e-8; see `keras_resnet.with_plain_convs`).
{options}
    Returns:
        A `keras.Model`.
    """
    check_options(options, "ResNet")
    check_block_options(block_type, groups, width_per_group)
    check_attention_options(attention, se_ratio, anti_alias, reduce_first, down_kernel_size)
    check_choice("stem_pool", stem_pool, STEM_POOLS)
    check_choice("norm", norm, NORMS)
    check_choice("conv", conv, CONVS)
    if stem_width is not None and not (_is_int(stem_width) and stem_width >= 8):
        raise ValueError("`stem_width` must be an integer of at least 8. "
                         f"Received: stem_width={stem_width!r}")
    stem_record = get_stem(stem)
    if (not isinstance(blocks_per_stage, (tuple, list)) or not blocks_per_stage
            or not all(_is_int(b) and b > 0 for b in blocks_per_stage)):
        raise ValueError("`blocks_per_stage` must be a non-empty list of positive integers. "
                         f"Received: blocks_per_stage={blocks_per_stage!r}")
    if widths is not None:
        widths = tuple(widths) if isinstance(widths, (tuple, list)) else widths
        if (not isinstance(widths, tuple) or len(widths) != len(blocks_per_stage)
                or not all(_is_int(w) and w > 0 for w in widths)):
            raise ValueError("`widths` must list one positive integer per stage "
                             f"({len(blocks_per_stage)} stages). Received: widths={widths!r}")
    name = options.pop("name", None) or "resnet"
    shortcut = options.pop("shortcut", None) or "B"
    variant = options.get("variant")
    spec = ArchSpec(name, block_type, tuple(blocks_per_stage), widths, stem_record,
                    groups=groups, width_per_group=width_per_group, avg_down=avg_down,
                    stem_width=stem_width, stem_pool=stem_pool, attention=attention,
                    se_ratio=se_ratio, anti_alias=anti_alias, reduce_first=reduce_first,
                    down_kernel_size=down_kernel_size, norm=norm, conv=conv,
                    default_variant=get_variant(variant).name if variant else "v1",
                    default_shortcut=shortcut)
    return build_resnet(spec, input_shape, num_classes, name=name, shortcut=shortcut,
                        **options)


ResNet.__doc__ = ResNet.__doc__.format(options=textwrap.indent(OPTIONS_DOC, "    "))
ResNet.__signature__ = options_signature(
    [p for p in inspect.signature(ResNet).parameters.values()
     if p.kind is not inspect.Parameter.VAR_KEYWORD])

__all__ = ["ResNet", "build_resnet", "OPTIONS_DOC"]
