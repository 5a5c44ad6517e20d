"""The pretrained-weights table: one row per published checkpoint, as data.

Two sources: keras.applications' ImageNet files (`weights="imagenet"`, the v1
and v2 ResNet50/101/152; their download table with hashes is
`keras_resnet.weights.imagenet`), and every ImageNet-1k checkpoint timm hosts
on the Hugging Face Hub for a registered architecture in the plain torchvision
or the ResNet-D layout (`weights="a1_in1k"`, or `get_model("resnet50.a1_in1k")`),
named as timm names them, each with the preprocessing and evaluation transform
its accuracy was measured with. Checkpoints of other architectures (anti-aliased,
SE, other stem widths: timm's resnet50c/s/t, seresnet, resnet200d, ...) are left
out. Like the model registry, this module imports no framework.

It is also the one place that says what a `weights=` value means: `resolve`
turns any accepted value into a `Checkpoint` (its source, row, file, variant,
input normalisation and evaluation transform). Every consumer -- the builders,
`get_model`, `preprocess_input`, `classify`, training, the CLI -- asks it.
"""

from __future__ import annotations

import dataclasses
import os
import re
from typing import List, Optional, Tuple

from keras_resnet.registry import REGISTRY, model_info
from keras_resnet.specs import TORCH_VARIANTS

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
HALF = ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))


@dataclasses.dataclass(frozen=True)
class Pretrained:
    """One published checkpoint of a registered model.

    Attributes:
        model: Registry name, e.g. "resnet50".
        tag: What `weights=` takes for it, e.g. "a1_in1k" or "imagenet".
        source: "timm" (a Hub repo) or "keras.applications".
        variant: The convention the file needs ("v1", "v1.5", "v2", "v2.timm").
        num_classes: Width of its classifier.
        top1, top5: ImageNet-1k validation accuracy (%) as the source publishes
            it, measured at `eval_size` with `crop_pct` and `interpolation`.
        eval_size: Image size of that evaluation.
        crop_pct: Center-crop fraction of the evaluation: the shorter side is
            resized to `eval_size / crop_pct`, then the center `eval_size`
            square is cut (None: not published; 0.875 is the usual value).
        interpolation: Resize filter of the evaluation ("bilinear", "bicubic";
            None: not published).
        preprocessing: Input normalisation the weights expect: "mean_std"
            (RGB in [0, 1], minus `mean`, over `std`), or a keras.applications
            mode: "caffe" (BGR minus the mean pixel) or "tf" ([-1, 1]).
        mean, std: For "mean_std", per RGB channel on the [0, 1] scale.
        license: License of the weights as the source states it (None: not stated).
        train_size: Image size it was trained at, where the source says.
        hub_repo, filename: Where the file is on the Hugging Face Hub.
    """

    model: str
    tag: str
    source: str
    variant: str
    num_classes: int
    top1: float
    top5: float
    eval_size: int
    crop_pct: Optional[float]
    interpolation: Optional[str]
    preprocessing: str
    mean: Optional[Tuple[float, float, float]]
    std: Optional[Tuple[float, float, float]]
    license: Optional[str]
    train_size: Optional[int] = None
    hub_repo: Optional[str] = None
    filename: Optional[str] = None

    @property
    def name(self) -> str:
        """Full name, `model.tag` (timm's convention), e.g. "resnet50.a1_in1k"."""
        return f"{self.model}.{self.tag}"


def _keras_applications(model: str, top1: float, top5: float, license: Optional[str]):
    variant = model_info(model).variant
    return Pretrained(model=model, tag="imagenet", source="keras.applications", variant=variant,
                      num_classes=1000, top1=top1, top5=top5, eval_size=224, crop_pct=None,
                      interpolation=None, preprocessing="caffe" if variant == "v1" else "tf",
                      mean=None, std=None, license=license)


def _timm(model: str, tag: str, top1: float, top5: float, *, eval_size: int, crop_pct: float,
          train_size: int, interpolation: str, license: str,
          mean_std=(IMAGENET_MEAN, IMAGENET_STD)):
    # timm's ResNets put the stride on the 3x3 conv and have no conv bias: "v1.5".
    return Pretrained(model=model, tag=tag, source="timm", variant="v1.5", num_classes=1000,
                      top1=top1, top5=top5, eval_size=eval_size, crop_pct=crop_pct,
                      interpolation=interpolation, preprocessing="mean_std",
                      mean=mean_std[0], std=mean_std[1], license=license,
                      train_size=train_size, hub_repo=f"timm/{model}.{tag}",
                      filename="model.safetensors")


PRETRAINED: List[Pretrained] = [
    # keras.applications: accuracies from its documentation's table
    # (keras.io/api/applications). The v1 files are Kaiming He's released
    # weights (MIT), ported by Keras; the V2 files state no license.
    _keras_applications("resnet50", 74.9, 92.1, "MIT"),
    _keras_applications("resnet101", 76.4, 92.8, "MIT"),
    _keras_applications("resnet152", 76.6, 93.1, "MIT"),
    _keras_applications("resnet50v2", 76.0, 93.0, None),
    _keras_applications("resnet101v2", 77.2, 93.8, None),
    _keras_applications("resnet152v2", 78.0, 94.2, None),
    # timm (timm 1.0.31's default_cfgs; top-1/top-5 from timm's results-imagenet.csv
    # at the default test size and crop). The fb_* tags were pretrained on extra
    # data (YFCC100M, IG-1B) and are licensed for non-commercial use only.
    _timm("resnet18", "a1_in1k", 73.164, 91.054,
          eval_size=288, crop_pct=1.0, train_size=224,
          interpolation="bicubic", license="apache-2.0"),
    _timm("resnet18", "a2_in1k", 72.364, 90.62,
          eval_size=288, crop_pct=1.0, train_size=224,
          interpolation="bicubic", license="apache-2.0"),
    _timm("resnet18", "a3_in1k", 68.25, 88.172,
          eval_size=224, crop_pct=0.95, train_size=160,
          interpolation="bicubic", license="apache-2.0"),
    _timm("resnet18", "tv_in1k", 69.752, 89.082,
          eval_size=224, crop_pct=0.875, train_size=224,
          interpolation="bilinear", license="bsd-3-clause"),
    _timm("resnet18", "fb_ssl_yfcc100m_ft_in1k", 72.636, 91.416,
          eval_size=224, crop_pct=0.875, train_size=224,
          interpolation="bilinear", license="cc-by-nc-4.0"),
    _timm("resnet18", "fb_swsl_ig1b_ft_in1k", 73.286, 91.754,
          eval_size=224, crop_pct=0.875, train_size=224,
          interpolation="bilinear", license="cc-by-nc-4.0"),
    _timm("resnet18", "gluon_in1k", 70.844, 89.75,
          eval_size=224, crop_pct=0.875, train_size=224,
          interpolation="bicubic", license="apache-2.0"),
    _timm("resnet34", "a1_in1k", 77.93, 93.758,
          eval_size=288, crop_pct=1.0, train_size=224,
          interpolation="bicubic", license="apache-2.0"),
    _timm("resnet34", "a2_in1k", 77.15, 93.288,
          eval_size=288, crop_pct=1.0, train_size=224,
          interpolation="bicubic", license="apache-2.0"),
    _timm("resnet34", "a3_in1k", 72.996, 91.116,
          eval_size=224, crop_pct=0.95, train_size=160,
          interpolation="bicubic", license="apache-2.0"),
    _timm("resnet34", "bt_in1k", 76.506, 93.342,
          eval_size=288, crop_pct=0.95, train_size=224,
          interpolation="bicubic", license="apache-2.0"),
    _timm("resnet34", "ra4_e3600_r224_in1k", 78.972, 94.454,
          eval_size=288, crop_pct=1.0, train_size=224,
          interpolation="bicubic", license="apache-2.0", mean_std=HALF),
    _timm("resnet34", "tv_in1k", 73.298, 91.422,
          eval_size=224, crop_pct=0.875, train_size=224,
          interpolation="bilinear", license="bsd-3-clause"),
    _timm("resnet34", "gluon_in1k", 74.574, 91.988,
          eval_size=224, crop_pct=0.875, train_size=224,
          interpolation="bicubic", license="apache-2.0"),
    _timm("resnet50", "a1_in1k", 81.24, 95.112,
          eval_size=288, crop_pct=1.0, train_size=224,
          interpolation="bicubic", license="apache-2.0"),
    _timm("resnet50", "a1h_in1k", 80.654, 95.312,
          eval_size=224, crop_pct=1.0, train_size=176,
          interpolation="bicubic", license="apache-2.0"),
    _timm("resnet50", "a2_in1k", 80.774, 94.978,
          eval_size=288, crop_pct=1.0, train_size=224,
          interpolation="bicubic", license="apache-2.0"),
    _timm("resnet50", "a3_in1k", 78.052, 93.78,
          eval_size=224, crop_pct=0.95, train_size=160,
          interpolation="bicubic", license="apache-2.0"),
    _timm("resnet50", "b1k_in1k", 80.708, 95.43,
          eval_size=288, crop_pct=1.0, train_size=224,
          interpolation="bicubic", license="apache-2.0"),
    _timm("resnet50", "b2k_in1k", 80.466, 95.306,
          eval_size=288, crop_pct=1.0, train_size=224,
          interpolation="bicubic", license="apache-2.0"),
    _timm("resnet50", "c1_in1k", 80.928, 95.554,
          eval_size=288, crop_pct=1.0, train_size=224,
          interpolation="bicubic", license="apache-2.0"),
    _timm("resnet50", "c2_in1k", 80.862, 95.53,
          eval_size=288, crop_pct=1.0, train_size=224,
          interpolation="bicubic", license="apache-2.0"),
    _timm("resnet50", "d_in1k", 81.012, 95.456,
          eval_size=288, crop_pct=1.0, train_size=224,
          interpolation="bicubic", license="apache-2.0"),
    _timm("resnet50", "ram_in1k", 79.982, 95.038,
          eval_size=288, crop_pct=0.95, train_size=224,
          interpolation="bicubic", license="apache-2.0"),
    _timm("resnet50", "am_in1k", 79.004, 94.392,
          eval_size=224, crop_pct=0.875, train_size=224,
          interpolation="bicubic", license="apache-2.0"),
    _timm("resnet50", "ra_in1k", 79.864, 94.97,
          eval_size=288, crop_pct=0.95, train_size=224,
          interpolation="bicubic", license="apache-2.0"),
    _timm("resnet50", "bt_in1k", 79.652, 94.908,
          eval_size=288, crop_pct=0.95, train_size=224,
          interpolation="bicubic", license="apache-2.0"),
    _timm("resnet50", "tv_in1k", 76.156, 92.866,
          eval_size=224, crop_pct=0.875, train_size=224,
          interpolation="bilinear", license="bsd-3-clause"),
    _timm("resnet50", "tv2_in1k", 80.846, 95.43,
          eval_size=224, crop_pct=0.965, train_size=176,
          interpolation="bilinear", license="bsd-3-clause"),
    _timm("resnet50", "fb_ssl_yfcc100m_ft_in1k", 79.252, 94.826,
          eval_size=224, crop_pct=0.875, train_size=224,
          interpolation="bilinear", license="cc-by-nc-4.0"),
    _timm("resnet50", "fb_swsl_ig1b_ft_in1k", 81.146, 95.98,
          eval_size=224, crop_pct=0.875, train_size=224,
          interpolation="bilinear", license="cc-by-nc-4.0"),
    _timm("resnet50", "gluon_in1k", 77.58, 93.704,
          eval_size=224, crop_pct=0.875, train_size=224,
          interpolation="bicubic", license="apache-2.0"),
    _timm("resnet101", "a1h_in1k", 82.796, 96.324,
          eval_size=288, crop_pct=1.0, train_size=224,
          interpolation="bicubic", license="apache-2.0"),
    _timm("resnet101", "a1_in1k", 82.326, 95.63,
          eval_size=288, crop_pct=1.0, train_size=224,
          interpolation="bicubic", license="apache-2.0"),
    _timm("resnet101", "a2_in1k", 82.218, 95.74,
          eval_size=288, crop_pct=1.0, train_size=224,
          interpolation="bicubic", license="apache-2.0"),
    _timm("resnet101", "a3_in1k", 79.836, 94.608,
          eval_size=224, crop_pct=0.95, train_size=160,
          interpolation="bicubic", license="apache-2.0"),
    _timm("resnet101", "tv_in1k", 77.404, 93.552,
          eval_size=224, crop_pct=0.875, train_size=224,
          interpolation="bilinear", license="bsd-3-clause"),
    _timm("resnet101", "tv2_in1k", 81.906, 95.768,
          eval_size=224, crop_pct=0.965, train_size=176,
          interpolation="bilinear", license="bsd-3-clause"),
    _timm("resnet101", "gluon_in1k", 79.306, 94.538,
          eval_size=224, crop_pct=0.875, train_size=224,
          interpolation="bicubic", license="apache-2.0"),
    _timm("resnet152", "a1h_in1k", 83.494, 96.522,
          eval_size=288, crop_pct=1.0, train_size=224,
          interpolation="bicubic", license="apache-2.0"),
    _timm("resnet152", "a1_in1k", 82.742, 95.734,
          eval_size=288, crop_pct=1.0, train_size=224,
          interpolation="bicubic", license="apache-2.0"),
    _timm("resnet152", "a2_in1k", 82.614, 95.748,
          eval_size=288, crop_pct=1.0, train_size=224,
          interpolation="bicubic", license="apache-2.0"),
    _timm("resnet152", "a3_in1k", 80.548, 95.004,
          eval_size=224, crop_pct=0.95, train_size=160,
          interpolation="bicubic", license="apache-2.0"),
    _timm("resnet152", "tv_in1k", 78.33, 94.046,
          eval_size=224, crop_pct=0.875, train_size=224,
          interpolation="bilinear", license="bsd-3-clause"),
    _timm("resnet152", "tv2_in1k", 82.294, 96.0,
          eval_size=224, crop_pct=0.965, train_size=176,
          interpolation="bilinear", license="bsd-3-clause"),
    _timm("resnet152", "gluon_in1k", 79.712, 94.72,
          eval_size=224, crop_pct=0.875, train_size=224,
          interpolation="bicubic", license="apache-2.0"),
    _timm("resnet50d", "ra2_in1k", 81.354, 95.742,
          eval_size=288, crop_pct=0.95, train_size=224,
          interpolation="bicubic", license="apache-2.0"),
    _timm("resnet50d", "ra4_e3600_r224_in1k", 81.84, 95.926,
          eval_size=288, crop_pct=1.0, train_size=224,
          interpolation="bicubic", license="apache-2.0", mean_std=HALF),
    _timm("resnet50d", "a1_in1k", 81.466, 95.218,
          eval_size=288, crop_pct=1.0, train_size=224,
          interpolation="bicubic", license="apache-2.0"),
    _timm("resnet50d", "a2_in1k", 81.164, 95.1,
          eval_size=288, crop_pct=1.0, train_size=224,
          interpolation="bicubic", license="apache-2.0"),
    _timm("resnet50d", "a3_in1k", 78.742, 94.236,
          eval_size=224, crop_pct=0.95, train_size=160,
          interpolation="bicubic", license="apache-2.0"),
    _timm("resnet50d", "gluon_in1k", 79.08, 94.458,
          eval_size=224, crop_pct=0.875, train_size=224,
          interpolation="bicubic", license="apache-2.0"),
    _timm("resnet101d", "ra2_in1k", 83.02, 96.456,
          eval_size=320, crop_pct=1.0, train_size=256,
          interpolation="bicubic", license="apache-2.0"),
    _timm("resnet101d", "gluon_in1k", 80.466, 95.034,
          eval_size=224, crop_pct=0.875, train_size=224,
          interpolation="bicubic", license="apache-2.0"),
    _timm("resnext50_32x4d", "a1h_in1k", 82.016, 95.934,
          eval_size=288, crop_pct=1.0, train_size=224,
          interpolation="bicubic", license="apache-2.0"),
    _timm("resnext50_32x4d", "a1_in1k", 81.48, 95.152,
          eval_size=288, crop_pct=1.0, train_size=224,
          interpolation="bicubic", license="apache-2.0"),
    _timm("resnext50_32x4d", "a2_in1k", 81.304, 95.114,
          eval_size=288, crop_pct=1.0, train_size=224,
          interpolation="bicubic", license="apache-2.0"),
    _timm("resnext50_32x4d", "a3_in1k", 79.258, 94.308,
          eval_size=224, crop_pct=0.95, train_size=160,
          interpolation="bicubic", license="apache-2.0"),
    _timm("resnext50_32x4d", "ra_in1k", 80.72, 95.344,
          eval_size=288, crop_pct=0.95, train_size=224,
          interpolation="bicubic", license="apache-2.0"),
    _timm("resnext50_32x4d", "tv_in1k", 77.632, 93.674,
          eval_size=224, crop_pct=0.875, train_size=224,
          interpolation="bilinear", license="bsd-3-clause"),
    _timm("resnext50_32x4d", "tv2_in1k", 81.19, 95.344,
          eval_size=224, crop_pct=0.965, train_size=176,
          interpolation="bilinear", license="bsd-3-clause"),
    _timm("resnext50_32x4d", "fb_ssl_yfcc100m_ft_in1k", 80.316, 95.386,
          eval_size=224, crop_pct=0.875, train_size=224,
          interpolation="bilinear", license="cc-by-nc-4.0"),
    _timm("resnext50_32x4d", "fb_swsl_ig1b_ft_in1k", 82.162, 96.224,
          eval_size=224, crop_pct=0.875, train_size=224,
          interpolation="bilinear", license="cc-by-nc-4.0"),
    _timm("resnext50_32x4d", "gluon_in1k", 79.354, 94.424,
          eval_size=224, crop_pct=0.875, train_size=224,
          interpolation="bicubic", license="apache-2.0"),
    _timm("resnext101_32x8d", "tv_in1k", 79.308, 94.53,
          eval_size=224, crop_pct=0.875, train_size=224,
          interpolation="bilinear", license="bsd-3-clause"),
    _timm("resnext101_32x8d", "tv2_in1k", 82.832, 96.234,
          eval_size=224, crop_pct=0.965, train_size=176,
          interpolation="bilinear", license="bsd-3-clause"),
    _timm("resnext101_32x8d", "fb_wsl_ig1b_ft_in1k", 82.72, 96.624,
          eval_size=224, crop_pct=0.875, train_size=224,
          interpolation="bilinear", license="cc-by-nc-4.0"),
    _timm("resnext101_32x8d", "fb_ssl_yfcc100m_ft_in1k", 81.62, 96.036,
          eval_size=224, crop_pct=0.875, train_size=224,
          interpolation="bilinear", license="cc-by-nc-4.0"),
    _timm("resnext101_32x8d", "fb_swsl_ig1b_ft_in1k", 84.276, 97.188,
          eval_size=224, crop_pct=0.875, train_size=224,
          interpolation="bilinear", license="cc-by-nc-4.0"),
    _timm("wide_resnet50_2", "racm_in1k", 82.26, 96.062,
          eval_size=288, crop_pct=0.95, train_size=224,
          interpolation="bicubic", license="apache-2.0"),
    _timm("wide_resnet50_2", "tv_in1k", 78.486, 94.084,
          eval_size=224, crop_pct=0.875, train_size=224,
          interpolation="bilinear", license="bsd-3-clause"),
    _timm("wide_resnet50_2", "tv2_in1k", 81.612, 95.766,
          eval_size=224, crop_pct=0.965, train_size=176,
          interpolation="bilinear", license="bsd-3-clause"),
    _timm("wide_resnet101_2", "tv_in1k", 78.862, 94.312,
          eval_size=224, crop_pct=0.875, train_size=224,
          interpolation="bilinear", license="bsd-3-clause"),
    _timm("wide_resnet101_2", "tv2_in1k", 82.514, 96.012,
          eval_size=224, crop_pct=0.965, train_size=176,
          interpolation="bilinear", license="bsd-3-clause"),
]


def list_pretrained(model: Optional[str] = None) -> List[Pretrained]:
    """The pretrained checkpoints, of every model or of registered model `model`."""
    if model is None:
        return list(PRETRAINED)
    name = model_info(model).name  # checks the name
    return [row for row in PRETRAINED if row.model == name]


def find_pretrained(model: str, tag: str) -> Optional[Pretrained]:
    """The row of registered model `model` with tag `tag` ("a1_in1k", "imagenet"),
    or None when the table has none."""
    return next((row for row in list_pretrained(model) if row.tag == tag), None)


# --- what a `weights=` value means: the one resolver --------------------------

HF_PREFIX = "hf://"
HUB_FILENAME = "model.safetensors"
HUB_VARIANT = "v1.5"  # a Hub repo holds a torchvision/timm state dict
# Sources named by themselves: "imagenet" is keras.applications' file of the
# model; "timm" and "torchvision" are their default checkpoint of the model
# (timm's first tag, torchvision's DEFAULT: "tv2_in1k", else "tv_in1k").
SOURCES = ("imagenet", "timm", "torchvision")
DEFAULT_CROP_PCT = 0.875
DEFAULT_INTERPOLATION = "bilinear"
# The only hf:// grammar: "hf://ORG/REPO", nothing after the repo name.
HUB_REPO = re.compile(r"[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*")
_TAG = re.compile(r"[\w-]+")  # no path separator, no file suffix
ACCEPTED = ("None, 'imagenet', 'timm', 'torchvision', a pretrained tag of the model "
            "('a1_in1k'), a full name 'MODEL.TAG' ('resnet50.a1_in1k'), 'hf://ORG/REPO' "
            "or the path to a weights file")


@dataclasses.dataclass(frozen=True)
class InputNormalization:
    """How RGB images in [0, 255] are normalised for some weights.

    Attributes:
        mode: "mean_std" ([0, 1], minus `mean`, over `std`), "caffe" (RGB ->
            BGR, minus the ImageNet mean pixel) or "tf" (scale to [-1, 1]).
        mean, std: For "mean_std", per RGB channel on the [0, 1] scale.
    """

    mode: str
    mean: Optional[Tuple[float, float, float]] = None
    std: Optional[Tuple[float, float, float]] = None


IMAGENET_MEAN_STD = InputNormalization("mean_std", IMAGENET_MEAN, IMAGENET_STD)


@dataclasses.dataclass(frozen=True)
class EvalTransform:
    """The evaluation resize and center crop a checkpoint was measured with.

    Attributes:
        size: Output size (the row's `eval_size`; None where nothing says).
        crop_pct: Kept fraction of the shorter side (0.875 where unpublished).
        interpolation: "bilinear" or "bicubic" ("bilinear" where unpublished).
    """

    size: Optional[int] = None
    crop_pct: float = DEFAULT_CROP_PCT
    interpolation: str = DEFAULT_INTERPOLATION


@dataclasses.dataclass(frozen=True)
class Checkpoint:
    """What a `weights=` value means (see `resolve`).

    Attributes:
        kind: "none" (no weights), "imagenet" (keras.applications' file),
            "tag" (a row of the pretrained table on the Hub), "hub" (any
            "hf://ORG/REPO"), "file" (a local weights file) or "convention"
            ("timm"/"torchvision" without a model: their preprocessing only).
        text: The value as given (a path as a string; None for "none").
        model: The registered model it is a checkpoint of (None: a custom
            architecture, or not known).
        row: Its pretrained row (None for "hub" repos off the table, files).
        repo, filename: Where it is on the Hugging Face Hub ("tag", "hub").
        path: The local file ("file").
        variant: The convention the file needs (None: any, e.g. a Keras file).
        normalization: The input normalisation its weights expect.
        eval_transform: The evaluation resize and crop of its published accuracy.
    """

    kind: str
    text: Optional[str]
    model: Optional[str]
    row: Optional[Pretrained]
    repo: Optional[str]
    filename: Optional[str]
    path: Optional[str]
    variant: Optional[str]
    normalization: InputNormalization
    eval_transform: EvalTransform

    @property
    def label(self) -> str:
        """How messages name it, e.g. "weights='a1_in1k'"."""
        return f"weights={self.text!r}"

    @property
    def has_file(self) -> bool:
        """Whether there are weights to load (not "none" or "convention")."""
        return self.kind not in ("none", "convention")

    def fit_variant(self, variant: Optional[str], default: str) -> str:
        """The variant to build: `variant`, else the checkpoint's, else `default`.

        Raises:
            ValueError: when an explicit `variant` differs from the checkpoint's,
                naming both.
        """
        if variant is None:
            return self.variant or default
        if self.variant is not None and variant != self.variant:
            what = (f"{self.row.name} ({self.row.source})" if self.row is not None
                    else f"{self.repo}, a torchvision/timm layout")
            raise ValueError(f"{self.label} needs variant={self.variant!r}, the convention of "
                             f"{what}; pass variant=None (or {self.variant!r}). "
                             f"Received: variant={variant!r}")
        return variant


NO_WEIGHTS = Checkpoint("none", None, None, None, None, None, None, None, IMAGENET_MEAN_STD,
                        EvalTransform())


def row_normalization(row: Pretrained) -> InputNormalization:
    """The input normalisation of a pretrained row."""
    if row.preprocessing == "mean_std":
        return InputNormalization("mean_std", tuple(row.mean), tuple(row.std))
    return InputNormalization(row.preprocessing)


def row_eval_transform(row: Pretrained) -> EvalTransform:
    """The evaluation transform of a pretrained row (defaults where unpublished)."""
    return EvalTransform(row.eval_size, row.crop_pct or DEFAULT_CROP_PCT,
                         row.interpolation or DEFAULT_INTERPOLATION)


def _of_row(kind: str, text: str, row: Pretrained) -> Checkpoint:
    return Checkpoint(kind, text, row.model, row, row.hub_repo, row.filename, None, row.variant,
                      row_normalization(row), row_eval_transform(row))


def _tags(model: Optional[str]) -> str:
    if model is None:
        return "none: a custom architecture has no pretrained tags"
    tags = [row.tag for row in list_pretrained(model)]
    return ", ".join(tags) if tags else f"none: {model} has no pretrained weights"


def _imagenet(text: str, model: Optional[str], variant: Optional[str]) -> Checkpoint:
    if model is None:  # the convention alone: "caffe" for v1, [-1, 1] for v2
        variant = variant or "v1"
        if variant not in ("v1", "v2"):
            raise ValueError("weights='imagenet' (keras.applications) exists for variant 'v1' "
                             f"and 'v2' only. Received: variant={variant!r}")
        return Checkpoint("imagenet", text, None, None, None, None, None, variant,
                          InputNormalization("caffe" if variant == "v1" else "tf"),
                          EvalTransform())
    row = find_pretrained(model, "imagenet")
    if row is None:
        have = ", ".join(f"{r.model} (variant={r.variant!r})" for r in PRETRAINED
                         if r.tag == "imagenet")
        raise ValueError(
            f"No ImageNet weights are published for {model}: weights='imagenet' "
            f"(keras.applications) is published for resnet50/101/152 and their V2 twins "
            f"only: {have}. Its pretrained tags: {_tags(model)}.")
    return _of_row("imagenet", text, row)


def _default_row(model: str, source: str) -> Optional[Pretrained]:
    rows = [r for r in list_pretrained(model) if r.source == "timm"]
    if source == "torchvision":
        by_tag = {r.tag: r for r in rows}
        return by_tag.get("tv2_in1k") or by_tag.get("tv_in1k")
    return rows[0] if rows else None


def _hub(text: str, model: Optional[str]) -> Checkpoint:
    repo = text[len(HF_PREFIX):]
    if not HUB_REPO.fullmatch(repo):
        raise ValueError("`weights` must name a Hub repo as 'hf://ORG/REPO' (e.g. "
                         f"'hf://timm/resnet50.a1_in1k'). Received: weights={text!r}")
    row = next((r for r in PRETRAINED if r.hub_repo == repo), None)
    if row is not None and (model is None or row.model == model):
        return dataclasses.replace(_of_row("hub", text, row), filename=HUB_FILENAME)
    # Off the table: a torchvision/timm state dict of unknown preprocessing, in the
    # model's own convention when that is a torch one (timm's resnetv2: "v2.timm").
    variant = HUB_VARIANT
    if model is not None and REGISTRY[model].variant in TORCH_VARIANTS:
        variant = REGISTRY[model].variant
    return Checkpoint("hub", text, model, None, repo, HUB_FILENAME, None, variant,
                      IMAGENET_MEAN_STD, EvalTransform())


def _full_name(text: str) -> Optional[Tuple[str, str]]:
    """(model, tag) when `text` spells "MODEL.TAG" with a registered MODEL."""
    name, dot, tag = text.partition(".")
    if dot and name.lower() in REGISTRY and _TAG.fullmatch(tag):
        return name.lower(), tag
    return None


def resolve(weights, model: Optional[str] = None, *,
            variant: Optional[str] = None) -> Checkpoint:
    """What `weights` means for registered model `model`: the one resolver.

    Accepted values (one vocabulary, for every consumer): None; "imagenet"
    (keras.applications' file of the model); "timm" or "torchvision" (that
    source's default checkpoint of the model: timm's first tag, torchvision's
    DEFAULT); a pretrained tag of the model ("a1_in1k"); a full name
    "MODEL.TAG" ("resnet50.a1_in1k", which also names the model);
    "hf://ORG/REPO" (a Hub repo holding a torchvision/timm model.safetensors);
    or the path to a weights file (a str or `os.PathLike`).

    The rule for a path that also spells a tag: a value without a path
    separator that names a source, a tag of the model or a full name is that
    checkpoint, even when a file of that name exists; write "./a1_in1k" for the
    file. A value that is neither is a file, which must exist. A file records
    no preprocessing: it gets ImageNet's mean and std and the 0.875 bilinear
    crop (pass its checkpoint's name to any consumer for another).

    Args:
        weights: The value to resolve.
        model: Registry name whose tags `weights` may name (None: a custom
            architecture, or any model for a full name).
        variant: For "imagenet" without a model: "v1" ("caffe") or "v2"
            ([-1, 1]); default "v1".

    Returns:
        A `Checkpoint`; `NO_WEIGHTS` for None.

    Raises:
        ValueError: for a value of another type, an unknown tag (listing the
            model's tags), a full name of another model, a malformed "hf://"
            address, a missing file, or "imagenet" for a model that has none.
    """
    if weights is None:
        return NO_WEIGHTS
    if model is not None:
        model = model_info(model).name  # an unknown model is named first
    if isinstance(weights, os.PathLike):
        return _file(os.fspath(weights), model)
    if not isinstance(weights, str):
        raise ValueError(f"`weights` must be one of: {ACCEPTED}. Received: weights={weights!r}")
    if weights == "imagenet":
        return _imagenet(weights, model, variant)
    if weights in ("timm", "torchvision"):
        if model is None:
            return Checkpoint("convention", weights, None, None, None, None, None, HUB_VARIANT,
                              IMAGENET_MEAN_STD, EvalTransform())
        row = _default_row(model, weights)
        if row is None:
            raise ValueError(f"{model} has no {weights} checkpoint; its pretrained tags: "
                             f"{_tags(model)}. Received: weights={weights!r}")
        return _of_row("tag", weights, row)
    if weights.startswith(HF_PREFIX):
        return _hub(weights, model)
    full = _full_name(weights)
    if full is not None:
        name, tag = full
        if model is not None and name != model:
            raise ValueError(f"`weights` {weights!r} is a checkpoint of {name}, not of "
                             f"model={model!r}; pass a tag of {model} or the model {name}")
        row = find_pretrained(name, tag)
        if row is None:
            if os.path.isfile(weights):
                return _file(weights, model)
            raise ValueError(f"Unknown pretrained tag {tag!r} for {name}. `weights` must be "
                             f"one of: {ACCEPTED}. Tags of {name}: {_tags(name)}. "
                             f"Received: weights={weights!r}")
        return _of_row("tag", weights, row)
    row = find_pretrained(model, weights) if model is not None and _TAG.fullmatch(weights) \
        else None
    if row is not None:
        return _of_row("tag", weights, row)
    if not os.path.isfile(weights) and _TAG.fullmatch(weights):
        if model is None and any(r.tag == weights for r in PRETRAINED):
            example = next(r.name for r in PRETRAINED if r.tag == weights)
            raise ValueError(f"{weights!r} is a pretrained tag: pass the tag with `model=`, or "
                             f"a full name MODEL.TAG such as {example!r}. "
                             f"Received: weights={weights!r}")
        if model is None:
            raise ValueError(f"`weights` must be one of: {ACCEPTED}. "
                             f"Received: weights={weights!r}")
        raise ValueError(f"Unknown pretrained tag {weights!r} for {model}. `weights` must be "
                         f"one of: {ACCEPTED}. Tags of {model}: {_tags(model)}. "
                         f"Received: weights={weights!r}")
    return _file(weights, model)


def _file(path: str, model: Optional[str]) -> Checkpoint:
    if not os.path.isfile(path):
        raise ValueError(f"`weights` file does not exist: {path!r}. `weights` must be one of: "
                         f"{ACCEPTED}. Received: weights={path!r}")
    return Checkpoint("file", path, model, None, None, None, path, None, IMAGENET_MEAN_STD,
                      EvalTransform())
