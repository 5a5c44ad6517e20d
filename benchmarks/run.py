"""Speed of keras_resnet next to keras.applications and torchvision, in one run.

    .venv/bin/python -m benchmarks.run [--torch-python PATH] [--out benchmarks/results]
    .venv/bin/python -m benchmarks.run --check    # are the results older than the code?
    .venv/bin/python -m benchmarks.run --render   # rewrite the Speed page's table from results.json

Writes `results.json` and `speed.png` to `--out` and the table between the
speed-table markers of docs/speed.md. The results record, taken when the run starts,
the commit measured (`git rev-parse HEAD`), whether the tree was dirty (`git status`,
less benchmarks/results/) and `common.HARNESS_VERSION`; the table shows them.
`--check` lists the commits since the measured one that touch keras_resnet/ or
benchmarks/ (a report: it exits 0). What is measured, and how:

- Threads are pinned (`--threads`, default all cores): OMP/MKL environment
  variables, TensorFlow's intra-op pool and torch's intra-op threads. The
  TensorFlow inter-op pool gets `--threads` too, TensorFlow's own default on a
  machine of that many cores; torch's eager autograd runs its ops one after
  another, so its inter-op pool idles (it gets one thread).
- Inference: a `tf.function` calling `model(x, training=False)` on a fixed
  224x224 input, batch 32 (one call per round) and batch 1 (10 calls per
  round). Training: a `tf.function` train step (forward, loss, gradients, SGD
  momentum update) on a fixed in-memory batch of 128 at 32x32; ResNet20 is
  also timed with Keras' own BatchNormalization in place of our fused layer
  (same weights), to show what the layer is worth. The models of
  a group are timed in interleaved rounds; each figure is the median of the
  rounds (`--repeats`).
- keras.applications' ResNet50 and ours get the same weights (BN statistics
  randomized so that folding has work to do); bf16 is `mixed_bfloat16`, for
  keras.applications by building under the global policy, for ours with
  `keras_resnet.inference.with_dtype_policy`.
- Build time: median of 3 builds in a fresh process (the first one cold).
  Peak memory: peak RSS (VmHWM of /proc/self/status) of that process after
  its first build and 3 inference batches of 32 (or 5 training steps).
- GFLOP/s = 2 x MACs (`keras_resnet.count_macs`) x img/s, against the FP32 FMA
  peak = cores x clock x FLOP/cycle (two FMA pipes per core: 64 with AVX-512, 32
  with AVX2; `keras_resnet.benchmark.fma_peak`, shared with `keras-resnet
  benchmark`), with the clock measured by its FMA-bound loop, built for the
  CPU's widest FMA, when a C compiler is present, else read from /proc/cpuinfo;
  and against a 4096^3 TF sgemm.
- Input pipeline: `pipeline.py` times the photo training pipeline (JPEG
  decode with the crop window, random-resized crop to 224, flip) on
  synthetic 500x375 JPEGs with tf.data's pool limited to `--threads`; its
  rate is set against ResNet50's fp32 inference rate at batch 32, which
  bounds its training rate from above.
- torch: `torch_bench.py` runs under `--torch-python` (default: this
  interpreter when it can import torch; skipped when none can).
- Training the way users run it: `fit.py` times `model.fit` next to torch's
  usual DataLoader loop (worker processes told in turn to run a round each)
  and `keras-resnet train` itself (see its docstring); the training share of
  the FMA peak is 6 x MACs x img/s (forward + backward ~ 3 forward passes).
- Deployment (int8 accuracy and speed, ONNX): `benchmarks/deploy.py`, whose
  docstring says what it measures.
- Keras backends: `backends.py` runs ResNet50 fp32 inference and the ResNet20
  training step on TensorFlow, JAX and PyTorch (each installed one, a process
  each), with the same weights (see its docstring).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import time
from typing import Optional

from benchmarks import common, deploy, fit, pipeline, summary
from benchmarks.common import CIFAR, IMAGENET
from keras_resnet.benchmark import cpu_flags, cpu_model, fma_peak, isa

HERE = pathlib.Path(__file__).resolve().parent



# ----------------------------------------------------------------------------- models

def _keras_applications_resnet50(policy: str = "float32"):
    import keras
    keras.config.set_dtype_policy(policy)
    try:
        return keras.applications.ResNet50(weights=None)
    finally:
        keras.config.set_dtype_policy("float32")


def _inference_models(rng) -> list:
    """(key, label, dtype, model) of every inference model, all with the same weights
    where the architecture is the same."""
    import keras_resnet
    from keras_resnet.inference import fold_batchnorm, with_dtype_policy

    ka = _keras_applications_resnet50()
    common.randomize_bn(ka, rng)
    ours = keras_resnet.ResNet50()
    ours.set_weights(ka.get_weights())
    ours15 = keras_resnet.ResNet50(variant="v1.5")
    common.randomize_bn(ours15, rng)
    ka16 = _keras_applications_resnet50("mixed_bfloat16")
    ka16.set_weights(ka.get_weights())
    folded = fold_batchnorm(ours)
    folded15 = fold_batchnorm(ours15)
    return [
        ("ka", "keras.applications ResNet50", "fp32", ka),
        ("ours", "keras_resnet ResNet50", "fp32", ours),
        ("folded", "keras_resnet ResNet50, BN folded", "fp32", folded),
        ("ours15", "keras_resnet ResNet50 v1.5", "fp32", ours15),
        ("folded15", "keras_resnet ResNet50 v1.5, BN folded", "fp32", folded15),
        ("ka", "keras.applications ResNet50", "bf16", ka16),
        ("ours", "keras_resnet ResNet50", "bf16", with_dtype_policy(ours)),
        ("folded", "keras_resnet ResNet50, BN folded", "bf16", with_dtype_policy(folded)),
    ]


def _cifar_model(name: str):
    import keras_resnet
    if name == "resnet18":  # torchvision's resnet18(num_classes=10) at 32x32
        return keras_resnet.ResNet18(CIFAR, 10, variant="v1.5", classifier_activation=None)
    return keras_resnet.get_model(name, classifier_activation=None)


def _train_step(model):
    import keras
    import tensorflow as tf
    optimizer = keras.optimizers.SGD(0.1, momentum=0.9)
    optimizer.build(model.trainable_variables)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    @tf.function
    def step(x, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        optimizer.apply(tape.gradient(loss, model.trainable_variables),
                        model.trainable_variables)
        return loss

    return step


# ----------------------------------------------------------------------------- phases

def measure_peaks(tf, threads: int, repeats: int, clock_ghz) -> dict:
    """FP32 FMA peak (`keras_resnet.benchmark.fma_peak`: the loop built for the CPU's
    AVX-512 or AVX2, None without either) and a large TF sgemm, in GFLOP/s."""
    peak = fma_peak(threads, clock_ghz=clock_ghz)
    n = 4096
    a = tf.random.normal((n, n))
    b = tf.random.normal((n, n))
    matmul = tf.function(lambda: tf.linalg.matmul(a, b))
    matmul().numpy()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        matmul().numpy()
        times.append(time.perf_counter() - start)
    sgemm = 2 * n ** 3 / statistics.median(times) / 1e9
    return dict(fma_gflops=peak["gflops"], fma_clock_ghz=peak["clock_ghz"],
                fma_source=peak["source"], fma_measured_gflops=peak["measured_gflops"],
                fma_isa=peak["isa"], fma_flop_per_cycle=peak["flop_per_cycle"],
                cpuinfo_mhz=peak["cpuinfo_mhz"], cpuinfo_fma_gflops=peak["cpuinfo_gflops"],
                sgemm_gflops=sgemm, sgemm_runs_s=times)


def measure_inference(tf, args, rng) -> tuple:
    """img/s of every inference model at batch 32 and 1, and bf16 top-1 agreement."""
    import numpy as np
    from keras_resnet import count_macs
    models = _inference_models(rng)
    macs = {}
    for key, _, dtype, model in models:
        if dtype == "fp32":
            macs[key] = count_macs(model)
    records = []
    for batch, calls in ((32, 1), (1, args.batch1_calls)):
        x = tf.constant(rng.normal(size=(batch,) + IMAGENET).astype("float32"))
        fns = {}
        for key, label, dtype, model in models:
            fn = tf.function(lambda m=model: m(x, training=False))
            for _ in range(2):  # trace, then warm oneDNN's primitive cache
                fn().numpy()
            fns[(key, dtype)] = lambda fn=fn: fn().numpy()
        rates = common.interleaved(fns, batch, args.repeats, {k: calls for k in fns})
        for order, (key, label, dtype, model) in enumerate(models):
            rate, runs = rates[(key, dtype)]
            records.append(dict(key=key, label=label, dtype=dtype, batch=batch, order=order,
                                img_s=rate, img_s_runs=runs, gmacs=macs[key] / 1e9,
                                gflops=2 * macs[key] * rate / 1e9))
        print(f"  inference batch {batch} done", file=sys.stderr)
    # Agreement of the fast paths with our fp32 model on random images.
    by = {(key, dtype): model for key, _, dtype, model in models}
    x = rng.normal(size=(args.agreement_images,) + IMAGENET).astype("float32")
    reference = by[("ours", "fp32")].predict(x, batch_size=32, verbose=0)
    agreement = {}
    for key, dtype in (("ka", "fp32"), ("folded", "fp32"), ("ours", "bf16"),
                       ("folded", "bf16")):
        out = by[(key, dtype)].predict(x, batch_size=32, verbose=0)
        agreement[f"{key}_{dtype}"] = dict(
            top1_agreement=float(np.mean(out.argmax(-1) == reference.argmax(-1))),
            max_abs_diff=float(np.abs(out - reference).max()),
            images=len(x))
    return records, agreement


TRAINING = {"resnet20": "ResNet20 (CIFAR)",
            "resnet20_kerasbn": "ResNet20 (CIFAR), Keras' BatchNormalization",
            "resnet56": "ResNet56 (CIFAR)", "resnet18": "ResNet18 v1.5 at 32x32"}


def measure_training(tf, args, rng) -> list:
    import numpy as np
    from keras_resnet import count_macs, with_stock_layers
    steps, models, macs = {}, {}, {}
    for name in TRAINING:
        model = (with_stock_layers(_cifar_model("resnet20")) if name == "resnet20_kerasbn"
                 else _cifar_model(name))
        macs[name] = count_macs(model)
        step = _train_step(model)
        x = tf.constant(rng.normal(size=(args.train_batch,) + CIFAR).astype("float32"))
        y = tf.constant(rng.integers(0, 10, args.train_batch))
        for _ in range(3):
            step(x, y).numpy()
        steps[name] = lambda step=step, x=x, y=y: step(x, y).numpy()
        models[name] = model
    rates = common.interleaved(steps, args.train_batch, args.repeats, args.train_calls)
    return [dict(framework="keras_resnet", model=name.split("_")[0],
                 batchnorm="keras" if name.endswith("_kerasbn") else "fused",
                 label=f"keras_resnet {TRAINING[name]}",
                 batch=args.train_batch, img_s=rate, img_s_runs=runs,
                 trainable_params=int(sum(np.prod(v.shape)
                                          for v in models[name].trainable_variables)),
                 # forward + backward is about 3 forward passes
                 approx_gflops=6 * macs[name] * rate / 1e9)
            for name, (rate, runs) in rates.items()]


def measure_bf16_trained(tf, args) -> dict:
    """fp32 vs bf16 predictions of a ResNet20 trained on scikit-learn's digits."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        return dict(skipped="scikit-learn is not installed")
    import keras
    import numpy as np
    import keras_resnet
    from keras_resnet.inference import fold_batchnorm, with_dtype_policy
    digits = load_digits()
    images = np.kron(digits.images[..., None] / 16.0, np.ones((4, 4, 3))).astype("float32")
    order = np.random.default_rng(0).permutation(len(images))
    test, train = order[:360], order[360:]
    keras.utils.set_random_seed(0)
    model = keras_resnet.ResNet20()
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
    model.fit(images[train], digits.target[train], batch_size=64, epochs=args.digits_epochs,
              verbose=0)
    x, y = images[test], digits.target[test]
    p32 = model.predict(x, verbose=0)
    out = dict(model="ResNet20 trained on sklearn digits (8x8 upsampled to 32x32), "
                     f"{args.digits_epochs} epochs", test_images=len(x),
               fp32_accuracy=float(np.mean(p32.argmax(-1) == y)))
    for name, fast in (("bf16", with_dtype_policy(model)),
                       ("folded_bf16", with_dtype_policy(fold_batchnorm(model)))):
        p = fast.predict(x, verbose=0)
        out[f"{name}_accuracy"] = float(np.mean(p.argmax(-1) == y))
        out[f"{name}_top1_agreement"] = float(np.mean(p.argmax(-1) == p32.argmax(-1)))
        out[f"{name}_max_abs_prob_diff"] = float(np.abs(p - p32).max())
    return out


# ----------------------------------------------------------------------------- children

CHILD_MODELS = {"ka": "keras.applications ResNet50", "ours": "keras_resnet ResNet50",
                "folded": "keras_resnet ResNet50, BN folded",
                "ours15": "keras_resnet ResNet50 v1.5", "resnet20": "keras_resnet ResNet20",
                "resnet56": "keras_resnet ResNet56",
                "resnet18": "keras_resnet ResNet18 v1.5 at 32x32"}


def child(name: str, threads: int) -> dict:
    """Build time and peak RSS of one model in this (fresh) process."""
    tf = common.import_tf(threads)
    import numpy as np
    import keras_resnet
    from keras_resnet.inference import fold_batchnorm
    baseline = common.peak_rss_mb()
    rng = np.random.default_rng(0)
    builder = {"ka": _keras_applications_resnet50,
               "ours": keras_resnet.ResNet50, "folded": keras_resnet.ResNet50,
               "ours15": lambda: keras_resnet.ResNet50(variant="v1.5")}.get(
        name, lambda: _cifar_model(name))
    start = time.perf_counter()
    model = builder()
    builds = [time.perf_counter() - start]
    result = dict(model=name, label=CHILD_MODELS[name], rss_after_import_mb=baseline)
    if name == "folded":
        start = time.perf_counter()
        model = fold_batchnorm(model)
        result["fold_s"] = time.perf_counter() - start
    if name in ("resnet20", "resnet56", "resnet18"):
        step = _train_step(model)
        x = tf.constant(rng.normal(size=(128,) + CIFAR).astype("float32"))
        y = tf.constant(rng.integers(0, 10, 128))
        for _ in range(5):
            step(x, y).numpy()
        result["peak_rss_task"] = "5 training steps, batch 128"
    else:
        x = tf.constant(rng.normal(size=(32,) + IMAGENET).astype("float32"))
        fn = tf.function(lambda: model(x, training=False))
        for _ in range(3):
            fn().numpy()
        result["peak_rss_task"] = "3 inference batches of 32, fp32"
    result["peak_rss_mb"] = common.peak_rss_mb()
    for _ in range(2):  # after the memory reading: more builds would raise the peak
        start = time.perf_counter()
        builder()
        builds.append(time.perf_counter() - start)
    result.update(build_s=statistics.median(builds), build_runs_s=builds)
    return result


def run_child(name: str, threads: int) -> dict:
    out = subprocess.run([sys.executable, "-m", "benchmarks.run", "--child", name,
                          "--threads", str(threads)], cwd=common.ROOT, check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_torch(python: str, task: str, args) -> dict:
    command = [python, str(HERE / "torch_bench.py"), task, "--threads", str(args.threads),
               "--repeats", str(args.repeats), "--batch1-calls", str(args.batch1_calls),
               "--train-batch", str(args.train_batch),
               "--train-calls", json.dumps(args.train_calls)]
    out = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


# ----------------------------------------------------------------------------- report

def _ratio(a, b):
    return None if a is None or b is None else a / b


def targets(results: dict) -> dict:
    """Each ratio the Speed page sets a target for, from this run's numbers."""
    inf = {(r["key"], r["dtype"], r["batch"]): r for r in results["inference"]}

    def rate(key, dtype="fp32", batch=32):
        r = inf.get((key, dtype, batch))
        return r and r["img_s"]

    train = {}  # the faster layout of torch; our models as built (fused BN)
    for r in results["training"]:
        key = (r["framework"], r["model"])
        if r.get("batchnorm") != "keras":
            train[key] = max(train.get(key, 0), r["img_s"])
    keras_bn = next((r["img_s"] for r in results["training"]
                     if r.get("batchnorm") == "keras"), None)
    peak = results["peaks"]["fma_gflops"]
    folded = inf[("folded", "fp32", 32)]
    rows = {
        "unfolded / keras.applications, fp32 batch 32": (
            _ratio(rate("ours"), rate("ka")), ">= 0.97"),
        "unfolded / keras.applications, fp32 batch 1": (
            _ratio(rate("ours", batch=1), rate("ka", batch=1)), ">= 0.97"),
        "folded / keras.applications, fp32 batch 32": (
            _ratio(rate("folded"), rate("ka")), ">= 1.10"),
        "folded / keras.applications, fp32 batch 1": (
            _ratio(rate("folded", batch=1), rate("ka", batch=1)), ">= 1.10"),
        "folded fp32 batch 32, fraction of FMA peak": (_ratio(folded["gflops"], peak),
                                                        ">= 0.80"),
        "folded fp32 batch 32, fraction of TF sgemm": (
            folded["gflops"] / results["peaks"]["sgemm_gflops"], "-"),
        "bf16 / fp32, keras_resnet unfolded, batch 32": (
            _ratio(rate("ours", "bf16"), rate("ours")), ">= 1.30"),
        "bf16 / fp32, keras_resnet folded, batch 32": (
            _ratio(rate("folded", "bf16"), rate("folded")), ">= 1.30"),
        "folded bf16 / keras_resnet fp32 unfolded, batch 32": (
            _ratio(rate("folded", "bf16"), rate("ours")), ">= 1.30"),
        "keras.applications bf16 / fp32, batch 32": (
            _ratio(rate("ka", "bf16"), rate("ka")), "-"),
    }
    torch_inf = {(r["dtype"], r["layout"], r["batch"]): r["img_s"]
                 for r in results.get("torch_inference", [])}
    if torch_inf:
        best_torch_fp32 = max(torch_inf[("fp32", "NCHW", 32)],
                              torch_inf[("fp32", "channels_last", 32)])
        rows["keras_resnet v1.5 folded / torchvision (best layout), fp32 batch 32"] = (
            _ratio(rate("folded15"), best_torch_fp32), "-")
        rows["keras_resnet folded bf16 / torchvision bf16 autocast, batch 32"] = (
            _ratio(rate("folded", "bf16"), torch_inf[("bf16", "channels_last", 32)]), "-")
    if "input_pipeline" in results:
        rows["input pipeline (JPEG decode + crop to 224) / ResNet50 fp32 inference, batch 32"] = (
            _ratio(results["input_pipeline"]["img_s"], rate("ours")), ">= 1.00")
    rows["ResNet20 training, keras_resnet / the same with Keras' BatchNormalization"] = (
        _ratio(train.get(("keras_resnet", "resnet20")), keras_bn), "-")
    rows["ResNet20 training with Keras' BatchNormalization / torch (faster layout)"] = (
        _ratio(keras_bn, train.get(("torch", "resnet20"))), "-")
    for name in ("resnet20", "resnet56", "resnet18"):
        label = name.replace("resnet", "ResNet")
        rows[f"{label} training, keras_resnet / torch (faster layout)"] = (
            _ratio(train.get(("keras_resnet", name)), train.get(("torch", name))),
            ">= 1.00" if name == "resnet20" else "-")
    for r in results.get("fit", {}).get("fit", []) + results.get("fit", {}).get("cli", []):
        if r["contender"] == "keras_resnet" and "vs_torch" in r:
            rows[f"{r['label']} training, {r['path']} / torch loop (faster layout)"] = (
                r["vs_torch"], ">= 1.00")
    fitted = [r for r in results.get("fit", {}).get("fit", []) if "fma_peak_share" in r]
    for r in fitted:
        rows[f"{r['label']} training through model.fit, fraction of FMA peak"] = (
            r["fma_peak_share"], "-")
    out = {}
    for name, (value, target) in rows.items():
        met = None
        if value is not None and target.startswith(">="):
            met = value >= float(target[3:])
        out[name] = dict(value=value, target=target, met=met)
    return out


def _add_fma_share(through_fit: dict, peak_gflops: Optional[float]) -> None:
    """Adds each keras_resnet row's training GFLOP/s (6 x MACs x img/s) and share of the peak."""
    import keras
    from keras_resnet import count_macs
    macs = {}
    for part, build in (("fit", fit.build_model), ("cli", fit.build_cli_model)):
        for r in through_fit[part]:
            if r["contender"] != "keras_resnet":
                continue
            key = (part, r["model"], r["size"])
            if key not in macs:
                macs[key] = count_macs(build(r["model"], r["size"],
                                             1000 if r["size"] == 224 else 10))
                keras.backend.clear_session()
            r["train_gflops"] = 6 * macs[key] * r["img_s"] / 1e9
            if peak_gflops:  # None on a CPU without AVX2+FMA or AVX-512, or with no clock
                r["fma_peak_share"] = r["train_gflops"] / peak_gflops


def _machine(tf, torch_info) -> dict:
    import keras
    import numpy as np
    flags = cpu_flags()
    return dict(cpu=cpu_model(), cores=os.cpu_count(), avx512="avx512f" in flags,
                avx512_bf16="avx512_bf16" in flags,
                isa=isa(flags), python=platform.python_version(),
                platform=platform.platform(), tensorflow=tf.__version__,
                keras=keras.__version__, numpy=np.__version__,
                onednn=os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default (on)"),
                torch=torch_info.get("torch"), torchvision=torch_info.get("torchvision"),
                load_start=list(os.getloadavg()))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run",
        description="Benchmark keras_resnet against keras.applications and torchvision.")
    parser.add_argument("--out", type=pathlib.Path, default=summary.RESULTS_DIR,
                        help="directory for results.json and speed.png")
    parser.add_argument("--readme", default=str(common.ROOT / "docs" / "speed.md"),
                        help="page whose speed table to rewrite ('' to leave it alone)")
    common.add_shared_arguments(parser)
    parser.add_argument("--agreement-images", type=int, default=128)
    parser.add_argument("--digits-epochs", type=int, default=10)
    parser.add_argument("--train-batch", type=int, default=128)
    parser.add_argument("--clock-ghz", type=float, default=None,
                        help="CPU clock for the FMA peak instead of measuring it")
    parser.add_argument("--quick", action="store_true",
                        help="2 rounds, fewer images: checks the harness, not the speed")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true",
                      help="measure nothing: report whether the results in --out are older "
                           "than the code they measure (always exits 0)")
    mode.add_argument("--render", action="store_true",
                      help="measure nothing: rewrite --readme's speed table from the results "
                           "in --out")
    mode.add_argument("--child", choices=list(CHILD_MODELS), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.threads < 1 or args.repeats < 1:
        parser.error("--threads and --repeats must be positive")
    if args.quick:
        args.repeats, args.batch1_calls, args.agreement_images = 2, 2, 32
        args.digits_epochs = args.deploy_epochs = 1
        args.deploy_calibration = 4
    args.train_calls = {"resnet20": 5, "resnet20_kerasbn": 5, "resnet56": 2, "resnet18": 5}
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.threads)))
        return 0
    if args.check:
        print(summary.status_report(_load(args.out)), end="")
        return 0
    if args.render:
        _write_readme(args.readme, summary.render_table(_load(args.out)))
        return 0
    measured = common.provenance()  # before anything runs: the code this run measures
    started = datetime.datetime.now(datetime.timezone.utc)
    load_start = os.getloadavg()
    tf = common.import_tf(args.threads)
    import numpy as np
    rng = np.random.default_rng(0)
    log = lambda msg: print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr)  # noqa
    log(f"measuring commit {measured['commit']}"
        + (f", uncommitted changes in {', '.join(measured['dirty_paths'][:10])}"
           if measured["dirty"] else "") + f", harness v{measured['harness_version']}")

    log("peaks: FMA loop and 4096^3 sgemm")
    peaks = measure_peaks(tf, args.threads, args.repeats, args.clock_ghz)
    log("inference: keras.applications vs keras_resnet, fp32 and bf16")
    inference, agreement = measure_inference(tf, args, rng)
    log("training: ResNet20/56/18 train steps")
    training = measure_training(tf, args, rng)
    log("input pipeline: JPEG decode + random-resized crop to 224")
    input_pipeline = pipeline.measure(args.threads, args.repeats)
    log("bf16 agreement on a trained net")
    trained = measure_bf16_trained(tf, args)
    log("build time and peak memory, one fresh process per model")
    children = [run_child(name, args.threads) for name in CHILD_MODELS]

    torch_python = common.torch_python(args.torch_python)
    torch_info, torch_inference = {}, []
    if torch_python:
        log(f"torch with {torch_python}")
        torch_infer = run_torch(torch_python, "infer", args)
        torch_train = run_torch(torch_python, "train", args)
        torch_info = dict(torch=torch_infer["torch"], torchvision=torch_infer["torchvision"])
        gmacs15 = next(r["gmacs"] for r in inference if r["key"] == "ours15")
        for r in torch_infer["records"]:
            r.update(gflops=2 * gmacs15 * r["img_s"], gmacs=gmacs15)
            torch_inference.append(r)
        children.append(dict(model="torchvision_resnet50", label="torchvision resnet50",
                             build_s=torch_infer["build_s"],
                             peak_rss_mb=torch_infer["peak_rss_mb"],
                             peak_rss_task="the whole torch inference run"))
        children.append(dict(model="torch_train", label="torch ResNet20/56 + resnet18",
                             peak_rss_mb=torch_train["peak_rss_mb"],
                             peak_rss_task="the whole torch training run"))
        labels = {"resnet20": "torch ResNet20 (torchvision BasicBlock)",
                  "resnet56": "torch ResNet56 (torchvision BasicBlock)",
                  "resnet18": "torchvision resnet18 at 32x32"}
        for r in torch_train["records"]:
            training.append(dict(framework="torch", label=f"{labels[r['model']]}, {r['layout']}",
                                 **r))
    else:
        log("torch: not available, skipped")
    for r in torch_inference:
        inference.append(dict(key=f"torch_{r['layout']}", order=100 + len(inference),
                              label=f"torchvision resnet50 ({r['layout']})", **r))

    log("training through model.fit and keras-resnet train, next to torch (benchmarks/fit.py)")
    through_fit = fit.measure(args.threads, args.repeats, torch_python, log)
    _add_fma_share(through_fit, peaks["fma_gflops"])

    log("deployment: int8 accuracy on digits, ResNet50 ONNX / int8 speed (benchmarks/deploy.py)")
    deployment = deploy.measure(tf, args, rng, torch_python)
    log("Keras backends: the same ResNet50 / ResNet20 weights on TensorFlow, JAX, PyTorch")
    from benchmarks import backends
    on_backends = backends.measure(args, log)

    m = _machine(tf, torch_info)
    m["load_start"] = list(load_start)
    m["load_end"] = list(os.getloadavg())
    results = dict(
        provenance=measured,
        command="python -m benchmarks.run " + " ".join(
            sys.argv[1:] if argv is None else argv),
        started=started.isoformat(timespec="seconds"),
        finished=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        machine=m,
        settings=dict(threads=args.threads, tf_inter_op_threads=args.threads,
                      torch_inter_op_threads=1, repeats=args.repeats,
                      batch1_calls=args.batch1_calls, train_batch=args.train_batch,
                      train_calls=args.train_calls, quick=args.quick,
                      inference_timing="tf.function(model(x, training=False)), fixed input",
                      training_timing="tf.function train step (SGD momentum 0.9), "
                                      "fixed in-memory batch",
                      memory="peak RSS (VmHWM in /proc/self/status) of a fresh process"),
        peaks=peaks, inference=inference, torch_inference=torch_inference,
        training=training, fit=through_fit, input_pipeline=input_pipeline,
        bf16_agreement=dict(random_images=agreement, trained=trained),
        build_and_memory=children, deploy=deployment, backends=on_backends,
    )
    results["targets"] = targets(results)
    from keras_resnet.atomic import atomic_path, write_text  # after import_tf pinned threads
    args.out.mkdir(parents=True, exist_ok=True)
    write_text(args.out / "results.json", json.dumps(results, indent=1))
    with atomic_path(args.out / "speed.png") as tmp:
        summary.plot(results, tmp)
    table = summary.render_table(results)
    _write_readme(args.readme, table)
    print(table)
    return 0


def _load(out: pathlib.Path) -> dict:
    path = out / summary.RESULTS_JSON.name
    if not path.is_file():
        raise SystemExit(f"no results at {path}: run `python -m benchmarks.run` to make them")
    return json.loads(path.read_text())


def _write_readme(readme: str, table: str) -> None:
    """Rewrites the speed table of `readme` ('' leaves it alone)."""
    if not readme:
        return
    from keras_resnet.atomic import write_text
    path = pathlib.Path(readme)
    write_text(path, summary.replace_readme_section(path.read_text(), table))


if __name__ == "__main__":
    sys.exit(main())
