"""Peak training memory against step time with rematerialisation (issue 24).

    nice -n 10 python -m benchmarks.remat [--size 224] [--batch 32] [--steps 3]

Each mode trains ResNet50 (TensorFlow backend, float32, 1000 classes, SGD) for
`--steps` timed steps after one warm-up step, on one fixed random batch, in a
fresh subprocess, with the same `tf.function` GradientTape step:

- plain: the model as built.
- keras_scope: the residual stages built inside `keras.RematScope(mode="full")`
  (what a `remat=` builder option made with Keras' scope would do). Keras
  rematerialises each *layer* separately (`tf.recompute_grad` around its call).
- block / stage: `ResNet50(remat="block" | "stage")` (`keras_resnet.remat`):
  segment checkpointing, the functional graph cut at every residual block's
  (or stage's) output into sub-models sharing the model's layers, each run
  under `tf.recompute_grad`, so only the boundaries are kept for the backward
  pass.

Peak memory is the process' peak RSS (VmHWM in /proc/self/status) after
training, and after building alone ("build"). Printed as JSON, with ratios
against plain and the CPU's ISA flags.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

from benchmarks.common import ROOT, peak_rss_mb

MODES = ("plain", "keras_scope", "block", "stage")


def _isa() -> list:
    with open("/proc/cpuinfo") as f:
        flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")),
                     [])
    return sorted(f for f in flags if f in {"avx2", "avx512f", "avx512_bf16", "amx_bf16",
                                            "amx_tile", "amx_int8", "fma"})


def child(mode, size, batch, steps) -> dict:
    import keras
    import numpy as np
    import tensorflow as tf
    import keras_resnet
    from keras_resnet import models

    if mode == "keras_scope":
        stack = models.blocks.stack

        def scoped_stack(*args, **kwargs):
            with keras.RematScope(mode="full"):
                return stack(*args, **kwargs)
        models.blocks.stack = scoped_stack
    remat = mode if mode in ("block", "stage") else None
    model = keras_resnet.ResNet50(input_shape=(size, size, 3), num_classes=1000,
                                  classifier_activation=None, remat=remat)
    build_peak = peak_rss_mb()
    rng = np.random.default_rng(0)
    x = tf.constant(rng.random((batch, size, size, 3), dtype="float32"))
    y = tf.constant(rng.integers(0, 1000, batch))
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    optimizer = keras.optimizers.SGD(0.01, momentum=0.9)
    optimizer.build(model.trainable_variables)

    @tf.function
    def step(images, labels):
        with tf.GradientTape() as tape:
            loss = loss_fn(labels, model(images, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply(grads, model.trainable_variables)
        return loss

    try:
        step(x, y).numpy()  # trace + warm-up
    except Exception as e:  # noqa: BLE001 -- reported, not hidden
        lines = [line.strip() for line in str(e).splitlines() if line.strip()]
        why = next((line for line in lines if "custom_gradient" in line), lines[-1])
        return dict(mode=mode, error=f"{type(e).__name__}: {why[:300]}",
                    build_peak_mb=round(build_peak))
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step(x, y).numpy()
        times.append(time.perf_counter() - start)
    return dict(mode=mode, step_s=round(float(np.median(times)), 3),
                peak_mb=round(peak_rss_mb()), build_peak_mb=round(build_peak))


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--modes", default=",".join(MODES))
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.size, args.batch, args.steps)))
        return {}
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "2"}
    rows = []
    for mode in args.modes.split(","):
        out = subprocess.run([sys.executable, "-m", "benchmarks.remat", "--child", mode, "--size",
                              str(args.size), "--batch", str(args.batch), "--steps",
                              str(args.steps)], env=env, cwd=ROOT, capture_output=True,
                             text=True)
        line = (out.stdout.strip().splitlines() or [""])[-1]
        rows.append(json.loads(line) if line.startswith("{") else
                    dict(mode=mode, error=out.stderr.strip().splitlines()[-1:]))
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    plain = next((r for r in rows if r["mode"] == "plain" and "peak_mb" in r), None)
    if plain:
        for r in rows:
            if "peak_mb" in r:
                r["peak_vs_plain"] = round(r["peak_mb"] / plain["peak_mb"], 3)
                r["step_vs_plain"] = round(r["step_s"] / plain["step_s"], 3)
    result = dict(model="resnet50", size=args.size, batch=args.batch, steps=args.steps,
                  backend="tensorflow", cpu_isa=_isa(), cores=os.cpu_count(), rows=rows)
    print(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
