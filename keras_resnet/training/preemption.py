"""Stopping `train` cleanly when a machine goes away.

A termination signal (SIGTERM from a scheduler, SIGINT from Ctrl-C) only sets a
flag; `keras_resnet.training.callbacks.StepCheckpoint` acts on it at the next
step boundary, with every worker agreeing on the step (one all-reduce of the flag
per step in multi-worker runs), writes checkpoints/epoch-EEEE-step-SSSSSS.keras
and raises `Preempted`.
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
