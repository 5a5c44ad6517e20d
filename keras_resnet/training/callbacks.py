"""The Keras callbacks `train` uses: the moving average of the weights swapped in
for validation, epoch statistics (with BatchNormalization's moving statistics
averaged over workers), log.csv, TensorBoard and per-epoch checkpoints."""

from __future__ import annotations

import os
import time

import numpy as np

from keras_resnet.training.distribute import num_workers
from keras_resnet.training.files import remove_checkpoints_before, save_model


def make_callbacks(run_dir: str, strategy, *, ema: bool = False) -> list:
    """The callbacks of `fit` for the run directory `run_dir`, in the order they must run.

    With `ema` (an optimizer with `use_ema`) first Keras' SwapEMAWeights, so that
    validation sees the moving average of the weights (training and the
    checkpoints the live weights, the average being optimizer state). Then epoch
    statistics (averaging BatchNormalization's moving statistics over the
    workers when `strategy` has several), log.csv, TensorBoard event files in
    logs/, and checkpoints/epoch-NNNN.keras, written after its log.csv row.
    """
    import keras

    stats, checkpoint = _callback_classes()
    swap = [keras.callbacks.SwapEMAWeights()] if ema else []
    return swap + [  # in this order: see EpochCheckpoint
        stats(strategy=strategy if num_workers(strategy) > 1 else None),
        keras.callbacks.CSVLogger(os.path.join(run_dir, "log.csv"), append=True),
        keras.callbacks.TensorBoard(os.path.join(run_dir, "logs")),
        checkpoint(os.path.join(run_dir, "checkpoints")),
    ]


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
        the previous checkpoints (mid-epoch ones too) are removed only after that.
        """

        def __init__(self, directory: str):
            super().__init__()
            self.directory = directory

        def on_epoch_end(self, epoch, logs=None):
            os.makedirs(self.directory, exist_ok=True)
            path = os.path.join(self.directory, f"epoch-{epoch + 1:04d}.keras")
            save_model(self.model, path)
            remove_checkpoints_before(self.directory, epoch + 1, 0, epoch_ones=True)

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


def uses_ema(optimizer) -> bool:
    """Whether `optimizer` (or the one a LossScaleOptimizer wraps) averages the weights."""
    return bool(getattr(getattr(optimizer, "inner_optimizer", optimizer), "use_ema", False))
