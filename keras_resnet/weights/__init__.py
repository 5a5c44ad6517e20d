"""Loading weights into a built model."""

from __future__ import annotations

import os

import keras


def load_weights(model: keras.Model, weights, *, arch: str, variant: str) -> None:
    """Load `weights` (a path to a Keras weights file) into `model`."""
    if weights == "imagenet":
        raise ValueError(f"No ImageNet weights are available for {arch} ({variant}) yet. "
                         "Pass `weights=None` or a path to a weights file.")
    path = os.fspath(weights)
    model.load_weights(path)
