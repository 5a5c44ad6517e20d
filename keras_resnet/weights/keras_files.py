"""Readers for Keras 3 files: `.weights.h5` and `.keras` (safe mode only), and the
"LAYER/INDEX" tensor names of a `.safetensors` file in Keras layer names."""

from __future__ import annotations

import re

import h5py
import keras
import numpy as np

from keras_resnet.weights.assign import NamedWeights


def is_keras3_h5(f: h5py.File) -> bool:
    """A Keras 3 `.weights.h5` file (its root holds a `layers` group)."""
    return "layers" in f and "layer_names" not in f.attrs


def read_weights_h5(f: h5py.File, source: str) -> NamedWeights:
    """Per-layer arrays of a Keras 3 `.weights.h5` file, keyed by layer name.

    Keras 3 keys its groups by layer class and position (`layers/conv2d_3`);
    the layer's own name is recorded in the `name` attribute of its `vars`
    group, and the variables are stored in `layer.weights` order.
    """
    named: NamedWeights = {}
    _collect(f["layers"], named, source)
    return named


def _collect(layers: h5py.Group, named: NamedWeights, source: str) -> None:
    # Nested models (a ResNet inside a Sequential) keep their layers one level down.
    for group in layers.values():
        if isinstance(group.get("layers"), h5py.Group):
            _collect(group["layers"], named, source)
        variables = group.get("vars")
        if variables is None or len(variables) == 0:
            continue
        name = variables.attrs.get("name")
        if name is None:
            raise ValueError(
                f"{source}: this .weights.h5 file does not record layer names (it was "
                "written by an older Keras 3); load it with `model.load_weights(path)` "
                "into an identical model, then save it again.")
        name = name.decode("utf8") if isinstance(name, bytes) else str(name)
        named[name] = [np.asarray(variables[str(i)]) for i in range(len(variables))]


def read_keras_archive(path: str) -> NamedWeights:
    """Per-layer arrays of a `.keras` model file, loaded with `safe_mode=True`.

    Safe mode refuses files whose config would run Python code (a `Lambda`
    layer's bytecode), so a `.keras` file from elsewhere cannot execute
    anything here.
    """
    try:
        model = keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as e:  # keras raises ValueError, TypeError, zipfile errors...
        if "safe_mode" in str(e):
            raise ValueError(f"Refusing to load {path!r}: Keras' safe mode found code in "
                             f"it. {e}") from e
        raise ValueError(f"Could not load {path!r} as a .keras model file: {e}") from e
    return {layer.name: layer.get_weights() for layer in model.layers if layer.weights}


# A `.safetensors` file in Keras layer names (what `keras_resnet.sharing.save_pretrained`
# writes for a model timm has no layout for): one tensor per variable, "LAYER/INDEX" in
# `layer.get_weights()` order.
_KERAS_KEY = re.compile(r"([\w.-]+)/(\d+)")


def is_keras_state(keys) -> bool:
    """Whether tensor names are "LAYER/INDEX" (Keras layer names), not torch's."""
    keys = list(keys)
    return bool(keys) and all(_KERAS_KEY.fullmatch(k) for k in keys)


def to_keras_state(named: NamedWeights) -> dict:
    """Per-layer arrays as flat "LAYER/INDEX" tensors (for a .safetensors file)."""
    return {f"{name}/{i}": np.ascontiguousarray(a) for name, arrays in named.items()
            for i, a in enumerate(arrays)}


def from_keras_state(state: dict, source: str) -> NamedWeights:
    """The inverse of `to_keras_state`; a ValueError for a gap in a layer's indices."""
    parts: dict = {}
    for key, value in state.items():
        name, index = _KERAS_KEY.fullmatch(key).groups()
        parts.setdefault(name, {})[int(index)] = np.asarray(value)
    named: NamedWeights = {}
    for name, arrays in parts.items():
        if sorted(arrays) != list(range(len(arrays))):
            raise ValueError(f"{source}: layer {name!r} has tensors {sorted(arrays)}; expected "
                             f"0..{len(arrays) - 1}")
        named[name] = [arrays[i] for i in range(len(arrays))]
    return named
