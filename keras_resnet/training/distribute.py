"""tf.distribute: the strategy for `--strategy`, TF_CONFIG, the chief, and the
workarounds that let Keras 3.15's `fit` run over several replicas and workers
(the parts that touch Keras internals are in `keras_resnet.keras_compat`)."""

from __future__ import annotations

import json
import os
from typing import Optional

STRATEGIES = ("auto", "one_device", "mirrored", "multi_worker")


def check_strategy_backend(strategy: str) -> None:
    """ValueError for a tf.distribute strategy on a backend other than TensorFlow."""
    import keras

    backend = keras.backend.backend()
    if strategy != "auto" and backend != "tensorflow":
        raise ValueError(f"`strategy` {strategy!r} is a tf.distribute strategy and needs "
                         f"KERAS_BACKEND=tensorflow; on {backend} only 'auto' (one device) "
                         "runs")


def make_strategy(name: str, *, worker_timeout: Optional[float] = None):
    """The tf.distribute strategy for `--strategy` (create it before any other TF op).

    "auto": MirroredStrategy over all GPUs when there are several, else the
    default strategy (one device, the GPU when there is one). "one_device": the
    first GPU or the CPU. "mirrored": MirroredStrategy over the local GPUs (the
    CPU when there are none). "multi_worker": MultiWorkerMirroredStrategy, with
    the cluster taken from the TF_CONFIG environment variable; a collective op
    (a step's all-reduce) waiting longer than `worker_timeout` seconds for a
    worker fails (`CommunicationOptions(timeout_seconds=...)`). On another Keras
    backend (JAX, PyTorch) "auto" is the default strategy, which changes nothing:
    tf.distribute places TensorFlow's variables only.
    """
    import keras
    import tensorflow as tf

    if name not in STRATEGIES:
        raise ValueError(f"`strategy` must be one of {', '.join(STRATEGIES)}. "
                         f"Received: {name!r}")
    if keras.backend.backend() != "tensorflow":
        check_strategy_backend(name)
        return tf.distribute.get_strategy()
    if name == "multi_worker":
        _check_tf_config()
        options = tf.distribute.experimental.CommunicationOptions(timeout_seconds=worker_timeout)
        return tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
    gpus = tf.config.list_physical_devices("GPU")
    if name == "mirrored" or (name == "auto" and len(gpus) > 1):
        return tf.distribute.MirroredStrategy()
    if name == "one_device":
        return tf.distribute.OneDeviceStrategy("/gpu:0" if gpus else "/cpu:0")
    return tf.distribute.get_strategy()


def _check_tf_config() -> dict:
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        raise ValueError("--strategy multi_worker needs the TF_CONFIG environment variable "
                         '(e.g. {"cluster": {"worker": ["host1:port", "host2:port"]}, '
                         '"task": {"type": "worker", "index": 0}})')
    try:
        config = json.loads(raw)
        workers = config["cluster"]["worker"]
        task = config["task"]
        assert isinstance(workers, list) and workers and task["type"] in ("worker", "chief")
        assert isinstance(task["index"], int)
    except (ValueError, KeyError, TypeError, AssertionError):
        raise ValueError("TF_CONFIG must be JSON with cluster.worker (a list of host:port) and "
                         "task.type/task.index") from None
    return config


def num_workers(strategy) -> int:
    """How many workers (hosts) `strategy` spans: 1 unless multi-worker."""
    return getattr(strategy.extended, "_num_workers", 1)


def worker_shard(strategy) -> tuple:
    """(number of workers, this worker's index): the share of a file list this
    worker reads ((1, 0) without a cluster)."""
    count = num_workers(strategy)
    resolver = getattr(strategy, "cluster_resolver", None)
    if count <= 1 or resolver is None:
        return 1, 0
    index = int(getattr(resolver, "task_id", 0) or 0)
    if "chief" in resolver.cluster_spec().as_dict():  # the chief is 0, worker i is i + 1
        index = 0 if resolver.task_type == "chief" else index + 1
    return count, index


def is_chief(strategy) -> bool:
    """Whether this process is the chief, the worker that writes the run directory
    (the "chief" task, else worker 0; True without a cluster)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(resolver, "task_type", None):
        return True
    if resolver.task_type == "chief":
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return resolver.task_type == "worker" and resolver.task_id == 0 and not has_chief


def average_over_workers(variables, strategy) -> None:
    """Replace each variable by its mean over the workers (one all-reduce).

    Gradients are all-reduced every step, so trainable weights agree on every
    worker; BatchNormalization's moving statistics are updated from each
    worker's own batches. Averaging them at the end of every epoch makes all
    workers (and the chief's checkpoint) hold the same model.
    """
    import numpy as np
    import tensorflow as tf

    variables = list(variables)
    if not variables:
        return
    flat = tf.concat([tf.reshape(tf.cast(v.value, tf.float32), [-1]) for v in variables], 0)
    flat = strategy.reduce("MEAN", flat, axis=None)
    offset = 0
    for v in variables:
        size = int(np.prod(v.shape))
        v.assign(tf.cast(tf.reshape(flat[offset:offset + size], v.shape), v.dtype))
        offset += size


def build_for_distribution(model, strategy, dataset) -> None:
    """Build metrics, loss and optimizer before `fit` when batches are split over replicas.

    Keras 3.15's `fit` first reduces a distributed batch with
    `strategy.reduce("MEAN", (x, y))` to get its shapes, which fails for a
    tuple under MultiWorkerMirroredStrategy ("Attempt to convert a value
    (PerReplica...)"). Only the shapes matter, so build from one local batch;
    the skipped step is then a no-op, as it is for a built model. Also
    patches Keras' reduction of scalar logs over workers
    (`keras_compat.patch_multi_worker_reduce`).
    """
    from keras_resnet import keras_compat

    batch = next(iter(dataset.take(1)))
    with strategy.scope():
        keras_compat.build_from_batch(model, batch)
    keras_compat.skip_build_in_fit(model)
    keras_compat.patch_multi_worker_reduce()
