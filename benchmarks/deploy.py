"""The deployment part of the benchmark: int8 accuracy and int8 / ONNX speed on CPU.

Run by `benchmarks.run` (`measure(tf, args, rng)`), or alone for a look:

    .venv/bin/python -m benchmarks.deploy [--quick] [--torch-python PATH]

- Accuracy: a ResNet20 (32x32) and a ResNet18 v1.5 (64x64) trained briefly on
  scikit-learn's digits with the package's own pipeline (`keras_resnet.data`),
  exported with `keras_resnet.deploy.export(..., quantize="int8")` to ONNX
  (onnxruntime static quantization) and TFLite, each calibrated on 256 training
  images; top-1 of float32 Keras and of each int8 model on the 360 held-out
  digits, and the int8 models' top-1 agreement with float32.
- Speed: ResNet50 v1.5 at 224x224 (BN statistics randomized), batch 32 (one call
  per round) and batch 1 (`--batch1-calls` per round), medians of interleaved
  rounds: TensorFlow float32 with BN folded (a `tf.function`, the fastest float
  path of the main table), onnxruntime float32 and int8, TFLite int8 (its
  XNNPACK delegate); and torchvision's resnet50 fp32 / torch.ao int8 (x86
  backend) through `torch_bench.py int8` where torch runs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

from benchmarks import common
from benchmarks.common import IMAGENET

CALIBRATION_IMAGES = 256
DIGITS_MODELS = (("resnet20", "ResNet20 (CIFAR net) at 32x32", 32),
                 ("resnet18", "ResNet18 v1.5 at 64x64", 64))
RUNTIMES = {"ort_int8": ("onnx", "int8"), "tflite_int8": ("tflite", "int8")}


def _onnx_session(path: str, threads: int):
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return lambda x: session.run(None, {name: x})[0]


def _tflite_runner(path: str, threads: int):
    """A function running the .tflite model on a batch (the interpreter resized to it)."""
    import warnings

    import tensorflow as tf
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tf.lite.Interpreter's deprecation notice
        interpreter = tf.lite.Interpreter(model_path=path, num_threads=threads)
    inp = interpreter.get_input_details()[0]["index"]
    out = interpreter.get_output_details()[0]["index"]
    shape = [None]

    def run(x):
        if shape[0] != x.shape:
            interpreter.resize_tensor_input(inp, x.shape)
            interpreter.allocate_tensors()
            shape[0] = x.shape
        interpreter.set_tensor(inp, x)
        interpreter.invoke()
        return interpreter.get_tensor(out)

    return run


def _runner(kind: str, path: str, threads: int):
    return _tflite_runner(path, threads) if kind == "tflite" else _onnx_session(path, threads)


def _predict(run, x, batch: int = 32):
    import numpy as np
    return np.concatenate([run(x[i:i + batch]) for i in range(0, len(x), batch)])


def measure_accuracy(args, tmp: str) -> list:
    """float32 vs int8 top-1 on the held-out digits, for each model and int8 runtime."""
    import keras
    import numpy as np

    import keras_resnet
    from keras_resnet.data import load_source
    from keras_resnet.data.pipeline import make_dataset
    from keras_resnet.deploy import export
    from keras_resnet.training import calibration_data
    data = load_source("digits")
    labels = data.test.labels
    records = []
    for name, label, size in DIGITS_MODELS:
        keras.utils.set_random_seed(0)
        kwargs = {"variant": "v1.5"} if name == "resnet18" else {}
        model = keras_resnet.get_model(name, input_shape=(size, size, 3), num_classes=10,
                                       **kwargs)
        model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
        train = make_dataset(data, "train", (size, size), 64, training=True,
                             augment_images=True, seed=0)
        model.fit(train, epochs=args.deploy_epochs, verbose=0)
        test = np.concatenate([x.numpy() for x, _ in make_dataset(
            data, "test", (size, size), 64, training=False)])
        p32 = model.predict(test, verbose=0).argmax(-1)
        run = dict(image_size=size, mean=list(data.mean), std=list(data.std))
        calibration = calibration_data(run, "digits", CALIBRATION_IMAGES)
        record = dict(model=name, label=label, epochs=args.deploy_epochs,
                      test_images=len(labels), calibration_images=len(calibration),
                      fp32_accuracy=float(np.mean(p32 == labels)))
        for key, (fmt, _) in RUNTIMES.items():
            path = os.path.join(tmp, f"{name}.{key}{'.onnx' if fmt == 'onnx' else '.tflite'}")
            export(model, path, fmt, quantize="int8", calibration=calibration)
            p8 = _predict(_runner(fmt, path, args.threads), test).argmax(-1)
            record[f"{key}_accuracy"] = float(np.mean(p8 == labels))
            record[f"{key}_agreement"] = float(np.mean(p8 == p32))
        records.append(record)
        keras.backend.clear_session()
        print(f"  int8 accuracy {name} done", file=sys.stderr)
    return records


SPEED_LABELS = {"tf_fp32_folded": ("TensorFlow, BN folded", "fp32"),
                "ort_fp32": ("onnxruntime", "fp32"),
                "ort_int8": ("onnxruntime, static QDQ (u8 activations, s8 weights)", "int8"),
                "tflite_int8": ("TFLite (XNNPACK), full-integer", "int8")}


def measure_speed(tf, args, rng, tmp: str) -> tuple:
    """img/s of ResNet50 v1.5 at 224x224 on each runtime, batch 32 and 1; export seconds."""
    import keras_resnet
    from keras_resnet.deploy import export
    from keras_resnet.inference import fold_batchnorm
    model = keras_resnet.ResNet50(variant="v1.5")
    common.randomize_bn(model, rng)  # non-trivial statistics, so folding has work to do
    calibration = rng.normal(size=(args.deploy_calibration,) + IMAGENET).astype("float32")
    paths, export_s = {}, {}
    for key, fmt, quantize in (("ort_fp32", "onnx", None), ("ort_int8", "onnx", "int8"),
                               ("tflite_int8", "tflite", "int8")):
        paths[key] = os.path.join(tmp, f"resnet50.{key}.{'onnx' if fmt == 'onnx' else fmt}")
        start = time.perf_counter()
        export(model, paths[key], fmt, quantize=quantize,
               calibration=calibration if quantize else None)
        export_s[key] = time.perf_counter() - start
    folded = fold_batchnorm(model)
    records = []
    for batch, calls in ((32, 1), (1, args.batch1_calls)):
        x = rng.normal(size=(batch,) + IMAGENET).astype("float32")
        xt = tf.constant(x)
        fn = tf.function(lambda: folded(xt, training=False))
        fns = {"tf_fp32_folded": lambda: fn().numpy()}
        for key, path in paths.items():
            run = _runner("tflite" if key.startswith("tflite") else "onnx", path, args.threads)
            fns[key] = lambda run=run: run(x)
        for f in fns.values():
            for _ in range(2):  # warm up: first calls allocate and pick kernels
                f()
        rates = common.interleaved(fns, batch, args.repeats, dict.fromkeys(fns, calls))
        for key, (rate, runs) in rates.items():
            label, dtype = SPEED_LABELS[key]
            records.append(dict(key=key, label=f"ResNet50 v1.5, {label}", dtype=dtype,
                                batch=batch, img_s=rate, img_s_runs=runs))
        print(f"  deploy speed batch {batch} done", file=sys.stderr)
    return records, export_s


def run_torch_int8(python: str, args) -> dict:
    here = os.path.dirname(os.path.abspath(__file__))
    command = [python, os.path.join(here, "torch_bench.py"), "int8", "--threads",
               str(args.threads), "--repeats", str(args.repeats), "--batch1-calls",
               str(args.batch1_calls)]
    out = subprocess.run(command, capture_output=True, text=True)
    if out.returncode != 0:
        lines = out.stderr.strip().splitlines() or ["no output"]
        return dict(skipped=f"torch.ao int8 failed: {lines[-1]}")
    return json.loads(out.stdout)


def targets(deploy: dict) -> dict:
    """The issue's targets, from this run's numbers: (value, target) pairs."""
    rate = {(r["key"], r["batch"]): r["img_s"] for r in deploy["speed"]}
    rows = {}
    for batch in (32, 1):
        base = rate.get(("tf_fp32_folded", batch))
        for key, what in (("ort_int8", "onnxruntime int8"), ("tflite_int8", "TFLite int8"),
                          ("ort_fp32", "onnxruntime fp32")):
            value = rate.get((key, batch))
            rows[f"ResNet50 {what} / TensorFlow fp32 folded, batch {batch}"] = (
                value / base if value and base else None,
                ">= 2.00" if key == deploy["chosen"] else "-")
        torch = {(r["dtype"], r["batch"]): r["img_s"]
                 for r in deploy.get("torch", {}).get("records", [])}
        if torch:
            rows[f"torch.ao int8 x86 / torch fp32 (channels_last), batch {batch}"] = (
                torch[("int8", batch)] / torch[("fp32", batch)], "-")
            rows[f"ResNet50 {deploy['chosen'].split('_')[0]} int8 / torch.ao int8, batch "
                 f"{batch}"] = (rate.get((deploy["chosen"], batch)) / torch[("int8", batch)],
                                "-")
    for r in deploy["accuracy"]:
        key = deploy["chosen"]
        rows[f"{r['label']}: int8 top-1 minus fp32 top-1 (points)"] = (
            100 * (r[f"{key}_accuracy"] - r["fp32_accuracy"]), ">= -1.00")
        rows[f"{r['label']}: int8 top-1 agreement with fp32"] = (
            r[f"{key}_agreement"], ">= 0.97")
    return rows


# The int8 runtime the deployment guide recommends for a CPU server (docs/deployment.md):
# chosen by measurement on this machine; the table shows both.
CHOSEN = "ort_int8"


def measure(tf, args, rng, torch_python=None) -> dict:
    """Everything above, as the `deploy` part of results.json."""
    with tempfile.TemporaryDirectory(prefix="keras-resnet-deploy-") as tmp:
        accuracy = measure_accuracy(args, tmp)
        speed, export_s = measure_speed(tf, args, rng, tmp)
    out = dict(chosen=CHOSEN, accuracy=accuracy, speed=speed, export_s=export_s,
               calibration_images_speed=args.deploy_calibration)
    if torch_python:
        out["torch"] = run_torch_int8(torch_python, args)
    out["targets"] = {}
    for name, (value, target) in targets(out).items():
        met = None if value is None or not target.startswith(">=") else value >= float(
            target[3:])
        out["targets"][name] = dict(value=value, target=target, met=met)
    return out


def parse_args(argv=None):
    """The arguments `measure` reads, with `benchmarks.run`'s defaults."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.deploy",
                                     description=__doc__.split("\n\n")[0])
    common.add_shared_arguments(parser)
    parser.add_argument("--quick", action="store_true",
                        help="2 rounds, 1 epoch: checks the harness, not the speed")
    args = parser.parse_args(argv)
    if args.threads < 1 or args.repeats < 1:
        parser.error("--threads and --repeats must be positive")
    if args.quick:
        args.repeats, args.batch1_calls, args.deploy_epochs, args.deploy_calibration = 2, 2, 1, 4
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    tf = common.import_tf(args.threads)
    import numpy as np
    result = measure(tf, args, np.random.default_rng(0), common.torch_python(args.torch_python))
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
