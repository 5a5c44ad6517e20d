"""The model side on JAX and PyTorch: the same weights give TensorFlow's outputs.

This process (TensorFlow) builds one small model of every architecture kind,
gives it seeded weights with non-trivial BN statistics and writes the weights,
inputs and its outputs to a directory (`write_cases`); for each backend one
subprocess (`KERAS_BACKEND` is fixed when Keras is imported) runs
tests/backend_checks.py on that directory: outputs within 1e-4 of the output
scale, folding keeps them, training-mode outputs and a few `fit` steps, `.keras`
round trips, backbone, freeze, with_dtype_policy, include_preprocessing, and
weights from .weights.h5, .keras, .safetensors, .pth and a pretrained tag in a
local Hugging Face Hub cache. Run this subset alone with

    .venv/bin/python -m pytest tests/test_backends.py
"""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
from safetensors.numpy import save_file

import keras_resnet
from conftest import put_in_hub_cache, randomize_bn_statistics

import torch_goldens as goldens

ROOT = Path(__file__).resolve().parents[1]
INPUT_SHAPE = (32, 32, 3)
SMALL = dict(widths=[16, 32, 64, 128], input_shape=list(INPUT_SHAPE), num_classes=10,
             classifier_activation=None)

# One small model per architecture kind: builder, positional and keyword arguments.
KINDS = {
    "basic": ("ResNet", [[1, 1, 1, 1]], dict(block_type="basic", variant="v1.5", **SMALL)),
    "bottleneck": ("ResNet", [[1, 1, 1, 1]], dict(block_type="bottleneck", variant="v1",
                                                  **SMALL)),
    "v2": ("ResNet", [[1, 1, 1, 1]], dict(block_type="bottleneck", variant="v2", **SMALL)),
    "cifar_a": ("ResNet20", [], dict(classifier_activation=None)),
    "resnext": ("ResNet", [[1, 1, 1, 1]], dict(block_type="bottleneck", groups=4,
                                               width_per_group=16, variant="v1.5", **SMALL)),
    "resnet_d": ("ResNet", [[1, 1, 1, 1]], dict(block_type="bottleneck", stem="deep",
                                                avg_down=True, variant="v1.5", **SMALL)),
}


def _build(kind, **kwargs):
    builder, args, options = KINDS[kind]
    return getattr(keras_resnet, builder)(*args, **{**options, **kwargs})


def write_cases(cases: Path) -> None:
    """What backend_checks.py compares against, computed here on TensorFlow."""
    assert keras.backend.backend() == "tensorflow"
    rng = np.random.default_rng(0)
    kinds = {kind: dict(builder=builder, args=args, kwargs=options,
                        partial_fold=options.get("variant") == "v2",
                        bfloat16=kind in ("basic", "v2"))
             for kind, (builder, args, options) in KINDS.items()}
    (cases / "kinds.json").write_text(json.dumps(kinds, indent=1))
    for kind in KINDS:
        model = _build(kind)
        randomize_bn_statistics(model, rng)
        model.save_weights(cases / f"{kind}.weights.h5")
        if kind == "cifar_a":
            model.save(cases / "cifar_a_tensorflow.keras")
        x = rng.normal(size=(8, *INPUT_SHAPE)).astype("float32")
        logits = model.predict(x, verbose=0)
        y = rng.integers(0, 10, len(x))
        # The loss of a training step before its update (batch statistics in the BNs).
        train_logits = keras.ops.convert_to_numpy(model(x, training=True)).astype("float64")
        train_loss = np.mean(np.log(np.exp(train_logits).sum(-1))
                             - train_logits[np.arange(len(x)), y])
        np.savez(cases / f"{kind}.npz", x=x, y=y, logits=logits, train_loss=train_loss)
        keras.backend.clear_session()
    x = np.load(cases / "cifar_a.npz")["x"]
    backbone = keras_resnet.backbone("resnet20", INPUT_SHAPE,
                                     weights=str(cases / "cifar_a.weights.h5"))
    features = backbone.predict(x, verbose=0)
    np.savez(cases / "backbone.npz", x=x, **features)
    images = rng.integers(0, 256, size=(4, *INPUT_SHAPE), dtype=np.uint8)
    model = _build("basic", include_preprocessing=True, weights=str(cases / "basic.weights.h5"))
    np.savez(cases / "preprocessing.npz", images=images, logits=model.predict(images, verbose=0))
    keras.backend.clear_session()
    # torchvision-layout weights with the logits torchvision recorded (tests/goldens).
    save_file(goldens.random_state_dict("resnet18"), str(cases / "resnet18.safetensors"))
    put_in_hub_cache(cases / "hub", "timm/resnet18.tv_in1k",
                     {"model.safetensors": (cases / "resnet18.safetensors").read_bytes()})


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    path = tmp_path_factory.mktemp("backend_cases")
    write_cases(path)
    return path


@pytest.mark.slow  # about two minutes per backend on 2 cores
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_model_side_matches_tensorflow(backend, cases):
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed: pip install 'keras-resnet-zoo[{backend}]'")
    env = {**os.environ, "KERAS_BACKEND": backend, "HF_HUB_CACHE": str(cases / "hub"),
           "HF_HUB_OFFLINE": "1", "TF_CPP_MIN_LOG_LEVEL": "2",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    if backend == "jax" and "XLA_FLAGS" not in env:
        # XLA's CPU compiler at optimisation level 0: the same computations (losses
        # agree to 1e-6), compiled in about half the time, which is most of this test.
        env["XLA_FLAGS"] = ("--xla_backend_optimization_level=0 "
                            "--xla_llvm_disable_expensive_passes=true")
    proc = subprocess.run([sys.executable, str(ROOT / "tests" / "backend_checks.py"),
                           str(cases)], env=env, capture_output=True, text=True, timeout=600)
    print(proc.stdout)
    failures = [line[5:] for line in proc.stdout.splitlines() if line.startswith("FAIL ")]
    assert proc.returncode == 0 and not failures, (
        f"on KERAS_BACKEND={backend}, {len(failures)} check(s) failed:\n  "
        + "\n  ".join(failures or [f"exit code {proc.returncode}: {proc.stderr[-3000:]}"]))
    assert f"backend {backend}," in proc.stdout
