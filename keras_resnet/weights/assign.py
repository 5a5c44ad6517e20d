"""Assign named weights to a model, all or nothing.

Every reader produces `NamedWeights`: Keras layer name -> the layer's arrays in
`layer.get_weights()` order. `assign` adapts RGB weights of the first
convolution to the model's input channels (`adapt_input_conv`), then checks
every layer before it sets any, so a mismatch leaves the model untouched.
"""

from __future__ import annotations

import math
import re
import warnings
from typing import Dict, List, Optional

import keras
import numpy as np

from keras_resnet.specs import BLUR_SUFFIX

NamedWeights = Dict[str, List[np.ndarray]]

CLASSIFIER = "predictions"


def _shapes(arrays) -> list:
    return [tuple(int(d) for d in a.shape) for a in arrays]


def assign(model: keras.Model, named: NamedWeights, *, source: str) -> None:
    """Set the weights of every layer of `model` from `named`, or raise and set none.

    RGB weights of the first convolution are first adapted to the model's
    input channels (`adapt_input_conv`).

    The classifier (`predictions`) is the one layer allowed to differ: when the
    file has none, or one for another number of classes, it keeps its fresh
    initialisation and a `UserWarning` says so (the fine-tuning case). A file
    classifier is ignored silently when the model has no top.

    Raises:
        ValueError: naming the first layer (in model order) whose weights are
            missing or have other shapes, with both shapes; or the first layer
            of the file that the model lacks.
    """
    named = adapt_input_conv(model, named)
    plan = []
    head_note = None
    model_layers = [layer for layer in model.layers if layer.weights and not is_fixed(layer)]
    for layer in model_layers:
        expected = [tuple(int(d) for d in w.shape) for w in layer.weights]
        if layer.name not in named:
            if layer.name == CLASSIFIER:
                head_note = "the file has no classifier"
                continue
            raise ValueError(
                f"{source}: no weights for layer {layer.name!r} (the model expects shapes "
                f"{expected}). The file was made for another depth, variant or shortcut "
                f"option than model {model.name!r}.")
        got = _shapes(named[layer.name])
        if got != expected:
            if layer.name == CLASSIFIER and _same_features(got, expected):
                head_note = (f"the file's classifier has {got[0][-1]} classes, "
                             f"the model {expected[0][-1]}")
                continue
            raise ValueError(
                f"{source}: layer {layer.name!r} has weights of shapes {got} in the file but "
                f"model {model.name!r} expects {expected} (another depth, variant, "
                "number of classes or input channels?).")
        plan.append((layer, [np.asarray(a, dtype=w.dtype)
                             for a, w in zip(named[layer.name], layer.weights)]))
    present = {layer.name for layer in model.layers}
    extra = sorted((n for n in named if n not in present and n != CLASSIFIER),
                   key=_natural)
    if extra:
        raise ValueError(
            f"{source}: the file has weights for layer {extra[0]!r} of shapes "
            f"{_shapes(named[extra[0]])}, which model {model.name!r} does not have "
            f"({len(extra)} such layers; a deeper net or another variant?).")
    for layer, arrays in plan:
        layer.set_weights(arrays)
    if head_note is not None:
        warnings.warn(
            f"{source}: loaded every layer except the classifier {CLASSIFIER!r} "
            f"({head_note}); it keeps its fresh initialisation, so train it before use.",
            UserWarning, stacklevel=3)


def is_fixed(layer) -> bool:
    """A fixed filter (anti-aliasing blur, `keras_resnet.blocks.anti_alias_pool`):
    a non-trainable DepthwiseConv2D named `*_blur` whose values are its
    initializer's. Files never set it (torch checkpoints hold no such tensor)."""
    return isinstance(layer, keras.layers.DepthwiseConv2D) and layer.name.endswith(BLUR_SUFFIX)


def _natural(name: str) -> list:
    """Sort key putting conv4_block9 before conv4_block10."""
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name)]


def _same_features(got: list, expected: list) -> bool:
    """A classifier for the same feature width but another number of classes."""
    return (len(got) == len(expected) == 2 and len(got[0]) == 2
            and got[0][0] == expected[0][0])


def input_conv(model: keras.Model) -> Optional[keras.layers.Layer]:
    """The convolution fed by the model's input through weightless layers only
    (`conv1_conv`, or `conv1_1_conv` for ResNet-D's deep stem), or None."""
    from keras_resnet.keras_compat import inbound_nodes, producing_layer
    inputs = {id(t) for t in model.inputs}

    def from_input(tensors) -> bool:
        for tensor in tensors:
            if id(tensor) in inputs:
                return True
            layer = producing_layer(tensor)
            if (not layer.weights and not isinstance(layer, keras.layers.InputLayer)
                    and from_input([t for node in inbound_nodes(layer)
                                    for t in node.input_tensors])):
                return True
        return False

    return next((layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)
                 and from_input([t for node in inbound_nodes(layer)
                                 for t in node.input_tensors])), None)


def adapt_kernel(kernel: np.ndarray, channels: int) -> np.ndarray:
    """An RGB conv kernel (kh, kw, 3, out) for `channels` inputs, as timm's
    `adapt_input_conv`: 1 channel sums the RGB kernels; N channels repeat them
    ceil(N / 3) times along the input axis, cut to N, and scale by 3 / N."""
    if channels == 1:
        return kernel.sum(axis=2, keepdims=True)
    repeated = np.tile(kernel, (1, 1, math.ceil(channels / 3), 1))[:, :, :channels]
    return repeated * (3.0 / channels)


def adapt_input_conv(model: keras.Model, named: NamedWeights) -> NamedWeights:
    """`named` with the first convolution's RGB kernel adapted to the model's input
    channels (see `adapt_kernel`); unchanged when they already agree, when the
    file's kernel is not RGB, or when the model has no such convolution."""
    conv = input_conv(model)
    if conv is None or conv.name not in named or not named[conv.name]:
        return named
    kernel = np.asarray(named[conv.name][0])
    channels = int(conv.kernel.shape[2])
    if kernel.ndim != 4 or kernel.shape[2] != 3 or channels == 3:
        return named
    adapted = dict(named)
    adapted[conv.name] = [adapt_kernel(kernel, channels).astype(kernel.dtype),
                          *named[conv.name][1:]]
    return adapted
