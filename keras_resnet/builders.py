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


# --- timm's ResNet family: stems, ResNeXt, SE, ECA, anti-aliasing, SENet, ResNet-RS ------

@builder("resnet10t")
def ResNet10T(input_shape=None, num_classes=None, **options) -> keras.Model:
    """ResNet-10-T (timm's resnet10t: tiered deep stem, average-pool shortcuts)."""
    return build("resnet10t", input_shape, num_classes, **options)


@builder("resnet14t")
def ResNet14T(input_shape=None, num_classes=None, **options) -> keras.Model:
    """ResNet-14-T (timm's resnet14t)."""
    return build("resnet14t", input_shape, num_classes, **options)


@builder("resnet18d")
def ResNet18D(input_shape=None, num_classes=None, **options) -> keras.Model:
    """ResNet-18-D (timm's resnet18d)."""
    return build("resnet18d", input_shape, num_classes, **options)


@builder("resnet26")
def ResNet26(input_shape=None, num_classes=None, **options) -> keras.Model:
    """ResNet-26 (timm's resnet26: bottleneck blocks, two per stage)."""
    return build("resnet26", input_shape, num_classes, **options)


@builder("resnet26d")
def ResNet26D(input_shape=None, num_classes=None, **options) -> keras.Model:
    """ResNet-26-D (timm's resnet26d)."""
    return build("resnet26d", input_shape, num_classes, **options)


@builder("resnet26t")
def ResNet26T(input_shape=None, num_classes=None, **options) -> keras.Model:
    """ResNet-26-T (timm's resnet26t)."""
    return build("resnet26t", input_shape, num_classes, **options)


@builder("resnet34d")
def ResNet34D(input_shape=None, num_classes=None, **options) -> keras.Model:
    """ResNet-34-D (timm's resnet34d)."""
    return build("resnet34d", input_shape, num_classes, **options)


@builder("resnet50c")
def ResNet50C(input_shape=None, num_classes=None, **options) -> keras.Model:
    """ResNet-50-C (Gluon's v1c; timm's resnet50c)."""
    return build("resnet50c", input_shape, num_classes, **options)


@builder("resnet50s")
def ResNet50S(input_shape=None, num_classes=None, **options) -> keras.Model:
    """ResNet-50-S (Gluon's v1s, 64-64-128 stem; timm's resnet50s)."""
    return build("resnet50s", input_shape, num_classes, **options)


@builder("resnet101c")
def ResNet101C(input_shape=None, num_classes=None, **options) -> keras.Model:
    """ResNet-101-C (Gluon's v1c; timm's resnet101c)."""
    return build("resnet101c", input_shape, num_classes, **options)


@builder("resnet101s")
def ResNet101S(input_shape=None, num_classes=None, **options) -> keras.Model:
    """ResNet-101-S (Gluon's v1s; timm's resnet101s)."""
    return build("resnet101s", input_shape, num_classes, **options)


@builder("resnet152c")
def ResNet152C(input_shape=None, num_classes=None, **options) -> keras.Model:
    """ResNet-152-C (Gluon's v1c; timm's resnet152c)."""
    return build("resnet152c", input_shape, num_classes, **options)


@builder("resnet152d")
def ResNet152D(input_shape=None, num_classes=None, **options) -> keras.Model:
    """ResNet-152-D (timm's resnet152d)."""
    return build("resnet152d", input_shape, num_classes, **options)


@builder("resnet152s")
def ResNet152S(input_shape=None, num_classes=None, **options) -> keras.Model:
    """ResNet-152-S (Gluon's v1s; timm's resnet152s)."""
    return build("resnet152s", input_shape, num_classes, **options)


@builder("resnet200d")
def ResNet200D(input_shape=None, num_classes=None, **options) -> keras.Model:
    """ResNet-200-D (timm's resnet200d)."""
    return build("resnet200d", input_shape, num_classes, **options)


@builder("resnext50d_32x4d")
def ResNeXt50D_32x4d(input_shape=None, num_classes=None, **options) -> keras.Model:
    """ResNeXt-50-D 32x4d (timm's resnext50d_32x4d)."""
    return build("resnext50d_32x4d", input_shape, num_classes, **options)


@builder("resnext101_32x4d")
def ResNeXt101_32x4d(input_shape=None, num_classes=None, **options) -> keras.Model:
    """ResNeXt-101 32x4d (Xie et al. 2017; timm's resnext101_32x4d)."""
    return build("resnext101_32x4d", input_shape, num_classes, **options)


@builder("resnext101_32x16d")
def ResNeXt101_32x16d(input_shape=None, num_classes=None, **options) -> keras.Model:
    """ResNeXt-101 32x16d (Mahajan et al. 2018's WSL net; timm's resnext101_32x16d)."""
    return build("resnext101_32x16d", input_shape, num_classes, **options)


@builder("resnext101_32x32d")
def ResNeXt101_32x32d(input_shape=None, num_classes=None, **options) -> keras.Model:
    """ResNeXt-101 32x32d (Mahajan et al. 2018's WSL net; timm's resnext101_32x32d)."""
    return build("resnext101_32x32d", input_shape, num_classes, **options)


@builder("resnext101_64x4d")
def ResNeXt101_64x4d(input_shape=None, num_classes=None, **options) -> keras.Model:
    """ResNeXt-101 64x4d (Xie et al. 2017; timm's resnext101_64x4d)."""
    return build("resnext101_64x4d", input_shape, num_classes, **options)


@builder("ecaresnet26t")
def ECAResNet26T(input_shape=None, num_classes=None, **options) -> keras.Model:
    """ECA-ResNet-26-T (timm's ecaresnet26t)."""
    return build("ecaresnet26t", input_shape, num_classes, **options)


@builder("ecaresnet50d")
def ECAResNet50D(input_shape=None, num_classes=None, **options) -> keras.Model:
    """ECA-ResNet-50-D (Wang et al. 2020's ECA; timm's ecaresnet50d)."""
    return build("ecaresnet50d", input_shape, num_classes, **options)


@builder("ecaresnet50d_pruned")
def ECAResNet50D_Pruned(input_shape=None, num_classes=None, **options) -> keras.Model:
    """ECA-ResNet-50-D pruned (Knapsack pruning, Aflalo et al. 2020; timm's ecaresnet50d_pruned)."""
    return build("ecaresnet50d_pruned", input_shape, num_classes, **options)


@builder("ecaresnet50t")
def ECAResNet50T(input_shape=None, num_classes=None, **options) -> keras.Model:
    """ECA-ResNet-50-T (timm's ecaresnet50t)."""
    return build("ecaresnet50t", input_shape, num_classes, **options)


@builder("ecaresnetlight")
def ECAResNetLight(input_shape=None, num_classes=None, **options) -> keras.Model:
    """ECA-ResNet-Light (timm's ecaresnetlight: blocks (1, 1, 11, 3))."""
    return build("ecaresnetlight", input_shape, num_classes, **options)


@builder("ecaresnet101d")
def ECAResNet101D(input_shape=None, num_classes=None, **options) -> keras.Model:
    """ECA-ResNet-101-D (timm's ecaresnet101d)."""
    return build("ecaresnet101d", input_shape, num_classes, **options)


@builder("ecaresnet101d_pruned")
def ECAResNet101D_Pruned(input_shape=None, num_classes=None, **options) -> keras.Model:
    """ECA-ResNet-101-D pruned (Knapsack pruning; timm's ecaresnet101d_pruned)."""
    return build("ecaresnet101d_pruned", input_shape, num_classes, **options)


@builder("ecaresnet269d")
def ECAResNet269D(input_shape=None, num_classes=None, **options) -> keras.Model:
    """ECA-ResNet-269-D (timm's ecaresnet269d)."""
    return build("ecaresnet269d", input_shape, num_classes, **options)


@builder("seresnet50")
def SEResNet50(input_shape=None, num_classes=None, **options) -> keras.Model:
    """SE-ResNet-50 (Hu et al. 2018; timm's seresnet50)."""
    return build("seresnet50", input_shape, num_classes, **options)


@builder("seresnet152d")
def SEResNet152D(input_shape=None, num_classes=None, **options) -> keras.Model:
    """SE-ResNet-152-D (timm's seresnet152d)."""
    return build("seresnet152d", input_shape, num_classes, **options)


@builder("seresnext26d_32x4d")
def SEResNeXt26D_32x4d(input_shape=None, num_classes=None, **options) -> keras.Model:
    """SE-ResNeXt-26-D 32x4d (timm's seresnext26d_32x4d)."""
    return build("seresnext26d_32x4d", input_shape, num_classes, **options)


@builder("seresnext26t_32x4d")
def SEResNeXt26T_32x4d(input_shape=None, num_classes=None, **options) -> keras.Model:
    """SE-ResNeXt-26-T 32x4d (timm's seresnext26t_32x4d)."""
    return build("seresnext26t_32x4d", input_shape, num_classes, **options)


@builder("seresnext50_32x4d")
def SEResNeXt50_32x4d(input_shape=None, num_classes=None, **options) -> keras.Model:
    """SE-ResNeXt-50 32x4d (Hu et al. 2018; timm's seresnext50_32x4d)."""
    return build("seresnext50_32x4d", input_shape, num_classes, **options)


@builder("seresnext101_32x4d")
def SEResNeXt101_32x4d(input_shape=None, num_classes=None, **options) -> keras.Model:
    """SE-ResNeXt-101 32x4d (timm's seresnext101_32x4d)."""
    return build("seresnext101_32x4d", input_shape, num_classes, **options)


@builder("seresnext101_32x8d")
def SEResNeXt101_32x8d(input_shape=None, num_classes=None, **options) -> keras.Model:
    """SE-ResNeXt-101 32x8d (timm's seresnext101_32x8d)."""
    return build("seresnext101_32x8d", input_shape, num_classes, **options)


@builder("seresnext101d_32x8d")
def SEResNeXt101D_32x8d(input_shape=None, num_classes=None, **options) -> keras.Model:
    """SE-ResNeXt-101-D 32x8d (timm's seresnext101d_32x8d)."""
    return build("seresnext101d_32x8d", input_shape, num_classes, **options)


@builder("seresnext101_64x4d")
def SEResNeXt101_64x4d(input_shape=None, num_classes=None, **options) -> keras.Model:
    """SE-ResNeXt-101 64x4d (timm's seresnext101_64x4d)."""
    return build("seresnext101_64x4d", input_shape, num_classes, **options)


@builder("seresnextaa101d_32x8d")
def SEResNeXtAA101D_32x8d(input_shape=None, num_classes=None, **options) -> keras.Model:
    """SE-ResNeXt-101-D 32x8d with average-pool anti-aliasing (timm's seresnextaa101d_32x8d)."""
    return build("seresnextaa101d_32x8d", input_shape, num_classes, **options)


@builder("seresnextaa201d_32x8d")
def SEResNeXtAA201D_32x8d(input_shape=None, num_classes=None, **options) -> keras.Model:
    """SE-ResNeXt-201-D 32x8d, average-pool anti-aliasing (timm's seresnextaa201d_32x8d)."""
    return build("seresnextaa201d_32x8d", input_shape, num_classes, **options)


@builder("senet154")
def SENet154(input_shape=None, num_classes=None, **options) -> keras.Model:
    """SENet-154 (Hu et al. 2018; timm's senet154: 64x4d, halved first convs, 3x3 projections)."""
    return build("senet154", input_shape, num_classes, **options)


@builder("resnetaa50")
def ResNetAA50(input_shape=None, num_classes=None, **options) -> keras.Model:
    """ResNet-50 with average-pool anti-aliasing (timm's resnetaa50)."""
    return build("resnetaa50", input_shape, num_classes, **options)


@builder("resnetaa50d")
def ResNetAA50D(input_shape=None, num_classes=None, **options) -> keras.Model:
    """ResNet-50-D with average-pool anti-aliasing (timm's resnetaa50d)."""
    return build("resnetaa50d", input_shape, num_classes, **options)


@builder("resnetaa101d")
def ResNetAA101D(input_shape=None, num_classes=None, **options) -> keras.Model:
    """ResNet-101-D with average-pool anti-aliasing (timm's resnetaa101d)."""
    return build("resnetaa101d", input_shape, num_classes, **options)


@builder("resnetblur50")
def ResNetBlur50(input_shape=None, num_classes=None, **options) -> keras.Model:
    """ResNet-50 with blur-pool anti-aliasing (Zhang 2019; timm's resnetblur50)."""
    return build("resnetblur50", input_shape, num_classes, **options)


@builder("resnetrs50")
def ResNetRS50(input_shape=None, num_classes=None, **options) -> keras.Model:
    """ResNet-RS-50 (Bello et al. 2021; timm's resnetrs50)."""
    return build("resnetrs50", input_shape, num_classes, **options)


@builder("resnetrs101")
def ResNetRS101(input_shape=None, num_classes=None, **options) -> keras.Model:
    """ResNet-RS-101 (Bello et al. 2021; timm's resnetrs101)."""
    return build("resnetrs101", input_shape, num_classes, **options)


@builder("resnetrs152")
def ResNetRS152(input_shape=None, num_classes=None, **options) -> keras.Model:
    """ResNet-RS-152 (Bello et al. 2021; timm's resnetrs152)."""
    return build("resnetrs152", input_shape, num_classes, **options)


@builder("resnetrs200")
def ResNetRS200(input_shape=None, num_classes=None, **options) -> keras.Model:
    """ResNet-RS-200 (Bello et al. 2021; timm's resnetrs200)."""
    return build("resnetrs200", input_shape, num_classes, **options)


@builder("resnetrs270")
def ResNetRS270(input_shape=None, num_classes=None, **options) -> keras.Model:
    """ResNet-RS-270 (Bello et al. 2021; timm's resnetrs270)."""
    return build("resnetrs270", input_shape, num_classes, **options)


@builder("resnetrs350")
def ResNetRS350(input_shape=None, num_classes=None, **options) -> keras.Model:
    """ResNet-RS-350 (Bello et al. 2021; timm's resnetrs350)."""
    return build("resnetrs350", input_shape, num_classes, **options)


@builder("resnetrs420")
def ResNetRS420(input_shape=None, num_classes=None, **options) -> keras.Model:
    """ResNet-RS-420 (Bello et al. 2021; timm's resnetrs420)."""
    return build("resnetrs420", input_shape, num_classes, **options)


@builder("test_resnet")
def TestResNet(input_shape=None, num_classes=None, **options) -> keras.Model:
    """timm's test_resnet: a tiny mixed net (basic, basic, bottleneck, basic blocks) for tests."""
    return build("test_resnet", input_shape, num_classes, **options)


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
