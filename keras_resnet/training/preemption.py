"""Stopping `train` cleanly when a machine goes away.

A termination signal (SIGTERM from a scheduler, SIGINT from Ctrl-C) only sets a
flag; `StepCheckpoint` acts on it at the next step boundary, with every worker
agreeing on the step (one all-reduce of the flag per step in multi-worker
runs), writes checkpoints/epoch-EEEE-step-SSSSSS.keras and raises `Preempted`.
A worker that stops answering makes a collective op time out
(`tf.distribute.experimental.CommunicationOptions(timeout_seconds=...)`); `lost_worker`
turns TensorFlow's error into `WorkerLost`, naming the worker.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import sys
import threading
from typing import Iterator, List, Optional

from keras_resnet.training.files import remove_checkpoints_before, save_model

EXIT_WORKER_LOST = 69  # sysexits.h EX_UNAVAILABLE
EXIT_PREEMPTED = 75  # sysexits.h EX_TEMPFAIL: checkpointed, run again with --resume
EXIT_NO_CHECKPOINT = 143  # 128 + SIGTERM: no step boundary came within the grace period
DEFAULT_GRACE_SECONDS = 30.0
DEFAULT_WORKER_TIMEOUT = 120.0


class Preempted(Exception):
    """`train` stopped on a termination signal after writing a checkpoint."""

    def __init__(self, signal_name: str, epoch: int, epochs: int, step: int, steps: int,
                 checkpoint: str):
        self.signal_name, self.epoch, self.epochs = signal_name, epoch, epochs
        self.step, self.steps, self.checkpoint = step, steps, checkpoint
        where = (f"in epoch {epoch} of {epochs} after step {step} of {steps}" if step
                 else f"after epoch {epoch} of {epochs}")
        super().__init__(f"stopped by {signal_name} {where}; checkpoint {checkpoint}")


class WorkerLost(Exception):
    """A collective op of a multi-worker run failed: a worker stopped answering."""

    def __init__(self, index: Optional[int], address: Optional[str], timeout: float):
        self.index, self.address = index, address
        who = (f"worker {index} ({address})" if index is not None
               else "one of the other workers")
        super().__init__(f"lost {who}: no answer within {timeout:g} s")


class TerminationRequest:
    """The first SIGTERM or SIGINT received (`name`, None before), and a watchdog
    that ends the process with EXIT_NO_CHECKPOINT when `done()` is not called
    within `grace_seconds` of it."""

    def __init__(self, grace_seconds: float):
        self.grace_seconds = grace_seconds
        self.name: Optional[str] = None
        self._timer: Optional[threading.Timer] = None

    def handle(self, signum, frame) -> None:
        if self.name is not None:  # a second signal: stop now
            self._give_up(f"a second {signal.Signals(signum).name}")
        self.name = signal.Signals(signum).name
        self._timer = threading.Timer(self.grace_seconds, self._give_up,
                                      (f"no step boundary within {self.grace_seconds:g} s",))
        self._timer.daemon = True
        self._timer.start()

    def done(self) -> None:
        if self._timer is not None:
            self._timer.cancel()

    @staticmethod
    def _give_up(why: str) -> None:
        print(f"keras-resnet train: stopped without a new checkpoint ({why}); --resume "
              f"continues from the last complete one", file=sys.stderr, flush=True)
        os._exit(EXIT_NO_CHECKPOINT)


@contextlib.contextmanager
def termination_signals(grace_seconds: float) -> Iterator[TerminationRequest]:
    """SIGTERM and SIGINT recorded in the yielded `TerminationRequest` inside the block
    (the previous handlers come back after it; outside the main thread nothing is caught)."""
    request = TerminationRequest(grace_seconds)
    if threading.current_thread() is not threading.main_thread():
        yield request
        return
    previous = {s: signal.signal(s, request.handle) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield request
    finally:
        request.done()
        for s, handler in previous.items():
            signal.signal(s, handler)


def make_step_checkpoint(checkpoints: str, request: TerminationRequest, strategy, *,
                         epochs: int, steps_per_epoch: int, every: Optional[int],
                         shown: Optional[str] = None):
    """The callback that checkpoints mid-epoch (every `every` steps, and on `request`)
    and stops the run on `request`; it must come after the epoch checkpoint's.
    `Preempted` names the checkpoint in `shown` (default `checkpoints`): the chief's
    directory, for workers that write to a scratch one."""
    import keras
    import tensorflow as tf

    from keras_resnet.training.distribute import num_workers

    several = num_workers(strategy) > 1

    class StepCheckpoint(keras.callbacks.Callback):
        """Writes epoch-EEEE-step-SSSSSS.keras (EEEE counted from 1, SSSSSS steps
        done in it) every `every` steps and when a termination signal came, then
        raises `Preempted`. A signal at an epoch's last step or during its
        validation stops the run after the epoch checkpoint instead."""

        def __init__(self):
            super().__init__()
            self.step_offset = 0  # steps of the current epoch done before this fit()
            self._epoch = 0
            self._after_epoch = False

        def _agreed(self) -> bool:
            stop = request.name is not None
            if several:  # all workers stop at the same step when any got the signal
                flag = strategy.reduce("SUM", tf.constant(float(stop)), axis=None)
                stop = float(flag) > 0
            return stop

        def on_epoch_begin(self, epoch, logs=None):
            self._epoch = epoch

        def on_train_batch_end(self, batch, logs=None):
            step = self.step_offset + batch + 1
            stop = self._agreed()
            if step >= steps_per_epoch:
                self._after_epoch = self._after_epoch or stop
                return
            if stop or (every and step % every == 0):
                name = f"epoch-{self._epoch + 1:04d}-step-{step:06d}.keras"
                path = os.path.join(checkpoints, name)
                os.makedirs(checkpoints, exist_ok=True)
                save_model(self.model, path)
                remove_checkpoints_before(checkpoints, self._epoch, step, epoch_ones=False)
                if stop:
                    self._stop(self._epoch + 1, step, path)

        def on_epoch_end(self, epoch, logs=None):
            if self._agreed() or self._after_epoch:
                self._stop(epoch + 1, 0, os.path.join(checkpoints, f"epoch-{epoch + 1:04d}.keras"))

        def _stop(self, epoch, step, path):
            request.done()
            raise Preempted(request.name or "another worker's signal", epoch, epochs, step,
                            steps_per_epoch, os.path.join(shown or checkpoints,
                                                          os.path.basename(path)))

    return StepCheckpoint()


def lost_worker(error, timeout: float) -> WorkerLost:
    """`WorkerLost` for a failed collective op `error`, naming the worker whose
    address (from TF_CONFIG) the error message gives, else the only other worker."""
    import json

    config = json.loads(os.environ.get("TF_CONFIG") or "{}")
    workers: List[str] = config.get("cluster", {}).get("worker", [])
    me = config.get("task", {}).get("index")
    others = [i for i in range(len(workers)) if i != me]
    message = str(getattr(error, "message", error))
    named = [i for i in others if re.search(re.escape(workers[i]) + r"(?!\d)", message)]
    pick = named if len(named) == 1 else others if len(others) == 1 else []
    if pick:
        return WorkerLost(pick[0], workers[pick[0]], timeout)
    return WorkerLost(None, None, timeout)
