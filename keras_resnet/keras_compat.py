"""The one place that touches Keras internals; written for Keras 3.15 (`keras==3.15.*`).

Keras 3 has no public API for what these helpers need, so they use names
under `keras.src` and underscore attributes, which may change in any release.
Everything else in keras_resnet goes through the functions here, so a new
Keras series means reviewing this module only (and raising KERAS_VERSION).

    Functional, is_functional   `keras.src.models.functional.Functional`: the
                                class of graph models. `keras.Model(inputs,
                                outputs)` returns one, but only `keras.Model`
                                (the base of subclassed models too) is public.
    model_nodes                 `Functional._nodes_by_depth`: every call of a
                                layer in the graph, with its input tensors
                                (fold_batchnorm finds each BN's convolution).
    inbound_nodes               `Layer._inbound_nodes`: the calls of one layer
                                (plotting draws the graph's edges).
    producing_layer             `KerasTensor._keras_history.operation`: the layer
                                whose output a symbolic tensor is.
    build_from_batch,           `Trainer._symbolic_build` and
    skip_build_in_fit           `_maybe_symbolic_build`: build metrics, loss and
                                optimizer from one local batch before `fit` under
                                a distribution strategy (see training.distribute).
    patch_multi_worker_reduce   `keras.src.backend.tensorflow.trainer.
                                reduce_per_replica` and `keras.src.tree`: average
                                scalar logs over workers (tensorflow#72388).
    fit_keeps_live_weights      `optimizer.finalize_variable_values`, shadowed on
                                the instance: a `fit` that ends without copying
                                the moving average of the weights (EMA) into the
                                model, for a run made of several `fit` calls.
    plain_grouped_convolutions  `keras.src.backend.tensorflow.nn.conv`: trace a
                                grouped convolution (ResNeXt) as one Conv2D op
                                instead of an XLA-compiled function, which
                                tf2onnx cannot convert (for export only).
    serialize_as_stock          `keras.src.api_export`'s symbol -> public name
                                table: the fast training layers (keras_resnet.
                                layers) save as `keras.layers.BatchNormalization`
                                and `keras.layers.Conv2D`, so plain Keras loads
                                the files.
    deserializing_as            the same table, name -> symbol: inside the block
                                a saved stock layer loads as a fast subclass
                                (`train --resume`).

Importing this module runs `check_keras_version`, so another Keras series
fails at import with one clear line instead of deep inside a Keras call.
"""

from __future__ import annotations

import contextlib
import re
from typing import Dict, Iterator, Optional

import keras

KERAS_VERSION = "3.15"  # the pinned series (setup.cfg: keras==3.15.*)


def check_keras_version(version: Optional[str] = None) -> None:
    """ImportError unless `version` (default: the installed `keras.__version__`)
    is of the supported series KERAS_VERSION, e.g. "3.15.1"."""
    version = keras.__version__ if version is None else version
    if not re.match(re.escape(KERAS_VERSION) + r"(\.|$)", version):
        raise ImportError(
            f"keras_resnet needs Keras {KERAS_VERSION}.x (it uses Keras internals, see "
            f"keras_resnet/keras_compat.py) but Keras {version} is installed; run "
            f"`pip install 'keras=={KERAS_VERSION}.*'`")


check_keras_version()

from keras.src.models.functional import Functional  # noqa: E402  (after the version check)


def is_functional(model) -> bool:
    """Whether `model` is a functional (graph) model, e.g. from `keras.Model(inputs, outputs)`."""
    return isinstance(model, Functional)


def model_nodes(model) -> list:
    """Every node (one call of a layer) of a functional model's graph, by depth."""
    return [node for nodes in model._nodes_by_depth.values() for node in nodes]


def inbound_nodes(layer) -> list:
    """The nodes (calls) of `layer`, each with its `input_tensors`."""
    return layer._inbound_nodes


def producing_layer(tensor):
    """The layer (operation) whose output the symbolic tensor `tensor` is."""
    return tensor._keras_history.operation


def build_from_batch(model, batch) -> None:
    """Build a compiled model's metrics, loss and optimizer variables from `batch`
    (x, y), as `fit` does on its first step. Call it in the strategy's scope."""
    model._symbolic_build(data_batch=batch)


def skip_build_in_fit(model) -> None:
    """Make `fit` skip its own symbolic build (after `build_from_batch`)."""
    model._maybe_symbolic_build = lambda iterator=None, data_batch=None: None


def patch_multi_worker_reduce() -> None:
    """Let Keras 3.15 average scalar logs over workers (tensorflow#72388).

    Its `reduce_per_replica` calls `strategy.reduce("MEAN", v, axis=0)` under
    MultiWorkerMirroredStrategy, which fails for the scalar loss and metrics
    ("Invalid reduction dimension 0 for input with 0 dimensions"). Scalars
    are averaged with `axis=None` instead; everything else is unchanged.
    Patching twice is a no-op.
    """
    import tensorflow as tf
    from keras.src import tree
    from keras.src.backend.tensorflow import trainer as tf_trainer

    original = tf_trainer.reduce_per_replica
    if getattr(original, "keras_resnet_patch", False):
        return

    def reduce_per_replica(values, strategy, reduction):
        if reduction in ("auto", "mean") and \
                tf_trainer._collective_all_reduce_multi_worker(strategy):
            def mean(v):
                local = strategy.experimental_local_results(v)[0] \
                    if isinstance(v, tf.distribute.DistributedValues) else v
                return strategy.reduce("MEAN", v, axis=0 if local.shape.rank else None)
            return tree.map_structure(mean, values)
        return original(values, strategy, reduction)

    reduce_per_replica.keras_resnet_patch = True
    tf_trainer.reduce_per_replica = reduce_per_replica


@contextlib.contextmanager
def fit_keeps_live_weights(optimizer) -> Iterator[None]:
    """Inside the block, `fit` ends with the model's own (live) weights, not the
    moving average of them that an optimizer with `use_ema` keeps.

    Keras' `fit` ends by calling `optimizer.finalize_variable_values(weights)`,
    which overwrites the model's weights with their average: right for the end of
    training, wrong when another `fit` continues the run (`train` resumes a
    partial epoch with one `fit` and the epochs after it with another), since
    training would go on from the average. Keras has no option for it, so the
    method is shadowed on `optimizer` (the instance `fit` calls: the model's
    optimizer, a LossScaleOptimizer included) for the block and restored after.
    """
    optimizer.finalize_variable_values = lambda var_list: None
    try:
        yield
    finally:
        del optimizer.finalize_variable_values


@contextlib.contextmanager
def plain_grouped_convolutions() -> Iterator[None]:
    """Inside the block, the TensorFlow backend traces a grouped convolution as a plain
    `tf.nn.convolution` (one Conv2D op whose kernel has fewer input channels than its
    input), not as the `tf.function(jit_compile=True)` Keras wraps it in because
    TensorFlow's CPU kernel lacks groups. tf2onnx and the TFLite converter read that
    op as a grouped convolution; a function call they cannot convert. For tracing an
    export only: running such a graph with TensorFlow on CPU fails."""
    import tensorflow as tf
    from keras.src.backend.tensorflow import nn

    keras_conv = nn.conv

    def conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
        tf_format = nn._convert_data_format(data_format, len(inputs.shape))
        return tf.nn.convolution(inputs, kernel, strides, padding.upper(),
                                 data_format=tf_format, dilations=dilation_rate)

    nn.conv = conv
    try:
        yield
    finally:
        nn.conv = keras_conv


def serialize_as_stock(cls: type, stock: type) -> None:
    """Make Keras save instances of `cls`, a subclass of the public Keras class `stock`
    that computes the same thing, exactly as instances of `stock`.

    `serialize_keras_object` names a class by its entry in `api_export`'s symbol ->
    name table (`keras.layers.BatchNormalization`: module "keras.layers",
    registered_name None) when it has one, else by its registration
    (`keras_resnet>...`), which Keras without keras_resnet cannot load. Giving
    `cls` the stock entry makes its config and `.keras` files stock ones: they load
    anywhere, as `stock`. The reverse table (name -> symbol) is not touched, so
    loading still gives `stock`. `cls` also takes `stock`'s class name: a `.keras`
    file keys each layer's weights by it (`layers/batch_normalization_3`), so the
    weights of a `FusedBatchNormalization` would otherwise sit where a loader of
    the stock config does not look. `cls.get_config()` must be `stock`'s.
    """
    from keras.src import api_export

    name = api_export.get_name_from_symbol(stock)
    if name is None or not issubclass(cls, stock):
        raise ValueError(f"`cls` must subclass a public Keras class. Received: cls={cls!r}, "
                         f"stock={stock!r}")
    cls.__name__, cls.__qualname__ = stock.__name__, stock.__qualname__
    api_export.REGISTERED_OBJS_TO_NAMES[cls] = name


@contextlib.contextmanager
def deserializing_as(replacements: Dict[type, type]) -> Iterator[None]:
    """Inside the block, Keras deserializes each public class `stock` of
    `replacements` ({stock: subclass}) as its subclass: `keras.saving.load_model`
    then builds the model with the subclasses directly, so a compiled model's
    optimizer state (tied to the model's variables) loads with it, which a copy
    made after loading would lose. Outside the block nothing changes."""
    from keras.src import api_export

    table = api_export.REGISTERED_NAMES_TO_OBJS
    names = {api_export.get_name_from_symbol(stock): fast
             for stock, fast in replacements.items()}
    saved = {name: table[name] for name in names}
    table.update(names)
    try:
        yield
    finally:
        table.update(saved)
