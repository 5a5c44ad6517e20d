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
"""

from __future__ import annotations

import dataclasses
from typing import List, Optional, Tuple

from keras_resnet.registry import model_info

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
        variant: The convention the file needs ("v1", "v1.5", "v2").
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
