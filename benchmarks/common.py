"""What the benchmark modules share: the harness version, provenance, timing helpers.

The leaf of benchmarks/: it imports no other benchmark module (tests/test_benchmarks.py
checks), and nothing heavy at module level, so any of them and the tests can import it.
"""

from __future__ import annotations

import os
import pathlib
import statistics
import subprocess
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent

# What the harness measures, as a number. Bump it when a change to benchmarks/ changes what a
# figure means (a model, batch, input, timing method, warm-up, thread setting), so that
# results of two versions are not set side by side; not for refactors or presentation.
# 1: the harness of the run of 2026-11-30 (commit 3f978c4, harness fingerprint 8131c51 before
#    versions were recorded).
HARNESS_VERSION = 1

# Where the measured code lives, for `python -m benchmarks.run --check`: commits since the
# measured one that touch these paths make the results older than the code. The results
# themselves and summary.py (it only renders them) do not.
MEASURED_PATHS = ("keras_resnet", "benchmarks")
NOT_MEASURED = ("benchmarks/results", "benchmarks/summary.py")
# `git status` paths that do not make a run's tree dirty: the previous results it replaces.
NOT_DIRTYING = ("benchmarks/results/",)

IMAGENET = (224, 224, 3)
CIFAR = (32, 32, 3)
REPEATS = 7  # timed rounds per figure
BATCH1_CALLS = 10  # calls per round at batch 1


def add_shared_arguments(parser) -> None:
    """The options `benchmarks.run` and `benchmarks.deploy` both take, with one default each."""
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--repeats", type=int, default=REPEATS, help="timed rounds per figure")
    parser.add_argument("--batch1-calls", type=int, default=BATCH1_CALLS)
    parser.add_argument("--deploy-epochs", type=int, default=10,
                        help="training epochs of the digits nets of the int8 accuracy rows")
    parser.add_argument("--deploy-calibration", type=int, default=16,
                        help="calibration images of the ResNet50 int8 speed rows (random)")
    parser.add_argument("--torch-python", default=None,
                        help="a Python with torch + torchvision ('' to skip torch)")


# ----------------------------------------------------------------------------- provenance

def git(*args: str, root=ROOT):
    """stdout of `git args` in `root`, or None when git is missing or fails there."""
    try:
        out = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True,
                             check=False)
    except OSError:
        return None
    return out.stdout if out.returncode == 0 else None


def dirty_paths(root=ROOT) -> list:
    """Paths `git status --porcelain` reports, less those under NOT_DIRTYING."""
    status = git("status", "--porcelain", "--untracked-files=all", root=root) or ""
    paths = []
    for line in status.splitlines():
        path = line[3:].split(" -> ")[-1].strip('"')
        if not path.startswith(NOT_DIRTYING):
            paths.append(path)
    return paths


def provenance(root=ROOT) -> dict:
    """What a run records when it starts: the commit it measures, whether the tree was dirty
    (and where), and the harness version. commit and dirty are None outside a git checkout."""
    head = git("rev-parse", "HEAD", root=root)
    paths = dirty_paths(root) if head else []
    return dict(commit=head.strip() if head else None,
                dirty=bool(paths) if head else None, dirty_paths=paths[:50],
                harness_version=HARNESS_VERSION,
                recorded_by="python -m benchmarks.run, when the run started")


def staleness(recorded: dict, root=ROOT) -> dict:
    """How the code now differs from what `recorded` (a results' provenance) measured.

    Returns a dict: `known` (False when the measured commit is not in this checkout's
    history, or there is no git), `commits` (those since the measured one that touch
    MEASURED_PATHS but not only NOT_MEASURED, newest first: sha, date, subject, files),
    `dirty_paths` (uncommitted changes under MEASURED_PATHS now) and both harness versions.
    """
    out = dict(commit=recorded.get("commit"), recorded_harness=recorded.get("harness_version"),
               harness=HARNESS_VERSION, known=False, commits=[], dirty_paths=[])
    commit = out["commit"]
    if git("rev-parse", "--git-dir", root=root) is None:
        return out
    out["dirty_paths"] = [p for p in dirty_paths(root) if _measured(p)]
    if not commit or git("merge-base", "--is-ancestor", commit, "HEAD", root=root) is None:
        return out
    out["known"] = True
    pathspec = list(MEASURED_PATHS) + [f":(exclude){p}" for p in NOT_MEASURED]
    log = git("log", "--format=%x00%H%x09%ad%x09%s", "--date=short", "--name-only",
              f"{commit}..HEAD", "--", *pathspec, root=root) or ""
    for entry in log.split("\0")[1:]:
        head, *files = entry.strip("\n").split("\n")
        sha, date, subject = head.split("\t", 2)
        out["commits"].append(dict(sha=sha, date=date, subject=subject,
                                   files=[f for f in files if f]))
    return out


def _measured(path: str) -> bool:
    inside = any(path == p or path.startswith(p + "/") for p in MEASURED_PATHS)
    return inside and not any(path == p or path.startswith(p + "/") for p in NOT_MEASURED)


# ----------------------------------------------------------------------------- the run

def pin_threads_env(threads: int) -> None:
    """OMP/MKL/TensorFlow thread counts in the environment (inherited by child processes)."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "TF_NUM_INTRAOP_THREADS",
                "TF_NUM_INTEROP_THREADS"):
        os.environ[var] = str(threads)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def import_tf(threads: int):
    """TensorFlow with its intra- and inter-op pools pinned to `threads`."""
    pin_threads_env(threads)
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    return tf


def torch_python(requested):
    """The Python to run torch_bench.py with: `requested` ('' disables torch), else
    $KERAS_RESNET_TORCH_PYTHON, else this interpreter when it can import torch, else None."""
    if requested is not None:
        return requested or None
    if os.environ.get("KERAS_RESNET_TORCH_PYTHON"):
        return os.environ["KERAS_RESNET_TORCH_PYTHON"]
    import importlib.util
    import sys
    return sys.executable if importlib.util.find_spec("torch") else None


def peak_rss_mb() -> float:
    """This process' peak resident set (VmHWM). getrusage's ru_maxrss would do, but
    Linux carries the parent's peak over fork + exec into it."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM")) / 1024


def interleaved(fns: dict, images: int, repeats: int, calls: dict) -> dict:
    """Median img/s of each function, timed in interleaved rounds (in forward,
    then backward order, so that no function always runs first)."""
    rates = {name: [] for name in fns}
    for round_ in range(repeats):
        for name, fn in list(fns.items())[::1 if round_ % 2 == 0 else -1]:
            start = time.perf_counter()
            for _ in range(calls[name]):
                fn()
            rates[name].append(images * calls[name] / (time.perf_counter() - start))
    return {name: (statistics.median(r), r) for name, r in rates.items()}


def randomize_bn(model, rng) -> None:
    """Random BatchNormalization weights and statistics, so that folding has work to do."""
    import keras
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights([rng.uniform(0.5, 1.5, gamma.shape).astype("float32"),
                               rng.normal(0, 0.1, beta.shape).astype("float32"),
                               rng.normal(0, 0.1, mean.shape).astype("float32"),
                               rng.uniform(0.5, 2.0, var.shape).astype("float32")])
