"""What a failed `train` leaves behind (the rule in `train`'s docstring): a new run that
fails with `InputDataError` or `RunWriteError` before its first checkpoint leaves
nothing; any other error, or a failure after a checkpoint, keeps the run directory.
A write failure is a `RunWriteError` naming the path; the CLI exits 73 with one line."""

import os

import keras
import pytest

from keras_resnet import cli
from keras_resnet.training import InputDataError, RunWriteError, latest_checkpoint, train
from test_recipes import _add_callback

TINY = dict(epochs=1, batch_size=8, steps_per_epoch=1, image_size=8, verbose=0)
TINY_ARGV = ["--epochs", "1", "--batch-size", "8", "--steps-per-epoch", "1",
             "--image-size", "8"]


class _Raise(keras.callbacks.Callback):
    """Calls `action(self.model)` at the first training batch's end (or at the end of
    training with `at_end`)."""

    def __init__(self, action, at_end=False):
        super().__init__()
        self.action, self.at_end = action, at_end

    def on_train_batch_end(self, batch, logs=None):
        if not self.at_end:
            self.action()

    def on_train_end(self, logs=None):
        if self.at_end:
            self.action()


def _raise(error):
    def action():
        raise error
    return action


def test_a_value_error_from_elsewhere_keeps_the_new_run(tmp_path, monkeypatch):
    out = str(tmp_path / "run")
    _add_callback(monkeypatch, _Raise(_raise(ValueError("a bug, or Keras"))))
    with pytest.raises(ValueError, match="a bug, or Keras"):
        train("resnet20", "digits", out=out, **TINY)
    assert {"run.json", "log.csv"} <= set(os.listdir(out))  # kept, for inspection


def test_bad_data_while_training_removes_what_the_new_run_created(tmp_path, monkeypatch):
    out = tmp_path / "run"
    out.mkdir()  # an empty directory given as --out stays, empty (a new one goes: below)
    _add_callback(monkeypatch, _Raise(_raise(InputDataError("too many unreadable files"))))
    with pytest.raises(InputDataError):
        train("resnet20", "digits", out=str(out), **TINY)
    assert os.listdir(out) == []


def test_an_unwritable_checkpoint_is_a_run_write_error_and_exit_73(tmp_path, monkeypatch,
                                                                   capsys):
    monkeypatch.chdir(tmp_path)
    # checkpoints/ is taken by a file once training started: the epoch checkpoint fails.
    _add_callback(monkeypatch, _Raise(lambda: open(os.path.join("run", "checkpoints"), "w")))
    code = cli.main(["train", "--model", "resnet20", "--data", "digits", "--out", "run",
                     *TINY_ARGV])
    err = capsys.readouterr().err
    assert code == cli.EXIT_CANT_WRITE == 73
    assert err == "keras-resnet train: error: cannot write 'run/checkpoints': File exists\n"
    assert os.listdir(tmp_path) == []  # a new run without a checkpoint: nothing left


def test_a_write_failure_after_a_checkpoint_keeps_the_run(tmp_path, monkeypatch):
    out = tmp_path / "run"
    # model.keras is taken by a directory after the last epoch's checkpoint.
    _add_callback(monkeypatch, _Raise(lambda: os.mkdir(out / "model.keras"), at_end=True))
    with pytest.raises(RunWriteError) as info:
        train("resnet20", "digits", out=str(out), **TINY)
    assert info.value.filename == str(out / "model.keras") and info.value.strerror
    assert str(info.value).startswith(f"cannot write {str(out / 'model.keras')!r}: ")
    assert latest_checkpoint(str(out))[0] == 1 and (out / "run.json").exists()


def test_log_csv_that_keras_cannot_open_is_a_run_write_error(tmp_path, monkeypatch):
    import keras_resnet.training.run as run_module

    out = tmp_path / "run"
    truncate_log = run_module.truncate_log

    def taken(path, epochs_done):  # log.csv is a directory when Keras' CSVLogger opens it
        truncate_log(path, epochs_done)
        os.mkdir(path)

    monkeypatch.setattr(run_module, "truncate_log", taken)
    with pytest.raises(RunWriteError, match="cannot write '.*run/log.csv': Is a directory"):
        train("resnet20", "digits", out=str(out), **TINY)
    assert not out.exists()
