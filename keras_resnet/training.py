"""Training recipes as data, and the `train`, `evaluate` and `predict` functions.

A run directory (`out`) holds, when training ends:

    run.json              the settings, class names and input normalisation
    log.csv               one row per epoch (loss, accuracy, val_*, learning_rate, seconds)
    logs/                 TensorBoard event files
    checkpoints/          epoch-NNNN.keras, the last complete epoch (model + optimizer)
    model.keras           the trained model
    metrics.json          held-out loss, accuracy, top5_accuracy, epochs, seconds, ...
    training_curves.png   loss and accuracy per epoch
    confusion_matrix.png  held-out confusion matrix

Every file is written to a temporary name in the same directory and renamed,
so a run killed at any moment leaves only complete files; `resume=True`
continues from the last complete checkpoint.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import json
import math
import os
import re
import shutil
import tempfile
import time
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from keras_resnet.atomic import atomic_path, write_text

PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
STRATEGIES = ("auto", "one_device", "mirrored", "multi_worker")
CHECKPOINT_RE = re.compile(r"^epoch-(\d{4,})\.keras$")


@dataclasses.dataclass(frozen=True)
class Recipe:
    """A training recipe: optimizer, learning-rate schedule and regularisation.

    Attributes:
        name: Registry key, e.g. "paper-cifar".
        description: One line for `--help`.
        optimizer: "sgd" or "adam".
        learning_rate: Peak learning rate at `batch_size`; another batch size
            scales it linearly (Goyal et al. 2017).
        batch_size: Default global batch size.
        epochs: Default number of epochs.
        momentum: SGD momentum.
        weight_decay: L2 penalty on conv and dense kernels, with the gradient
            `weight_decay * w` of Caffe's and torch's `weight_decay`.
        schedule: "step" (multiply by `decay_factor` at each milestone),
            "cosine" (to zero at the end) or "constant".
        milestones: Fractions of training at which a "step" schedule decays.
        decay_factor: Multiplier at each milestone.
        label_smoothing: Of the cross-entropy loss.
        augment: Pad-crop-flip augmentation of the training images.
    """

    name: str
    description: str
    optimizer: str
    learning_rate: float
    batch_size: int
    epochs: int
    momentum: float = 0.9
    weight_decay: float = 0.0
    schedule: str = "step"
    milestones: Tuple[float, ...] = (0.5, 0.75)
    decay_factor: float = 0.1
    label_smoothing: float = 0.0
    augment: bool = True


RECIPES: Dict[str, Recipe] = {r.name: r for r in (
    # He et al. 2015, section 4.2: 0.1 / 0.01 / 0.001 at 32k / 48k of 64k iterations,
    # i.e. 50% and 75% of training; 164 epochs of 50k images at batch 128 = 64k iterations.
    Recipe("paper-cifar", "the paper's CIFAR schedule: SGD 0.9, wd 1e-4, lr 0.1 /10 at 50% and "
           "75%, batch 128", optimizer="sgd", learning_rate=0.1, batch_size=128, epochs=164,
           momentum=0.9, weight_decay=1e-4, schedule="step"),
    # Seed 001's fine-tuning settings (SGD lr 0.001, momentum 0.9, batch 64, 10 epochs:
    # 83.99% on CIFAR-10 from ImageNet weights), with a cosine decay to zero.
    Recipe("finetune", "for pretrained --weights: SGD 0.9, lr 0.001 cosine, batch 64, no wd",
           optimizer="sgd", learning_rate=0.001, batch_size=64, epochs=10, momentum=0.9,
           weight_decay=0.0, schedule="cosine"),
    Recipe("adam", "a quick baseline: Adam lr 1e-3 cosine, batch 128", optimizer="adam",
           learning_rate=1e-3, batch_size=128, epochs=30, weight_decay=0.0, schedule="cosine"),
)}


def get_recipe(name: str) -> Recipe:
    """A recipe by name; ValueError listing the known ones otherwise."""
    if name not in RECIPES:
        raise ValueError(f"`recipe` must be one of {', '.join(RECIPES)}. Received: {name!r}")
    return RECIPES[name]


@dataclasses.dataclass
class TrainResult:
    """What `train` returns: the trained model, its held-out metrics and the run directory."""

    model: object
    metrics: Dict[str, object]
    out: str


# ----------------------------------------------------------------------------- files

def _write_json(path: str, obj) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def _save_model(model, path: str) -> None:
    with atomic_path(path) as tmp:
        model.save(tmp)


def _save_figure(fig, path: str) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)


def latest_checkpoint(out: str) -> Tuple[int, Optional[str]]:
    """(epochs completed, path) of the newest complete checkpoint in `out`, or (0, None).

    Only fully renamed `epoch-NNNN.keras` files count; temporary files left
    by a killed run are ignored.
    """
    directory = os.path.join(out, "checkpoints")
    best = (0, None)
    if os.path.isdir(directory):
        for name in os.listdir(directory):
            m = CHECKPOINT_RE.match(name)
            if m and int(m.group(1)) > best[0]:
                best = (int(m.group(1)), os.path.join(directory, name))
    return best


def _read_json(path: str, what: str) -> dict:
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        raise ValueError(f"{what} not found: {path!r}") from None
    except (OSError, json.JSONDecodeError) as e:
        raise ValueError(f"cannot read {what} {path!r}: {e}") from None


# ----------------------------------------------------------------------------- callbacks

def _callback_classes():
    """The two callbacks `train` puts around CSVLogger and TensorBoard."""
    import keras

    class EpochStats(keras.callbacks.Callback):
        """Adds the epoch's wall time and learning rate to the logs (for log.csv).

        Under several workers it also averages BatchNormalization's moving
        statistics over them first (see `average_over_workers`).
        """

        def __init__(self, strategy=None):
            super().__init__()
            self.strategy = strategy
            self._start = 0.0

        def on_epoch_begin(self, epoch, logs=None):
            self._start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            if self.strategy is not None:
                average_over_workers(self.model.non_trainable_variables, self.strategy)
            if logs is not None:
                logs["seconds"] = round(time.perf_counter() - self._start, 3)
                logs["learning_rate"] = float(_current_lr(self.model.optimizer))

    class EpochCheckpoint(keras.callbacks.Callback):
        """Saves model + optimizer after every epoch as `epoch-NNNN.keras`.

        Runs after CSVLogger, so a checkpoint never exists without its log
        row. The file is written under a temporary name, synced and renamed;
        the previous checkpoint is removed only after that.
        """

        def __init__(self, directory: str):
            super().__init__()
            self.directory = directory

        def on_epoch_end(self, epoch, logs=None):
            os.makedirs(self.directory, exist_ok=True)
            path = os.path.join(self.directory, f"epoch-{epoch + 1:04d}.keras")
            _save_model(self.model, path)
            for name in os.listdir(self.directory):
                m = CHECKPOINT_RE.match(name)
                if m and int(m.group(1)) < epoch + 1:
                    os.remove(os.path.join(self.directory, name))

    return EpochStats, EpochCheckpoint


def average_over_workers(variables, strategy) -> None:
    """Replace each variable by its mean over the workers (one all-reduce).

    Gradients are all-reduced every step, so trainable weights agree on every
    worker; BatchNormalization's moving statistics are updated from each
    worker's own batches. Averaging them at the end of every epoch makes all
    workers (and the chief's checkpoint) hold the same model.
    """
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


def _current_lr(optimizer) -> float:
    inner = getattr(optimizer, "inner_optimizer", optimizer)  # LossScaleOptimizer
    lr = inner.learning_rate
    return float(np.asarray(lr))


# ----------------------------------------------------------------------------- building

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


def _num_workers(strategy) -> int:
    return getattr(strategy.extended, "_num_workers", 1)


def _is_chief(strategy) -> bool:
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(resolver, "task_type", None):
        return True
    if resolver.task_type == "chief":
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return resolver.task_type == "worker" and resolver.task_id == 0 and not has_chief


def _apply_weight_decay(model, weight_decay: float) -> None:
    """Put an L2 penalty on every conv and dense kernel (not on BN or biases).

    Keras' L2(l) adds l * sum(w^2), whose gradient is 2 l w: l = wd / 2 gives
    the `weight_decay` of the paper's Caffe/torch SGD.
    """
    import keras

    if not weight_decay:
        return
    penalty = keras.regularizers.L2(weight_decay / 2)
    stack = list(model.layers)
    while stack:
        layer = stack.pop()
        stack.extend(getattr(layer, "layers", []))  # nested models
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)):
            layer.kernel.regularizer = penalty


def make_optimizer(recipe: Recipe, *, batch_size: int, total_steps: int):
    """The recipe's optimizer with its learning-rate schedule over `total_steps`."""
    import keras

    lr = recipe.learning_rate * batch_size / recipe.batch_size
    if recipe.schedule == "step":
        boundaries: List[int] = []
        for f in recipe.milestones:
            boundaries.append(max(int(f * total_steps), boundaries[-1] + 1 if boundaries else 1))
        values = [lr * recipe.decay_factor ** i for i in range(len(boundaries) + 1)]
        schedule = keras.optimizers.schedules.PiecewiseConstantDecay(boundaries, values)
    elif recipe.schedule == "cosine":
        schedule = keras.optimizers.schedules.CosineDecay(lr, decay_steps=max(total_steps, 1))
    else:
        schedule = lr
    if recipe.optimizer == "sgd":
        return keras.optimizers.SGD(learning_rate=schedule, momentum=recipe.momentum)
    return keras.optimizers.Adam(learning_rate=schedule)


def _compile(model, optimizer, recipe: Recipe, jit) -> None:
    import keras

    model.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(
            label_smoothing=recipe.label_smoothing) if recipe.label_smoothing else
        "sparse_categorical_crossentropy",
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy"),
                 keras.metrics.SparseTopKCategoricalAccuracy(
                     k=min(5, model.output_shape[-1]), name="top5_accuracy")],
        jit_compile="auto" if jit is None else bool(jit),
    )


def _build_model(name: str, image_size: Tuple[int, int], num_classes: int, weights):
    """The registry model for the data. `weights` from a model with other classes
    (e.g. ImageNet) load into everything but the classifier, which stays fresh
    (the weights loader's fine-tuning rule, with a warning)."""
    from keras_resnet.registry import get_model

    try:
        return get_model(name, input_shape=(*image_size, 3), num_classes=num_classes,
                         weights=weights)
    except ValueError as e:
        if weights is None:
            raise
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ValueError(f"cannot load `weights` {weights!r} into {name}: {first}") from None


@contextlib.contextmanager
def _dtype_policy(precision: str):
    import keras

    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(precision)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


# ----------------------------------------------------------------------------- settings

def _check_positive(name: str, value) -> None:
    if value is not None and (not isinstance(value, int) or isinstance(value, bool)
                              or value < 1):
        raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}")


def _resolve_settings(model, data, *, out, epochs, batch_size, weights, recipe, precision,
                      jit, strategy, resume, image_size, steps_per_epoch, seed) -> dict:
    """Check every argument and return the run's settings (before touching `out`)."""
    from keras_resnet.data import parse_source
    from keras_resnet.registry import model_info
    from keras_resnet.specs import ARCHS

    if not out:
        raise ValueError("`out` must name the run directory")
    for key, value in (("epochs", epochs), ("batch_size", batch_size),
                       ("image_size", image_size), ("steps_per_epoch", steps_per_epoch)):
        _check_positive(key, value)
    if precision is not None and precision not in PRECISIONS:
        raise ValueError(f"`precision` must be one of {', '.join(PRECISIONS)}. "
                         f"Received: {precision!r}")
    if strategy not in STRATEGIES:
        raise ValueError(f"`strategy` must be one of {', '.join(STRATEGIES)}. "
                         f"Received: {strategy!r}")
    given = dict(model=model, data=data, epochs=epochs, batch_size=batch_size, weights=weights,
                 recipe=recipe, precision=precision, image_size=image_size,
                 steps_per_epoch=steps_per_epoch)
    if resume:
        settings = _read_json(os.path.join(out, "run.json"), "run.json of the run to resume")
        for key, value in given.items():
            if value is not None and value != settings.get(key):
                raise ValueError(f"--resume continues {out!r} with its own settings: {key} "
                                 f"was {settings.get(key)!r}, not {value!r}")
        settings["jit"] = jit
        return settings
    if os.path.exists(out) and (not os.path.isdir(out) or os.listdir(out)):
        raise ValueError(f"`out` {out!r} already exists and is not empty; pass --resume to "
                         "continue that run or choose another directory")
    if model is None or data is None:
        raise ValueError("`model` and `data` are required (unless resuming)")
    info = model_info(model)
    parse_source(data)
    r = get_recipe(recipe or ("finetune" if weights is not None else "paper-cifar"))
    size = image_size or info.input_shape[0]
    smallest = ARCHS[info.arch].min_input_size
    if size < smallest:
        raise ValueError(f"`image_size` must be at least {smallest} for {info.name}. "
                         f"Received: image_size={size}")
    if weights is not None and weights != "imagenet" and not os.path.isfile(weights):
        raise ValueError(f"`weights` file does not exist: {weights!r}")
    return dict(model=info.name, data=data, epochs=epochs or r.epochs,
                batch_size=batch_size or r.batch_size, weights=weights, recipe=r.name,
                precision=precision or "float32", image_size=size,
                steps_per_epoch=steps_per_epoch, seed=seed, jit=jit)


def _log(verbose, *parts) -> None:
    if verbose:
        print("keras-resnet:", *parts, flush=True)


# ----------------------------------------------------------------------------- train

def train(model: Optional[str], data: Optional[str], *, out: str, epochs: Optional[int] = None,
          batch_size: Optional[int] = None, weights: Optional[str] = None,
          recipe: Optional[str] = None, precision: Optional[str] = None,
          jit: Optional[bool] = None, strategy: str = "auto", resume: bool = False,
          image_size: Optional[int] = None, steps_per_epoch: Optional[int] = None,
          seed: int = 0, verbose: int = 1) -> TrainResult:
    """Train a registered model on a data SOURCE and write the run directory `out`.

    Args:
        model: Registry name, e.g. "resnet20" (may be None with `resume`).
        data: SOURCE: "digits", "cifar10:DIR", "cifar100:DIR" or "folder:DIR".
        out: Run directory; must be new or empty unless `resume`.
        epochs, batch_size: Default to the recipe's. A batch size other than
            the recipe's scales its learning rate linearly. The batch is global
            (split over the replicas of the strategy).
        weights: Initial weights (a file); the classifier is replaced when its
            classes differ. Default recipe then "finetune", else "paper-cifar".
        recipe: A key of `RECIPES`.
        precision: "float32", "mixed_float16" or "mixed_bfloat16"; the
            classifier's softmax stays float32.
        jit: XLA compilation: True, False, or None for Keras' "auto" (on with a GPU).
        strategy: "auto", "one_device", "mirrored" or "multi_worker" (TF_CONFIG).
        resume: Continue `out` from its last complete checkpoint, with its settings.
        image_size: Square input size; default the model's (32 for the CIFAR nets).
        steps_per_epoch: Cap on the batches per epoch (default: one pass).
        seed: Seeds weights, shuffling and augmentation.
        verbose: 0 silent, 1 progress bars and messages.

    Returns:
        A `TrainResult` with the model and the metrics written to metrics.json.
    """
    settings = _resolve_settings(model, data, out=out, epochs=epochs, batch_size=batch_size,
                                 weights=weights, recipe=recipe, precision=precision, jit=jit,
                                 strategy=strategy, resume=resume, image_size=image_size,
                                 steps_per_epoch=steps_per_epoch, seed=seed)
    from keras_resnet.data import load_source
    dataset = load_source(settings["data"])  # numpy only: no TF op before the strategy
    if resume and dataset.class_names != settings.get("class_names"):
        raise ValueError(f"--resume: {settings['data']} now has other classes than the run")

    dist = make_strategy(strategy)
    import keras
    import tensorflow as tf

    from keras_resnet.data.pipeline import make_dataset

    chief = _is_chief(dist)
    devices = ", ".join(d.name for d in tf.config.list_logical_devices())
    _log(verbose, f"devices: {devices}; strategy {type(dist).__name__} with "
                  f"{dist.num_replicas_in_sync} replica(s); precision {settings['precision']}")
    keras.utils.set_random_seed(settings["seed"])
    r = get_recipe(settings["recipe"])
    size = (settings["image_size"],) * 2
    bs = settings["batch_size"]
    steps = settings["steps_per_epoch"] or math.ceil(len(dataset.train) / bs)
    n_epochs = settings["epochs"]

    start_epoch, ckpt = latest_checkpoint(out) if resume else (0, None)
    with _dtype_policy(settings["precision"]), dist.scope():
        if ckpt:
            _log(verbose, f"resuming {out} from {ckpt} (epoch {start_epoch} of {n_epochs} done)")
            net = keras.models.load_model(ckpt)
            optimizer = net.optimizer
        else:
            net = _build_model(settings["model"], size, dataset.num_classes, settings["weights"])
            optimizer = make_optimizer(r, batch_size=bs, total_steps=steps * n_epochs)
            if settings["precision"] == "mixed_float16":
                # Wrapped here rather than by compile(), so that the compile config in
                # each checkpoint names the LossScaleOptimizer and --resume restores it.
                optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        _apply_weight_decay(net, r.weight_decay)
        _compile(net, optimizer, r, settings["jit"])

    train_ds = make_dataset(dataset, "train", size, bs, training=True,
                            augment_images=r.augment, seed=settings["seed"])
    if settings["steps_per_epoch"]:
        train_ds = train_ds.repeat()
    val_ds = make_dataset(dataset, "test", size, bs, training=False)
    if dist.num_replicas_in_sync > 1:
        _build_for_distribution(net, dist, train_ds)

    # Workers other than the chief write their copies to a scratch directory.
    run_dir = out if chief else tempfile.mkdtemp(prefix="keras-resnet-worker-")
    try:
        if not resume:
            os.makedirs(run_dir, exist_ok=True)
            _write_json(os.path.join(run_dir, "run.json"), {
                **{k: v for k, v in settings.items() if k != "jit"},
                "class_names": dataset.class_names, "mean": list(dataset.mean),
                "std": list(dataset.std), "num_train": len(dataset.train),
                "num_test": len(dataset.test)})
        log_csv = os.path.join(run_dir, "log.csv")
        _truncate_log(log_csv, start_epoch)
        stats, checkpoint = _callback_classes()
        callbacks = [  # in this order: see EpochCheckpoint
            stats(strategy=dist if _num_workers(dist) > 1 else None),
            keras.callbacks.CSVLogger(log_csv, append=True),
            keras.callbacks.TensorBoard(os.path.join(run_dir, "logs")),
            checkpoint(os.path.join(run_dir, "checkpoints")),
        ]
        if start_epoch < n_epochs:
            try:
                net.fit(train_ds, validation_data=val_ds, epochs=n_epochs,
                        initial_epoch=start_epoch, steps_per_epoch=steps,
                        callbacks=callbacks, verbose=verbose, shuffle=False)
            except tf.errors.InvalidArgumentError as e:
                raise ValueError(f"input pipeline failed: {e.message.splitlines()[0]}") from None
        results = evaluate_model(net, dataset, size, batch_size=bs)
        metrics = {
            "loss": results["loss"], "accuracy": results["accuracy"],
            "top5_accuracy": results["top5_accuracy"], "num_test": results["num_examples"],
            "epochs": n_epochs, "seconds": round(_logged_seconds(log_csv), 1),
            "model": settings["model"], "data": settings["data"], "recipe": settings["recipe"],
            "batch_size": bs, "precision": settings["precision"],
            "replicas": dist.num_replicas_in_sync,
        }
        _save_model(net, os.path.join(run_dir, "model.keras"))
        plot_training_curves(log_csv, os.path.join(run_dir, "training_curves.png"))
        plot_confusion_matrix(results["confusion"], dataset.class_names,
                              os.path.join(run_dir, "confusion_matrix.png"))
        _write_json(os.path.join(run_dir, "metrics.json"), metrics)
    finally:
        if not chief:
            shutil.rmtree(run_dir, ignore_errors=True)
    _log(verbose, f"held-out accuracy {metrics['accuracy']:.4f}, top-5 "
                  f"{metrics['top5_accuracy']:.4f}, loss {metrics['loss']:.4f} "
                  f"({metrics['num_test']} images); wrote {out}")
    return TrainResult(net, metrics, out)


def _build_for_distribution(model, strategy, dataset) -> None:
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


def _truncate_log(path: str, epochs_done: int) -> None:
    """Drop log.csv rows of epochs after the checkpoint we resume from."""
    if not os.path.exists(path):
        return
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        return
    keep = [rows[0]] + [row for row in rows[1:] if row and int(row[0]) < epochs_done]
    if len(keep) != len(rows):
        text = io.StringIO()
        csv.writer(text, lineterminator="\n").writerows(keep)
        write_text(path, text.getvalue())


def _read_log(path: str) -> List[Dict[str, float]]:
    if not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        return [{k: float(v) for k, v in row.items() if v not in (None, "")}
                for row in csv.DictReader(f)]


def _logged_seconds(path: str) -> float:
    return sum(row.get("seconds", 0.0) for row in _read_log(path))


# ----------------------------------------------------------------------------- evaluate

def evaluate_model(model, dataset, image_size: Tuple[int, int], *,
                   batch_size: int = 128) -> Dict[str, object]:
    """Loss, top-1 and top-5 accuracy and the confusion matrix on `dataset.test`."""
    from keras_resnet.data.pipeline import make_dataset

    ds = make_dataset(dataset, "test", image_size, batch_size, training=False)
    probs = np.asarray(model.predict(ds, verbose=0), dtype=np.float64)
    labels = dataset.test.labels
    n = probs.shape[-1]
    if n != dataset.num_classes:
        raise ValueError(f"the model predicts {n} classes but the data has "
                         f"{dataset.num_classes}")
    picked = np.clip(probs[np.arange(len(labels)), labels], 1e-12, 1.0)
    k = min(5, n)
    topk = np.argsort(-probs, axis=1)[:, :k]
    confusion = np.zeros((n, n), dtype=np.int64)
    np.add.at(confusion, (labels, probs.argmax(axis=1)), 1)
    return {"loss": float(-np.log(picked).mean()),
            "accuracy": float((probs.argmax(axis=1) == labels).mean()),
            "top5_accuracy": float((topk == labels[:, None]).any(axis=1).mean()),
            "num_examples": int(len(labels)), "confusion": confusion.tolist()}


def _load_run(model_file: str):
    """The saved model and the run.json beside it (classes, input normalisation)."""
    import keras

    if not os.path.isfile(model_file):
        raise ValueError(f"`model_file` does not exist: {model_file!r}")
    run = _read_json(os.path.join(os.path.dirname(os.path.abspath(model_file)), "run.json"),
                     "run.json beside the model file (written by `keras-resnet train`)")
    for key in ("class_names", "mean", "std", "image_size"):
        if key not in run:
            raise ValueError(f"run.json beside {model_file!r} has no {key!r}")
    try:
        model = keras.models.load_model(model_file, compile=False)
    except Exception as e:  # Keras raises many kinds for a file that is not a model
        raise ValueError(f"cannot load {model_file!r} as a Keras model: "
                         f"{str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
    return model, run


def evaluate(model_file: str, data: str, *, batch_size: int = 128,
             confusion_png: Optional[str] = None) -> Dict[str, object]:
    """Held-out loss, top-1 and top-5 accuracy of a trained model on a SOURCE.

    Writes the confusion matrix to `confusion_png` (default: beside the model,
    `confusion_matrix.png`). The class names and normalisation come from the
    run.json that `train` wrote beside the model.
    """
    _check_positive("batch_size", batch_size)
    from keras_resnet.data import load_source

    dataset = load_source(data)
    model, run = _load_run(model_file)
    if dataset.class_names != run["class_names"]:
        raise ValueError(f"{data} has classes {dataset.class_names[:10]} but the model was "
                         f"trained on {run['class_names'][:10]}")
    dataset.mean, dataset.std = run["mean"], run["std"]
    size = (run["image_size"],) * 2
    results = evaluate_model(model, dataset, size, batch_size=batch_size)
    png = confusion_png or os.path.join(os.path.dirname(os.path.abspath(model_file)),
                                        "confusion_matrix.png")
    plot_confusion_matrix(results["confusion"], dataset.class_names, png)
    results["confusion_png"] = png
    return results


# ----------------------------------------------------------------------------- predict

def predict(model_file: str, images: Sequence[str], *,
            top_k: int = 5) -> List[Tuple[str, List[Tuple[str, float]]]]:
    """Top-k (label, probability) for each image file, most probable first."""
    _check_positive("top_k", top_k)
    if not images:
        raise ValueError("`images` must list at least one image file")
    from keras_resnet.data.folder import check_image

    for path in images:
        if not os.path.isfile(path):
            raise ValueError(f"image file does not exist: {path!r}")
        check_image(path)
    model, run = _load_run(model_file)
    import tensorflow as tf

    from keras_resnet.data.pipeline import decode_file, preprocess

    size = (run["image_size"],) * 2
    batch = tf.stack([preprocess(decode_file(tf.constant(p)), size, run["mean"], run["std"])
                      for p in images])
    probs = np.asarray(model.predict(batch, verbose=0), dtype=np.float64)
    names = run["class_names"]
    k = min(top_k, len(names))
    out = []
    for path, p in zip(images, probs):
        order = np.argsort(-p)[:k]
        out.append((path, [(names[i], float(p[i])) for i in order]))
    return out


# ----------------------------------------------------------------------------- plots

def plot_training_curves(log_csv: str, path: str) -> None:
    """Loss and top-1 accuracy per epoch (train and held-out) from log.csv, as a PNG."""
    from matplotlib.figure import Figure

    rows = _read_log(log_csv)
    if not rows:
        return
    epochs = [row["epoch"] + 1 for row in rows]
    fig = Figure(figsize=(10, 4))
    for ax, key, title in ((fig.add_subplot(1, 2, 1), "loss", "loss"),
                           (fig.add_subplot(1, 2, 2), "accuracy", "top-1 accuracy")):
        for prefix, label in (("", "train"), ("val_", "held-out")):
            values = [row.get(prefix + key, float("nan")) for row in rows]
            ax.plot(epochs, values, marker="." if len(rows) < 40 else None, label=label)
        ax.set_xlabel("epoch")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    _save_figure(fig, path)


def plot_confusion_matrix(confusion, class_names: Sequence[str], path: str) -> None:
    """The confusion matrix (rows: true class, columns: predicted) as a PNG."""
    from matplotlib.figure import Figure

    matrix = np.asarray(confusion)
    n = len(class_names)
    side = min(max(4.0, 0.45 * n + 2), 30.0)
    fig = Figure(figsize=(side, side))
    ax = fig.add_subplot(1, 1, 1)
    ax.imshow(matrix, cmap="Blues")
    if n <= 30:
        ax.set_xticks(range(n), labels=class_names, rotation=90)
        ax.set_yticks(range(n), labels=class_names)
        threshold = matrix.max() / 2 if matrix.size else 0
        for i in range(n):
            for j in range(n):
                ax.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=8,
                        color="white" if matrix[i, j] > threshold else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"confusion matrix ({int(matrix.sum())} images)")
    fig.tight_layout()
    _save_figure(fig, path)
