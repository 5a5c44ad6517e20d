"""The Keras callbacks `train` passes to `fit`, each a class of its own:

    EpochStats      the epoch's wall time and learning rate in the logs (log.csv);
                    BatchNormalization's moving statistics averaged over workers
    EpochCheckpoint checkpoints/epoch-NNNN.keras after every epoch
    StepCheckpoint  mid-epoch checkpoints (every N steps, and on a termination
                    signal, after which it raises `Preempted`)

    BatchNormStatistics  a precise-BN pass before validation (the moving statistics
                    re-estimated on training batches, for runs with short epochs), and a
                    warning when the held-out loss shows statistics that do not fit

and `RunCallbacks`, which makes them for a run directory (with Keras' CSVLogger,
TensorBoard and, for an optimizer with `use_ema`, SwapEMAWeights) and is the one
place that orders them.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
import warnings
from typing import Callable, Iterable, Optional

import keras
import numpy as np

from keras_resnet.training.distribute import average_over_workers, num_workers
from keras_resnet.training.files import remove_checkpoints_before, run_subdirectory, save_model
from keras_resnet.training.preemption import Preempted, TerminationRequest


class EpochStats(keras.callbacks.Callback):
    """Adds the epoch's wall time (`seconds`) and learning rate (`learning_rate`) to
    the epoch's logs. With a multi-worker `strategy`, first averages the model's
    non-trainable variables (BatchNormalization's moving statistics) over the
    workers (`average_over_workers`)."""

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
            logs["learning_rate"] = current_learning_rate(self.model.optimizer)


# BatchNormalization's moving averages (Keras' momentum 0.99) span about 1 / (1 - 0.99)
# = 100 steps: an epoch shorter than that validates with statistics of the initial or
# of much older weights (held-out loss 1e2 to 1e10 in a 2-step epoch). Below it, the
# statistics are re-estimated before validation by default (precise BN).
PRECISE_BN_STEPS = 100


def batch_norm_layers(model) -> list:
    """The BatchNormalization layers of `model` (nested ones too) that update their
    statistics in training (trainable ones)."""
    return [layer for layer in model._flatten_layers(include_self=False)
            if isinstance(layer, keras.layers.BatchNormalization) and layer.trainable]


def recompute_batch_norm_statistics(model, batches: Iterable) -> int:
    """Precise BN: set every trainable BatchNormalization's moving mean and variance to the
    average of its batch statistics over `batches` (inputs, or (inputs, labels) pairs) in
    training mode, with the current weights (weights are unchanged). Runs eagerly on any
    backend; the k-th batch enters the average with momentum (k - 1) / k. Returns the
    number of batches."""
    layers = batch_norm_layers(model)
    momenta = [layer.momentum for layer in layers]
    count = 0
    try:
        for batch in batches:
            x = batch[0] if isinstance(batch, (tuple, list)) else batch
            count += 1
            for layer in layers:
                layer.momentum = (count - 1) / count
            model(x, training=True)
    finally:
        for layer, momentum in zip(layers, momenta):
            layer.momentum = momentum
    return count


def few_steps_warning(steps_per_epoch: int) -> str:
    """The warning of a run whose epochs are too short for the moving statistics."""
    return (f"an epoch has {steps_per_epoch} step(s), fewer than the ~{PRECISE_BN_STEPS} "
            f"steps BatchNormalization's moving statistics (momentum 0.99) average over: "
            f"validation would use statistics that do not fit the weights (held-out loss "
            f"up to 1e10). Fix: precise_bn=True (--precise-bn, the default on one replica) "
            f"re-estimates them before validation; or a smaller batch size / more steps "
            f"per epoch")


class BatchNormStatistics(keras.callbacks.Callback):
    """Before each validation, with `batches` (a function of the epoch, counted from 0,
    returning `count` of that epoch's training batches), re-estimates the BatchNormalization statistics (precise BN,
    `recompute_batch_norm_statistics`). After each epoch, warns when the held-out loss
    is not finite or above `max_loss` while the training loss is below it: the sign of
    moving statistics that do not fit the weights."""

    def __init__(self, batches: Optional[Callable[[int], Iterable]] = None, *, count: int = 0,
                 max_loss: float = 10.0):
        super().__init__()
        self.batches, self.count, self.max_loss = batches, count, max_loss
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch  # absolute: a resumed run's fit() starts at its initial_epoch

    def on_test_begin(self, logs=None):
        # The epoch's own batches, so a resumed run re-estimates from the same ones.
        if self.batches is not None and self.count:
            recompute_batch_norm_statistics(self.model, self.batches(self.epoch))

    def on_epoch_end(self, epoch, logs=None):
        val, train = (logs or {}).get("val_loss"), (logs or {}).get("loss")
        if val is None or train is None:
            return
        val, train = float(val), float(train)
        if (math.isfinite(val) and val <= self.max_loss) or not train <= self.max_loss:
            return
        fix = ("precise BN re-estimated them on too few batches; train with more steps per "
               "epoch" if self.count else
               "train with precise_bn=True (--precise-bn), which re-estimates them on "
               "training batches before validation, or with more steps per epoch")
        warnings.warn(f"epoch {epoch + 1}: held-out loss {val:.4g} against a training loss "
                      f"of {train:.4g}: BatchNormalization's moving statistics do not fit "
                      f"the weights; {fix}", UserWarning, stacklevel=2)


class EpochCheckpoint(keras.callbacks.Callback):
    """Saves model + optimizer after every epoch as `directory`/epoch-NNNN.keras (NNNN
    counted from 1), then removes the checkpoints before it (mid-epoch ones too).
    The file is written under a temporary name, synced and renamed; a failure to
    write is a `RunWriteError`."""

    def __init__(self, directory: str):
        super().__init__()
        self.directory = directory

    def on_epoch_end(self, epoch, logs=None):
        run_subdirectory(self.directory)
        save_model(self.model, os.path.join(self.directory, f"epoch-{epoch + 1:04d}.keras"))
        remove_checkpoints_before(self.directory, epoch + 1, 0, epoch_ones=True)


class StepCheckpoint(keras.callbacks.Callback):
    """Mid-epoch checkpoints, and the stop on a termination signal.

    Writes `directory`/epoch-EEEE-step-SSSSSS.keras (EEEE counted from 1, SSSSSS
    the steps done in it) every `every` steps and when `request` got a signal,
    then raises `Preempted`. A signal at an epoch's last step or during its
    validation raises `Preempted` at the epoch's end instead, naming the epoch
    checkpoint. With several workers (`strategy`) all of them stop at the same
    step (one all-reduce of the flag per step). `Preempted` names the file in
    `shown` (default `directory`): the chief's directory, for workers that write
    to a scratch one. `steps_done`: the steps of each epoch done before this
    `fit`, for a `fit` of the rest of one partial epoch (a resumed run)."""

    def __init__(self, directory: str, request: TerminationRequest, *, epochs: int,
                 steps_per_epoch: int, every: Optional[int] = None, strategy=None,
                 shown: Optional[str] = None, steps_done: int = 0):
        super().__init__()
        self.directory, self.request = directory, request
        self.epochs, self.steps_per_epoch, self.every = epochs, steps_per_epoch, every
        self.strategy = strategy if strategy is not None and num_workers(strategy) > 1 else None
        self.shown = shown or directory
        self.steps_done = steps_done
        self._epoch = 0
        self._after_epoch = False

    def _agreed(self) -> bool:
        stop = self.request.name is not None
        if self.strategy is not None:  # all workers stop at the same step when any got it
            import tensorflow as tf

            flag = self.strategy.reduce("SUM", tf.constant(float(stop)), axis=None)
            stop = float(flag) > 0
        return stop

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        step = self.steps_done + batch + 1
        stop = self._agreed()
        if step >= self.steps_per_epoch:
            self._after_epoch = self._after_epoch or stop
            return
        if stop or (self.every and step % self.every == 0):
            name = f"epoch-{self._epoch + 1:04d}-step-{step:06d}.keras"
            run_subdirectory(self.directory)
            save_model(self.model, os.path.join(self.directory, name))
            remove_checkpoints_before(self.directory, self._epoch, step, epoch_ones=False)
            if stop:
                self._stop(self._epoch + 1, step, name)

    def on_epoch_end(self, epoch, logs=None):
        if self._agreed() or self._after_epoch:
            self._stop(epoch + 1, 0, f"epoch-{epoch + 1:04d}.keras")

    def _stop(self, epoch: int, step: int, name: str):
        self.request.done()
        raise Preempted(self.request.name or "another worker's signal", epoch, self.epochs,
                        step, self.steps_per_epoch, os.path.join(self.shown, name))


@dataclasses.dataclass
class RunCallbacks:
    """The callbacks of a run's `fit`, by name; `in_order` lists them for `fit`.

    `fit` calls callbacks in list order, and at an epoch's end one feeds the next:
    `stats` adds the epoch's time and learning rate to the logs; `log` (CSVLogger)
    writes them as the epoch's log.csv row and `tensorboard` its event files;
    `checkpoint` then saves the epoch, so a checkpoint never exists without its
    log row; `step_checkpoint` last, so that a run it stops at an epoch's end has
    that epoch's checkpoint. `swap_ema` (SwapEMAWeights, for an optimizer with
    `use_ema`) swaps the moving average of the weights in for validation only:
    training and the checkpoints have the live weights, the average being
    optimizer state.
    """

    stats: EpochStats
    log: keras.callbacks.CSVLogger
    tensorboard: keras.callbacks.TensorBoard
    checkpoint: EpochCheckpoint
    step_checkpoint: StepCheckpoint
    swap_ema: Optional[keras.callbacks.SwapEMAWeights] = None
    batch_norm: Optional[BatchNormStatistics] = None

    def in_order(self, steps_done: int = 0) -> list:
        """The list for `fit`; `steps_done`: for a `fit` of the rest of a partial
        epoch, the steps of it already done. `batch_norm` follows `swap_ema`: the
        statistics are re-estimated for the weights that are validated."""
        self.step_checkpoint.steps_done = steps_done
        return [c for c in (self.swap_ema, self.batch_norm, self.stats, self.log,
                            self.tensorboard, self.checkpoint, self.step_checkpoint)
                if c is not None]


def make_callbacks(run_dir: str, strategy, request: TerminationRequest, *, ema: bool,
                   epochs: int, steps_per_epoch: int, checkpoint_every: Optional[int] = None,
                   shown_dir: Optional[str] = None,
                   precise_bn: Optional[Callable[[], Iterable]] = None) -> RunCallbacks:
    """The callbacks of a run writing to `run_dir` (log.csv, logs/, checkpoints/);
    `shown_dir`: the run directory `Preempted` names (default `run_dir`);
    `precise_bn`: a function returning training batches to re-estimate the
    BatchNormalization statistics on before each validation (None: off)."""
    checkpoints = os.path.join(run_dir, "checkpoints")
    several = num_workers(strategy) > 1
    return RunCallbacks(
        stats=EpochStats(strategy if several else None),
        log=keras.callbacks.CSVLogger(os.path.join(run_dir, "log.csv"), append=True),
        tensorboard=keras.callbacks.TensorBoard(os.path.join(run_dir, "logs")),
        checkpoint=EpochCheckpoint(checkpoints),
        step_checkpoint=StepCheckpoint(
            checkpoints, request, epochs=epochs, steps_per_epoch=steps_per_epoch,
            every=checkpoint_every, strategy=strategy,
            shown=os.path.join(shown_dir or run_dir, "checkpoints")),
        swap_ema=keras.callbacks.SwapEMAWeights() if ema else None,
        batch_norm=BatchNormStatistics(precise_bn, count=min(steps_per_epoch, PRECISE_BN_STEPS)
                                       if precise_bn is not None else 0))


def current_learning_rate(optimizer) -> float:
    """The learning rate `optimizer` (or the one a LossScaleOptimizer wraps) uses now."""
    inner = getattr(optimizer, "inner_optimizer", optimizer)  # LossScaleOptimizer
    return float(np.asarray(inner.learning_rate))
