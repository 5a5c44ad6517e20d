"""Peak training memory against step time with rematerialisation (issue 24).

    nice -n 10 python -m benchmarks.remat [--backend tensorflow|jax] [--size 224]
        [--batch 32] [--steps 3] [--modes plain,keras_scope,block,stage]

Each mode trains ResNet50 (float32, 1000 classes, SGD) for `--steps` timed steps
after one warm-up step, on one fixed random batch, in a fresh subprocess with
`KERAS_BACKEND` set, with the same training step per backend: on TensorFlow a
`tf.function` GradientTape step, on JAX a `jax.jit` step of what Keras' JAX trainer
does (`jax.value_and_grad` of `model.stateless_call(..., training=True)`, then
`optimizer.stateless_apply`, the state's buffers donated), compiled ahead of time:

- plain: the model as built.
- keras_scope: the residual stages built inside `keras.RematScope(mode="full")`
  (what a `remat=` builder option made with Keras' scope would do). Keras
  rematerialises each *layer* separately (`tf.recompute_grad` around its call).
- block / stage: `ResNet50(remat="block" | "stage")` (`keras_resnet.remat`):
  segment checkpointing, the functional graph cut at every residual block's
  (or stage's) output into sub-models sharing the model's layers, each run
  under `tf.recompute_grad` (on JAX `jax.checkpoint`), so only the boundaries are
  kept for the backward pass.

Peak memory is the process' peak RSS (VmHWM in /proc/self/status) after
training, and after building alone ("build"). On JAX also "step_peak_mb": the
peak of the training steps alone, VmHWM reset (/proc/self/clear_refs) after XLA's
compilation, whose own peak is in "peak_mb". Printed as JSON, with ratios
against plain and the CPU's ISA flags (and on JAX the XLA_FLAGS).

On JAX's CPU backend set XLA's memory-optimised scheduler, or remat saves nothing:

    XLA_FLAGS=--xla_cpu_scheduler_type=CPU_SCHEDULER_TYPE_MEMORY_OPTIMIZED \
        nice -n 10 python -m benchmarks.remat --backend jax --modes plain,block,stage

XLA's default CPU scheduler (concurrency-optimised) runs the recomputation as soon as
its inputs exist, next to the forward pass, so the recomputed activations are live
as long as the plain model's (jaxlib 0.10.2: more peak memory with remat than without).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

from benchmarks.common import ROOT, peak_rss_mb
from keras_resnet.benchmark import cpu_flags, isa_names

MODES = ("plain", "keras_scope", "block", "stage")


def _error(mode, e, build_peak) -> dict:
    lines = [line.strip() for line in str(e).splitlines() if line.strip()] or [""]
    why = next((line for line in lines if "custom_gradient" in line), lines[-1])
    return dict(mode=mode, error=f"{type(e).__name__}: {why[:300]}",
                build_peak_mb=round(build_peak))


def _reset_peak_rss() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False where not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _model(mode, size):
    import keras
    import keras_resnet
    from keras_resnet import models

    if mode == "keras_scope":
        stack = models.blocks.stack

        def scoped_stack(*args, **kwargs):
            with keras.RematScope(mode="full"):
                return stack(*args, **kwargs)
        models.blocks.stack = scoped_stack
    remat = mode if mode in ("block", "stage") else None
    return keras_resnet.ResNet50(input_shape=(size, size, 3), num_classes=1000,
                                 classifier_activation=None, remat=remat)


def child_jax(mode, size, batch, steps) -> dict:
    import jax
    import keras
    import numpy as np

    model = _model(mode, size)
    build_peak = peak_rss_mb()
    rng = np.random.default_rng(0)
    x = jax.numpy.asarray(rng.random((batch, size, size, 3), dtype="float32"))
    y = jax.numpy.asarray(rng.integers(0, 1000, batch))
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    optimizer = keras.optimizers.SGD(0.01, momentum=0.9)
    optimizer.build(model.trainable_variables)

    def step(trainable, state, slots, images, labels):
        def loss(trainable, state):
            logits, state = model.stateless_call(trainable, state, images, training=True)
            return loss_fn(labels, logits), state
        (value, state), grads = jax.value_and_grad(loss, has_aux=True)(trainable, state)
        trainable, slots = optimizer.stateless_apply(slots, grads, trainable)
        return value, trainable, state, slots

    values = ([v.value for v in model.trainable_variables],
              [v.value for v in model.non_trainable_variables],
              [v.value for v in optimizer.variables])
    try:
        compiled = jax.jit(step, donate_argnums=(0, 1, 2)).lower(*values, x, y).compile()
    except Exception as e:  # noqa: BLE001 -- reported, not hidden
        return _error(mode, e, build_peak)
    compile_peak = peak_rss_mb()
    reset = _reset_peak_rss()
    times = []
    for i in range(steps + 1):  # a warm-up step, then the timed ones
        start = time.perf_counter()
        loss, *values = compiled(*values, x, y)
        float(loss)
        times.append(time.perf_counter() - start)
    row = dict(mode=mode, step_s=round(float(np.median(times[1:])), 3),
               peak_mb=round(max(compile_peak, peak_rss_mb())), build_peak_mb=round(build_peak),
               compile_peak_mb=round(compile_peak))
    if reset:
        row["step_peak_mb"] = round(peak_rss_mb())
    return row


def child(mode, size, batch, steps) -> dict:
    import keras
    import numpy as np
    import tensorflow as tf

    model = _model(mode, size)
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
        return _error(mode, e, build_peak)
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
    p.add_argument("--backend", choices=("tensorflow", "jax"), default="tensorflow")
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        run = child_jax if args.backend == "jax" else child
        print(json.dumps(run(args.child, args.size, args.batch, args.steps)))
        return {}
    env = {**os.environ, "KERAS_BACKEND": args.backend, "TF_CPP_MIN_LOG_LEVEL": "2"}
    rows = []
    for mode in args.modes.split(","):
        out = subprocess.run([sys.executable, "-m", "benchmarks.remat", "--child", mode, "--size",
                              str(args.size), "--batch", str(args.batch), "--steps",
                              str(args.steps), "--backend", args.backend], env=env, cwd=ROOT, capture_output=True,
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
                if "step_peak_mb" in r and "step_peak_mb" in plain:
                    r["step_peak_vs_plain"] = round(r["step_peak_mb"] / plain["step_peak_mb"], 3)
    result = dict(model="resnet50", size=args.size, batch=args.batch, steps=args.steps,
                  backend=args.backend, cpu_isa=isa_names(cpu_flags()), cores=os.cpu_count(),
                  rows=rows)
    if args.backend == "jax":  # XLA's CPU scheduler decides what jax.checkpoint saves
        result["xla_flags"] = os.environ.get("XLA_FLAGS", "")
    print(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
