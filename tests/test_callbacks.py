"""fit's callbacks (keras_resnet.training.callbacks), each on its own with a tiny model,
then `RunCallbacks`, the one place that orders them."""

import csv
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_resnet.training.callbacks import (EpochCheckpoint, EpochStats, RunCallbacks,
                                             StepCheckpoint, make_callbacks)
from keras_resnet.training.files import RunWriteError
from keras_resnet.training.preemption import Preempted, TerminationRequest

X = np.random.default_rng(0).normal(size=(32, 4)).astype("float32")
Y = (X[:, 0] > 0).astype("int32")


def _tiny(learning_rate=0.05, **optimizer):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(keras.optimizers.SGD(learning_rate, **optimizer),
                  "sparse_categorical_crossentropy")
    return model


def _fit(model, callbacks, *, epochs=2, steps=4, initial_epoch=0):
    """`steps` batches of 8 per epoch (the 32 examples, repeated)."""
    ds = tf.data.Dataset.from_tensor_slices((X, Y)).batch(8).repeat()
    return model.fit(ds, epochs=epochs, initial_epoch=initial_epoch, steps_per_epoch=steps,
                     callbacks=callbacks, verbose=0, shuffle=False)


def _signalled(name="SIGTERM"):
    request = TerminationRequest(grace_seconds=60)
    request.name = name  # as `handle` records a signal, without the watchdog
    return request


# ----------------------------------------------------------------------------- EpochStats

def test_epoch_stats_logs_time_and_the_learning_rate_at_the_epochs_end():
    def rates(boundary):  # 4 steps per epoch; the rate is 0.1 up to step `boundary`
        schedule = keras.optimizers.schedules.PiecewiseConstantDecay([boundary], [0.1, 0.01])
        return _fit(_tiny(schedule), [EpochStats()]).history

    assert rates(4)["learning_rate"] == pytest.approx([0.1, 0.01])
    history = rates(3)
    assert history["learning_rate"] == pytest.approx([0.01, 0.01])
    assert all(0 <= s < 60 for s in history["seconds"])


def test_epoch_stats_reads_the_rate_through_a_loss_scale_optimizer():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(keras.optimizers.LossScaleOptimizer(keras.optimizers.SGD(0.25)),
                  "sparse_categorical_crossentropy")
    assert _fit(model, [EpochStats()], epochs=1).history["learning_rate"] == [0.25]


def test_epoch_stats_averages_non_trainable_variables_under_a_strategy():
    # One worker: the mean over workers is the value itself, through the all-reduce path.
    model = keras.Sequential([keras.Input((4,)), keras.layers.BatchNormalization(),
                              keras.layers.Dense(2, activation="softmax")])
    model.compile(keras.optimizers.SGD(0.05), "sparse_categorical_crossentropy")
    seen = {}

    class Before(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen["before"] = [v.numpy().copy() for v in self.model.non_trainable_variables]

    _fit(model, [Before(), EpochStats(tf.distribute.get_strategy())], epochs=1)
    for a, b in zip(seen["before"], model.non_trainable_variables):
        np.testing.assert_allclose(a, b.numpy(), rtol=1e-6)
    assert np.abs(seen["before"][0]).max() > 0  # the moving mean moved: a real check


# ----------------------------------------------------------------------------- EpochCheckpoint

def test_epoch_checkpoint_keeps_the_last_epoch_with_its_optimizer(tmp_path):
    directory = tmp_path / "checkpoints"
    directory.mkdir()
    (directory / "epoch-0001-step-000002.keras").write_bytes(b"older, mid-epoch")
    (directory / "notes.txt").write_text("not a checkpoint: kept")
    model = _tiny()
    _fit(model, [EpochCheckpoint(str(directory))], epochs=3)
    assert sorted(os.listdir(directory)) == ["epoch-0003.keras", "notes.txt"]
    saved = keras.models.load_model(directory / "epoch-0003.keras")
    assert int(saved.optimizer.iterations.numpy()) == 12
    for a, b in zip(saved.weights, model.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_epoch_checkpoint_that_cannot_be_written_is_a_run_write_error(tmp_path):
    (tmp_path / "file").write_text("")
    directory = str(tmp_path / "file" / "checkpoints")
    with pytest.raises(RunWriteError, match="cannot write .*file/checkpoints") as info:
        _fit(_tiny(), [EpochCheckpoint(directory)], epochs=1)
    assert info.value.filename == directory and isinstance(info.value, OSError)


# ----------------------------------------------------------------------------- StepCheckpoint

def test_step_checkpoint_every_n_steps_keeps_the_latest(tmp_path):
    step = StepCheckpoint(str(tmp_path), TerminationRequest(60), epochs=2, steps_per_epoch=4,
                          every=2)
    _fit(_tiny(), [step], epochs=2)
    # steps 2 of both epochs (step 4 is the epoch's end: the epoch checkpoint's job)
    assert os.listdir(tmp_path) == ["epoch-0002-step-000002.keras"]
    saved = keras.models.load_model(tmp_path / "epoch-0002-step-000002.keras")
    assert int(saved.optimizer.iterations.numpy()) == 6


def test_step_checkpoint_stops_on_a_signal_after_checkpointing(tmp_path):
    request = _signalled()
    step = StepCheckpoint(str(tmp_path), request, epochs=3, steps_per_epoch=4,
                          shown="/chief/run/checkpoints")
    model = _tiny()
    with pytest.raises(Preempted) as info:
        _fit(model, [step], epochs=3, initial_epoch=1)
    e = info.value
    assert str(e) == ("stopped by SIGTERM in epoch 2 of 3 after step 1 of 4; checkpoint "
                      "/chief/run/checkpoints/epoch-0002-step-000001.keras")
    assert (e.epoch, e.step, e.steps) == (2, 1, 4)
    assert os.listdir(tmp_path) == ["epoch-0002-step-000001.keras"]
    assert int(model.optimizer.iterations.numpy()) == 1


def test_step_checkpoint_counts_the_steps_done_before_a_resumed_fit(tmp_path):
    step = StepCheckpoint(str(tmp_path), _signalled(), epochs=1, steps_per_epoch=4,
                          steps_done=2)
    with pytest.raises(Preempted, match="in epoch 1 of 1 after step 3 of 4"):
        _fit(_tiny(), [step], epochs=1, steps=2)  # the 2 steps left of the epoch
    assert os.listdir(tmp_path) == ["epoch-0001-step-000003.keras"]


def test_step_checkpoint_on_an_epochs_last_step_stops_at_the_epoch_end(tmp_path):
    step = StepCheckpoint(str(tmp_path), _signalled("SIGINT"), epochs=2, steps_per_epoch=1)
    epochs = []

    class Ends(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            epochs.append(epoch)

    with pytest.raises(Preempted) as info:
        _fit(_tiny(), [Ends(), step], epochs=2, steps=1)
    assert str(info.value) == (f"stopped by SIGINT after epoch 1 of 2; checkpoint "
                               f"{tmp_path / 'epoch-0001.keras'}")
    assert epochs == [0] and os.listdir(tmp_path) == []  # no mid-epoch file: the epoch's


def test_step_checkpoint_without_a_signal_does_nothing(tmp_path):
    step = StepCheckpoint(str(tmp_path / "c"), TerminationRequest(60), epochs=2,
                          steps_per_epoch=4)
    _fit(_tiny(), [step], epochs=2)
    assert not (tmp_path / "c").exists()


# ----------------------------------------------------------------------------- RunCallbacks

def test_run_callbacks_in_order_by_name(tmp_path):
    run = make_callbacks(str(tmp_path), tf.distribute.get_strategy(), TerminationRequest(60),
                         ema=True, epochs=2, steps_per_epoch=4, shown_dir="/chief/run")
    assert isinstance(run, RunCallbacks)
    order = run.in_order(steps_done=3)
    assert [type(c).__name__ for c in order] == [
        "SwapEMAWeights", "BatchNormStatistics", "EpochStats", "CSVLogger", "TensorBoard",
        "EpochCheckpoint", "StepCheckpoint"]
    assert order[-1] is run.step_checkpoint and run.step_checkpoint.steps_done == 3
    assert run.step_checkpoint.shown == "/chief/run/checkpoints"
    assert run.stats.strategy is None  # one worker: nothing to average
    assert run.in_order()[-1].steps_done == 0
    plain = make_callbacks(str(tmp_path), tf.distribute.get_strategy(), TerminationRequest(60),
                           ema=False, epochs=2, steps_per_epoch=4)
    assert plain.swap_ema is None and len(plain.in_order()) == 6
    assert plain.batch_norm.count == 0  # no precise-BN pass: the held-out loss check only
    precise = make_callbacks(str(tmp_path), tf.distribute.get_strategy(), TerminationRequest(60),
                             ema=False, epochs=2, steps_per_epoch=4, precise_bn=lambda: [])
    assert precise.batch_norm.count == 4  # one epoch's worth of batches (at most 100)


def test_run_callbacks_stopped_at_an_epoch_end_leave_its_log_row_and_checkpoint(tmp_path):
    """The order matters at an epoch's end: the stop comes after the log row
    (with the stats' columns) and the epoch checkpoint."""
    run = make_callbacks(str(tmp_path), tf.distribute.get_strategy(), _signalled(), ema=False,
                         epochs=2, steps_per_epoch=1)
    with pytest.raises(Preempted, match="after epoch 1 of 2"):
        _fit(_tiny(), run.in_order(), epochs=2, steps=1)
    assert os.listdir(tmp_path / "checkpoints") == ["epoch-0001.keras"]
    with open(tmp_path / "log.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["epoch"] for r in rows] == ["0"] and "seconds" in rows[0]
    assert float(rows[0]["learning_rate"]) == pytest.approx(0.05)
