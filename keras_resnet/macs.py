"""Counting multiply-accumulates, the way the paper's Table 1 counts FLOPs."""

from __future__ import annotations

import math

import keras


def _spatial_size(layer) -> int:
    """Output positions of a conv/dense layer for one example (batch excluded)."""
    shape = layer.output.shape[1:]
    if layer.__class__.__name__.startswith("Conv"):
        channels_first = getattr(layer, "data_format", "channels_last") == "channels_first"
        spatial = shape[1:] if channels_first else shape[:-1]
    else:
        spatial = shape[:-1]
    if any(d is None for d in spatial):
        raise ValueError(
            f"count_macs needs a model with a fixed input size; layer {layer.name!r} has "
            f"output shape {tuple(layer.output.shape)}. Build the model with a full "
            "`input_shape`, e.g. (224, 224, 3)."
        )
    return math.prod(spatial)


def count_macs(model: keras.Model) -> int:
    """Multiply-accumulates of one forward pass for one image.

    Counts every `Conv2D` (grouped convolutions included) and `Dense` layer:
    output positions x kernel size. BatchNormalization, activations, pooling
    and additions are not counted, as in the paper's Table 1.
    """
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            total += count_macs(layer)
        elif isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)):
            total += _spatial_size(layer) * math.prod(layer.kernel.shape)
    return total
