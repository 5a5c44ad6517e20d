"""The `train`, `evaluate` and `predict` functions.

A run directory (`out`) holds, when training ends:

    run.json              the settings, class names and input normalisation
    log.csv               one row per epoch (loss, accuracy, val_*, learning_rate, seconds)
    logs/                 TensorBoard event files
    checkpoints/          epoch-NNNN.keras, the last complete epoch (model + optimizer),
                          and epoch-NNNN-step-SSSSSS.keras, written mid-epoch (a
                          termination signal, `checkpoint_every`)
    model.keras           the trained model
    metrics.json          held-out loss, accuracy, top5_accuracy, epochs, seconds, ...
    training_curves.png   loss and accuracy per epoch
    confusion_matrix.png  held-out confusion matrix

Every file is written to a temporary name in the same directory and renamed,
so a run killed at any moment leaves only complete files; `resume=True`
continues from the furthest complete checkpoint.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import shutil
import tempfile
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from keras_resnet.training.distribute import (build_for_distribution, is_chief, make_strategy,
                                              num_workers, worker_shard)
from keras_resnet.training.files import (RunWriteError, read_json, resume_point,
                                         run_subdirectory, save_model, truncate_log,
                                         write_json, writing)
from keras_resnet.training.preemption import (DEFAULT_GRACE_SECONDS, DEFAULT_WORKER_TIMEOUT,
                                              lost_worker, termination_signals)
from keras_resnet.training.recipes import (apply_weight_decay, compile_model, make_optimizer,
                                           uses_ema)
from keras_resnet.training.reports import (logged_seconds, plot_confusion_matrix,
                                           plot_training_curves)
from keras_resnet.training.settings import (RunRecord, RunSettings, check_positive,
                                            read_run_record, resolve_settings, run_recipe)


class InputDataError(ValueError):
    """The data failed while a run or an evaluation read it: more unreadable image
    files than allowed, or the input pipeline stopped."""


@dataclasses.dataclass
class TrainResult:
    """What `train` returns: the trained model, its held-out metrics and the run directory."""

    model: object
    metrics: Dict[str, object]
    out: str


def build_model(name: str, image_size: Tuple[int, int], num_classes: int, weights, *,
                include_preprocessing: bool = False):
    """The registry model for the data. `weights` from a model with other classes
    (e.g. ImageNet) load into everything but the classifier, which stays fresh
    (the weights loader's fine-tuning rule, with a warning)."""
    from keras_resnet.builders import get_model

    try:
        return get_model(name, input_shape=(*image_size, 3), num_classes=num_classes,
                         weights=weights, include_preprocessing=include_preprocessing)
    except ValueError as e:
        if weights is None:
            raise
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ValueError(f"cannot load `weights` {weights!r} into {name}: {first}") from None


@contextlib.contextmanager
def dtype_policy_scope(precision: str):
    """Keras' global dtype policy set to `precision` inside the `with` block only."""
    import keras

    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(precision)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def _log(verbose, *parts) -> None:
    if verbose:
        print("keras-resnet:", *parts, flush=True)


def train(model: Optional[str], data: Optional[str], *, out: str, epochs: Optional[int] = None,
          batch_size: Optional[int] = None, weights: Optional[str] = None,
          recipe: Optional[str] = None, precision: Optional[str] = None,
          jit: Optional[bool] = None, strategy: str = "auto", resume: bool = False,
          image_size: Optional[int] = None, steps_per_epoch: Optional[int] = None,
          seed: int = 0, verbose: int = 1, auto_augment: Optional[str] = None,
          random_erasing: Optional[float] = None, mixup: Optional[float] = None,
          cutmix: Optional[float] = None, grace_seconds: float = DEFAULT_GRACE_SECONDS,
          checkpoint_every: Optional[int] = None,
          worker_timeout: float = DEFAULT_WORKER_TIMEOUT,
          precise_bn: Optional[bool] = None, remat=None) -> TrainResult:
    """Train a registered model on a data SOURCE and write the run directory `out`.

    Args:
        model: Registry name, e.g. "resnet20" (may be None with `resume`).
        data: SOURCE: "digits", "cifar10:DIR", "cifar100:DIR" or "folder:DIR".
        out: Run directory; must be new or empty unless `resume`.
        epochs, batch_size: Default to the recipe's; for a small training set the
            default batch is halved (down to 16) until an epoch has at least 10
            steps. A batch size other than the recipe's scales its learning rate
            linearly. The batch is global
            (split over the replicas of the strategy).
        weights: Initial weights: a file, "imagenet", a pretrained tag of
            `model` ("a1_in1k"), its full name ("resnet50.a1_in1k") or
            "hf://ORG/REPO"; the classifier is replaced when its classes differ.
            Pretrained weights bring their input normalisation and evaluation
            crop. Default recipe then "finetune", else "paper-cifar".
        recipe: A key of `RECIPES`.
        precision: "float32", "mixed_float16" or "mixed_bfloat16"; the
            classifier's softmax stays float32.
        jit: XLA compilation: True, False, or None for Keras' "auto" (on with a GPU).
        remat: Gradient checkpointing of the residual blocks ("block" or True) or
            stages ("stage"), as the builders' `remat`: less memory, more time,
            the same results. Stored in run.json; `resume` keeps the run's
            unless given. TensorFlow or JAX backend.
        strategy: "auto", "one_device", "mirrored" or "multi_worker" (TF_CONFIG).
        resume: Continue `out` from its furthest complete checkpoint (an epoch's
            or a mid-epoch one), with its settings.
        image_size: Square input size; default the model's (32 for the CIFAR nets).
        steps_per_epoch: Cap on the batches per epoch (default: one pass).
        seed: Seeds weights, shuffling and augmentation.
        verbose: 0 silent, 1 progress bars and messages.
        auto_augment, random_erasing, mixup, cutmix: Override the recipe's
            (None: the recipe's). auto_augment "randaugment", "trivialaugment"
            or "none", and random_erasing (a probability) are for image
            folders; mixup and cutmix (Beta alphas, 0: off) for any data,
            and make the labels one-hot.
        grace_seconds: After SIGTERM or SIGINT, the time allowed to reach a step
            boundary and checkpoint; the run then raises `Preempted`.
        checkpoint_every: Also checkpoint every N steps within an epoch.
        worker_timeout: Multi-worker: seconds a step waits for another worker
            before the run raises `WorkerLost`.
        precise_bn: Before each validation, re-estimate BatchNormalization's
            moving statistics on training batches (up to 100) with the current
            weights. None (default): on when an epoch has fewer than 100 steps
            (the span of the moving averages, momentum 0.99) and the run has one
            replica; off otherwise, with a warning when epochs are that short.

    Returns:
        A `TrainResult` with the model and the metrics written to metrics.json.

    Raises:
        ValueError: A bad argument, found before `out` is touched.
        InputDataError: (a ValueError) The data failed while training.
        RunWriteError: (an OSError) A file or directory of `out` could not be written.
        Preempted, WorkerLost: See `keras_resnet.training.preemption`.

    What a failed run leaves: a new run (not `resume`) that fails with
    `InputDataError` or `RunWriteError` before its first checkpoint exists
    leaves nothing behind: what it created in `out` is removed (`out` itself
    when it created it). Any other error (a ValueError from Keras or from a
    bug included), any failure of a resumed run, and any failure after the first
    checkpoint leave `out` as it is, for inspection and `resume`.
    """
    check_positive("checkpoint_every", checkpoint_every)
    for name, value in (("grace_seconds", grace_seconds), ("worker_timeout", worker_timeout)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise ValueError(f"`{name}` must be a positive number of seconds. "
                             f"Received: {name}={value!r}")
    settings = resolve_settings(model, data, out=out, epochs=epochs, batch_size=batch_size,
                                weights=weights, recipe=recipe, precision=precision, jit=jit,
                                strategy=strategy, resume=resume, image_size=image_size,
                                steps_per_epoch=steps_per_epoch, seed=seed,
                                auto_augment=auto_augment, random_erasing=random_erasing,
                                mixup=mixup, cutmix=cutmix, precise_bn=precise_bn,
                                remat=remat)
    dataset = _load_data(settings, out if resume else None)
    if batch_size is None and not resume and not settings.steps_per_epoch:
        settings = _small_data_batch(settings, len(dataset.train), verbose)
    in_model = use_checkpoint_normalization(dataset, settings.model, settings.weights)
    dist = make_strategy(strategy, worker_timeout=worker_timeout)
    chief = is_chief(dist)
    _start_session(dist, settings, verbose)
    steps = settings.steps_per_epoch or math.ceil(len(dataset.train) / settings.batch_size)
    net, start_epoch, start_step = _restore_or_build(
        settings, dataset.num_classes, dist, out=out, resume=resume, steps_per_epoch=steps,
        verbose=verbose, include_preprocessing=in_model)
    train_ds, val_ds, unreadable = _input_pipelines(settings, dataset, worker_shard(dist))
    if dist.num_replicas_in_sync > 1:
        build_for_distribution(net, dist, train_ds)

    def train_from(position: int):
        """The training stream from batch `position` on (counted from the run's start)."""
        return _input_pipelines(settings, dataset, worker_shard(dist), position, unreadable)[0]

    from keras_resnet.training.callbacks import make_callbacks  # imports Keras

    bn_batches = _precise_bn_batches(settings, steps, dist.num_replicas_in_sync, train_from)

    # Workers other than the chief write their copies to a scratch directory.
    run_dir = out if chief else tempfile.mkdtemp(prefix="keras-resnet-worker-")
    existing = set(os.listdir(run_dir)) if os.path.isdir(run_dir) else None
    try:
        with _write_errors_in(run_dir):
            if not resume:
                _write_run_json(run_dir, settings, dataset)
            truncate_log(os.path.join(run_dir, "log.csv"), start_epoch)
            with termination_signals(grace_seconds) as request:
                callbacks = make_callbacks(run_dir, dist, request, ema=uses_ema(net.optimizer),
                                           epochs=settings.epochs, steps_per_epoch=steps,
                                           checkpoint_every=checkpoint_every, shown_dir=out,
                                           precise_bn=bn_batches)
                _fit(net, train_from, val_ds, settings, start=(start_epoch, start_step),
                     steps_per_epoch=steps, callbacks=callbacks, verbose=verbose,
                     unreadable=unreadable, worker_timeout=worker_timeout)
            if uses_ema(net.optimizer):
                # What is evaluated and saved is the moving average. fit() swaps it in at
                # its end; this also covers a resumed run whose epochs were all done already.
                net.optimizer.finalize_variable_values(net.trainable_variables)
            metrics = _write_results(net, dataset, settings, run_dir,
                                     replicas=dist.num_replicas_in_sync, unreadable=unreadable)
    except (InputDataError, RunWriteError):
        if chief and not resume:
            _remove_failed_run(run_dir, existing)
        raise
    finally:
        if not chief:
            shutil.rmtree(run_dir, ignore_errors=True)
    _log(verbose, f"held-out accuracy {metrics['accuracy']:.4f}, top-5 "
                  f"{metrics['top5_accuracy']:.4f}, loss {metrics['loss']:.4f} "
                  f"({metrics['num_test']} images); wrote {out}")
    return TrainResult(net, metrics, out)


MIN_STEPS_PER_EPOCH = 10
SMALLEST_DEFAULT_BATCH = 16


def _small_data_batch(settings: RunSettings, examples: int, verbose) -> RunSettings:
    """The settings with the recipe's default batch halved (down to 16) until an epoch
    of `examples` training images has at least 10 steps: 192 images at the recipe's
    128 are 2 steps an epoch, 20 in a 10-epoch run, too few to train on. The learning
    rate follows the batch (linear scaling)."""
    batch = settings.batch_size
    while batch > SMALLEST_DEFAULT_BATCH and math.ceil(examples / batch) < MIN_STEPS_PER_EPOCH:
        batch //= 2
    if batch == settings.batch_size:
        return settings
    _log(verbose, f"{examples} training images: batch {batch} (not the recipe's "
                  f"{settings.batch_size}), {math.ceil(examples / batch)} steps an epoch; "
                  f"--batch-size sets it")
    return dataclasses.replace(settings, batch_size=batch)


def _precise_bn_batches(settings: RunSettings, steps: int, replicas: int, train_from):
    """The training batches a precise-BN pass reads before each validation: a function of
    the epoch returning the first min(steps, 100) batches of that epoch (`train_from`, the
    training stream from a batch position, the same in a resumed run), or None
    when the run has it off (`settings.precise_bn`, automatic: on for epochs shorter
    than the moving averages' span, on one replica). Warns when it is off for such
    short epochs."""
    import warnings

    from keras_resnet.training.callbacks import PRECISE_BN_STEPS, few_steps_warning

    short = steps < PRECISE_BN_STEPS
    on = settings.precise_bn if settings.precise_bn is not None else short and replicas == 1
    if on and replicas > 1:
        raise ValueError(f"`precise_bn` runs on one replica; this run has {replicas}: pass "
                         f"precise_bn=None or False (--no-precise-bn)")
    if not on:
        if short:
            warnings.warn(few_steps_warning(steps), UserWarning, stacklevel=3)
        return None
    count = min(steps, PRECISE_BN_STEPS)
    return lambda epoch: train_from(epoch * steps).take(count).as_numpy_iterator()


@contextlib.contextmanager
def _write_errors_in(run_dir: str):
    """An OSError inside the block naming a file in `run_dir` (Keras' CSVLogger
    opening log.csv) becomes a `RunWriteError`."""
    try:
        yield
    except RunWriteError:
        raise
    except OSError as e:
        inside = os.path.abspath(run_dir) + os.sep
        if isinstance(e.filename, str) and os.path.abspath(e.filename).startswith(inside):
            raise RunWriteError(e.filename, e) from e
        raise


def _remove_failed_run(run_dir: str, existing) -> None:
    """After a new run failed before its first checkpoint (see `train`): remove what it
    created in `run_dir`, i.e. every entry not in `existing` (the names there before
    it started), and `run_dir` itself when `existing` is None (it did not exist).
    A run with a checkpoint is kept. Best effort: a file that cannot be removed stays."""
    if not os.path.isdir(run_dir):
        return
    with contextlib.suppress(OSError):
        if resume_point(run_dir)[2] is not None:  # an epoch's or a mid-epoch checkpoint
            return
        if existing is None:
            shutil.rmtree(run_dir)
            return
        for name in set(os.listdir(run_dir)) - existing:
            path = os.path.join(run_dir, name)
            shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)


@contextlib.contextmanager
def _streamed_files_end_quietly(files: bool):
    """Keras warns "Your input ran out of data" whenever a dataset of unknown length
    ends; streamed files (which may skip unreadable ones) are one. The training
    pipeline repeats, so only held-out passes end, and they end by design."""
    import warnings

    with warnings.catch_warnings():
        if files:
            warnings.filterwarnings("ignore", message="Your input ran out of data")
        yield


def _load_data(settings: RunSettings, resumed: Optional[str]):
    """The run's data SOURCE, in numpy only: no TF op before the strategy exists.
    `resumed`: the run directory of a resumed run, whose classes the data must have."""
    from keras_resnet.data import load_source

    dataset = load_source(settings.data)
    if resumed and dataset.class_names != list(read_run_record(resumed).class_names):
        raise ValueError(f"--resume: {settings.data} now has other classes than the run")
    return dataset


def use_checkpoint_normalization(dataset, model: str, weights) -> bool:
    """Give `dataset` the input normalisation of pretrained `weights` (what
    `keras_resnet.pretrained.resolve` says; a file or None keep the data's own
    statistics).

    Returns True when the model must normalise its input itself
    (`include_preprocessing`): the "caffe" channel flip of keras.applications'
    v1 files is no per-channel mean and std; the pipeline then passes [0, 255].
    """
    from keras_resnet.pretrained import resolve

    checkpoint = resolve(weights, model)
    if checkpoint.kind in ("none", "file"):
        return False
    norm = checkpoint.normalization
    if norm.mode == "caffe":
        dataset.mean, dataset.std = (0.0, 0.0, 0.0), (1 / 255,) * 3
        return True
    if norm.mode == "tf":  # [-1, 1]
        dataset.mean, dataset.std = (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)
    else:
        dataset.mean, dataset.std = tuple(norm.mean), tuple(norm.std)
    return False


def _start_session(dist, settings: RunSettings, verbose) -> None:
    """Log the devices and strategy, and seed Keras, numpy and TF."""
    import keras
    import tensorflow as tf

    devices = ", ".join(d.name for d in tf.config.list_logical_devices())
    _log(verbose, f"devices: {devices}; strategy {type(dist).__name__} with "
                  f"{dist.num_replicas_in_sync} replica(s); precision {settings.precision}")
    keras.utils.set_random_seed(settings.seed)


def _restore_or_build(settings: RunSettings, num_classes: int, dist, *, out: str, resume: bool,
                      steps_per_epoch: int, verbose=0, include_preprocessing=False):
    """(compiled model, epochs already done, steps done in the next) for the run,
    in `dist`'s scope.

    With `resume` and a complete checkpoint in `out` (the furthest one, epoch
    or mid-epoch), the model and optimizer
    (with its step count, i.e. the schedule's position, and the moving average
    of the weights) come from that checkpoint; otherwise a new model (from
    `settings.weights` if given) and the recipe's optimizer, wrapped in a
    LossScaleOptimizer for mixed_float16. Either way the recipe's weight decay
    is applied and the model compiled.
    """
    import keras

    r = run_recipe(settings)
    size = (settings.image_size,) * 2
    n_epochs = settings.epochs
    start_epoch, start_step, ckpt = resume_point(out) if resume else (0, 0, None)
    with dtype_policy_scope(settings.precision), dist.scope():
        if ckpt:
            where = f", {start_step} steps into the next" if start_step else ""
            _log(verbose, f"resuming {out} from {ckpt} (epoch {start_epoch} of {n_epochs} "
                          f"done{where})")
            from keras_resnet.layers import loading_fast_layers
            with loading_fast_layers():  # the file names Keras' layers; train with the fast ones
                net = keras.models.load_model(ckpt)
            optimizer = net.optimizer
        else:
            net = build_model(settings.model, size, num_classes, settings.weights,
                              include_preprocessing=include_preprocessing)
            optimizer = make_optimizer(r, batch_size=settings.batch_size,
                                       total_steps=steps_per_epoch * n_epochs,
                                       steps_per_epoch=steps_per_epoch)
            if settings.precision == "mixed_float16":
                # Wrapped here rather than by compile(), so that the compile config in
                # each checkpoint names the LossScaleOptimizer and --resume restores it.
                optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        from keras_resnet.remat import rematerialise
        rematerialise(net, settings.remat)  # built or loaded: the run's setting (not saved)
        apply_weight_decay(net, r.weight_decay)
        compile_model(net, optimizer, r, settings.jit)
    return net, start_epoch, start_step


def _input_pipelines(settings: RunSettings, dataset, shard=(1, 0), position: int = 0,
                     unreadable=None):
    """(training, held-out) tf.data pipelines and the `UnreadableFiles` of each
    (None for in-memory data). The training pipeline repeats (an epoch is
    `steps_per_epoch` or ceil(examples / batch) batches, even when an unreadable
    file was skipped) and starts at batch `position` of the run: in-memory data
    skips that many batches (through the augmentation, so that its random draws
    are those of an uninterrupted run), image files reshuffle from the seed plus
    `position` instead of decoding what they skip.
    `shard` = (workers, this worker) splits the files. `unreadable`: the
    `UnreadableFiles` pair of an earlier call, to count on."""
    from keras_resnet.data.augment import Augmentation
    from keras_resnet.data.photos import UnreadableFiles
    from keras_resnet.data.pipeline import make_dataset

    size = (settings.image_size,) * 2
    bs = settings.batch_size
    r = run_recipe(settings)
    extra = Augmentation(r.auto_augment, r.random_erasing, r.mixup, r.cutmix)
    files = dataset.train.paths is not None
    seed = settings.seed + (position if files else 0)
    share = len(range(shard[1], len(dataset.train), shard[0]))  # this worker's files
    if unreadable is None:
        unreadable = [UnreadableFiles(share, "training image files"),
                      UnreadableFiles(len(dataset.test), "held-out image files")] if files else []
    train_ds = make_dataset(dataset, "train", size, bs, training=True, augment_images=r.augment,
                            seed=seed, extra=extra, shard=shard,
                            unreadable=unreadable[0] if files else None,
                            one_hot_labels=r.one_hot_labels)
    train_ds = train_ds.repeat()
    if position and not files:
        train_ds = train_ds.skip(position)
    val_ds = make_dataset(dataset, "test", size, bs, training=False, extra=extra,
                          unreadable=unreadable[1] if files else None,
                          one_hot_labels=r.one_hot_labels,
                          **eval_crop(settings.model, settings.weights))
    return train_ds, val_ds, unreadable


def _write_run_json(run_dir: str, settings: RunSettings, dataset) -> None:
    """run.json: the `RunRecord` of the run (its settings, classes, input
    normalisation, split sizes and evaluation crop). The run's first write."""
    record = RunRecord(settings, tuple(dataset.class_names), tuple(dataset.mean),
                       tuple(dataset.std), len(dataset.train), len(dataset.test),
                       eval_crop(settings.model, settings.weights))
    run_subdirectory(run_dir)
    write_json(os.path.join(run_dir, "run.json"), record.to_json())


def _fit(net, train_from, val_ds, settings: RunSettings, *, start: Tuple[int, int],
         steps_per_epoch: int, callbacks, verbose, unreadable=(),
         worker_timeout: float = DEFAULT_WORKER_TIMEOUT) -> None:
    """`fit` from `start` = (epochs done, steps done in the next) to the run's last
    epoch (nothing when it is done), on the training stream `train_from(batch)`,
    with the `RunCallbacks` `callbacks`. A resumed partial epoch is one `fit` of
    its remaining steps (its log.csv row averages those), the epochs after it
    another; only the last `fit` ends with the moving average of the weights in
    the model (an optimizer with `use_ema`). A pipeline stopped by too many
    unreadable files, or failing, is an `InputDataError` saying so; a multi-worker
    collective that fails, `WorkerLost`."""
    import tensorflow as tf

    from keras_resnet.keras_compat import fit_keeps_live_weights

    epoch, step = start
    segments = []  # (first epoch, end epoch, steps per epoch, steps done before the first)
    if step:
        segments.append((epoch, epoch + 1, steps_per_epoch - step, step))
        epoch += 1
    if epoch < settings.epochs:
        segments.append((epoch, settings.epochs, steps_per_epoch, 0))
    lost = (tf.errors.UnavailableError, tf.errors.DeadlineExceededError,
            tf.errors.CancelledError, tf.errors.AbortedError)
    for i, (first, last, steps, done) in enumerate(segments):
        more = i < len(segments) - 1
        try:
            with _streamed_files_end_quietly(bool(unreadable)), \
                    fit_keeps_live_weights(net.optimizer) if more else contextlib.nullcontext():
                net.fit(train_from(first * steps_per_epoch + done), validation_data=val_ds,
                        epochs=last, initial_epoch=first, steps_per_epoch=steps,
                        callbacks=callbacks.in_order(steps_done=done), verbose=verbose,
                        shuffle=False)
        except lost as e:
            if num_workers(net.distribute_strategy) < 2:
                raise
            raise lost_worker(e, worker_timeout) from e
        except tf.errors.InvalidArgumentError as e:
            stopped = next((u for u in unreadable if u.too_many), None)
            if stopped is not None:
                raise InputDataError(stopped.error()) from None
            raise InputDataError(f"input pipeline failed: {e.message.splitlines()[0]}") from None


def _write_results(net, dataset, settings: RunSettings, run_dir: str, *, replicas: int,
                   unreadable=()) -> dict:
    """Evaluate `net` on the held-out data and write model.keras, the training
    curves and confusion matrix PNGs and metrics.json to `run_dir`; returns the metrics
    (`unreadable_files`: the image files skipped, with the reason)."""
    size = (settings.image_size,) * 2
    log_csv = os.path.join(run_dir, "log.csv")
    results = evaluate_model(net, dataset, size, batch_size=settings.batch_size,
                             **eval_crop(settings.model, settings.weights))
    skipped = {path: why for u in unreadable for path, why in u.reasons.items()}
    skipped.update(results["unreadable_files"])
    metrics = {
        "loss": results["loss"], "accuracy": results["accuracy"],
        "top5_accuracy": results["top5_accuracy"], "num_test": results["num_examples"],
        "epochs": settings.epochs, "seconds": round(logged_seconds(log_csv), 1),
        "model": settings.model, "data": settings.data, "recipe": settings.recipe,
        "batch_size": settings.batch_size, "precision": settings.precision,
        "replicas": replicas, "unreadable_files": skipped,
    }
    save_model(net, os.path.join(run_dir, "model.keras"))
    curves, confusion = (os.path.join(run_dir, name)
                         for name in ("training_curves.png", "confusion_matrix.png"))
    with writing(curves):
        plot_training_curves(log_csv, curves)
    with writing(confusion):
        plot_confusion_matrix(results["confusion"], dataset.class_names, confusion)
    write_json(os.path.join(run_dir, "metrics.json"), metrics)
    return metrics


def eval_crop(model: Optional[str], weights) -> Dict[str, object]:
    """`crop_pct` and `interpolation` of the evaluation transform of image files:
    the checkpoint's that `weights` name for `model`
    (`keras_resnet.pretrained.resolve`: 0.875 and bilinear where unpublished)."""
    from keras_resnet.pretrained import resolve

    transform = resolve(weights, model).eval_transform
    return {"crop_pct": transform.crop_pct, "interpolation": transform.interpolation}


def evaluate_model(model, dataset, image_size: Tuple[int, int], *, batch_size: int = 128,
                   crop_pct: Optional[float] = None,
                   interpolation: str = "bilinear") -> Dict[str, object]:
    """Loss, top-1 and top-5 accuracy and the confusion matrix on `dataset.test`
    (image files center-cropped by `eval_transform` with `crop_pct`, default 0.875;
    unreadable ones skipped and listed in `unreadable_files`, path -> reason)."""
    from keras_resnet.data.photos import UnreadableFiles
    from keras_resnet.data.pipeline import make_dataset
    from keras_resnet.preprocessing import DEFAULT_CROP_PCT

    unreadable = UnreadableFiles(len(dataset.test), "held-out image files")
    ds = make_dataset(dataset, "test", image_size, batch_size, training=False,
                      crop_pct=crop_pct or DEFAULT_CROP_PCT, interpolation=interpolation,
                      unreadable=unreadable)
    try:
        with _streamed_files_end_quietly(dataset.test.paths is not None):
            probs = np.asarray(model.predict(ds, verbose=0), dtype=np.float64)
    except Exception:
        if unreadable.too_many:
            raise InputDataError(unreadable.error()) from None
        raise
    labels = dataset.test.labels
    if unreadable.reasons:  # the pipeline keeps the file order and drops these
        labels = np.asarray([y for p, y in zip(dataset.test.paths, labels)
                             if p not in unreadable.reasons])
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
            "num_examples": int(len(labels)), "confusion": confusion.tolist(),
            "unreadable_files": dict(unreadable.reasons)}


def load_run(model_file: str):
    """The saved model and the run.json beside it (classes, input normalisation)."""
    if not os.path.isfile(model_file):
        raise ValueError(f"`model_file` does not exist: {model_file!r}")
    run = read_json(os.path.join(os.path.dirname(os.path.abspath(model_file)), "run.json"),
                    "run.json beside the model file (written by `keras-resnet train`)")
    for key in ("class_names", "mean", "std", "image_size"):
        if key not in run:
            raise ValueError(f"run.json beside {model_file!r} has no {key!r}")
    return load_model_file(model_file), run


def load_model_file(model_file: str):
    """`keras.models.load_model(model_file, compile=False)`, with a one-line ValueError
    for a missing file or one that is not a Keras model."""
    import keras

    if not os.path.isfile(model_file):
        raise ValueError(f"`model_file` does not exist: {model_file!r}")
    try:
        return keras.models.load_model(model_file, compile=False)
    except Exception as e:  # Keras raises many kinds for a file that is not a model
        raise ValueError(f"cannot load {model_file!r} as a Keras model: "
                         f"{str(e).splitlines()[0] if str(e) else type(e).__name__}") from None


def calibration_data(run: dict, data: str, count: int, *, batch_size: int = 32, seed: int = 0,
                     raw: bool = False):
    """`count` training images of the SOURCE `data` (all of them when it has fewer), drawn
    at random (fixed `seed`) and preprocessed as the run evaluates (its image size, crop
    and normalisation, from its run.json): a float32 array (N, H, W, 3). For int8
    calibration (`keras_resnet.deploy.export`). `raw`: resized and cropped only, uint8
    RGB in [0, 255] (for a file that takes images)."""
    from keras_resnet.data import load_source
    from keras_resnet.data.base import Split
    from keras_resnet.data.pipeline import make_dataset

    check_positive("count", count)
    dataset = load_source(data)
    part = dataset.train
    pick = np.sort(np.random.default_rng(seed).permutation(len(part))[:count])
    subset = Split(part.labels[pick],
                   images=None if part.images is None else part.images[pick],
                   paths=None if part.paths is None else [part.paths[i] for i in pick])
    mean, std = ((0.0,) * 3, (1 / 255,) * 3) if raw else (run["mean"], run["std"])
    dataset = dataclasses.replace(dataset, train=subset, mean=mean, std=std)
    size = (run["image_size"],) * 2
    ds = make_dataset(dataset, "train", size, batch_size, training=False,
                      **eval_crop(run.get("model"), run.get("weights")))
    images = np.concatenate([x.numpy() for x, _ in ds])
    return np.clip(np.round(images), 0, 255).astype("uint8") if raw else images


def evaluate(model_file: str, data: str, *, batch_size: int = 128,
             confusion_png: Optional[str] = None) -> Dict[str, object]:
    """Held-out loss, top-1 and top-5 accuracy of a trained model on a SOURCE.

    Writes the confusion matrix to `confusion_png` (default: beside the model,
    `confusion_matrix.png`). The class names and normalisation come from the
    run.json that `train` wrote beside the model.
    """
    check_positive("batch_size", batch_size)
    from keras_resnet.data import load_source

    dataset = load_source(data)
    model, run = load_run(model_file)
    if dataset.class_names != run["class_names"]:
        raise ValueError(f"{data} has classes {dataset.class_names[:10]} but the model was "
                         f"trained on {run['class_names'][:10]}")
    dataset.mean, dataset.std = run["mean"], run["std"]
    size = (run["image_size"],) * 2
    results = evaluate_model(model, dataset, size, batch_size=batch_size,
                             **eval_crop(run.get("model"), run.get("weights")))
    png = confusion_png or os.path.join(os.path.dirname(os.path.abspath(model_file)),
                                        "confusion_matrix.png")
    plot_confusion_matrix(results["confusion"], dataset.class_names, png)
    results["confusion_png"] = png
    return results


def predict(model_file: str, images: Sequence[str], *,
            top_k: int = 5) -> List[Tuple[str, List[Tuple[str, float]]]]:
    """Top-k (label, probability) for each image file, most probable first.

    Each image goes through `keras_resnet.preprocessing.eval_transform` at the
    run's image size (crop_pct 0.875 unless the run's pretrained weights say
    otherwise), then the run's normalisation."""
    check_positive("top_k", top_k)
    if not images:
        raise ValueError("`images` must list at least one image file")
    from keras_resnet.image_files import check_image

    for path in images:
        if not os.path.isfile(path):
            raise ValueError(f"image file does not exist: {path!r}")
        check_image(path)
    model, run = load_run(model_file)
    from keras_resnet.data.pipeline import normalize
    from keras_resnet.preprocessing import load_eval_image

    crop = eval_crop(run.get("model"), run.get("weights"))
    batch = normalize(np.stack([load_eval_image(p, run["image_size"], **crop) for p in images]),
                      run["mean"], run["std"])
    probs = np.asarray(model.predict(batch, verbose=0), dtype=np.float64)
    names = run["class_names"]
    k = min(top_k, len(names))
    out = []
    for path, p in zip(images, probs):
        order = np.argsort(-p)[:k]
        out.append((path, [(names[i], float(p[i])) for i in order]))
    return out
