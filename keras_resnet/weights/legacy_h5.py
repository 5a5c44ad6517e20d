"""Reader for the legacy Keras HDF5 layout: the published keras.applications files.

The root (or its `model_weights` group, in a whole-model `.h5`) lists
`layer_names`; each layer's group lists its `weight_names`
(`conv1_conv/kernel:0`, ...). Keras 3's own legacy loader matches layers by
position; this one matches them by name, so any model with the same layer
names and shapes loads, whatever order its layers were created in.
"""

from __future__ import annotations

import h5py
import numpy as np

from keras_resnet.weights.assign import NamedWeights

# keras-applications' resnet_common.py, which made the published files, named
# the classifier "probs"; keras.applications (and this zoo) call it "predictions".
_ALIASES = {"probs": "predictions"}

# Keras' variable order inside a layer (== `layer.get_weights()` order).
_ORDER = ("kernel", "bias", "gamma", "beta", "moving_mean", "moving_variance")


def _attribute_list(group: h5py.Group, name: str) -> list:
    """An attribute that Keras may have split into `name0`, `name1`, ... chunks."""
    if name in group.attrs:
        values = list(group.attrs[name])
    else:
        values, chunk = [], 0
        while f"{name}{chunk}" in group.attrs:
            values.extend(group.attrs[f"{name}{chunk}"])
            chunk += 1
    return [v.decode("utf8") if isinstance(v, bytes) else str(v) for v in values]


def _weights_root(f: h5py.File):
    if "layer_names" in f.attrs or "layer_names0" in f.attrs:
        return f
    group = f.get("model_weights")
    if isinstance(group, h5py.Group) and ("layer_names" in group.attrs
                                          or "layer_names0" in group.attrs):
        return group
    return None


def is_legacy_h5(f: h5py.File) -> bool:
    """A legacy Keras `.h5` file (weights-only or whole-model)."""
    return _weights_root(f) is not None


def _kind(weight_name: str) -> str:
    return weight_name.rsplit("/", 1)[-1].split(":")[0]


def read_legacy_h5(f: h5py.File, source: str) -> NamedWeights:
    """Per-layer arrays of a legacy `.h5` file, keyed by layer name."""
    root = _weights_root(f)
    named: NamedWeights = {}
    for layer_name in _attribute_list(root, "layer_names"):
        group = root[layer_name]
        weight_names = _attribute_list(group, "weight_names")
        if not weight_names:
            continue
        kinds = [_kind(n) for n in weight_names]
        if set(kinds) <= set(_ORDER) and len(set(kinds)) == len(kinds):
            weight_names = [n for _, n in sorted(zip(kinds, weight_names),
                                                 key=lambda p: _ORDER.index(p[0]))]
        named[_ALIASES.get(layer_name, layer_name)] = [np.asarray(group[n])
                                                       for n in weight_names]
    return named


def rename_by_position(named: NamedWeights, model) -> NamedWeights:
    """Match a legacy file's layers to the model's by position, as Keras' legacy
    loader does; used only when none of the file's layer names is the model's.

    Raises:
        ValueError: when the numbers of layers with weights differ.
    """
    layers = [layer.name for layer in model.layers if layer.weights]
    if len(layers) != len(named):
        raise ValueError(
            f"none of the file's layer names is a layer of model {model.name!r}, and "
            f"matching by position fails: the file has {len(named)} layers with weights, "
            f"the model {len(layers)}.")
    return dict(zip(layers, named.values()))
