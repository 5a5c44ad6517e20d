"""Input preprocessing that matches each weight source, and ImageNet label decoding.

| weights | variant | mode | what it does to RGB images in [0, 255] |
|---|---|---|---|
| "imagenet" (keras.applications) | "v1" | "caffe" | RGB -> BGR, minus the ImageNet mean pixel |
| "imagenet" (keras.applications) | "v2" | "tf" | scale to [-1, 1] |
| "torchvision", "timm" | any | "torch" | [0, 1], minus mean, over std (per channel) |
"""

from __future__ import annotations

import json
from typing import List, Optional, Tuple

import numpy as np
from keras.applications import imagenet_utils

from keras_resnet.weights import imagenet

WEIGHT_SOURCES = ("imagenet", "torchvision", "timm")


def preprocessing_mode(weights: str = "imagenet", variant: str = "v1") -> str:
    """The keras `imagenet_utils` mode ("caffe", "tf" or "torch") for a weight source."""
    if weights not in WEIGHT_SOURCES:
        raise ValueError(f"`weights` must be one of {list(WEIGHT_SOURCES)}. "
                         f"Received: weights={weights!r}")
    if weights != "imagenet":
        return "torch"
    if variant not in ("v1", "v2"):
        raise ValueError("weights='imagenet' (keras.applications) exists for variant 'v1' "
                         f"and 'v2' only. Received: variant={variant!r}")
    return "caffe" if variant == "v1" else "tf"


def preprocess_input(x, weights: str = "imagenet", *, variant: str = "v1",
                     data_format: Optional[str] = None):
    """Preprocess a batch of RGB images in [0, 255] the way `weights` were trained.

    Args:
        x: Images, a numpy array or tensor (batch or single image).
        weights: "imagenet" (keras.applications' files), "torchvision" or "timm".
        variant: With "imagenet": "v1" (ResNet50/101/152, "caffe" mode) or
            "v2" (ResNet50V2/101V2/152V2, [-1, 1]).
        data_format: "channels_last" or "channels_first"; default
            `keras.config.image_data_format()`.

    Returns:
        The preprocessed images, float32. A numpy input is copied, never
        modified in place (keras' function divides float arrays in place).
    """
    mode = preprocessing_mode(weights, variant)
    if isinstance(x, np.ndarray) or not hasattr(x, "shape"):
        x = np.array(x, dtype=np.float32, copy=True)
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode=mode)


_CLASS_INDEX = None


def _class_index() -> dict:
    global _CLASS_INDEX
    if _CLASS_INDEX is None:
        with open(imagenet.fetch(imagenet.CLASS_INDEX)) as f:
            _CLASS_INDEX = json.load(f)
    return _CLASS_INDEX


def decode_predictions(preds, top: int = 5) -> List[List[Tuple[str, str, float]]]:
    """Decode ImageNet predictions into `(wordnet_id, class_name, score)`, best first.

    The class index is keras.applications' `imagenet_class_index.json`, looked
    for in the Keras cache and downloaded (md5-checked) when missing; offline,
    this fails within seconds saying where to put the file.

    Args:
        preds: Array of shape (batch, 1000): probabilities or logits.
        top: How many classes to return per image.
    """
    preds = np.asarray(preds)
    if preds.ndim != 2 or preds.shape[1] != imagenet.IMAGENET_CLASSES:
        raise ValueError("`preds` must have shape (batch, 1000). "
                         f"Received: preds.shape={preds.shape}")
    if not isinstance(top, int) or not 1 <= top <= imagenet.IMAGENET_CLASSES:
        raise ValueError(f"`top` must be an integer in [1, 1000]. Received: top={top!r}")
    index = _class_index()
    results = []
    for row in preds:
        best = np.argsort(row)[-top:][::-1]
        results.append([(*index[str(i)], row[i]) for i in best])
    return results
