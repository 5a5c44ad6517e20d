"""`remat=` (gradient checkpointing, `keras_resnet.remat`): the same gradients, state,
outputs, names, config and saved file as the plain model; bad values refused; the
`train --remat` setting reaches the model and run.json, and --resume keeps it."""

import json
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_resnet
from keras_resnet import cli
from keras_resnet.remat import check_remat, rematerialise
from keras_resnet.training import train
from keras_resnet.training.settings import read_run_record, resolve_settings

SHAPE = (32, 32, 3)
ROOT = Path(__file__).resolve().parents[1]


def _grads(model, x, y):
    loss_fn = keras.losses.SparseCategoricalCrossentropy()

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        return tape.gradient(loss, model.trainable_variables)
    return [g.numpy() for g in step()]


@pytest.mark.parametrize("remat", [True, "stage"])
def test_remat_gradients_state_and_file_equal_the_plain_models(remat, tmp_path):
    # DropPath too: the recomputation must draw the forward pass' masks.
    options = dict(input_shape=SHAPE, num_classes=10, drop_path_rate=0.2)
    plain = keras_resnet.get_model("resnet20", **options)
    model = keras_resnet.get_model("resnet20", remat=remat, **options)
    assert [layer.name for layer in model.layers] == [layer.name for layer in plain.layers]
    assert len(model.variables) == len(plain.variables)
    assert model.get_config() == plain.get_config()
    for mine, theirs in zip(model.variables, plain.variables):  # seed generators' state too
        mine.assign(theirs)

    rng = np.random.default_rng(0)
    x = rng.random((8, *SHAPE), dtype="float32")
    y = rng.integers(0, 10, 8)
    for mine, theirs in zip(_grads(model, x, y), _grads(plain, x, y)):
        np.testing.assert_allclose(mine, theirs, atol=1e-5)
    # One update of the moving statistics (not two) and the same random state after.
    for mine, theirs in zip(model.variables, plain.variables):
        np.testing.assert_allclose(mine.numpy(), theirs.numpy(), atol=1e-6, err_msg=mine.path)
    np.testing.assert_allclose(model.predict(x, verbose=0), plain.predict(x, verbose=0),
                               atol=1e-6)

    if remat == "stage":
        return  # the file and the loaded checkpoint: once (True) is enough
    # Saved as the plain model (the same config.json), loaded by plain Keras.
    paths = [str(tmp_path / f"{name}.keras") for name in ("remat", "plain")]
    model.save(paths[0])
    plain.save(paths[1])
    configs = [json.loads(zipfile.ZipFile(path).read("config.json")) for path in paths]
    assert configs[0] == configs[1]
    loaded = keras.models.load_model(paths[0])
    assert "call" not in vars(loaded)
    # What `train --resume` does to a loaded checkpoint: found by the layer names alone.
    loaded, plain = rematerialise(loaded, remat), keras.models.load_model(paths[1])
    for mine, theirs in zip(loaded.variables, plain.variables):  # seeds are not saved
        mine.assign(theirs)
    for mine, theirs in zip(_grads(loaded, x, y), _grads(plain, x, y)):
        np.testing.assert_allclose(mine, theirs, atol=1e-5)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), plain.predict(x, verbose=0),
                               atol=1e-6)


def test_remat_on_the_generic_builder_and_a_headless_model():
    x = np.random.default_rng(1).random((2, *SHAPE), dtype="float32")
    for options in (dict(include_top=False), dict(include_top=False, pooling="avg")):
        plain = keras_resnet.ResNet((1, 1), input_shape=SHAPE, stem="cifar", **options)
        model = keras_resnet.ResNet((1, 1), input_shape=SHAPE, stem="cifar", remat="block",
                                    **options)
        model.set_weights(plain.get_weights())
        np.testing.assert_allclose(model(x, training=True), plain(x, training=True),
                                   atol=1e-5)


def test_remat_on_jax_gradients_state_and_fit_equal_the_plain_models():
    # tests/remat_jax_check.py in a KERAS_BACKEND=jax process: jax.grad through
    # stateless_call (True and "stage"), one fit step's variables (BN statistics,
    # DropPath's seeds), two more fit steps. About 25 s on 2 cores.
    pytest.importorskip("jax")
    env = {**os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "2",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    # XLA's CPU compiler at optimisation level 0 (as tests/test_backends.py): the same
    # computations, compiled in about half the time.
    env.setdefault("XLA_FLAGS", "--xla_backend_optimization_level=0 "
                                "--xla_llvm_disable_expensive_passes=true")
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, str(ROOT / "tests" / "remat_jax_check.py")],
                          env=env, capture_output=True, text=True, timeout=600)
    print(proc.stdout, f"{time.perf_counter() - start:.1f} s")
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    assert proc.stdout.count("OK ") == 4, proc.stdout


def test_remat_refuses_torch_naming_the_backend(monkeypatch):
    check_remat("block")  # this process: TensorFlow
    monkeypatch.setattr(keras.backend, "backend", lambda: "torch")
    for value in (True, "block", "stage"):
        with pytest.raises(ValueError, match=r"TensorFlow or the JAX backend.*Received: "
                                             r"remat=.* on the 'torch' backend"):
            check_remat(value)
    check_remat(None)
    check_remat(False)


@pytest.mark.parametrize("value", ["blocks", "full", 1, 0, "True", ["block"]])
def test_bad_remat_values_are_refused(value):
    for build in (lambda: keras_resnet.ResNet50(remat=value),
                  lambda: keras_resnet.get_model("resnet20", remat=value),
                  lambda: keras_resnet.ResNet((1, 1), remat=value)):
        with pytest.raises(ValueError, match=r"`remat` must be one of \[None, False, True, "
                                             r"'block', 'stage'\]. Received: remat="):
            build()


def test_train_remat_reaches_the_model_and_run_json(tmp_path):
    args = cli.build_parser().parse_args(["train", "--remat"])
    assert args.remat == "block"
    assert cli.build_parser().parse_args(["train", "--remat", "stage"]).remat == "stage"
    assert cli.build_parser().parse_args(["train"]).remat is None

    out = str(tmp_path / "run")
    result = train("resnet20", "digits", out=out, epochs=1, batch_size=16, steps_per_epoch=1,
                   image_size=16, remat="stage", verbose=0)
    assert "call" in vars(result.model)  # rematerialised: the instance's own training call
    assert json.load(open(os.path.join(out, "run.json")))["remat"] == "stage"
    assert read_run_record(out).settings.remat == "stage"

    resume = dict(out=out, epochs=None, batch_size=None, weights=None, recipe=None,
                  precision=None, jit=None, strategy="auto", resume=True, image_size=None,
                  steps_per_epoch=None, seed=0)
    assert resolve_settings(None, None, **resume).remat == "stage"  # kept
    assert resolve_settings(None, None, **resume, remat=True).remat == "block"  # memory only
    # A run.json from before the setting reads as remat off.
    record = json.load(open(os.path.join(out, "run.json")))
    del record["remat"]
    json.dump(record, open(os.path.join(out, "run.json"), "w"))
    assert read_run_record(out).settings.remat is None
