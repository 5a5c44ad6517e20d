"""Surviving machines going away: SIGTERM checkpoints mid-epoch, a lost worker
stops the others with one line, and --resume continues both (issue 16)."""

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from keras_resnet.cli import _TF_LOG_LINE
from keras_resnet.training.files import remove_checkpoints_before, resume_point
from keras_resnet.training.preemption import (EXIT_PREEMPTED, EXIT_WORKER_LOST, WorkerLost,
                                              lost_worker)
from test_recipes import MODERN, _add_callback, _StateAtStart, fixed_batches  # noqa: F401
from test_training import _env, _free_ports, _log_epochs

# The CLI in a process that pins the data order and augmentation: op determinism makes
# tf.data run the augmentation's stateful random ops in order (no parallel race). With
# NPZ set, the trained model's weights are saved there too.
CLI = """
import os, sys
import numpy as np
import tensorflow as tf
tf.config.experimental.enable_op_determinism()
import keras_resnet.training as training
from keras_resnet.cli import main

train = training.train
def saving_train(*args, **kwargs):
    result = train(*args, **kwargs)
    np.savez(os.environ["NPZ"], *[v.numpy() for v in result.model.weights])
    return result
if os.environ.get("NPZ"):
    training.train = saving_train
sys.exit(main(sys.argv[1:]))
"""
TINY = ["--model", "resnet20", "--data", "digits", "--batch-size", "32", "--image-size", "16"]
STOPPED = re.compile(r"keras-resnet train: stopped by SIGTERM (in epoch (\d+) of \d+ after step "
                     r"(\d+) of \d+|after epoch (\d+) of \d+); checkpoint (\S+); resume")


def _start(script, argv, tf_config=None, npz=None):
    env = {**_env(), **({"TF_CONFIG": json.dumps(tf_config)} if tf_config else {}),
           **({"NPZ": str(npz)} if npz else {})}
    return subprocess.Popen([sys.executable, str(script), "train", *argv], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _finish(procs, timeout=300):
    """(return codes, stderr texts without TensorFlow's start-up lines, which the
    script's early TF import lets through); every process is gone afterwards."""
    try:
        errs = ["".join(line for line in p.communicate(timeout=timeout)[1].splitlines(True)
                        if not _TF_LOG_LINE.match(line)) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    return [p.returncode for p in procs], errs


def _when_exists(path, procs, timeout=240):
    end = time.monotonic() + timeout
    while not os.path.exists(path):
        assert all(p.poll() is None for p in procs) and time.monotonic() < end, path
        time.sleep(0.02)


def _cluster(n):
    workers = [f"127.0.0.1:{p}" for p in _free_ports(n)]
    return [{"cluster": {"worker": workers}, "task": {"type": "worker", "index": i}}
            for i in range(n)], workers


def _weights(npz):
    data = np.load(npz)
    return [data[k] for k in data.files]


# ----------------------------------------------------------------------------- fast

def test_resume_point_is_the_furthest_checkpoint_epoch_or_mid_epoch(tmp_path):
    ckpts = tmp_path / "checkpoints"
    ckpts.mkdir()
    assert resume_point(str(tmp_path)) == (0, 0, None)
    for name in ("epoch-0002.keras", "epoch-0003-step-000004.keras", ".tmp-1-epoch-0003-"
                 "step-000009.keras", "epoch-0002-step-000007.keras"):
        (ckpts / name).write_bytes(b"")
    # epoch 3 started after epochs 1-2: 4 steps into it is the furthest complete one
    assert resume_point(str(tmp_path)) == (2, 4, str(ckpts / "epoch-0003-step-000004.keras"))
    remove_checkpoints_before(str(ckpts), 2, 4, epoch_ones=False)  # a new mid-epoch one
    assert sorted(os.listdir(ckpts))[1:] == ["epoch-0002.keras", "epoch-0003-step-000004.keras"]
    (ckpts / "epoch-0003.keras").write_bytes(b"")
    remove_checkpoints_before(str(ckpts), 3, 0, epoch_ones=True)  # the end of epoch 3
    assert sorted(os.listdir(ckpts))[1:] == ["epoch-0003.keras"]


def test_lost_worker_is_named_from_the_error_or_the_cluster(monkeypatch):
    workers = ["10.0.0.1:2222", "10.0.0.2:2222", "10.0.0.3:22221"]
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"worker": workers},
                                                "task": {"type": "worker", "index": 0}}))
    e = lost_worker(RuntimeError("Collective ops is aborted by: failed to connect to all "
                                 "addresses; last error: ipv4:10.0.0.2:2222: Connection refused"),
                    60)
    assert (e.index, e.address) == (1, "10.0.0.2:2222")
    assert str(e) == "lost worker 1 (10.0.0.2:2222): no answer within 60 s"
    assert lost_worker(RuntimeError("deadline exceeded"), 60).index is None  # two others
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"worker": workers[:2]},
                                                "task": {"type": "worker", "index": 1}}))
    assert isinstance(lost_worker(RuntimeError("x"), 5), WorkerLost)
    assert lost_worker(RuntimeError("x"), 5).address == "10.0.0.1:2222"  # the only other


# ----------------------------------------------------------------------------- one machine

@pytest.mark.slow  # three training processes
@pytest.mark.whole_machine  # a 30 s grace period
def test_sigterm_checkpoints_mid_epoch_and_resume_equals_an_uninterrupted_run(tmp_path):
    script = tmp_path / "cli.py"
    script.write_text(CLI)
    argv = [*TINY, "--epochs", "3", "--steps-per-epoch", "20"]
    out, whole = str(tmp_path / "run"), str(tmp_path / "whole")
    proc = _start(script, [*argv, "--out", out])
    try:
        _when_exists(os.path.join(out, "checkpoints", "epoch-0001.keras"), [proc])
        proc.send_signal(signal.SIGTERM)  # early in epoch 2
        sent = time.monotonic()
        proc.wait(timeout=30)  # the grace period
        waited = time.monotonic() - sent
    finally:
        (codes, errs) = _finish([proc])
    assert codes == [EXIT_PREEMPTED], errs
    m = STOPPED.search(errs[0])
    assert m and m.group(2) == "2" and 1 <= int(m.group(3)) < 20, errs
    assert errs[0].strip().count("\n") == 0, errs  # one line, no traceback
    assert f"resume with: keras-resnet train --out {out} --resume" in errs[0]
    assert m.group(5) == os.path.join(out, "checkpoints", f"epoch-0002-step-{m.group(3):0>6}"
                                                          ".keras") and os.path.isfile(m.group(5))
    assert resume_point(out)[:2] == (1, int(m.group(3)))
    assert _log_epochs(out) == [0] and waited < 30

    codes, errs = _finish([_start(script, ["--out", out, "--resume"], npz=tmp_path / "r.npz"),
                           _start(script, [*argv, "--out", whole], npz=tmp_path / "w.npz")])
    assert codes == [0, 0], errs
    assert _log_epochs(out) == [0, 1, 2]  # every epoch once
    for a, b in zip(_weights(tmp_path / "r.npz"), _weights(tmp_path / "w.npz")):
        np.testing.assert_array_equal(a, b)
    rows = [list(csv.DictReader(open(os.path.join(d, "log.csv")))) for d in (out, whole)]
    assert [r["learning_rate"] for r in rows[0]] == [r["learning_rate"] for r in rows[1]]
    assert rows[0][2] == {**rows[1][2], "seconds": rows[0][2]["seconds"]}  # after the resume
    assert [n for n in os.listdir(os.path.join(out, "checkpoints"))] == ["epoch-0003.keras"]


@pytest.mark.slow  # two short in-process training runs
def test_resume_mid_epoch_keeps_training_the_live_weights_not_the_ema(
        tmp_path, monkeypatch, fixed_batches):  # noqa: F811 (the fixture)
    """A resumed partial epoch is a fit() of its own; Keras' fit() ends by copying the
    moving average into the model, which must not happen before the epochs after it."""
    import keras

    from keras_resnet.training import train
    from keras_resnet.training.preemption import Preempted

    class SigtermAt(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if self.epoch == 1 and batch == 2:
                os.kill(os.getpid(), signal.SIGTERM)  # a scheduler's notice, mid-epoch 2

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

    out = str(tmp_path / "run")
    restore = _add_callback(monkeypatch, SigtermAt())
    with pytest.raises(Preempted, match=r"SIGTERM in epoch 2 of 6 after step 3 of 6"):
        train("resnet20", "digits", out=out, **MODERN)  # 6 epochs: an EMA momentum > 0
    restore()
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the handler is gone again
    start = _StateAtStart()  # records every fit(): the last is that of epoch 3
    _add_callback(monkeypatch, start)
    result = train(None, None, out=out, resume=True, verbose=0)
    assert start.iterations == 12 and int(result.model.optimizer.iterations.numpy()) == 36
    assert max(np.abs(a - b).max() for a, b in zip(start.weights, start.averages)) > 1e-4
    assert _log_epochs(out) == [0, 1, 2, 3, 4, 5]


@pytest.mark.slow  # a training run
def test_checkpoint_every_bounds_what_a_crash_loses(tmp_path, monkeypatch):
    import keras

    from keras_resnet.training import train

    class Crash(Exception):
        pass

    class CrashAt(keras.callbacks.Callback):  # runs before the step checkpoint's callback
        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_end(self, batch, logs=None):
            if self.epoch == 1 and batch == 4:
                raise Crash  # as SIGKILL after step 5 of epoch 2

    out = str(tmp_path / "run")
    _add_callback(monkeypatch, CrashAt())
    with pytest.raises(Crash):
        train("resnet20", "digits", out=out, epochs=2, batch_size=32, steps_per_epoch=6,
              image_size=16, verbose=0, checkpoint_every=2)
    assert sorted(os.listdir(os.path.join(out, "checkpoints"))) == [
        "epoch-0001.keras", "epoch-0002-step-000004.keras"]  # step 2's replaced by step 4's
    assert resume_point(out)[:2] == (1, 4)  # one step lost, not five


# ----------------------------------------------------------------------------- two workers

@pytest.mark.slow  # three two-worker runs (one test: each start costs ~10 s per worker)
@pytest.mark.whole_machine  # two workers and their time limits
def test_two_workers_survive_sigterm_then_a_killed_worker_and_resume_agrees(tmp_path):
    script = tmp_path / "cli.py"
    script.write_text(CLI)
    out, timeout = str(tmp_path / "run"), 20
    common = ["--out", out, "--strategy", "multi_worker", "--worker-timeout", str(timeout)]
    resume = [*common, "--resume"]
    configs, workers = _cluster(2)

    # SIGTERM to both early in epoch 2: both stop at the same step, with a checkpoint.
    procs = [_start(script, [*TINY, "--epochs", "3", "--steps-per-epoch", "12", *common], c)
             for c in configs]
    try:
        _when_exists(os.path.join(out, "checkpoints", "epoch-0001.keras"), procs)
        for p in procs:
            p.send_signal(signal.SIGTERM)
    finally:
        codes, errs = _finish(procs, timeout=60)
    assert codes == [EXIT_PREEMPTED] * 2, errs
    lines = [STOPPED.search(e) for e in errs]
    assert all(lines) and lines[0].group(0) == lines[1].group(0), errs  # the same step
    assert "resume on every worker with:" in errs[0] and "--strategy multi_worker" in errs[0]
    assert os.path.isfile(lines[0].group(5)) and resume_point(out)[0] == 1

    # Resumed, then worker 1 SIGKILLed in epoch 3: worker 0 stops within the timeout.
    procs = [_start(script, resume, c) for c in configs]
    try:
        _when_exists(os.path.join(out, "checkpoints", "epoch-0002.keras"), procs)
        procs[1].kill()
        killed = time.monotonic()
        # It exits on its own: usually in seconds (connection refused), at most after the
        # timeout plus teardown, which took over 15 s once on a loaded 2-core CI machine.
        procs[0].wait(timeout=timeout + 60)
        waited = time.monotonic() - killed
    finally:
        codes, errs = _finish(procs, timeout=10)
    assert codes == [EXIT_WORKER_LOST, -signal.SIGKILL], errs
    assert waited < timeout + 60
    # Warnings (short epochs) come as one line each; the error is the last line, no traceback.
    assert all(line.startswith("keras-resnet train: warning: ")
               for line in errs[0].splitlines()[:-1]), errs[0]
    assert re.fullmatch(rf"keras-resnet train: error: lost worker 1 \({workers[1]}\): no answer "
                        rf"within {timeout} s; no checkpoint written; restart every worker with: "
                        rf"keras-resnet train --out {out} --resume --strategy multi_worker",
                        errs[0].splitlines()[-1]), errs[0]
    assert sorted(os.listdir(os.path.join(out, "checkpoints"))) == ["epoch-0002.keras"]

    # Both restarted with --resume: the run completes, the same weights on both.
    codes, errs = _finish([_start(script, resume, c, tmp_path / f"w{i}.npz")
                           for i, c in enumerate(configs)])
    assert codes == [0, 0], errs
    for a, b in zip(_weights(tmp_path / "w0.npz"), _weights(tmp_path / "w1.npz")):
        np.testing.assert_array_equal(a, b)
    assert _log_epochs(out) == [0, 1, 2]  # every epoch once
    assert json.load(open(os.path.join(out, "metrics.json")))["epochs"] == 3
