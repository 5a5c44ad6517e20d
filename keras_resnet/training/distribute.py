"""tf.distribute: the strategy for `--strategy`, TF_CONFIG, the chief, and the
workarounds that let Keras 3.15's `fit` run over several replicas and workers."""

from __future__ import annotations

import json
import os

STRATEGIES = ("auto", "one_device", "mirrored", "multi_worker")


def make_strategy(name: str):
    """The tf.distribute strategy for `--strategy` (create it before any other TF op).

    "auto": MirroredStrategy over all GPUs when there are several, else the
    default strategy (one device, the GPU when there is one). "one_device": the
    first GPU or the CPU. "mirrored": MirroredStrategy over the local GPUs (the
    CPU when there are none). "multi_worker": MultiWorkerMirroredStrategy, with
    the cluster taken from the TF_CONFIG environment variable.
    """
    import tensorflow as tf

    if name not in STRATEGIES:
        raise ValueError(f"`strategy` must be one of {', '.join(STRATEGIES)}. "
                         f"Received: {name!r}")
    if name == "multi_worker":
        _check_tf_config()
        return tf.distribute.MultiWorkerMirroredStrategy()
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


def build_for_distribution(model, strategy, dataset) -> None:
    """Build metrics, loss and optimizer before `fit` when batches are split over replicas.

    Keras 3.15's `fit` first reduces a distributed batch with
    `strategy.reduce("MEAN", (x, y))` to get its shapes, which fails for a
    tuple under MultiWorkerMirroredStrategy ("Attempt to convert a value
    (PerReplica...)"). Only the shapes matter, so build from one local batch;
    the skipped step is then a no-op, as it is for a built model.
    """
    batch = next(iter(dataset.take(1)))
    with strategy.scope():
        model._symbolic_build(data_batch=batch)
    model._maybe_symbolic_build = lambda iterator=None, data_batch=None: None
    _patch_multi_worker_reduce()


def _patch_multi_worker_reduce() -> None:
    """Let Keras 3.15 average scalar logs over workers (tensorflow#72388).

    Its `reduce_per_replica` calls `strategy.reduce("MEAN", v, axis=0)` under
    MultiWorkerMirroredStrategy, which fails for the scalar loss and metrics
    ("Invalid reduction dimension 0 for input with 0 dimensions"). Scalars
    are averaged with `axis=None` instead; everything else is unchanged.
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
