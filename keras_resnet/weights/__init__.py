"""Loading weights into a built model: one loader, one reader per file format.

`load_weights` takes a resolved `Checkpoint` (`keras_resnet.pretrained.resolve`
says what a `weights=` value means: `"imagenet"`, a pretrained tag or
`"hf://ORG/REPO"`, both from the Hugging Face Hub cache (`hub`), or a path),
finds its file, reads it with the reader for its
format into `NamedWeights` (Keras layer name -> arrays in `layer.get_weights()`
order), then `assign` adapts the first convolution to the model's input
channels and checks every layer's shapes before setting any.

| format | reader |
|---|---|
| `.weights.h5` (Keras 3) | `keras_files.read_weights_h5` (by layer name) |
| `.keras` | `keras_files.read_keras_archive` (`safe_mode=True`) |
| `.h5` / `.hdf5` (legacy, keras.applications) | `legacy_h5.read_legacy_h5` (by layer name) |
| `.pth` / `.pt` / `.bin` (torchvision, timm) | `torch_layout.read_torch` (`weights_only=True`) |
| `.safetensors` (torchvision, timm key names) | `torch_layout.read_safetensors` (numpy) |
| `.safetensors` ("LAYER/INDEX" names, `save_pretrained`) | `keras_files.from_keras_state` |
"""

from __future__ import annotations

import os
from typing import Optional, Tuple

import keras
import numpy as np

from keras_resnet.pretrained import Checkpoint, resolve, with_config
from keras_resnet.registry import REGISTRY
from keras_resnet.specs import TORCH_VARIANTS
from keras_resnet.weights import hub, imagenet, keras_files, legacy_h5, torch_layout
from keras_resnet.weights.assign import CLASSIFIER, NamedWeights, adapt_input_conv, assign

__all__ = ["load_weights", "read_weights", "checkpoint_classes", "assign", "adapt_input_conv",
           "NamedWeights", "with_hub_config"]

TORCH_SUFFIXES = (".pth", ".pt", ".bin")
H5_SUFFIXES = (".h5", ".hdf5")
FORMATS = ".weights.h5, .keras, legacy .h5/.hdf5, .pth/.pt/.bin, .safetensors"


def read_weights(path: str) -> Tuple[NamedWeights, str]:
    """Read a weights file of any supported format.

    Returns:
        The per-layer arrays keyed by Keras layer name, and the file's layout:
        "keras" (names of this zoo and keras.applications), "legacy" (the same
        names, from a legacy .h5 file) or "torch" (torchvision/timm names, the
        "v1.5" convention).

    Raises:
        ValueError: for an unknown format or a file that cannot be read (a
            truncated or corrupt file), naming the file.
    """
    path = os.fspath(path)
    lower = path.lower()
    if lower.endswith(".keras"):
        return keras_files.read_keras_archive(path), "keras"
    if lower.endswith(TORCH_SUFFIXES + (".safetensors",)):
        reader = (torch_layout.read_safetensors if lower.endswith(".safetensors")
                  else torch_layout.read_torch)
        try:
            state = reader(path)
        except ValueError:
            raise
        except Exception as e:  # corrupt or truncated: safetensors/torch/pickle errors
            raise ValueError(f"Could not read weights file {path!r}: {e}") from e
        if keras_files.is_keras_state(state):  # save_pretrained's file of a non-timm model
            return keras_files.from_keras_state(state, path), "keras"
        return torch_layout.to_keras(state, path), "torch"
    if lower.endswith(H5_SUFFIXES):
        return _read_h5(path)
    raise ValueError(f"`weights` file {path!r} has an unknown format; supported: {FORMATS}.")


def _read_h5(path: str) -> Tuple[NamedWeights, str]:
    import h5py
    try:
        with h5py.File(path, "r") as f:
            if keras_files.is_keras3_h5(f):
                return keras_files.read_weights_h5(f, path), "keras"
            if legacy_h5.is_legacy_h5(f):
                return legacy_h5.read_legacy_h5(f, path), "legacy"
    except ValueError:
        raise
    except Exception as e:  # OSError for a truncated file, KeyError for a damaged one
        raise ValueError(f"Could not read weights file {path!r}: {e}") from e
    raise ValueError(f"{path!r} is an HDF5 file but neither a Keras .weights.h5 file nor a "
                     "legacy Keras .h5 file (no 'layers' group or 'layer_names' attribute).")


def with_hub_config(checkpoint: Checkpoint) -> Checkpoint:
    """A "hf://" checkpoint off the pretrained table with what its repo's config.json
    says (head size, class names, preprocessing, eval transform), when it has one.
    The architecture is checked when the weights load (`hub.check_config`)."""
    path = hub.fetch(checkpoint.repo, "config.json", optional=True)
    if path is None:
        return checkpoint
    return with_config(checkpoint, hub.read_config(path),
                       f"config.json of the Hub repo {checkpoint.repo!r}")


def _imagenet_path(model: keras.Model, arch: str, variant: str) -> str:
    has_top = any(layer.name == CLASSIFIER for layer in model.layers)
    return imagenet.fetch(imagenet.imagenet_file(arch, variant, include_top=has_top))


def _classes(model: keras.Model) -> Optional[int]:
    layers = [layer for layer in model.layers if layer.name == CLASSIFIER]
    return int(layers[0].weights[0].shape[-1]) if layers and layers[0].weights else None


def _hub_path(model: keras.Model, source: Checkpoint, arch: str) -> str:
    """The cached file of a tag or "hf://" source; a repo's config.json is checked first."""
    if source.kind == "hub":
        config = hub.fetch(source.repo, "config.json", optional=True)
        if config is not None:
            hub.check_config(hub.read_config(config), repo=source.repo, arch=arch,
                             num_classes=_classes(model))
    return hub.fetch(source.repo, source.filename)


def load_weights(model: keras.Model, weights, *, arch: str, variant: str,
                 registry_name: Optional[str] = None) -> None:
    """Load `weights` into `model`: "imagenet", a pretrained tag, "hf://ORG/REPO" or a file.

    All or nothing: every layer's shapes are checked before any is set. The
    classifier may differ (other number of classes, or none in the file): it
    then keeps its fresh initialisation and a `UserWarning` says so; a file's
    classifier is skipped when the model has no top. RGB weights load into a
    model with other input channels by adapting the first convolution as timm's
    `adapt_input_conv` does (see `keras_resnet.weights.assign.adapt_input_conv`).

    Args:
        model: A model of this zoo (layer names as in keras.applications).
        weights: "imagenet" (keras.applications' files, fetched into the Keras
            cache), a tag of `registry_name`'s pretrained table ("a1_in1k"),
            "hf://ORG/REPO" (that repo's model.safetensors; both through the
            Hugging Face Hub cache, see `keras_resnet.weights.hub`), a path (see
            the module docstring for the formats), or a resolved `Checkpoint`.
        arch: Registry architecture name ("resnet50", ...), for "imagenet".
        variant: The model's convention; torchvision/timm files need "v1.5".
        registry_name: Registered model whose tags `weights` may name; default
            the model named `arch`.
    """
    if not isinstance(weights, Checkpoint):
        weights = resolve(weights, registry_name or (arch if arch in REGISTRY else None))
    source = weights
    if not source.has_file:
        return
    if source.kind == "imagenet":
        path = _imagenet_path(model, arch, variant)
    elif source.kind in ("tag", "hub"):
        path = _hub_path(model, source, arch)
    else:
        path = source.path
    try:
        named, layout = read_weights(path)
    except ValueError as e:
        if source.kind in ("tag", "hub"):  # a truncated download in the cache
            raise ValueError(f"{e} (the Hub cache's copy of {source.repo}/{source.filename}: "
                             "delete it and load again, or run "
                             f"`hf download --force-download {source.repo} "
                             f"{source.filename}`)") from None
        raise
    if layout == "torch" and variant not in TORCH_VARIANTS:
        raise ValueError(
            f"{path!r} is a torchvision/timm checkpoint, which follows the 'v1.5' convention "
            f"(stride on the 3x3 conv, no conv bias), or 'v2.timm' for timm's resnetv2 "
            f"models; build the model with variant='v1.5' (received variant={variant!r}).")
    if layout == "legacy" and not set(named) & {layer.name for layer in model.layers}:
        try:  # a legacy file with other layer names: Keras' own rule, by position
            named = legacy_h5.rename_by_position(named, model)
        except ValueError as e:
            raise ValueError(f"{path}: {e}") from None
    assign(model, named, source=path)


def checkpoint_classes(checkpoint: Checkpoint) -> Optional[int]:
    """The width of the classifier that a checkpoint's file holds (None: it has none),
    read before any model is built: its pretrained row's, a Hub repo's config.json
    `num_classes` where it says, else the file's `predictions` kernel."""
    if checkpoint.row is not None:
        return checkpoint.row.num_classes
    if not checkpoint.has_file:
        return None
    if checkpoint.kind == "hub":
        config = hub.fetch(checkpoint.repo, "config.json", optional=True)
        if config is not None:
            classes = hub.read_config(config).get("num_classes")
            if isinstance(classes, int) and not isinstance(classes, bool) and classes > 0:
                return classes
        path = hub.fetch(checkpoint.repo, checkpoint.filename)
    elif checkpoint.kind == "imagenet":
        return 1000
    else:
        path = checkpoint.path
    named, _ = read_weights(path)
    head = named.get(CLASSIFIER)
    return int(np.shape(head[0])[-1]) if head else None
