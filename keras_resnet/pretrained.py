"""The pretrained-weights table: one row per published checkpoint, as data.

Today it holds keras.applications' ImageNet files (`weights="imagenet"`, the
v1 and v2 ResNet50/101/152; their download table with hashes is
`keras_resnet.weights.imagenet`), each with the preprocessing its accuracy was
measured with. Like the model registry, this module imports no framework.
"""

from __future__ import annotations

import dataclasses
from typing import List, Optional, Tuple

from keras_resnet.registry import model_info


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
