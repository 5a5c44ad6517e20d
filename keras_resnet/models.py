"""The generic ResNet builder, argument checking, and the public ResNetN functions.

The public builders (`ResNet18`, ..., `ResNet110`) are made here from the
registry's rows (`keras_resnet.registry`), one per registered model.
"""

from __future__ import annotations

import os
from typing import Callable, Optional, Sequence

import keras

from keras_resnet import blocks
from keras_resnet.registry import REGISTRY, ModelInfo
from keras_resnet.specs import (OUTPUT_STRIDES, POOLINGS, SHORTCUTS, ArchSpec,
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


def build_resnet(spec: ArchSpec, input_shape=None, num_classes: Optional[int] = None, *,
                 include_top: bool = True, weights=None, input_tensor=None, pooling=None,
                 classifier_activation="softmax", variant: Optional[str] = None,
                 shortcut: Optional[str] = None, name: Optional[str] = None,
                 zero_init_residual: bool = False, drop_path_rate: float = 0.0,
                 output_stride: int = 32, include_preprocessing: bool = False,
                 preprocessing=None, registry_name: Optional[str] = None) -> keras.Model:
    """Build the functional model for `spec`; every public builder ends here.

    All arguments are checked before any layer is created. See `ResNet` for
    their meaning; `None` for `num_classes` and `shortcut` takes the spec's
    default, and for `variant` the checkpoint's convention (a tag, "imagenet"
    or "hf://" in `weights`), else the registered model's. `registry_name` is
    the registered model whose pretrained tags `weights` may name (the public
    builders pass their row's, e.g. "resnet50v2"; default: the model of `spec`
    with `variant`, if any). `output_stride` 16 or 8 replaces the last strides
    by dilation (see `keras_resnet.backbone`). With `include_preprocessing`,
    `preprocessing` (an `InputNormalization`, or a weights value such as
    "imagenet" or a tag) builds in that normalisation instead of the one
    `weights` imply (building without downloading them).
    """
    from keras_resnet.weights.sources import model_for, parse_weights, resolve_variant
    num_classes = spec.default_num_classes if num_classes is None else num_classes
    shortcut = spec.default_shortcut if shortcut is None else shortcut
    if variant is not None:
        get_variant(variant)  # the argument's own message first
    if registry_name is None:
        registry_name = model_for(spec, variant)
    source = parse_weights(weights, model=registry_name)
    default = (REGISTRY[registry_name].variant if registry_name in REGISTRY
               else spec.default_variant)
    variant = resolve_variant(source, variant, default)
    _check_arguments(spec, num_classes=num_classes, include_top=include_top, pooling=pooling,
                     classifier_activation=classifier_activation, variant=variant,
                     shortcut=shortcut, output_stride=output_stride,
                     zero_init_residual=zero_init_residual, drop_path_rate=drop_path_rate)
    normalization = _input_normalization(include_preprocessing, preprocessing, weights,
                                         model=registry_name or spec.name, variant=variant)
    input_shape = _resolve_input_shape(spec, input_shape, input_tensor, include_top)
    v = get_variant(variant)

    if input_tensor is None:
        inputs = x = keras.Input(shape=input_shape, name="input")
    elif keras.backend.is_keras_tensor(input_tensor):
        x = input_tensor
        sources = keras.utils.get_source_inputs(input_tensor)
        inputs = sources[0] if len(sources) == 1 else sources
    else:
        inputs = x = keras.Input(tensor=input_tensor, shape=input_shape, name="input")
    if normalization is not None:
        from keras_resnet.preprocessing import normalize_input
        x = normalize_input(x, normalization)

    stem_output = x = blocks.stem(x, spec.widths[0], kind=spec.stem.name, variant=v)
    stage_outputs, pyramid_outputs = {"conv1": stem_output}, {}
    strides = spec.stage_strides
    if v.stride_at_stage_end:  # each stage downsamples for the next one
        strides = strides[1:] + (1,)
    # Stochastic depth grows linearly from 0 at the first block (timm's rule).
    total = sum(spec.blocks_per_stage)
    rates = [drop_path_rate * i / max(total - 1, 1) for i in range(total)]
    reached, dilation = spec.stem.stride, 1
    for stage, width, depth, stride in zip(spec.stage_names, spec.widths,
                                           spec.blocks_per_stage, strides):
        dilate = reached * stride > output_stride
        x, feature_map = blocks.stack(
            x, width, depth, stride, block_type=spec.block_type, variant=v, shortcut=shortcut,
            dilation=dilation, dilate=dilate, drop_path_rate=rates[:depth], groups=spec.groups,
            width_per_group=spec.width_per_group, avg_down=spec.avg_down,
            zero_init_residual=zero_init_residual, name=stage, return_feature_map=True)
        stage_outputs[stage], pyramid_outputs[stage] = x, feature_map
        rates = rates[depth:]
        if dilate:
            dilation *= stride
        else:
            reached *= stride
    x = blocks.head(x, include_top=include_top, num_classes=num_classes, pooling=pooling,
                    classifier_activation=classifier_activation, variant=v)
    model = keras.Model(inputs, x, name=name or _default_name(spec, variant))
    # Recorded while building (as keras-hub's `pyramid_outputs`), so `freeze` and
    # `backbone` find the stages without reading layer names. Keras does not save
    # these attributes: a model loaded from a file has neither.
    model.stage_outputs = stage_outputs
    model.pyramid_outputs = pyramid_outputs

    if source is not None:
        from keras_resnet.weights import load_weights  # keeps the model code import-light
        load_weights(model, source, arch=spec.name, variant=variant,
                     registry_name=registry_name)
    return model


def _input_normalization(include_preprocessing, preprocessing, weights, *, model: str,
                         variant: str):
    """The `InputNormalization` to build in, or None without `include_preprocessing`."""
    if not isinstance(include_preprocessing, bool):
        raise ValueError("`include_preprocessing` must be True or False. "
                         f"Received: include_preprocessing={include_preprocessing!r}")
    if not include_preprocessing:
        if preprocessing is not None:
            raise ValueError("`preprocessing` needs include_preprocessing=True. "
                             f"Received: preprocessing={preprocessing!r}")
        return None
    from keras_resnet import preprocessing as pre
    if isinstance(preprocessing, pre.InputNormalization):
        return preprocessing
    source = weights if preprocessing is None else preprocessing
    # No weights, or a file (which records no normalisation): ImageNet's mean and std.
    if source is None or isinstance(source, os.PathLike) or (
            isinstance(source, str) and os.path.isfile(source)):
        return pre.IMAGENET_MEAN_STD
    return pre.input_normalization(source, model=model, variant=variant)


def _default_name(spec: ArchSpec, variant: str) -> str:
    if variant == spec.default_variant:
        return spec.name
    return spec.name + variant.replace(".", "_")


def ResNet(blocks_per_stage: Sequence[int], input_shape=None, num_classes: int = 1000, *,
           block_type: str = "basic", widths: Optional[Sequence[int]] = None,
           stem: str = "imagenet", groups: int = 1, width_per_group: int = 64,
           avg_down: bool = False, include_top: bool = True, weights=None,
           input_tensor=None, pooling=None, classifier_activation="softmax",
           variant: Optional[str] = None, shortcut: str = "B", zero_init_residual: bool = False,
           drop_path_rate: float = 0.0, include_preprocessing: bool = False,
           name: str = "resnet") -> keras.Model:
    """Build a ResNet from a custom list of blocks per stage.

    Example: `ResNet((2, 2, 2, 2), block_type="bottleneck")` is a ResNet26.

    Args:
        blocks_per_stage: Residual blocks in each stage, e.g. (3, 4, 6, 3).
        input_shape: Image shape in `keras.config.image_data_format()` order;
            default the stem's size with the classifier ((224, 224, 3), or
            (32, 32, 3) for "cifar") and any size without.
        num_classes: Classifier width.
        block_type: "basic" or "bottleneck".
        widths: Filters of each stage; default doubles each stage from the
            stem's base width (64 for "imagenet" and "deep", 16 for "cifar").
        stem: "imagenet" (7x7/2 conv + max-pool), "deep" (ResNet-D's three
            3x3 convs + max-pool) or "cifar" (one 3x3 conv).
        groups: Groups of each bottleneck's 3x3 conv (ResNeXt cardinality).
        width_per_group: Bottleneck inner width per group at width 64 (64 is
            plain, 4 with 32 groups is ResNeXt 32x4d, 128 is Wide ResNet-2).
        avg_down: ResNet-D shortcut (average-pool, then stride-1 projection).
        include_top: Keep the global-average-pool + Dense classifier.
        weights: None, "hf://ORG/REPO" (a Hub repo's torchvision/timm
            model.safetensors) or a path to a weights file; RGB weights load
            into other input channels by adapting the first convolution (as
            timm's `adapt_input_conv`).
        input_tensor: Optional tensor to use as the model's input.
        pooling: With `include_top=False`: None (4D feature map), "avg" or "max".
        classifier_activation: Activation of the classifier; None gives logits.
        variant: "v1" (keras.applications), "v1.5" (torchvision) or "v2"
            (pre-activation); None: "v1", or "v1.5" for "hf://" weights.
        shortcut: "A" (parameter-free), "B" (projection when channels change)
            or "C" (projection everywhere), as in the paper.
        zero_init_residual: Start each block's last BN gamma at zero.
        drop_path_rate: Stochastic depth rate of the last block, scaled
            linearly from 0 at the first block.
        include_preprocessing: Take RGB images in [0, 255] (uint8 or float)
            and normalise them inside the model, as `weights` expect.
        name: Model name.

    Returns:
        A `keras.Model`.
    """
    check_block_options(block_type, groups, width_per_group)
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
    spec = ArchSpec(name, block_type, tuple(blocks_per_stage), widths, stem_record,
                    groups=groups, width_per_group=width_per_group, avg_down=avg_down,
                    default_variant=get_variant(variant).name if variant else "v1",
                    default_shortcut=shortcut)
    return build_resnet(spec, input_shape, num_classes, include_top=include_top,
                        weights=weights, input_tensor=input_tensor, pooling=pooling,
                        classifier_activation=classifier_activation, name=name,
                        variant=variant,
                        zero_init_residual=zero_init_residual, drop_path_rate=drop_path_rate,
                        include_preprocessing=include_preprocessing)


_DOC = """Instantiate {title}{what}.

{arch}

Args:
    input_shape: Image shape in `keras.config.image_data_format()` order
        (default {default_shape} with the classifier, any size without); at
        least {min_size}x{min_size}.
    num_classes: Classifier width (default {num_classes}).
    include_top: Keep the global-average-pool + Dense classifier.
    weights: None (random); "imagenet" (keras.applications{imagenet});
        a pretrained tag ({tags}; see
        `keras-resnet list --pretrained`); "hf://ORG/REPO" (a Hugging Face
        Hub repo's torchvision/timm model.safetensors); or a path to a
        weights file. Tags and "hf://" files come through the Hugging Face
        Hub cache (HF_HUB_CACHE, HF_HUB_OFFLINE). RGB weights load into 1 or
        N input channels by adapting the first convolution as timm's
        `adapt_input_conv` does (1: the RGB kernels summed; N: repeated,
        cut to N, scaled by 3/N).
    input_tensor: Optional tensor to use as the model's input.
    pooling: With `include_top=False`: None (4D feature map), "avg" or "max".
    classifier_activation: Activation of the classifier; None gives logits.
    variant: "v1" (keras.applications: stride on the first 1x1, conv bias),
        "v1.5" (torchvision: stride on the 3x3, no conv bias) or "v2"
        (pre-activation). Default None: the checkpoint's convention ("v1.5"
        for tags and "hf://"{imagenet_variant}), else "{variant}"; an
        explicit variant that the checkpoint does not fit raises.
    shortcut: "A", "B" or "C" as in the paper. Default "{shortcut}".
    zero_init_residual: Start each block's last BN gamma at zero (v1, v1.5).
    drop_path_rate: Stochastic depth rate of the last block, scaled linearly
        from 0 at the first block.
    include_preprocessing: Take RGB images in [0, 255] (uint8 or float) and
        normalise them inside the model as `weights` expect: the pretrained
        row's mean and std, "caffe" or [-1, 1] for "imagenet", ImageNet's
        mean and std without weights or with a file.
    name: Model name.

Returns:
    A `keras.Model`.
"""


def _tags(model: str) -> str:
    from keras_resnet.pretrained import list_pretrained
    tags = [row.tag for row in list_pretrained(model) if row.hub_repo]
    if not tags:
        return "none for this model"
    return ", ".join(f'"{t}"' for t in tags[:3]) + (", ..." if len(tags) > 3 else "")


def _public_builder(info: ModelInfo) -> Callable[..., keras.Model]:
    """Make the public builder (`ResNet50`, ...) of one registry row."""
    from keras_resnet.pretrained import find_pretrained
    spec, default_variant = info.spec, info.variant
    imagenet = find_pretrained(info.name, "imagenet")

    def builder(input_shape=None, num_classes: int = spec.default_num_classes, *,
                include_top: bool = True, weights=None, input_tensor=None, pooling=None,
                classifier_activation="softmax", variant: Optional[str] = None,
                shortcut: str = spec.default_shortcut, zero_init_residual: bool = False,
                drop_path_rate: float = 0.0, include_preprocessing: bool = False,
                name: Optional[str] = None):
        return build_resnet(spec, input_shape, num_classes, include_top=include_top,
                            weights=weights, input_tensor=input_tensor, pooling=pooling,
                            classifier_activation=classifier_activation, variant=variant,
                            shortcut=shortcut, zero_init_residual=zero_init_residual,
                            drop_path_rate=drop_path_rate, name=name,
                            include_preprocessing=include_preprocessing,
                            registry_name=info.name)

    builder.__name__ = builder.__qualname__ = info.builder_name
    builder.__module__ = __name__
    builder.__doc__ = _DOC.format(
        title=info.builder_name, what=f" ({info.description})" if info.description else "",
        default_shape=spec.default_input_shape, min_size=spec.min_input_size,
        num_classes=spec.default_num_classes, variant=default_variant,
        shortcut=spec.default_shortcut, tags=_tags(info.name),
        imagenet=f', variant "{imagenet.variant}"' if imagenet else ": none for this model",
        imagenet_variant=f', "{imagenet.variant}" for "imagenet"' if imagenet else "",
        arch=f"{spec.block_type.capitalize()} blocks per stage: {spec.blocks_per_stage}, "
             f"widths {spec.widths}, {spec.stem.name} stem"
             + (f", {spec.groups} groups" if spec.groups > 1 else "")
             + (f", {spec.width_per_group // 64}x wide 3x3" if spec.groups == 1
                and spec.width_per_group > 64 else "")
             + (", average-pool shortcuts" if spec.avg_down else "") + ".")
    return builder


# One public builder per registry row: ResNet18, ..., ResNet152V2, ResNet20, ...
for _info in REGISTRY.values():
    globals()[_info.builder_name] = _public_builder(_info)
del _info

__all__ = ["ResNet", "build_resnet", *(info.builder_name for info in REGISTRY.values())]
