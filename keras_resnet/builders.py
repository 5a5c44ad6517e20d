"""The public builders, one definition per registered model, and `get_model`.

Each builder is one line over `build_resnet` (as timm's registered model
functions are): its registry row (`keras_resnet.registry`) holds the
architecture, default convention and metadata. The options every builder
takes are written once, in `build_resnet`'s signature and `OPTIONS_DOC`; the
`@builder` decorator gives each function that signature and documentation.
"""

from __future__ import annotations

import inspect
from typing import Callable

import keras

from keras_resnet.models import OPTIONS_DOC, build_resnet, check_options, options_signature
from keras_resnet.pretrained import list_pretrained, resolve
from keras_resnet.registry import REGISTRY, model_info

_HEAD = [inspect.Parameter("input_shape", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None),
         inspect.Parameter("num_classes", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None)]


def _doc(name: str, summary: str) -> str:
    info = model_info(name)
    spec = info.spec
    tags = [row.tag for row in list_pretrained(name)]
    arch = (f"{spec.block_type.capitalize()} blocks per stage: {spec.blocks_per_stage}, "
            f"widths {spec.widths}, {spec.stem.name} stem"
            + (f", {spec.groups} groups" if spec.groups > 1 else "")
            + (f", {spec.width_per_group // 64}x wide 3x3" if spec.groups == 1
               and spec.width_per_group > 64 else "")
            + (", average-pool shortcuts" if spec.avg_down else "")
            + {"group": ", GroupNorm", "evonorm": ", EvoNorm-S0"}.get(spec.norm, "")
            + (", weight-standardised convolutions" if spec.conv == "ws" else "") + ".")
    h, w, c = spec.default_input_shape
    return (f"{summary}\n\n{arch} Default convention {info.variant!r}, shortcut "
            f"{spec.default_shortcut!r}. Pretrained: {', '.join(tags) or 'none'}.\n\n"
            "Args:\n"
            f"    input_shape: Image shape in `keras.config.image_data_format()` order\n"
            f"        (default {spec.default_input_shape} with the classifier, any size\n"
            f"        without); at least {spec.min_input_size}x{spec.min_input_size}.\n"
            f"    num_classes: Classifier width (default: the pretrained checkpoint's,\n"
            f"        e.g. 21843 for an in21k tag; else {spec.default_num_classes}).\n"
            f"{OPTIONS_DOC}\nReturns:\n    A `keras.Model`.\n")


def builder(name: str) -> Callable:
    """Mark a function as the public builder of registered model `name`: it gets
    the shared signature and the documentation of every option."""
    def decorate(fn):
        info = model_info(name)
        if fn.__name__ != info.builder_name:
            raise ValueError(f"the builder of {name} must be named {info.builder_name}, "
                             f"not {fn.__name__}")
        fn.__doc__ = _doc(name, inspect.cleandoc(fn.__doc__ or info.builder_name))
        fn.__signature__ = options_signature(_HEAD)
        return fn
    return decorate


def build(model: str, input_shape=None, num_classes=None, /, **options) -> keras.Model:
    """Build registered model `model` (what every public builder calls; the options
    include `name`, the Keras model's name)."""
    info = model_info(model)
    check_options(options, info.builder_name)
    return build_resnet(info.spec, input_shape, num_classes, registry_name=info.name, **options)


# --- the paper's ImageNet nets (Table 1) ------------------------------------------

@builder("resnet18")
def ResNet18(input_shape=None, num_classes=None, **options) -> keras.Model:
    """ResNet-18 (He et al. 2015, Table 1)."""
    return build("resnet18", input_shape, num_classes, **options)


@builder("resnet34")
def ResNet34(input_shape=None, num_classes=None, **options) -> keras.Model:
    """ResNet-34 (He et al. 2015, Table 1)."""
    return build("resnet34", input_shape, num_classes, **options)


@builder("resnet50")
def ResNet50(input_shape=None, num_classes=None, **options) -> keras.Model:
    """ResNet-50 (He et al. 2015, Table 1)."""
    return build("resnet50", input_shape, num_classes, **options)


@builder("resnet101")
def ResNet101(input_shape=None, num_classes=None, **options) -> keras.Model:
    """ResNet-101 (He et al. 2015, Table 1)."""
    return build("resnet101", input_shape, num_classes, **options)


@builder("resnet152")
def ResNet152(input_shape=None, num_classes=None, **options) -> keras.Model:
    """ResNet-152 (He et al. 2015, Table 1)."""
    return build("resnet152", input_shape, num_classes, **options)


@builder("resnet200")
def ResNet200(input_shape=None, num_classes=None, **options) -> keras.Model:
    """ResNet-200 (He et al. 2016, the pre-activation paper's depth, here post-activation)."""
    return build("resnet200", input_shape, num_classes, **options)


# --- the family: ResNet-D, ResNeXt, Wide ResNet --------------------------------------

@builder("resnet50d")
def ResNet50D(input_shape=None, num_classes=None, **options) -> keras.Model:
    """ResNet-50-D (ResNet-D, Bag of Tricks; timm's resnet50d)."""
    return build("resnet50d", input_shape, num_classes, **options)


@builder("resnet101d")
def ResNet101D(input_shape=None, num_classes=None, **options) -> keras.Model:
    """ResNet-101-D (ResNet-D, Bag of Tricks; timm's resnet101d)."""
    return build("resnet101d", input_shape, num_classes, **options)


@builder("resnext50_32x4d")
def ResNeXt50_32x4d(input_shape=None, num_classes=None, **options) -> keras.Model:
    """ResNeXt-50 32x4d (Xie et al. 2017; torchvision's resnext50_32x4d)."""
    return build("resnext50_32x4d", input_shape, num_classes, **options)


@builder("resnext101_32x8d")
def ResNeXt101_32x8d(input_shape=None, num_classes=None, **options) -> keras.Model:
    """ResNeXt-101 32x8d (Xie et al. 2017; torchvision's resnext101_32x8d)."""
    return build("resnext101_32x8d", input_shape, num_classes, **options)


@builder("wide_resnet50_2")
def WideResNet50_2(input_shape=None, num_classes=None, **options) -> keras.Model:
    """Wide ResNet-50-2 (Zagoruyko & Komodakis 2016; torchvision's wide_resnet50_2)."""
    return build("wide_resnet50_2", input_shape, num_classes, **options)


@builder("wide_resnet101_2")
def WideResNet101_2(input_shape=None, num_classes=None, **options) -> keras.Model:
    """Wide ResNet-101-2 (Zagoruyko & Komodakis 2016; torchvision's wide_resnet101_2)."""
    return build("wide_resnet101_2", input_shape, num_classes, **options)


# --- pre-activation (He et al. 2016), keras.applications' ResNetV2 ------------------

@builder("resnet50v2")
def ResNet50V2(input_shape=None, num_classes=None, **options) -> keras.Model:
    """ResNet-50 V2, pre-activation (He et al. 2016; keras.applications' ResNet50V2)."""
    return build("resnet50v2", input_shape, num_classes, **options)


@builder("resnet101v2")
def ResNet101V2(input_shape=None, num_classes=None, **options) -> keras.Model:
    """ResNet-101 V2, pre-activation (He et al. 2016; keras.applications' ResNet101V2)."""
    return build("resnet101v2", input_shape, num_classes, **options)


@builder("resnet152v2")
def ResNet152V2(input_shape=None, num_classes=None, **options) -> keras.Model:
    """ResNet-152 V2, pre-activation (He et al. 2016; keras.applications' ResNet152V2)."""
    return build("resnet152v2", input_shape, num_classes, **options)


# --- timm's resnetv2.py (pre-activation, BiT) and resnet50_gn --------------------------

@builder("resnetv2_18")
def ResNetV2_18(input_shape=None, num_classes=None, **options) -> keras.Model:
    """ResNet-18 V2, pre-activation as timm builds it (timm's resnetv2_18)."""
    return build("resnetv2_18", input_shape, num_classes, **options)


@builder("resnetv2_18d")
def ResNetV2_18D(input_shape=None, num_classes=None, **options) -> keras.Model:
    """ResNet-18-D V2: pre-activation, deep stem, average-pool shortcuts (timm's resnetv2_18d)."""
    return build("resnetv2_18d", input_shape, num_classes, **options)


@builder("resnetv2_34")
def ResNetV2_34(input_shape=None, num_classes=None, **options) -> keras.Model:
    """ResNet-34 V2, pre-activation as timm builds it (timm's resnetv2_34)."""
    return build("resnetv2_34", input_shape, num_classes, **options)


@builder("resnetv2_34d")
def ResNetV2_34D(input_shape=None, num_classes=None, **options) -> keras.Model:
    """ResNet-34-D V2: pre-activation, deep stem, average-pool shortcuts (timm's resnetv2_34d)."""
    return build("resnetv2_34d", input_shape, num_classes, **options)


@builder("resnetv2_50")
def ResNetV2_50(input_shape=None, num_classes=None, **options) -> keras.Model:
    """ResNet-50 V2, pre-activation as timm builds it (timm's resnetv2_50)."""
    return build("resnetv2_50", input_shape, num_classes, **options)


@builder("resnetv2_50d_gn")
def ResNetV2_50D_GN(input_shape=None, num_classes=None, **options) -> keras.Model:
    """ResNet-50-D V2 with GroupNorm (timm's resnetv2_50d_gn)."""
    return build("resnetv2_50d_gn", input_shape, num_classes, **options)


@builder("resnetv2_50d_evos")
def ResNetV2_50D_EvoS(input_shape=None, num_classes=None, **options) -> keras.Model:
    """ResNet-50-D V2 with EvoNorm-S0 (timm's resnetv2_50d_evos)."""
    return build("resnetv2_50d_evos", input_shape, num_classes, **options)


@builder("resnetv2_101")
def ResNetV2_101(input_shape=None, num_classes=None, **options) -> keras.Model:
    """ResNet-101 V2, pre-activation as timm builds it (timm's resnetv2_101)."""
    return build("resnetv2_101", input_shape, num_classes, **options)


@builder("resnetv2_50x1_bit")
def ResNetV2_50x1_BiT(input_shape=None, num_classes=None, **options) -> keras.Model:
    """BiT ResNet-50x1 (Kolesnikov et al. 2020; timm's resnetv2_50x1_bit)."""
    return build("resnetv2_50x1_bit", input_shape, num_classes, **options)


@builder("resnetv2_50x3_bit")
def ResNetV2_50x3_BiT(input_shape=None, num_classes=None, **options) -> keras.Model:
    """BiT ResNet-50x3 (Kolesnikov et al. 2020; timm's resnetv2_50x3_bit)."""
    return build("resnetv2_50x3_bit", input_shape, num_classes, **options)


@builder("resnetv2_101x1_bit")
def ResNetV2_101x1_BiT(input_shape=None, num_classes=None, **options) -> keras.Model:
    """BiT ResNet-101x1 (Kolesnikov et al. 2020; timm's resnetv2_101x1_bit)."""
    return build("resnetv2_101x1_bit", input_shape, num_classes, **options)


@builder("resnetv2_101x3_bit")
def ResNetV2_101x3_BiT(input_shape=None, num_classes=None, **options) -> keras.Model:
    """BiT ResNet-101x3 (Kolesnikov et al. 2020; timm's resnetv2_101x3_bit)."""
    return build("resnetv2_101x3_bit", input_shape, num_classes, **options)


@builder("resnetv2_152x2_bit")
def ResNetV2_152x2_BiT(input_shape=None, num_classes=None, **options) -> keras.Model:
    """BiT ResNet-152x2 (Kolesnikov et al. 2020; timm's resnetv2_152x2_bit)."""
    return build("resnetv2_152x2_bit", input_shape, num_classes, **options)


@builder("resnetv2_152x4_bit")
def ResNetV2_152x4_BiT(input_shape=None, num_classes=None, **options) -> keras.Model:
    """BiT ResNet-152x4 (Kolesnikov et al. 2020; timm's resnetv2_152x4_bit)."""
    return build("resnetv2_152x4_bit", input_shape, num_classes, **options)


@builder("resnet50_gn")
def ResNet50_GN(input_shape=None, num_classes=None, **options) -> keras.Model:
    """ResNet-50 with GroupNorm in place of BatchNorm (timm's resnet50_gn)."""
    return build("resnet50_gn", input_shape, num_classes, **options)


# --- the paper's CIFAR nets (section 4.2), depth 6n + 2 -------------------------------

@builder("resnet20")
def ResNet20(input_shape=None, num_classes=None, **options) -> keras.Model:
    """ResNet-20 for CIFAR (He et al. 2015, section 4.2; n = 3)."""
    return build("resnet20", input_shape, num_classes, **options)


@builder("resnet32")
def ResNet32(input_shape=None, num_classes=None, **options) -> keras.Model:
    """ResNet-32 for CIFAR (He et al. 2015, section 4.2; n = 5)."""
    return build("resnet32", input_shape, num_classes, **options)


@builder("resnet44")
def ResNet44(input_shape=None, num_classes=None, **options) -> keras.Model:
    """ResNet-44 for CIFAR (He et al. 2015, section 4.2; n = 7)."""
    return build("resnet44", input_shape, num_classes, **options)


@builder("resnet56")
def ResNet56(input_shape=None, num_classes=None, **options) -> keras.Model:
    """ResNet-56 for CIFAR (He et al. 2015, section 4.2; n = 9)."""
    return build("resnet56", input_shape, num_classes, **options)


@builder("resnet110")
def ResNet110(input_shape=None, num_classes=None, **options) -> keras.Model:
    """ResNet-110 for CIFAR (He et al. 2015, section 4.2; n = 18)."""
    return build("resnet110", input_shape, num_classes, **options)


BUILDERS = {info.name: globals()[info.builder_name] for info in REGISTRY.values()}


def get_model(name: str, **kwargs) -> keras.Model:
    """Build a registered model by name; keyword arguments go to its builder.

    `name` may be a full pretrained name, `model.tag` (timm's convention):
    `get_model("resnet50.a1_in1k")` is `get_model("resnet50", weights="a1_in1k")`.

    Example: `get_model("resnet50", input_shape=(64, 64, 3), num_classes=10)`.
    """
    if isinstance(name, str) and "." in name:
        model, tag = name.split(".", 1)
        checkpoint = resolve(name, model_info(model).name)  # an unknown model is named first
        if kwargs.get("weights") not in (None, tag):
            raise ValueError(
                f"`name` {name} already names weights {tag!r}; pass `weights` only "
                f"with the bare model name {model!r}. Received: weights={kwargs['weights']!r}")
        name, kwargs["weights"] = checkpoint.model, checkpoint.row.tag
    return BUILDERS[model_info(name).name](**kwargs)


__all__ = ["get_model", "BUILDERS", *(info.builder_name for info in REGISTRY.values())]
