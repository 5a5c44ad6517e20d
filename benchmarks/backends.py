"""The same keras_resnet models on each Keras backend: TensorFlow, JAX and PyTorch.

    .venv/bin/python -m benchmarks.backends [--quick]   # alone: prints its table part
    (python -m benchmarks.run runs it too and puts its rows in results.json)

The parent writes one set of seeded weights (ResNet50 v1 with randomized BN
statistics, ResNet20) to a temporary directory; each backend then runs in its
own process (`KERAS_BACKEND` is fixed when Keras is imported), loads them with
`weights=` and times, with Keras' own per-backend execution (XLA on JAX, eager
PyTorch, a tf.function on TensorFlow):

- ResNet50 fp32 inference at 224x224, `predict_on_batch` on a fixed batch of 32
  (one call per round) and of 1 (`--batch1-calls` per round);
- the ResNet20 training step at 32x32, batch 128: `train_on_batch` (SGD,
  momentum 0.9, cross-entropy on logits) on a fixed in-memory batch.

Each figure is the median of `--repeats` rounds after three warm-up calls, the
same rounds as `benchmarks.run`. Each process also reports ResNet50's logits on
a fixed input, so the table shows that every row computes the same function
(max difference from TensorFlow's). `--quick` checks the harness only (one
round, 64x64 inference inputs), not the speed.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time

from benchmarks import common, summary
from benchmarks.common import CIFAR, IMAGENET

BACKENDS = ("tensorflow", "jax", "torch")
PARITY_BATCH = 2


def _pin_threads(threads: int) -> None:
    """As benchmarks.run pins TensorFlow and torch (the environment variables are
    inherited from it); before any op runs."""
    import keras

    if keras.backend.backend() == "torch":
        import torch
        torch.set_num_threads(threads)
        torch.set_num_interop_threads(1)  # as benchmarks/torch_bench.py
    elif keras.backend.backend() == "tensorflow":
        import tensorflow as tf
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)


def write_weights(directory: str, size: int) -> None:
    """ResNet50 (randomized BN statistics) and ResNet20 weights, and a parity input."""
    import keras
    import numpy as np

    import keras_resnet

    rng = np.random.default_rng(1)
    resnet50 = keras_resnet.ResNet50()
    common.randomize_bn(resnet50, rng)
    resnet50.save_weights(os.path.join(directory, "resnet50.weights.h5"))
    keras_resnet.ResNet20().save_weights(os.path.join(directory, "resnet20.weights.h5"))
    np.save(os.path.join(directory, "parity_input.npy"),
            rng.normal(size=(PARITY_BATCH, size, size, 3)).astype("float32"))
    keras.backend.clear_session()


def child(args) -> dict:
    """Runs in the backend's own process: build, load, time; returns the records."""
    import keras
    import numpy as np

    import keras_resnet

    backend = keras.backend.backend()
    rng = np.random.default_rng(2)
    size = args.size
    start = time.perf_counter()
    resnet50 = keras_resnet.ResNet50((size, size, 3), classifier_activation=None,
                                     weights=os.path.join(args.weights, "resnet50.weights.h5"))
    build_s = time.perf_counter() - start
    parity = resnet50.predict_on_batch(np.load(os.path.join(args.weights, "parity_input.npy")))
    records = []
    for batch, calls in ((32, 1), (1, args.batch1_calls)):
        x = rng.normal(size=(batch, size, size, 3)).astype("float32")
        for _ in range(3):  # compile (XLA on JAX), then warm the kernels' caches
            resnet50.predict_on_batch(x)
        (rate, runs), = common.interleaved(
            {"r50": lambda x=x: resnet50.predict_on_batch(x)}, batch, args.repeats,
            {"r50": calls}).values()
        records.append(dict(task="inference", model="resnet50", dtype="fp32", batch=batch,
                            size=size, img_s=rate, img_s_runs=runs))
    resnet20 = keras_resnet.ResNet20(classifier_activation=None,
                                     weights=os.path.join(args.weights, "resnet20.weights.h5"))
    resnet20.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9),
                     loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x = rng.normal(size=(args.train_batch,) + CIFAR).astype("float32")
    y = rng.integers(0, 10, args.train_batch)
    for _ in range(3):
        resnet20.train_on_batch(x, y)
    (rate, runs), = common.interleaved(
        {"r20": lambda: resnet20.train_on_batch(x, y)}, args.train_batch, args.repeats,
        {"r20": args.train_calls}).values()
    records.append(dict(task="training", model="resnet20", dtype="fp32",
                        batch=args.train_batch, size=CIFAR[0], img_s=rate, img_s_runs=runs))
    versions = {"keras": keras.__version__}
    module = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}[backend]
    versions[backend] = sys.modules[module].__version__
    return dict(backend=backend, versions=versions, records=records, build_s=build_s,
                peak_rss_mb=common.peak_rss_mb(), parity_logits=np.asarray(parity).tolist())


def measure(args, log=lambda msg: None) -> dict:
    """Every installed backend on the same weights, one process each."""
    import numpy as np

    common.pin_threads_env(args.threads)  # inherited by each backend's process
    size = 64 if args.quick else IMAGENET[0]
    train_calls = args.train_calls  # an int here, benchmarks.run's per-model dict there
    train_calls = train_calls["resnet20"] if isinstance(train_calls, dict) else train_calls
    results = dict(size=size, repeats=args.repeats, backends=[], skipped=[])
    with tempfile.TemporaryDirectory() as directory:
        # In a fresh TensorFlow process too: the caller's Keras session stays as it is.
        for backend in ("tensorflow",) + BACKENDS[1:]:
            if backend != "tensorflow" and importlib.util.find_spec(backend) is None:
                results["skipped"].append(f"{backend}: not installed")
                continue
            log(f"  Keras backend {backend}")
            command = [sys.executable, "-m", "benchmarks.backends", "--child",
                       "--weights", directory, "--size", str(size),
                       "--threads", str(args.threads), "--repeats", str(args.repeats),
                       "--batch1-calls", str(args.batch1_calls),
                       "--train-batch", str(args.train_batch),
                       "--train-calls", str(train_calls)]
            if backend == "tensorflow":
                command.append("--write-weights")
            env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "2"}
            out = subprocess.run(command, capture_output=True, text=True, env=env,
                                 cwd=common.ROOT)
            if out.returncode != 0:
                raise RuntimeError(f"the {backend} benchmark process failed:\n"
                                   f"{out.stderr[-3000:]}")
            results["backends"].append(json.loads(out.stdout.strip().splitlines()[-1]))
    reference = np.asarray(results["backends"][0]["parity_logits"])
    for entry in results["backends"]:
        logits = np.asarray(entry.pop("parity_logits"))
        entry["max_abs_diff_from_tensorflow"] = float(np.abs(logits - reference).max())
        entry["logits_scale"] = float(np.abs(reference).max())
    return results


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.backends",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--repeats", type=int, default=common.REPEATS)
    parser.add_argument("--batch1-calls", type=int, default=common.BATCH1_CALLS)
    parser.add_argument("--train-batch", type=int, default=128)
    parser.add_argument("--train-calls", type=int, default=5)
    parser.add_argument("--quick", action="store_true",
                        help="one round, 64x64 inference inputs: checks the harness")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--write-weights", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--weights", help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, default=IMAGENET[0], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.repeats, args.batch1_calls, args.train_calls = 1, 1, 1
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.child:
        _pin_threads(args.threads)
        if args.write_weights:
            write_weights(args.weights, args.size)
        print(json.dumps(child(args)))
        return 0
    results = measure(args, log=lambda msg: print(msg, file=sys.stderr))
    print(json.dumps(results, indent=1))
    print("\n".join(summary.backend_rows(results)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
