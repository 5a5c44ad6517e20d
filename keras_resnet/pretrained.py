"""The pretrained-weights table: one row per published checkpoint, as data.

Today it holds keras.applications' ImageNet files (`weights="imagenet"`, for
the v1 and v2 ResNet50/101/152); their download table with hashes is
`keras_resnet.weights.imagenet`. Like the model registry, this module imports
no framework, so `keras-resnet list --pretrained` answers at once.
"""

from __future__ import annotations

import dataclasses
from typing import List, Optional

from keras_resnet.registry import model_info


@dataclasses.dataclass(frozen=True)
class Pretrained:
    """One published checkpoint of a registered model.

    Attributes:
        model: Registry name, e.g. "resnet50".
        tag: What `weights=` takes for it, e.g. "imagenet".
        source: Who publishes the file, e.g. "keras.applications".
        variant: The convention the file needs ("v1", "v1.5", "v2").
        num_classes: Width of its classifier.
        top1, top5: ImageNet-1k validation accuracy (%) as the source publishes it.
        eval_size: Image size the accuracy was measured at.
        crop_pct: Center-crop fraction of that evaluation (None: not published).
        preprocessing: Input normalisation the weights expect: a Keras
            `imagenet_utils` mode ("caffe": BGR minus the mean pixel; "tf":
            [-1, 1]; "torch": ImageNet mean/std).
        license: License of the weights as the source states it (None: not stated).
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
    preprocessing: str
    license: Optional[str]

    @property
    def name(self) -> str:
        """Full name, `model.tag` (timm's convention), e.g. "resnet50.imagenet"."""
        return f"{self.model}.{self.tag}"


def _keras_applications(model: str, top1: float, top5: float, license: Optional[str]):
    variant = model_info(model).variant
    return Pretrained(model=model, tag="imagenet", source="keras.applications", variant=variant,
                      num_classes=1000, top1=top1, top5=top5, eval_size=224, crop_pct=None,
                      preprocessing="caffe" if variant == "v1" else "tf", license=license)


# Accuracies: the keras.applications documentation's table (keras.io/api/applications).
# The v1 files are Kaiming He's released weights (MIT), ported by Keras.
PRETRAINED: List[Pretrained] = [
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
