"""Copies of a built model: BatchNormalization folding, low-precision copies, and copies with
Keras' own layers or keras_resnet's fast training layers in place of the other.

All work on any functional (or built Sequential) Keras model by re-running its
graph with `keras.models.clone_model`, so they know nothing about ResNet layer
names; the weights of every layer they keep are copied over unchanged.
"""

from __future__ import annotations

import collections
from typing import Dict, List, Tuple

import keras
import numpy as np

from keras_resnet.keras_compat import Functional, is_functional, model_nodes, producing_layer

# Convolutions whose kernel ends with the output-channel axis, so a per-channel
# scale after them is a scale of the kernel's last axis.
_FOLDABLE_CONVS = (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D)


def _as_functional(model, argument: str = "model") -> Functional:
    if isinstance(model, keras.Sequential):
        if not model.built:
            raise ValueError(f"`{argument}` is a Sequential model that is not built yet; "
                             "build it (give it an Input) first.")
        (inputs,), (outputs,) = model.inputs, model.outputs  # a Sequential has one of each
        return keras.Model(inputs, outputs, name=model.name)
    if not is_functional(model):
        raise ValueError(f"`{argument}` must be a functional or Sequential keras.Model. "
                         f"Received: {argument}={model!r}")
    return model


def _plan_folds(model: Functional) -> Tuple[Dict[int, tuple], Dict[str, str]]:
    """Split the model's BatchNormalizations into foldable ones and the rest.

    Returns ({id(bn): (bn, conv)} for each BN that can be folded into `conv`,
    {bn name: why not} for the others).
    """
    nodes = model_nodes(model)
    consumers = collections.Counter(id(t) for node in nodes for t in node.input_tensors)
    consumers.update(id(t) for t in model.outputs)
    calls = collections.defaultdict(list)
    for node in nodes:
        calls[id(node.operation)].append(node)
    folds, kept = {}, {}
    for bn in model.layers:  # in model order, so messages list layers in that order
        if not isinstance(bn, keras.layers.BatchNormalization):
            continue
        if len(calls[id(bn)]) > 1:
            kept[bn.name] = "it is called more than once"
            continue
        source = calls[id(bn)][0].input_tensors[0]
        conv = producing_layer(source)
        rank = len(source.shape)
        if not isinstance(conv, _FOLDABLE_CONVS):
            kept[bn.name] = (f"its input comes from {conv.name!r} "
                             f"({conv.__class__.__name__}), not a convolution")
        elif len(calls[id(conv)]) > 1:
            kept[bn.name] = f"the convolution {conv.name!r} before it is shared"
        elif consumers[id(source)] > 1:
            kept[bn.name] = f"the output of {conv.name!r} is also used elsewhere"
        elif conv.activation is not keras.activations.linear:
            kept[bn.name] = f"{conv.name!r} applies an activation before it"
        elif bn.axis % rank != (1 if conv.data_format == "channels_first" else rank - 1):
            kept[bn.name] = f"it does not normalize the channel axis of {conv.name!r}"
        else:
            folds[id(bn)] = (bn, conv)
    return folds, kept


def _folded_weights(conv, bn) -> List[np.ndarray]:
    """The kernel and bias of `conv` followed by `bn` in inference mode, in float64."""
    kernel = np.asarray(conv.kernel, dtype="float64")
    bias = np.asarray(conv.bias, dtype="float64") if conv.use_bias else 0.0
    mean = np.asarray(bn.moving_mean, dtype="float64")
    var = np.asarray(bn.moving_variance, dtype="float64")
    gamma = np.asarray(bn.gamma, dtype="float64") if bn.scale else 1.0
    beta = np.asarray(bn.beta, dtype="float64") if bn.center else 0.0
    scale = gamma / np.sqrt(var + bn.epsilon)
    return [kernel * scale, (bias - mean) * scale + beta]


def _fold(model: Functional) -> Tuple[keras.Model, int, Dict[str, str]]:
    """Fold every foldable BN of `model` and of the functional models nested in it."""
    folds, kept = _plan_folds(model)
    fold_into = {id(conv): bn for bn, conv in folds.values()}
    folded_count = len(folds)
    clones = []  # (original, clone) pairs whose weights are copied afterwards

    def clone_function(layer):
        nonlocal folded_count
        if id(layer) in folds:
            return layer  # never called: call_function skips it
        if is_functional(layer) or isinstance(layer, keras.Sequential):
            inner, count, inner_kept = _fold(_as_functional(layer))
            folded_count += count
            kept.update({f"{layer.name}/{name}": why for name, why in inner_kept.items()})
            return inner
        config = layer.get_config()
        if id(layer) in fold_into:
            config.update(use_bias=True, bias_initializer="zeros", bias_regularizer=None,
                          bias_constraint=None)
        clone = layer.__class__.from_config(config)
        clones.append((layer, clone))
        return clone

    def call_function(layer, *args, **kwargs):
        if id(layer) in folds:
            return args[0]
        return layer(*args, **kwargs)

    new_model = keras.models.clone_model(model, clone_function=clone_function,
                                         call_function=call_function)
    for layer, clone in clones:
        if id(layer) in fold_into:
            weights = _folded_weights(layer, fold_into[id(layer)])
            clone.set_weights([w.astype(v.dtype) for w, v in zip(weights, clone.weights)])
        else:
            clone.set_weights(layer.get_weights())
    return new_model, folded_count, kept


# Normalisations computed from each image's own statistics: no convolution can absorb them.
def _per_image_norms() -> tuple:
    from keras_resnet.layers import EvoNormS0
    return (keras.layers.GroupNormalization, keras.layers.LayerNormalization, EvoNormS0)


def _unfoldable_norms(model: Functional) -> Dict[str, str]:
    """{name: why} of the per-image normalisations of `model` and its nested models."""
    kept = {}
    for layer in model.layers:
        if is_functional(layer) or isinstance(layer, keras.Sequential):
            inner = _unfoldable_norms(_as_functional(layer))
            kept.update({f"{layer.name}/{name}": why for name, why in inner.items()})
        elif isinstance(layer, _per_image_norms()):
            kept[layer.name] = (f"{layer.__class__.__name__} normalises with each image's own "
                                "statistics, which no convolution can absorb")
    return kept


def _standardized_convs(model: Functional) -> int:
    from keras_resnet.layers import StdConv2D
    return sum(_standardized_convs(_as_functional(layer))
               if is_functional(layer) or isinstance(layer, keras.Sequential)
               else isinstance(layer, StdConv2D) for layer in model.layers)


def with_plain_convs(model: keras.Model) -> keras.Model:
    """Return a copy of `model` with each weight-standardised convolution (`StdConv2D`,
    BiT's) replaced by a plain `keras.layers.Conv2D` whose kernel is the standardised
    one, computed once in float64: the same outputs in inference and in training (for
    the kernel as it is now), without recomputing the standardisation on every call,
    and a layer Keras, ONNX and TFLite know. Every other layer, name and weight is kept.

    Args:
        model: A functional or built Sequential model (not modified).

    Returns:
        A new functional `keras.Model` (a copy even when there is nothing to convert).
    """
    from keras_resnet.layers import StdConv2D

    def config_of(layer):
        if isinstance(layer, StdConv2D):
            config = layer.get_config()
            config.pop("epsilon")
            return keras.layers.Conv2D, config
        return layer.__class__, layer.get_config()

    def weights_of(layer):
        weights = layer.get_weights()
        if isinstance(layer, StdConv2D):
            kernel = weights[0].astype("float64")
            mean = kernel.mean(axis=(0, 1, 2), keepdims=True)
            variance = kernel.var(axis=(0, 1, 2), keepdims=True)
            weights[0] = ((kernel - mean) / np.sqrt(variance + layer.epsilon)).astype(
                weights[0].dtype)
        return weights

    return _copy_layer_by_layer(_as_functional(model), config_of, weights_of)


def fold_batchnorm(model: keras.Model, *, allow_partial: bool = False) -> keras.Model:
    """Return an equivalent inference model with BatchNormalization folded into convolutions.

    Each BatchNormalization whose input is a Conv1D/2D/3D used only by it (no
    activation, not shared, channel axis normalized) is removed, and the
    convolution's kernel and bias absorb it (computed in float64):
    `kernel * s` and `(bias - moving_mean) * s + beta` with
    `s = gamma / sqrt(moving_variance + epsilon)`. The convolution gets a
    bias if it had none. Every other layer, name and weight is kept; the
    input model is not modified. The result matches the original in
    inference mode (`training=False`); training it updates no BN statistics.

    Pre-activation ("v2", "v2.timm") ResNets put some BatchNormalizations after
    an Add or a pooling layer, where there is no convolution to fold them into.
    Weight-standardised convolutions (BiT's `StdConv2D`) are first computed once
    into plain convolutions (`with_plain_convs`). GroupNormalization and
    EvoNorm (`norm="group"` / `"evonorm"` models: resnet50_gn, BiT, ...)
    normalise with each image's own statistics and never fold: they count as
    layers that cannot be folded, so these models need `allow_partial=True`
    (and a BiT model, with no BatchNormalization, then only gets its plain
    convolutions).

    Args:
        model: A functional or built Sequential model; functional models
            nested in it are folded too.
        allow_partial: Keep the normalisations that cannot be folded instead
            of raising (for "v2" ResNets, which keep their `*_preact_bn` and
            `post_bn` layers, and GroupNorm / EvoNorm models, which keep all).

    Returns:
        A new functional `keras.Model`.

    Raises:
        ValueError: If `model` is not functional/Sequential, has nothing to
            fold (no BatchNormalization after a convolution, no
            weight-standardised convolution), or (unless `allow_partial`)
            has a normalisation that cannot be folded; the message names each
            such layer and why.
    """
    if not isinstance(allow_partial, bool):
        raise ValueError(f"`allow_partial` must be True or False. "
                         f"Received: allow_partial={allow_partial!r}")
    functional = _as_functional(model)
    standardized = _standardized_convs(functional)
    if standardized:
        functional = with_plain_convs(functional)
    new_model, folded_count, kept = _fold(functional)
    kept.update(_unfoldable_norms(functional))
    if kept and not allow_partial:
        reasons = "; ".join(f"{name}: {why}" for name, why in list(kept.items())[:3])
        if len(kept) > 3:
            reasons += f"; and {len(kept) - 3} more"
        raise ValueError(
            f"Cannot fold {len(kept)} normalisation layer(s) of model "
            f"{model.name!r} into a preceding convolution ({reasons}). Pass "
            "`allow_partial=True` to fold the others and keep these.")
    if folded_count == 0 and not standardized:
        kept_note = (f" ({len(kept)} normalisation layer(s) cannot be folded, e.g. "
                     f"{next(iter(kept))}: {next(iter(kept.values()))})" if kept else "")
        raise ValueError(f"Model {model.name!r} has no BatchNormalization layer that "
                         "directly follows a convolution and no weight-standardised "
                         f"convolution; there is nothing to fold{kept_note}.")
    return new_model


HALF = ("bfloat16", "float16")  # policies whose variables are 16-bit too


def with_dtype_policy(model: keras.Model, policy: str = "mixed_bfloat16", *,
                      float32_outputs: bool = True) -> keras.Model:
    """Return a copy of `model` whose layers compute under the dtype policy `policy`.

    The same as building the model under `keras.config.set_dtype_policy(policy)`
    and copying the weights over, for any functional model (a folded one
    too). With `float32_outputs` the layers that produce the model's outputs
    stay float32, so probabilities are not rounded to bfloat16 (Keras'
    mixed-precision advice, and what the zoo's builders do). Input
    normalisation layers (`Rescaling`, `Normalization`, `ReverseChannels`:
    what `include_preprocessing=True` adds) compute in the policy's variable
    dtype, float32 under mixed precision, as the builders make them.

    For inference, "bfloat16" (or "float16") computes the same as "mixed_bfloat16" but
    stores the weights in 16 bits, cast once instead of at every call: ResNet50 BN-folded
    at batch 1 runs 60 img/s where "mixed_bfloat16" runs 37 and float32 29 (2 cores with
    AMX, 2026-12-06). BatchNormalization layers keep float32 statistics there (they get
    "mixed_bfloat16"), so unfolded models lose nothing to 16-bit moving variances.

    Args:
        model: A functional or built Sequential model (not modified).
        policy: A Keras dtype policy name, e.g. "mixed_bfloat16",
            "mixed_float16" or "float32".
        float32_outputs: Keep the output layers in float32.

    Returns:
        A new functional `keras.Model` with the same weights.
    """
    try:
        keras.dtype_policies.get(policy)
    except (ValueError, TypeError) as e:
        raise ValueError("`policy` must be a Keras dtype policy name such as "
                         f"'mixed_bfloat16'. Received: policy={policy!r}") from e
    model = _as_functional(model)
    output_layers = {id(producing_layer(t)) for t in model.outputs}
    variable_dtype = keras.dtype_policies.get(policy).variable_dtype
    from keras_resnet.layers import ReverseChannels
    normalizing = (keras.layers.Rescaling, keras.layers.Normalization, ReverseChannels)

    def config_of(layer):
        config = layer.get_config()
        if "dtype" in config:
            keep32 = float32_outputs and id(layer) in output_layers
            if isinstance(layer, normalizing):  # input normalisation: as the builders make it
                config["dtype"] = variable_dtype
            elif keep32:
                config["dtype"] = "float32"
            elif isinstance(layer, keras.layers.BatchNormalization) and policy in HALF:
                config["dtype"] = f"mixed_{policy}"  # float32 statistics, 16-bit compute
            else:
                config["dtype"] = policy
        return layer.__class__, config

    return _copy_layer_by_layer(model, config_of)


def with_stock_layers(model: keras.Model) -> keras.Model:
    """Return a copy of `model` with Keras' own BatchNormalization and Conv2D in place of
    keras_resnet's fast training layers, `FusedBatchNormalization` and
    `keras_resnet.layers.Conv2D` (same config and weights, same outputs).

    The fast layers already save as Keras' own (a `.keras` file of a zoo model
    loads without keras_resnet, and loads as Keras' layers); this is for code
    that checks layer classes, or to train or compare with Keras' own kernels.
    `with_fast_layers` is its inverse.

    Args:
        model: A functional or built Sequential model (not modified).
    """
    from keras_resnet.layers import FAST, SAVED
    stock = {fast: keras_layer for keras_layer, fast in FAST.items()}
    stock.update({saved: stock[today] for saved, today in SAVED.items()})

    def config_of(layer):
        return stock.get(type(layer), layer.__class__), layer.get_config()

    return _copy_layer_by_layer(_as_functional(model), config_of)


def with_fast_layers(model: keras.Model) -> keras.Model:
    """Return a copy of `model` with keras_resnet's fast training layers
    (`FusedBatchNormalization`, `keras_resnet.layers.Conv2D`) in place of Keras'
    own BatchNormalization and Conv2D (same config and weights, same outputs).

    A model loaded from a `.keras` file has Keras' layers (the fast ones save
    as those); train the copy to get the fast layers' `fit` speed back. A
    freshly built zoo model has them already. The copy is not compiled; to
    continue training with a saved optimizer state, load the file inside
    `keras_resnet.layers.loading_fast_layers()` instead. Subclasses of Keras'
    layers other than these are kept as they are. A model loaded from a file
    saved before the fast layers saved as Keras' own (it names
    `keras_resnet>FusedBatchNormalization`) gets today's layers: the copy saves
    as Keras' own.

    Args:
        model: A functional or built Sequential model (not modified).
    """
    from keras_resnet.layers import FAST, SAVED

    def config_of(layer):
        cls = SAVED.get(type(layer), type(layer))
        return FAST.get(cls, cls), layer.get_config()

    return _copy_layer_by_layer(_as_functional(model), config_of)


def _copy_layer_by_layer(model: Functional, config_of, weights_of=None) -> keras.Model:
    """Clone `model`, making each layer as `cls.from_config(config)` with
    `cls, config = config_of(layer)`, and copy every layer's weights over
    (`weights_of(layer)`, default its own)."""
    clones = []

    def clone_function(layer):
        cls, config = config_of(layer)
        clone = cls.from_config(config)
        clones.append((layer, clone))
        return clone

    # recursive: layers of nested functional models are made the same way.
    new_model = keras.models.clone_model(model, clone_function=clone_function, recursive=True)
    for layer, clone in clones:
        clone.set_weights(weights_of(layer) if weights_of else layer.get_weights())
    return new_model
