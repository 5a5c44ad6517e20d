"""Recipes, train / evaluate / predict, checkpoints and --resume, precision, strategies, CLI."""

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

from conftest import assert_close
from fake_data import write_cifar10, write_folder, write_photos
from keras_resnet import cli
from keras_resnet.training import (RECIPES, evaluate, latest_checkpoint, make_optimizer,
                                   predict, train)
from keras_resnet.training.recipes import apply_weight_decay, compile_model
from keras_resnet.training.settings import read_run_record

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Small and fast: ResNet20 at 16x16, two steps of 32 images per epoch.
TINY = dict(epochs=2, batch_size=32, steps_per_epoch=2, image_size=16, verbose=0)


def _env():
    return {**os.environ, "PYTHONPATH": REPO + os.pathsep + os.environ.get("PYTHONPATH", ""),
            "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}


def _log_epochs(out):
    with open(os.path.join(out, "log.csv")) as f:
        return [int(row["epoch"]) for row in csv.DictReader(f)]


def _all_files(out):
    return sorted(os.path.relpath(os.path.join(root, f), out)
                  for root, _, files in os.walk(out) for f in files)


# ----------------------------------------------------------------------------- recipes

def test_paper_cifar_recipe_is_section_4_2():
    r = RECIPES["paper-cifar"]
    assert (r.optimizer, r.learning_rate, r.momentum, r.weight_decay, r.batch_size) == (
        "sgd", 0.1, 0.9, 1e-4, 128)
    assert (r.schedule, r.milestones, r.decay_factor) == ("step", (0.5, 0.75), 0.1)
    # 164 epochs of 50k images at batch 128 = 391 * 164 = 64,124 iterations (paper: 64k)
    assert abs(-(-50_000 // 128) * r.epochs - 64_000) < 200
    opt = make_optimizer(r, batch_size=128, total_steps=64_000)
    assert isinstance(opt, keras.optimizers.SGD) and opt.momentum == 0.9
    values = [lr_at(opt, s) for s in (0, 32_000, 32_001, 48_000, 48_001, 64_000)]
    np.testing.assert_allclose(values, [0.1, 0.1, 0.01, 0.01, 0.001, 0.001], rtol=1e-6)
    doubled = make_optimizer(r, batch_size=256, total_steps=100)
    assert lr_at(doubled, 0) == pytest.approx(0.2)  # linear scaling
    ft = make_optimizer(RECIPES["finetune"], batch_size=64, total_steps=100)
    assert lr_at(ft, 0) == pytest.approx(0.001)
    assert lr_at(ft, 100) == pytest.approx(0.0, abs=1e-9)  # cosine to zero


def lr_at(optimizer, step):
    """The optimizer's learning rate after `step` steps (through public attributes)."""
    optimizer.iterations.assign(step)
    return float(optimizer.learning_rate)


def test_weight_decay_is_l2_on_kernels_only():
    model = keras_resnet_model()
    apply_weight_decay(model, 1e-4)
    kernels = [layer.kernel for layer in model.layers
               if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense))]
    expected = 0.5e-4 * sum(float(np.sum(np.square(k.numpy()))) for k in kernels)
    assert float(sum(model.losses)) == pytest.approx(expected, rel=1e-5)
    assert len(model.losses) == len(kernels) == 20  # 19 convs + the classifier (option A)


def keras_resnet_model(**kwargs):
    from keras_resnet import ResNet20
    return ResNet20((16, 16, 3), **kwargs)


def test_jit_flag_reaches_compile():
    model = keras_resnet_model()
    compile_model(model, "sgd", RECIPES["adam"], True)
    assert model.jit_compile is True
    compile_model(model, "sgd", RECIPES["adam"], None)
    assert model.jit_compile is False  # Keras' "auto": XLA off on a CPU-only machine


# ----------------------------------------------------------------------------- train

@pytest.mark.slow  # a whole training run (the fast loop keeps one)
def test_train_writes_complete_run_directory(tmp_path):
    out = str(tmp_path / "run")
    result = train("resnet20", "digits", out=out, **TINY)
    files = _all_files(out)
    for name in ("run.json", "log.csv", "model.keras", "metrics.json", "training_curves.png",
                 "confusion_matrix.png", "checkpoints/epoch-0002.keras"):
        assert name in files
    assert any(f.startswith("logs/train/events.out.tfevents") for f in files)
    assert not [f for f in files if ".tmp" in f]
    assert [f for f in files if f.startswith("checkpoints/")] == ["checkpoints/epoch-0002.keras"]

    metrics = json.load(open(os.path.join(out, "metrics.json")))
    for key in ("accuracy", "top5_accuracy", "loss", "epochs", "seconds"):
        assert key in metrics
    assert metrics["epochs"] == 2 and metrics["seconds"] > 0 and metrics["num_test"] == 360
    assert 0 <= metrics["accuracy"] <= metrics["top5_accuracy"] <= 1
    assert _log_epochs(out) == [0, 1]
    run = json.load(open(os.path.join(out, "run.json")))
    assert run["class_names"] == [str(i) for i in range(10)] and run["image_size"] == 16
    record = read_run_record(out)  # the typed record is the file, key for key
    assert record.to_json() == run and record.settings.epochs == 2

    # evaluate() on the saved model reproduces the numbers train() wrote.
    again = evaluate(os.path.join(out, "model.keras"), "digits")
    assert again["accuracy"] == pytest.approx(metrics["accuracy"], abs=1e-9)
    assert again["loss"] == pytest.approx(metrics["loss"], rel=1e-5)
    assert sum(map(sum, again["confusion"])) == 360
    from PIL import Image
    assert Image.open(os.path.join(out, "training_curves.png")).size[0] > 500

    # predict() on held-out digits saved as 8x8 PNGs: the evaluation transform (resize the
    # shorter side to 16 / 0.875 = 18, center 16x16) and the run's normalisation.
    from keras_resnet.data import load_source
    from keras_resnet.data.pipeline import normalize
    from keras_resnet.preprocessing import eval_transform
    data = load_source("digits")
    batch = normalize(eval_transform(data.test.images[:4], 16, 0.875), data.mean, data.std)
    expected = result.model.predict(batch, verbose=0)
    paths = []
    for i in range(4):
        paths.append(str(tmp_path / f"digit{i}.png"))
        Image.fromarray(data.test.images[i, :, :, 0], mode="L").save(paths[-1])
    for (path, top), probs in zip(predict(os.path.join(out, "model.keras"), paths, top_k=3),
                                  expected):
        assert [label for label, _ in top] == [str(j) for j in np.argsort(-probs)[:3]]
        np.testing.assert_allclose([p for _, p in top], np.sort(probs)[::-1][:3], rtol=1e-4)


def test_training_learns_the_digits(tmp_path):
    # A real (if short) run: 3 epochs at 16x16 beat chance (0.1) by far. Seeds 0-3 gave
    # 0.81-0.95; a misaligned label or a broken pipeline stays near 0.1.
    result = train("resnet20", "digits", out=str(tmp_path / "run"), epochs=3, batch_size=64,
                   image_size=16, verbose=0)
    assert result.metrics["accuracy"] > 0.6, result.metrics


@pytest.mark.slow  # a whole training run (the fast loop keeps one)
def test_mixed_precision_keeps_softmax_float32(tmp_path):
    out = tmp_path / "run"
    result = train("resnet20", "digits", out=str(out), precision="mixed_float16",
                   **{**TINY, "epochs": 1})
    assert keras.config.dtype_policy().name == "float32"  # restored afterwards
    checkpoint = keras.models.load_model(str(out / "checkpoints/epoch-0001.keras"))
    for model in (result.model, keras.models.load_model(str(out / "model.keras")), checkpoint):
        assert model.get_layer("conv1_conv").compute_dtype == "float16"
        assert model.get_layer("predictions").compute_dtype == "float32"
        assert model.output.dtype == "float32"
    # The loss-scale optimizer and its state survive a checkpoint (what --resume loads).
    trained, restored = result.model.optimizer, checkpoint.optimizer
    assert isinstance(restored, keras.optimizers.LossScaleOptimizer)
    assert int(restored.iterations.numpy()) == int(trained.iterations.numpy())
    assert float(restored.dynamic_scale.numpy()) == float(trained.dynamic_scale.numpy())
    from keras_resnet.training.run import build_model, dtype_policy_scope
    with dtype_policy_scope("mixed_bfloat16"):
        model = build_model("resnet20", (16, 16), 10, None)
    assert model.get_layer("conv1_conv").compute_dtype == "bfloat16"
    assert model.get_layer("predictions").compute_dtype == "float32"


@pytest.mark.slow  # two whole training runs
@pytest.mark.parametrize("strategy", ["one_device", "mirrored"])
def test_strategies_train(tmp_path, strategy):
    result = train("resnet20", "digits", out=str(tmp_path / "run"), strategy=strategy,
                   **{**TINY, "epochs": 1})
    assert result.metrics["replicas"] == 1 and os.path.isfile(tmp_path / "run/model.keras")


@pytest.mark.slow  # a whole training run (the fast loop keeps one)
def test_cifar_and_folder_sources_end_to_end(tmp_path, capsys):
    write_cifar10(tmp_path / "c")
    result = train("resnet20", f"cifar10:{tmp_path / 'c'}", out=str(tmp_path / "cifar"),
                   **{**TINY, "epochs": 1})
    assert result.metrics["num_test"] == 10
    assert json.load(open(tmp_path / "cifar/run.json"))["class_names"][9] == "truck"

    # Fine-tune those weights on 3 classes: the backbone is kept, the classifier replaced.
    weights = str(tmp_path / "cifar.weights.h5")
    result.model.save_weights(weights)
    write_folder(tmp_path / "f", classes=("cat", "dog", "eel"), per_class=5)
    out = tmp_path / "folder"
    tuned = train("resnet20", f"folder:{tmp_path / 'f'}", out=str(out), weights=weights,
                  **{**TINY, "epochs": 1, "steps_per_epoch": 1})
    assert tuned.metrics["recipe"] == "finetune" and tuned.model.output_shape == (None, 3)
    before = result.model.get_layer("conv3_block2_2_conv").get_weights()[0]
    after = tuned.model.get_layer("conv3_block2_2_conv").get_weights()[0]
    assert_close(after, before, 1e-2, "one step at lr 5e-4", min_scale=0)
    capsys.readouterr()
    assert cli.main(["evaluate", "--model-file", str(out / "model.keras"),
                     "--data", f"folder:{tmp_path / 'f'}"]) == 0
    text = capsys.readouterr().out
    assert "top-1" in text and "top-5" in text and "(3 held-out images)" in text
    image = str(tmp_path / "f/dog/1.png")
    assert cli.main(["predict", "--model-file", str(out / "model.keras"), image]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith(image + ": ") and {"cat", "dog", "eel"} <= set(line.split())
    # A model trained on other classes is not scored on this folder.
    assert cli.main(["evaluate", "--model-file", str(tmp_path / "cifar/model.keras"),
                     "--data", f"folder:{tmp_path / 'f'}"]) == 2


@pytest.mark.slow  # a whole training run
def test_photo_folder_trains_through_the_cli(tmp_path, capsys):
    """ImageNet layout, JPEG/PNG/BMP/GIF files of varied sizes, aspect ratios and modes
    (grey, CMYK, paletted, 16-bit, alpha), one corrupt file among 101: one epoch with
    TrivialAugment and mixup runs, the corrupt file is named and counted, not fatal."""
    write_photos(tmp_path / "photos", train=50, val=4)
    corrupt = str(tmp_path / "photos" / "train" / "cat" / "corrupt.jpg")
    out = tmp_path / "run"
    assert cli.main(["train", "--model", "resnet20", "--data", f"folder:{tmp_path / 'photos'}",
                     "--out", str(out), "--epochs", "1", "--batch-size", "34",
                     "--image-size", "32", "--auto-augment", "trivialaugment",
                     "--mixup", "0.2"]) == 0
    err = capsys.readouterr().err
    assert f"skipped unreadable image {corrupt!r}" in err and "1 of 101 training" in err
    metrics = json.load(open(out / "metrics.json"))
    assert list(metrics["unreadable_files"]) == [corrupt] and metrics["num_test"] == 8
    run = json.load(open(out / "run.json"))
    assert (run["auto_augment"], run["mixup"], run["cutmix"]) == ("trivialaugment", 0.2, 0.0)
    assert _log_epochs(out) == [0]
    assert cli.main(["evaluate", "--model-file", str(out / "model.keras"),
                     "--data", f"folder:{tmp_path / 'photos'}"]) == 0
    assert "(8 held-out images)" in capsys.readouterr().out


def _settings(**changes):
    from keras_resnet.training.settings import RunSettings

    return RunSettings(**{**dict(model="resnet20", data="digits", epochs=1, batch_size=8,
                                 weights=None, recipe="paper-cifar", precision="float32",
                                 image_size=8, steps_per_epoch=None, seed=0, auto_augment=None,
                                 random_erasing=0.0, mixup=0.0, cutmix=0.0), **changes})


def test_mixup_compiles_the_categorical_loss():
    from keras_resnet.training.settings import run_recipe

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(10, activation="softmax")])
    compile_model(model, keras.optimizers.SGD(), run_recipe(_settings(mixup=0.2)), jit=False)
    x, y = np.ones((3, 4), np.float32), np.eye(10, dtype=np.float32)[[1, 2, 3]] * 0.8 + 0.02
    loss, accuracy, _ = model.evaluate(x, y, verbose=0)  # soft (mixed) labels are accepted
    p = model.predict(x, verbose=0)
    assert loss == pytest.approx(float(-(y * np.log(p)).sum(axis=1).mean()), rel=1e-4)
    compile_model(model, keras.optimizers.SGD(), run_recipe(_settings()), jit=False)
    assert model.loss == "sparse_categorical_crossentropy"


def test_augmentation_settings_override_the_recipe(tmp_path):
    from keras_resnet.training.settings import resolve_settings

    common = dict(out=str(tmp_path / "o"), epochs=1, batch_size=None, weights=None,
                  recipe=None, precision=None, jit=None, strategy="auto", resume=False,
                  image_size=None, steps_per_epoch=None, seed=0)
    s = resolve_settings("resnet20", "folder:/x", **common, auto_augment="randaugment",
                         random_erasing=0.25, cutmix=1.0)
    assert (s.auto_augment, s.random_erasing, s.mixup, s.cutmix) == (
        "randaugment", 0.25, 0.0, 1.0)
    assert resolve_settings("resnet20", "digits", **common, mixup=0.2).mixup == 0.2
    with pytest.raises(ValueError, match="`auto_augment` is for photos"):
        resolve_settings("resnet20", "digits", **common, auto_augment="trivialaugment")
    with pytest.raises(ValueError, match="`cutmix` must be"):
        resolve_settings("resnet20", "folder:/x", **common, cutmix=3.0)


# ----------------------------------------------------------------------------- resume

@pytest.mark.slow  # a whole training run (the fast loop keeps one)
def test_resume_after_kill_continues_from_last_complete_checkpoint(tmp_path):
    out = str(tmp_path / "run")
    argv = ["train", "--model", "resnet20", "--data", "digits", "--epochs", "4",
            "--batch-size", "32", "--steps-per-epoch", "3", "--image-size", "16", "--out", out]
    proc = subprocess.Popen([sys.executable, "-m", "keras_resnet", *argv], env=_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    first = os.path.join(out, "checkpoints", "epoch-0001.keras")
    try:
        while not os.path.exists(first) and proc.poll() is None:
            time.sleep(0.02)
    finally:
        proc.send_signal(signal.SIGKILL)  # anywhere in epoch 2 (or saving its checkpoint)
        proc.wait()
    assert os.path.exists(first) or latest_checkpoint(out)[0] >= 1, proc.stderr.read()
    done, path = latest_checkpoint(out)
    assert 1 <= done < 4 and not os.path.exists(os.path.join(out, "model.keras"))
    # Whatever a killed save leaves behind (a temporary name) must be ignored.
    with open(os.path.join(out, "checkpoints", ".tmp-1-epoch-0009.keras"), "wb") as f:
        f.write(b"PK\x03\x04 half a zip")
    keras.models.load_model(path)  # the last complete checkpoint is a whole .keras file

    result = train(None, None, out=out, resume=True, verbose=0)
    assert _log_epochs(out) == [0, 1, 2, 3]  # every epoch once, none repeated
    assert result.metrics["epochs"] == 4
    assert int(result.model.optimizer.iterations.numpy()) == 4 * 3  # optimizer state restored
    saved = keras.models.load_model(os.path.join(out, "model.keras"))
    assert int(saved.optimizer.iterations.numpy()) == 12
    # lr of the last epoch: 0.1 * 32/128 decayed twice (50% and 75% of 12 steps)
    last = list(csv.DictReader(open(os.path.join(out, "log.csv"))))[-1]
    assert float(last["learning_rate"]) == pytest.approx(0.025 * 0.01, rel=1e-5)

    # Settings come from run.json; contradicting them is an error.
    with pytest.raises(ValueError, match="epochs was 4, not 5"):
        train(None, None, out=out, resume=True, epochs=5, verbose=0)


def test_resume_drops_log_rows_after_the_checkpoint(tmp_path):
    from keras_resnet.training.files import truncate_log
    path = tmp_path / "log.csv"
    path.write_text("epoch,loss\n0,2.5\n1,1.5\n2,1.25\n3,1.0\n")
    truncate_log(str(path), 2)  # resuming after epoch 2 of a run killed later
    assert path.read_text() == "epoch,loss\n0,2.5\n1,1.5\n"


# ----------------------------------------------------------------------------- multi-worker

WORKER = """
import sys
import numpy as np
from keras_resnet.training import train
result = train("resnet20", "digits", out=sys.argv[1], epochs=2, batch_size=32,
               steps_per_epoch=3, image_size=16, strategy="multi_worker", verbose=0)
np.savez(sys.argv[2], *[v.numpy() for v in result.model.weights])
"""


def _free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.mark.slow
@pytest.mark.whole_machine  # two worker processes
def test_multi_worker_two_processes_end_with_identical_weights(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    workers = [f"127.0.0.1:{p}" for p in _free_ports(2)]
    out = str(tmp_path / "run")
    procs = []
    for i in range(2):
        tf_config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": i}}
        env = {**_env(), "TF_CONFIG": json.dumps(tf_config)}
        procs.append(subprocess.Popen(
            [sys.executable, str(script), out, str(tmp_path / f"w{i}.npz")], env=env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    try:
        logs = [p.communicate(timeout=400)[0] for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert [p.returncode for p in procs] == [0, 0], logs
    w0, w1 = np.load(tmp_path / "w0.npz"), np.load(tmp_path / "w1.npz")
    assert len(w0.files) == len(w1.files) > 60
    for key in w0.files:
        np.testing.assert_array_equal(w0[key], w1[key], err_msg=key)
    metrics = json.load(open(os.path.join(out, "metrics.json")))  # written by the chief only
    assert metrics["replicas"] == 2 and metrics["epochs"] == 2
    initial = keras_resnet_model(num_classes=10).get_weights()  # training changed them
    assert not all(np.array_equal(a, b) for a, b in zip(initial, [w0[k] for k in w0.files]))
