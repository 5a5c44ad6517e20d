"""ResNet50 v1.5 training and inference on a GPU, next to torch, in one run.

    .venv/bin/python -m benchmarks.gpu [--out benchmarks/results/gpu.json] [--no-torch]
    .venv/bin/python -m benchmarks.gpu --dry       # CPU, 32x32, batch 2: builds and times

What is measured (each figure the median of timed rounds after a warm-up, with
`keras_resnet.benchmark.time_fit` / `time_calls`, the `keras-resnet benchmark` code):

- training through `model.fit` at batch 256, 224x224: float32 and mixed precision
  (`mixed_float16`, AMP), XLA (`jit_compile`) off and on, channels_last and
  channels_first;
- inference, `model(x, training=False)` in a tf.function, at batch 1, 8, 32, 128 and
  256 under mixed precision, XLA on and off, channels_last and channels_first;
- torch (when torch and torchvision import and see a GPU): torchvision's ResNet50
  (v1.5) with AMP (`torch.autocast`, float16) and `channels_last`, eager and
  `torch.compile`, the same batches;
- against NVIDIA's Deep Learning Examples for TensorFlow: ResNet-50 v1.5 training at
  2,375 img/s on one A100 40GB (DGX A100, AMP + XLA, batch 256).

On a GPU it also checks the two CPU-only paths are off: the small-map GEMM
convolution (`keras_resnet.layers.Conv2D` trains as Keras' convolution when a GPU is
visible) and that every FusedBatchNormalization epsilon is valid for cuDNN (>= 1e-5).

`--dry` runs the same code on the CPU at 32x32, batch 2, one timed round of each of
a few configurations (float32 and AMP, XLA off, channels_last: TensorFlow's CPU
kernels have no channels_first convolution), so CI checks the script without a GPU.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

NVIDIA_A100_IMG_S = 2375.0  # DeepLearningExamples, TF ResNet-50 v1.5, A100 40GB, AMP + XLA, 256
CUDNN_MIN_EPSILON = 1e-5


def _configs(dry: bool, gpu: bool):
    precisions = ("float32", "mixed_float16")
    xla = (False,) if dry else (False, True)
    formats = ("channels_last", "channels_first") if gpu else ("channels_last",)
    return [(p, j, f) for p in precisions for j in xla for f in formats]


def _build(data_format: str, size: int, precision: str):
    import keras

    import keras_resnet
    keras.backend.clear_session()
    keras.config.set_image_data_format(data_format)
    keras.config.set_dtype_policy(precision)
    try:
        shape = (3, size, size) if data_format == "channels_first" else (size, size, 3)
        return keras_resnet.ResNet50(shape, 1000, variant="v1.5")
    finally:
        keras.config.set_dtype_policy("float32")
        keras.config.set_image_data_format("channels_last")


def check_gpu_paths(model) -> list:
    """What is wrong on a GPU: the GEMM training path on, or a BN epsilon below cuDNN's."""
    from keras_resnet.layers import Conv2D, FusedBatchNormalization, gpu_visible
    problems = []
    if not gpu_visible():
        return ["no GPU visible to TensorFlow"]
    convs = [layer for layer in model.layers if isinstance(layer, Conv2D)]
    import numpy as np
    probe = np.zeros((1, 7, 7, 3), "float32")
    if any(layer._trains_as_gemm(probe) for layer in convs[:1]):
        problems.append("the small-map GEMM convolution is on with a GPU visible")
    problems += [f"{layer.name}: epsilon {layer.epsilon} < cuDNN's {CUDNN_MIN_EPSILON}"
                 for layer in model.layers
                 if isinstance(layer, FusedBatchNormalization)
                 and layer.epsilon < CUDNN_MIN_EPSILON]
    return problems


def keras_rows(*, dry: bool, gpu: bool, size: int, train_batch: int, batches, warmup: int,
               rounds: int) -> list:
    import numpy as np

    from keras_resnet.benchmark import time_calls, time_fit
    rows = []
    rng = np.random.default_rng(0)
    for precision, xla, data_format in _configs(dry, gpu):
        what = f"keras_resnet {precision} xla={'on' if xla else 'off'} {data_format}"
        model = _build(data_format, size, precision)
        shape = model.input_shape[1:]
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", jit_compile=xla)
        x = rng.uniform(0, 1, (train_batch,) + shape).astype("float32")
        y = rng.integers(0, 1000, train_batch)
        r = time_fit(model, x, y, train_batch, warmup=warmup, rounds=rounds, what=what)
        rows.append(dict(task="train", contender="keras_resnet", precision=precision, xla=xla,
                         data_format=data_format, batch=train_batch, **r))
        if precision != "float32":  # inference under AMP only: the deployment setting
            import tensorflow as tf
            for batch in batches:
                xb = tf.constant(rng.uniform(0, 1, (batch,) + shape).astype("float32"))
                call = tf.function(lambda: model(xb, training=False), jit_compile=xla)
                r = time_calls(lambda: call().numpy(), batch, warmup=warmup, rounds=rounds)
                rows.append(dict(task="infer", contender="keras_resnet", precision=precision,
                                 xla=xla, data_format=data_format, batch=batch, **r))
        if gpu:
            rows[-1]["gpu_path_problems"] = check_gpu_paths(model)
    return rows


def torch_rows(*, size: int, train_batch: int, batches, warmup: int, rounds: int) -> list:
    """torchvision's ResNet50 with AMP and channels_last, eager and compiled (GPU only)."""
    import torch
    import torchvision
    device = "cuda"
    rows = []
    for compiled in (False, True):
        net = torchvision.models.resnet50().to(device, memory_format=torch.channels_last)
        run = torch.compile(net) if compiled else net
        opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
        scaler = torch.amp.GradScaler()
        x = torch.rand(train_batch, 3, size, size, device=device).to(
            memory_format=torch.channels_last)
        y = torch.randint(0, 1000, (train_batch,), device=device)

        def step():
            opt.zero_grad(set_to_none=True)
            with torch.autocast(device, dtype=torch.float16):
                loss = torch.nn.functional.cross_entropy(run(x), y)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()

        label = "torch.compile" if compiled else "eager"
        rows.append(dict(task="train", contender=f"torch {label}", precision="amp float16",
                         batch=train_batch, **_time_torch(step, train_batch, warmup, rounds)))
        net.eval()
        with torch.no_grad():
            for batch in batches:
                xb = torch.rand(batch, 3, size, size, device=device).to(
                    memory_format=torch.channels_last)

                def infer():
                    with torch.autocast(device, dtype=torch.float16):
                        run(xb)

                rows.append(dict(task="infer", contender=f"torch {label}",
                                 precision="amp float16", batch=batch,
                                 **_time_torch(infer, batch, warmup, rounds)))
        net.train()
    return rows


def _time_torch(fn, batch, warmup, rounds) -> dict:
    import torch
    for _ in range(max(1, warmup)):
        fn()
    torch.cuda.synchronize()
    rates = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(10):
            fn()
        torch.cuda.synchronize()
        rates.append(10 * batch / (time.perf_counter() - start))
    return dict(img_s=statistics.median(rates), min=min(rates), max=max(rates))


def table(rows: list) -> str:
    lines = [f"{'task':<6} {'contender':<18} {'precision':<14} {'xla':<4} {'format':<15} "
             f"{'batch':>5} {'img/s':>10} {'vs A100 ref':>11}"]
    for r in rows:
        ref = f"{r['img_s'] / NVIDIA_A100_IMG_S:.2f}x" if r["task"] == "train" else ""
        xla = "" if "xla" not in r else ("on" if r["xla"] else "off")
        lines.append(f"{r['task']:<6} {r['contender']:<18} {r['precision']:<14} {xla:<4} "
                     f"{r.get('data_format', 'channels_last'):<15} {r['batch']:>5} "
                     f"{r['img_s']:>10,.1f} {ref:>11}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dry", action="store_true",
                        help="CPU, 32x32, batch 2, one round: checks the script")
    parser.add_argument("--out", help="write the rows and the machine as JSON here")
    parser.add_argument("--no-torch", action="store_true", help="skip the torch rows")
    args = parser.parse_args(argv)

    from keras_resnet.benchmark import machine
    from keras_resnet.layers import gpu_visible
    gpu = gpu_visible()
    if not gpu and not args.dry:
        print("benchmarks.gpu: no GPU visible to TensorFlow; use --dry to check the script "
              "on the CPU", file=sys.stderr)
        return 2
    if args.dry:
        setting = dict(size=32, train_batch=2, batches=(1, 2), warmup=1, rounds=1)
    else:
        setting = dict(size=224, train_batch=256, batches=(1, 8, 32, 128, 256), warmup=3,
                       rounds=5)
    rows = keras_rows(dry=args.dry, gpu=gpu, **setting)
    torch_note = "skipped (--no-torch)" if args.no_torch else None
    if not args.no_torch:
        try:
            import torch
            import torchvision  # noqa: F401
            if torch.cuda.is_available() and not args.dry:
                rows += torch_rows(**setting)
            else:
                torch_note = "skipped: no CUDA device for torch" + (" (--dry)" if args.dry
                                                                    else "")
        except ImportError as e:
            torch_note = f"skipped: {e.name} is not installed"
    print(table(rows))
    print(f"reference: NVIDIA DeepLearningExamples TF ResNet-50 v1.5 training, A100 40GB, "
          f"AMP + XLA, batch 256: {NVIDIA_A100_IMG_S:,.0f} img/s")
    if torch_note:
        print(f"torch: {torch_note}")
    problems = [p for r in rows for p in r.get("gpu_path_problems", [])]
    if gpu:
        print("GPU paths: " + ("; ".join(problems) if problems else
                               "GEMM convolution off, BatchNormalization epsilons valid for cuDNN"))
    if args.out:
        from keras_resnet.atomic import write_text
        result = dict(machine=machine(), dry=args.dry, gpu=gpu, rows=rows,
                      reference_img_s=NVIDIA_A100_IMG_S, torch=torch_note,
                      date=time.strftime("%Y-%m-%d"))
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        write_text(args.out, json.dumps(result, indent=1) + "\n")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
