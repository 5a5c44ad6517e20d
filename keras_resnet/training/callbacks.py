"""The Keras callbacks `train` passes to `fit`, each a class of its own:

    EpochStats      the epoch's wall time and learning rate in the logs (log.csv);
                    BatchNormalization's moving statistics averaged over workers
    EpochCheckpoint checkpoints/epoch-NNNN.keras after every epoch
    StepCheckpoint  mid-epoch checkpoints (every N steps, and on a termination
                    signal, after which it raises `Preempted`)

and `RunCallbacks`, which makes them for a run directory (with Keras' CSVLogger,
TensorBoard and, for an optimizer with `use_ema`, SwapEMAWeights) and is the one
place that orders them.
"""

from __future__ import annotations

import dataclasses
import os
import time
from typing import Optional

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

    def in_order(self, steps_done: int = 0) -> list:
        """The list for `fit`; `steps_done`: for a `fit` of the rest of a partial
        epoch, the steps of it already done."""
        self.step_checkpoint.steps_done = steps_done
        return [c for c in (self.swap_ema, self.stats, self.log, self.tensorboard,
                            self.checkpoint, self.step_checkpoint) if c is not None]


def make_callbacks(run_dir: str, strategy, request: TerminationRequest, *, ema: bool,
                   epochs: int, steps_per_epoch: int, checkpoint_every: Optional[int] = None,
                   shown_dir: Optional[str] = None) -> RunCallbacks:
    """The callbacks of a run writing to `run_dir` (log.csv, logs/, checkpoints/);
    `shown_dir`: the run directory `Preempted` names (default `run_dir`)."""
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
        swap_ema=keras.callbacks.SwapEMAWeights() if ema else None)


def current_learning_rate(optimizer) -> float:
    """The learning rate `optimizer` (or the one a LossScaleOptimizer wraps) uses now."""
    inner = getattr(optimizer, "inner_optimizer", optimizer)  # LossScaleOptimizer
    return float(np.asarray(inner.learning_rate))
