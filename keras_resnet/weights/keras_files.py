"""Readers for Keras 3 files: `.weights.h5` and `.keras` (safe mode only)."""

from __future__ import annotations

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
