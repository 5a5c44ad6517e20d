"""Training speed the way users run it: `model.fit` and `keras-resnet train`, next to torch.

`model.fit` rows: one worker process per contender, each built once and then
told in turn (over stdin) to run one short round of training steps, so every
contender sees the same machine state; a round's rate is images / seconds.
- keras_resnet: `model.fit` on a shuffled, batched, repeated, prefetched
  `tf.data.Dataset` of in-memory arrays (as `keras-resnet train` feeds it), SGD
  momentum 0.9, sparse cross-entropy from logits.
- torch: the usual loop over a shuffled `DataLoader(TensorDataset)`, in NCHW
  and in channels_last (`keras_resnet/torch_worker.py --mode fit`, which
  `keras-resnet benchmark --compare torch` runs too; `keras_resnet.benchmark.Worker`
  drives both sides).
The ratio is the median over rounds of keras_resnet's rate / the faster torch
layout's rate in that round.

`keras-resnet train` rows: the CLI itself (paper-cifar recipe: weight decay,
pad-crop-flip augmentation in tf.data, metrics, checkpoints, a small
validation split) on a generated CIFAR-10 directory; its rate is the median of
the epochs after the first (log.csv's `seconds`). `--no-precise-bn`: these
epochs are cut to 24 steps, and a run with fewer than 100 steps an epoch
re-estimates BatchNormalization's statistics before each validation, which
CIFAR's real 390-step epochs do not. Its torch reference is the
model's torch rate from the `fit` rounds of the same run.

`python -m benchmarks.fit --torch-python PY` prints the rows as JSON;
`benchmarks.run` calls `measure`.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

from benchmarks import common
from keras_resnet.benchmark import TORCH_WORKER, Worker

HERE = pathlib.Path(__file__).resolve().parent

# model, input size, batch, classes, steps per round
FIT_CASES = [
    ("resnet18", 32, 128, 10, 6),
    ("resnet20", 32, 128, 10, 6),
    ("resnet56", 32, 128, 10, 2),
    ("resnet50", 224, 16, 1000, 2),
]
LABELS = {"resnet18": "ResNet18 v1.5 at 32x32", "resnet20": "ResNet20 (CIFAR)",
          "resnet56": "ResNet56 (CIFAR)", "resnet50": "ResNet50 v1.5 at 224x224"}
CLI_CASES = [("resnet20", 24), ("resnet18", 24)]  # model, steps per epoch
# `keras-resnet train --model NAME` trains the registry's model in its own convention:
# resnet18 is keras.applications' "v1" (conv biases), not the v1.5 of the `fit` rows.
CLI_LABELS = {"resnet20": "ResNet20 (CIFAR)",
              "resnet18": "ResNet18 v1 (conv biases) at 32x32"}
CLI_EPOCHS = 3


# ----------------------------------------------------------------------------- the TF worker

def build_model(name: str, size: int, classes: int):
    """The model of a `model.fit` row: torchvision's layout (v1.5) for resnet18 and resnet50."""
    import keras_resnet
    if name in ("resnet18", "resnet50"):  # torchvision's layout: v1.5, stride in the 3x3
        builder = keras_resnet.ResNet18 if name == "resnet18" else keras_resnet.ResNet50
        return builder((size, size, 3), classes, variant="v1.5", classifier_activation=None)
    return keras_resnet.get_model(name, classifier_activation=None)


def build_cli_model(name: str, size: int, classes: int):
    """The model of a `keras-resnet train` row: the registry's, in its own convention."""
    import keras_resnet
    return keras_resnet.get_model(name, input_shape=(size, size, 3), num_classes=classes,
                                  classifier_activation=None)


def worker(args) -> None:
    """keras_resnet's side: one `model.fit` call whose callback runs the rounds."""
    tf = common.import_tf(args.threads)
    import keras
    import numpy as np

    model = build_model(args.model, args.size, args.classes)
    model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    rng = np.random.default_rng(0)
    n = args.batch * args.distinct_batches
    x = rng.normal(size=(n, args.size, args.size, 3)).astype("float32")
    y = rng.integers(0, args.classes, n)

    class Rounds(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            print("ready", flush=True)
            self._next()

        def _next(self):
            command = sys.stdin.readline().split()
            if not command or command[0] != "go":
                self.model.stop_training = True
                self.left = -1
                return
            self.left, self.start = int(command[1]), time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            self.left -= 1
            if self.left == 0:
                float(logs["loss"])  # the step has finished
                print(f"done {time.perf_counter() - self.start}", flush=True)
                self._next()

    # One pass over a repeated dataset: Keras' epoch boundaries would fall between rounds,
    # where a new epoch's iterator waited seconds after the callback had blocked.
    data = (tf.data.Dataset.from_tensor_slices((x, y)).shuffle(n, seed=0)
            .batch(args.batch, drop_remainder=True).repeat().prefetch(tf.data.AUTOTUNE))
    model.fit(data, steps_per_epoch=10**9, verbose=0, callbacks=[Rounds()])


# ----------------------------------------------------------------------------- the coordinator

def measure_fit(threads: int, rounds: int, torch_python, log=lambda msg: None) -> list:
    """One record per contender and case: median img/s, per-round rates, and the ratio."""
    records = []
    for model, size, batch, classes, steps in FIT_CASES:
        log(f"fit: {LABELS[model]}, batch {batch}")
        common = ["--model", model, "--size", str(size), "--batch", str(batch),
                  "--classes", str(classes), "--threads", str(threads)]
        commands = {"keras_resnet": [sys.executable, "-m", "benchmarks.fit", "--worker", *common]}
        if torch_python:
            for layout in ("NCHW", "channels_last"):
                commands[f"torch {layout}"] = [torch_python, TORCH_WORKER, "--mode", "fit",
                                               "--layout", layout, *common]
        workers = {name: Worker(command, cwd=str(HERE.parent))
                   for name, command in commands.items()}
        try:
            rates = {name: [] for name in workers}
            for round_ in range(rounds + 2):  # the first two rounds warm up
                order = list(workers) if round_ % 2 == 0 else list(workers)[::-1]
                for name in order:
                    seconds = workers[name].round(steps)
                    if round_ >= 2:
                        rates[name].append(batch * steps / seconds)
        finally:
            for w in workers.values():
                w.close()
        torch_best = [max(rates[n][i] for n in rates if n.startswith("torch"))
                      for i in range(rounds)] if torch_python else None
        for name, runs in rates.items():
            record = dict(model=model, label=LABELS[model], contender=name, path="model.fit"
                          if name == "keras_resnet" else "torch loop over a DataLoader",
                          size=size, batch=batch, img_s=statistics.median(runs),
                          img_s_runs=runs)
            if name == "keras_resnet" and torch_best:
                per_round = [a / b for a, b in zip(runs, torch_best)]
                record.update(vs_torch=statistics.median(per_round),
                              vs_torch_runs=per_round)
            records.append(record)
    return records


def _write_cifar10(root: str) -> str:
    sys.path.insert(0, str(HERE.parent))
    from tests.fake_data import write_cifar10
    return write_cifar10(root, per_batch=1024, test=256)[0]


def measure_cli(threads: int, fit_records: list, log=lambda msg: None) -> list:
    """`keras-resnet train` on a generated CIFAR-10: img/s of the epochs after the first."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), TF_NUM_INTRAOP_THREADS=str(threads),
               TF_NUM_INTEROP_THREADS=str(threads), TF_CPP_MIN_LOG_LEVEL="2")
    records = []
    with tempfile.TemporaryDirectory() as tmp:
        data = _write_cifar10(tmp)
        for model, steps in CLI_CASES:
            log(f"keras-resnet train: {CLI_LABELS[model]}, batch 128")
            out = os.path.join(tmp, f"run-{model}")
            subprocess.run([sys.executable, "-m", "keras_resnet", "train", "--model", model,
                            "--data", f"cifar10:{data}", "--epochs", str(CLI_EPOCHS),
                            "--batch-size", "128", "--steps-per-epoch", str(steps),
                            "--image-size", "32", "--no-precise-bn",
                            "--out", out], check=True, env=env, cwd=HERE.parent,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            with open(os.path.join(out, "log.csv")) as f:
                seconds = [float(row["seconds"]) for row in csv.DictReader(f)][1:]
            runs = [128 * steps / s for s in seconds]
            record = dict(model=model, label=CLI_LABELS[model], contender="keras_resnet",
                          path="keras-resnet train (paper-cifar recipe)", size=32, batch=128,
                          img_s=statistics.median(runs), img_s_runs=runs)
            torch = [r["img_s"] for r in fit_records
                     if r["model"] == model and r["contender"].startswith("torch")]
            if torch:
                record["vs_torch"] = record["img_s"] / max(torch)
            records.append(record)
    return records


def measure(threads: int, rounds: int, torch_python, log=lambda msg: None) -> dict:
    fit = measure_fit(threads, rounds, torch_python, log)
    return dict(fit=fit, cli=measure_cli(threads, fit, log))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--model", default="resnet20")
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--distinct-batches", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--torch-python", default=None)
    parser.add_argument("--no-cli", action="store_true")
    args = parser.parse_args(argv)
    if args.worker:
        worker(args)
        return 0
    log = lambda msg: print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr)  # noqa
    if args.no_cli:
        result = dict(fit=measure_fit(args.threads, args.rounds, args.torch_python, log))
    else:
        result = measure(args.threads, args.rounds, args.torch_python, log)
    json.dump(result, sys.stdout, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
