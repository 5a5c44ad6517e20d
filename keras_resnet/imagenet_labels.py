"""ImageNet's 1000 class names: keras.applications' class index, and decoding predictions."""

from __future__ import annotations

import json
from typing import List, Tuple

import numpy as np

from keras_resnet.downloads import RemoteFile, fetch

IMAGENET_CLASSES = 1000
CLASS_INDEX = RemoteFile(
    "imagenet_class_index.json",
    "https://storage.googleapis.com/download.tensorflow.org/data/imagenet_class_index.json",
    "c2c37ea517e94d9795004a39431a14cb")

_CLASS_INDEX = None


def _class_index() -> dict:
    global _CLASS_INDEX
    if _CLASS_INDEX is None:
        with open(fetch(CLASS_INDEX)) as f:
            _CLASS_INDEX = json.load(f)
    return _CLASS_INDEX


def imagenet_class_index() -> dict:
    """keras.applications' ImageNet class index, {"0": [wordnet_id, name], ...}
    (from the Keras cache, downloaded when missing; see `decode_predictions`)."""
    return _class_index()


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
    if preds.ndim != 2 or preds.shape[1] != IMAGENET_CLASSES:
        raise ValueError("`preds` must have shape (batch, 1000). "
                         f"Received: preds.shape={preds.shape}")
    if not isinstance(top, int) or not 1 <= top <= IMAGENET_CLASSES:
        raise ValueError(f"`top` must be an integer in [1, 1000]. Received: top={top!r}")
    index = _class_index()
    results = []
    for row in preds:
        best = np.argsort(row)[-top:][::-1]
        results.append([(*index[str(i)], row[i]) for i in best])
    return results
