"""Files of the run directory: atomic JSON and model writes, checkpoints, log.csv on resume.

Every file is written to a temporary name in the same directory and renamed
(`keras_resnet.atomic`), so a run killed at any moment leaves only complete files.
A file or directory of the run that cannot be written is a `RunWriteError`.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
from typing import Iterator, Optional, Tuple

from keras_resnet.atomic import atomic_path, write_text

CHECKPOINT_RE = re.compile(r"^epoch-(\d{4,})\.keras$")
# Written mid-epoch (preemption, --checkpoint-every): epoch counted from 1, steps done in it.
STEP_CHECKPOINT_RE = re.compile(r"^epoch-(\d{4,})-step-(\d{6,})\.keras$")


class RunWriteError(OSError):
    """A file or directory of a run (the run directory, run.json, log.csv, a
    checkpoint, the results) could not be written: no permission, a full disk, a
    file where a directory should be. `filename` is the path; `strerror` why."""

    def __init__(self, path: str, cause: OSError):
        super().__init__(cause.errno, cause.strerror or str(cause), path)

    def __str__(self) -> str:
        return f"cannot write {self.filename!r}: {self.strerror}"


@contextlib.contextmanager
def writing(path: str) -> Iterator[None]:
    """An OSError inside the block becomes a `RunWriteError` naming `path`."""
    try:
        yield
    except RunWriteError:
        raise
    except OSError as e:
        raise RunWriteError(path, e) from e


def run_subdirectory(path: str) -> None:
    """Create the directory `path` (and its parents) if missing; a `RunWriteError`
    when it cannot be."""
    with writing(path):
        os.makedirs(path, exist_ok=True)


def write_json(path: str, obj) -> None:
    """Write `obj` to `path` as indented, key-sorted JSON (atomically); a
    `RunWriteError` when it cannot be written."""
    with writing(path):
        write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def save_model(model, path: str) -> None:
    """`model.save(path)` through a temporary file, so `path` is complete or absent;
    a `RunWriteError` when it cannot be written."""
    with writing(path), atomic_path(path) as tmp:
        model.save(tmp)


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


def _positions(directory: str):
    """(epochs done, steps done in the next epoch, file name) of every complete checkpoint."""
    for name in os.listdir(directory) if os.path.isdir(directory) else ():
        m = CHECKPOINT_RE.match(name)
        if m:
            yield int(m.group(1)), 0, name
        m = STEP_CHECKPOINT_RE.match(name)
        if m:
            yield int(m.group(1)) - 1, int(m.group(2)), name


def resume_point(out: str) -> Tuple[int, int, Optional[str]]:
    """(epochs done, steps done in the next epoch, path) of the furthest complete
    checkpoint in `out`, epoch or mid-epoch, or (0, 0, None)."""
    directory = os.path.join(out, "checkpoints")
    epochs, step, name = max(_positions(directory), default=(0, 0, None))
    return epochs, step, name and os.path.join(directory, name)


def remove_checkpoints_before(directory: str, epochs: int, step: int, *,
                              epoch_ones: bool) -> None:
    """Remove the mid-epoch checkpoints (and with `epoch_ones` the epoch ones) in
    `directory` that are behind `step` steps into the epoch after `epochs` done."""
    for done, at, name in list(_positions(directory)):
        if (done, at) < (epochs, step) and (at or epoch_ones):
            with writing(os.path.join(directory, name)):
                os.remove(os.path.join(directory, name))


def read_json(path: str, what: str) -> dict:
    """The JSON object in `path`; a ValueError naming `what` if it is missing or unreadable."""
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        raise ValueError(f"{what} not found: {path!r}") from None
    except (OSError, json.JSONDecodeError) as e:
        raise ValueError(f"cannot read {what} {path!r}: {e}") from None


def truncate_log(path: str, epochs_done: int) -> None:
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
        with writing(path):
            write_text(path, text.getvalue())
