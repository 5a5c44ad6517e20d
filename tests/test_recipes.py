"""The ImageNet recipes: warmup + cosine, weight decay's variables, the weights' moving
average (what is evaluated and saved, and what --resume restores), pretrained tags in train."""

import csv
import dataclasses
import json
import math
import os

import keras
import numpy as np
import pytest

from keras_resnet.training import RECIPES, make_optimizer, train
from keras_resnet.training import run as run_module
from keras_resnet.training.recipes import (IMAGENET_TRAIN_IMAGES, apply_weight_decay,
                                           compile_model, ema_momentum, weight_decay_variables)

from conftest import assert_close


def lr_at(optimizer, step):
    """The optimizer's learning rate after `step` steps (through public attributes)."""
    optimizer.iterations.assign(step)
    return float(optimizer.learning_rate)


def test_imagenet_recipes_are_the_papers_and_torchvisions():
    paper = RECIPES["imagenet-paper"]
    assert (paper.optimizer, paper.learning_rate, paper.batch_size, paper.momentum,
            paper.weight_decay, paper.epochs) == ("sgd", 0.1, 256, 0.9, 1e-4, 90)
    # ImageNet at batch 256: 5,005 steps per epoch; /10 after epochs 30 and 60, exactly.
    spe = math.ceil(IMAGENET_TRAIN_IMAGES / 256)
    opt = make_optimizer(paper, batch_size=512, total_steps=90 * spe, steps_per_epoch=spe)
    values = [lr_at(opt, s) for s in (0, 30 * spe, 30 * spe + 1, 60 * spe, 60 * spe + 1)]
    np.testing.assert_allclose(values, [0.2, 0.2, 0.02, 0.02, 0.002], rtol=1e-6)  # 0.1 x 512/256

    modern = RECIPES["imagenet-modern"]  # torchvision's ResNet50 IMAGENET1K_V2 command line
    assert modern.learning_rate / modern.batch_size == pytest.approx(0.5 / 1024)
    assert (modern.momentum, modern.weight_decay, modern.epochs, modern.label_smoothing,
            modern.mixup, modern.cutmix, modern.auto_augment, modern.random_erasing,
            modern.warmup_epochs, modern.ema_decay, modern.schedule) == (
        0.9, 2e-5, 600, 0.1, 0.2, 1.0, "trivialaugment", 0.1, 5, 0.99998, "cosine")


def test_warmup_then_cosine_step_by_step():
    # ImageNet at batch 1024 for 600 epochs: 5 linear warmup epochs from 0.01 x the peak,
    # then cosine to 0. torchvision steps its schedule per epoch; per step, its value at
    # each epoch start is ours at that step (LinearLR(0.01), then CosineAnnealingLR).
    r = RECIPES["imagenet-modern"]
    spe, epochs = math.ceil(IMAGENET_TRAIN_IMAGES / 1024), r.epochs
    opt = make_optimizer(r, batch_size=1024, total_steps=spe * epochs, steps_per_epoch=spe)
    peak = 0.5

    def torchvision(epoch):
        if epoch < 5:
            return peak * (0.01 + 0.99 * epoch / 5)
        return peak * 0.5 * (1 + math.cos(math.pi * (epoch - 5) / (epochs - 5)))

    for epoch in (0, 1, 3, 5, 6, 100, 302, 599, 600):
        assert lr_at(opt, epoch * spe) == pytest.approx(torchvision(epoch), rel=1e-5, abs=1e-7)
    # Between epochs it moves every step: half-way through warmup, and past the end.
    assert lr_at(opt, spe * 5 // 2) == pytest.approx(peak * (0.01 + 0.99 / 2), rel=1e-5)
    assert lr_at(opt, spe * epochs + 10) == 0.0
    # One serializable schedule: the optimizer's config round-trips (what checkpoints hold).
    again = keras.optimizers.deserialize(keras.optimizers.serialize(opt))
    for step in (0, 3 * spe + 7, 400 * spe):
        assert lr_at(again, step) == pytest.approx(lr_at(opt, step), rel=1e-7)
    assert again.use_ema and again.ema_momentum == opt.ema_momentum


def test_ema_momentum_is_torchvisions_per_step():
    # torchvision: every 32 steps, decay 1 - (1 - 0.99998) * 1024 * 32 / 600 (8 GPUs x 128).
    r = RECIPES["imagenet-modern"]
    per_32 = 1 - (1 - 0.99998) * 1024 * 32 / 600
    total = math.ceil(IMAGENET_TRAIN_IMAGES / 1024) * 600
    ours = ema_momentum(r, total)
    assert ours ** 32 == pytest.approx(per_32, rel=2e-5)
    assert make_optimizer(r, batch_size=1024, total_steps=total).ema_momentum == ours
    # On 100x less data the average spans the same share of the run (and not more than all).
    assert 1 - ema_momentum(r, total // 100) == pytest.approx(100 * (1 - ours), rel=1e-3)
    assert ema_momentum(r, 10) == 0.0 and ema_momentum(RECIPES["paper-cifar"], total) == 0.0
    assert not make_optimizer(RECIPES["paper-cifar"], batch_size=128, total_steps=10).use_ema


@pytest.mark.parametrize("variant", ["v1", "v1.5"])
def test_weight_decay_goes_on_kernels_not_batchnorm_or_biases(variant):
    from keras_resnet import ResNet18
    model = ResNet18((32, 32, 3), 10, variant=variant)  # v1 has conv biases, v1.5 none
    decayed = weight_decay_variables(model)
    assert len(decayed) == 21  # 20 convs (3 of them projections) + the classifier
    assert all(v.path.endswith("/kernel") for v in decayed)
    ids = {id(v) for v in decayed}
    rest = [v.path.rsplit("/", 1)[1] for v in model.trainable_variables if id(v) not in ids]
    assert set(rest) == ({"gamma", "beta", "bias"})
    assert rest.count("bias") == (21 if variant == "v1" else 1)
    apply_weight_decay(model, 2e-5)
    expected = 1e-5 * sum(float(np.sum(np.square(v.numpy()))) for v in decayed)
    assert float(sum(model.losses)) == pytest.approx(expected, rel=1e-5)


def test_warmup_needs_the_cosine_schedule():
    r = dataclasses.replace(RECIPES["paper-cifar"], warmup_epochs=1)
    with pytest.raises(ValueError, match="warmup_epochs.*cosine"):
        make_optimizer(r, batch_size=128, total_steps=100, steps_per_epoch=10)


def test_label_smoothed_loss_on_a_known_case():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Softmax()])
    compile_model(model, "sgd", RECIPES["imagenet-modern"], None)
    logits = np.log(np.array([[0.7, 0.1, 0.1, 0.1], [0.25, 0.25, 0.25, 0.25]], "float32"))
    labels = np.array([[1, 0, 0, 0], [0, 0, 1, 0]], "float32")  # one-hot (mixup's labels)
    # Smoothed targets 0.9 x one-hot + 0.1 / 4: -(0.925 ln 0.7 + 3 x 0.025 ln 0.1), -ln 0.25
    expected = (-(0.925 * math.log(0.7) + 0.075 * math.log(0.1)) + math.log(4)) / 2
    loss = model.compute_loss(x=logits, y=labels, y_pred=model(logits))
    assert float(loss) == pytest.approx(expected, rel=1e-5)


def test_label_smoothing_without_mixing_trains_on_one_hot_labels(tmp_path):
    # Keras' sparse cross-entropy takes no label_smoothing: with mixup and cutmix
    # off, a smoothing recipe still needs one-hot labels (this used to be a TypeError).
    from keras_resnet.training import train

    result = train("resnet20", "digits", out=str(tmp_path / "run"), recipe="imagenet-modern",
                   mixup=0, cutmix=0, epochs=1, batch_size=32, steps_per_epoch=2,
                   image_size=16, verbose=0)
    assert result.model.loss.label_smoothing == pytest.approx(0.1)
    assert np.isfinite(result.metrics["loss"]) and 0 <= result.metrics["accuracy"] <= 1


# ----------------------------------------------------------------------------- EMA, resume

# 6 epochs of 6 steps: 5 warmup epochs (30 steps), then cosine; EMA momentum 1 - 25.6 / 36.
MODERN = dict(recipe="imagenet-modern", epochs=6, batch_size=32, steps_per_epoch=6,
              image_size=16, verbose=0)


class _Interrupt(Exception):
    pass


@pytest.fixture
def fixed_batches(monkeypatch):
    """train() with the same 6 training batches every epoch.

    tf.data's shuffle and parallel random augmentation restart with a resumed
    fit and are not bit-reproducible, so the training batches are fixed (in the
    label format of the recipe's pipeline); the rest of train() is untouched.
    """
    from keras_resnet.data.pipeline import preprocess
    import tensorflow as tf

    original = run_module._input_pipelines

    def pipelines(settings, dataset, *args, **kwargs):
        train_ds, *rest = original(settings, dataset, *args, **kwargs)
        n = settings.steps_per_epoch * settings.batch_size
        x = preprocess(dataset.train.images[:n], (settings.image_size,) * 2,
                       dataset.mean, dataset.std)
        y = dataset.train.labels[:n]
        if len(train_ds.element_spec[1].shape) == 2:  # one-hot labels (mixup, cutmix)
            y = keras.utils.to_categorical(y, dataset.num_classes)
        fixed = tf.data.Dataset.from_tensor_slices((x, y)).batch(settings.batch_size)
        return (fixed.repeat(), *rest)

    monkeypatch.setattr(run_module, "_input_pipelines", pipelines)


def _add_callback(monkeypatch, callback):
    """train() with `callback` after its own but the step checkpoint (which then sees a
    signal `callback` sends at the same step); returns a function that removes it."""
    from keras_resnet.training.callbacks import RunCallbacks

    in_order = RunCallbacks.in_order

    def with_callback(self, *args, **kwargs):
        callbacks = in_order(self, *args, **kwargs)
        at = callbacks.index(self.step_checkpoint)
        return callbacks[:at] + [callback] + callbacks[at:]

    monkeypatch.setattr(RunCallbacks, "in_order", with_callback)
    return lambda: monkeypatch.setattr(RunCallbacks, "in_order", in_order)


class _StopAfter(keras.callbacks.Callback):
    """Stops train() (raises) right after the checkpoint of epoch `epochs_done`."""

    def __init__(self, epochs_done):
        super().__init__()
        self.epochs_done = epochs_done

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.epochs_done:
            raise _Interrupt


class _StateAtStart(keras.callbacks.Callback):
    """Records the step count, weights and moving average fit() starts from."""

    def on_train_begin(self, logs=None):
        self.iterations = int(self.model.optimizer.iterations.numpy())
        self.weights, self.averages = _trainable(self.model), _averages(self.model)


def _log(out):
    with open(os.path.join(out, "log.csv")) as f:
        return list(csv.DictReader(f))


def _trainable(model):
    return [v.numpy() for v in model.trainable_variables]


def _averages(model):
    inner = getattr(model.optimizer, "inner_optimizer", model.optimizer)
    return [v.numpy() for v in inner._model_variables_moving_average]  # noqa: SLF001


@pytest.mark.slow  # three short training runs
def test_ema_is_evaluated_and_saved_and_resume_restores_it(tmp_path, fixed_batches,
                                                           monkeypatch):
    whole = str(tmp_path / "whole")
    result = train("resnet20", "digits", out=whole, **MODERN)
    opt = result.model.optimizer
    assert opt.use_ema and opt.ema_momentum == pytest.approx(1 - 25.6234 / 36, abs=1e-4)
    assert int(opt.iterations.numpy()) == 36
    ckpt = keras.models.load_model(os.path.join(whole, "checkpoints", "epoch-0006.keras"))
    saved = keras.models.load_model(os.path.join(whole, "model.keras"))
    # The checkpoint holds the live weights and the average; model.keras the average.
    for live, average, final in zip(_trainable(ckpt), _averages(ckpt), _trainable(saved)):
        np.testing.assert_array_equal(final, average)
    assert max(np.abs(a - b).max() for a, b in zip(_trainable(ckpt), _trainable(saved))) > 1e-4
    # Validation and metrics.json saw the average too: the last epoch's val_accuracy
    # (fit's validation, with SwapEMAWeights) is metrics.json's (predict after fit).
    metrics = json.load(open(os.path.join(whole, "metrics.json")))
    last = _log(whole)[-1]
    assert float(last["val_accuracy"]) == pytest.approx(metrics["accuracy"], abs=1e-6)

    # The same run stopped after epoch 3 (mid-warmup) and resumed.
    part = str(tmp_path / "part")
    restore = _add_callback(monkeypatch, _StopAfter(3))
    with pytest.raises(_Interrupt):
        train("resnet20", "digits", out=part, **MODERN)
    restore()
    stopped = keras.models.load_model(os.path.join(part, "checkpoints", "epoch-0003.keras"))
    assert int(stopped.optimizer.iterations.numpy()) == 18
    assert max(np.abs(a - b).max() for a, b in zip(_trainable(stopped),
                                                   _averages(stopped))) > 1e-4
    start = _StateAtStart()
    _add_callback(monkeypatch, start)
    resumed = train(None, None, out=part, resume=True, verbose=0)
    # fit() went on from the checkpoint's step, weights and average, none of them reset.
    assert start.iterations == 18
    for a, b in zip(start.weights + start.averages, _trainable(stopped) + _averages(stopped)):
        np.testing.assert_array_equal(a, b)
    ropt = resumed.model.optimizer
    assert int(ropt.iterations.numpy()) == 36 and ropt.ema_momentum == opt.ema_momentum
    # The schedule's position: every epoch's learning rate as in the uninterrupted run.
    assert [row["learning_rate"] for row in _log(part)] == [
        row["learning_rate"] for row in _log(whole)]
    # And it ends where the uninterrupted run ended (fixed batches: up to float rounding).
    resumed_ckpt = keras.models.load_model(os.path.join(part, "checkpoints",
                                                        "epoch-0006.keras"))
    for a, b in zip(_averages(resumed_ckpt) + _trainable(resumed_ckpt),
                    _averages(ckpt) + _trainable(ckpt)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    final = _trainable(resumed.model)
    for a, b in zip(final, _trainable(saved)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    # Killed after the last checkpoint, before model.keras: resuming runs no epoch and
    # still saves (and scores) the average, not the checkpoint's live weights.
    os.remove(os.path.join(part, "model.keras"))
    again = train(None, None, out=part, resume=True, verbose=0)
    for a, b in zip(_trainable(again.model), final):
        np.testing.assert_array_equal(a, b)
    assert again.metrics["accuracy"] == resumed.metrics["accuracy"]


# ----------------------------------------------------------------------------- finetune

def test_pretrained_weights_bring_their_normalisation():
    from keras_resnet.data import load_source
    from keras_resnet.preprocessing import IMAGENET_MEAN_STD
    from keras_resnet.training.run import eval_crop, use_checkpoint_normalization

    def normalisation(model, weights):
        data = load_source("digits")
        own = (tuple(data.mean), tuple(data.std))
        in_model = use_checkpoint_normalization(data, model, weights)
        return in_model, (tuple(data.mean), tuple(data.std)), own

    in_model, norm, own = normalisation("resnet34", "ra4_e3600_r224_in1k")  # mean 0.5, std 0.5
    assert not in_model and norm == ((0.5,) * 3, (0.5,) * 3) != own
    assert normalisation("resnet34", "hf://timm/resnet34.ra4_e3600_r224_in1k")[1] == norm
    assert normalisation("resnet18", "a1_in1k")[1] == (IMAGENET_MEAN_STD.mean,
                                                       IMAGENET_MEAN_STD.std)
    assert normalisation("resnet50v2", "imagenet")[1] == ((0.5,) * 3, (0.5,) * 3)  # [-1, 1]
    # keras.applications' v1 "caffe" (BGR, minus the mean pixel) is no per-channel mean/std:
    # the model normalises itself and the pipeline passes [0, 255] through.
    in_model, norm, _ = normalisation("resnet50", "imagenet")
    assert in_model and norm == ((0.0,) * 3, (1 / 255,) * 3)
    in_model, norm, own = normalisation("resnet20", None)
    assert not in_model and norm == own
    for weights in ("a1_in1k", "resnet18.a1_in1k", "hf://timm/resnet18.a1_in1k"):
        assert eval_crop("resnet18", weights) == {"crop_pct": 1.0, "interpolation": "bicubic"}
    assert eval_crop("resnet18", "hf://someone/else")["crop_pct"] == 0.875


@pytest.mark.slow  # a (one-step) training run of ResNet18
def test_train_from_a_pretrained_full_name(tmp_path, monkeypatch):
    from conftest import put_in_hub_cache
    from safetensors.numpy import save_file
    from torch_goldens import random_state_dict

    import keras_resnet

    weights = tmp_path / "model.safetensors"
    save_file(random_state_dict("resnet18", num_classes=1000), str(weights))
    put_in_hub_cache(tmp_path / "hub", "timm/resnet18.a1_in1k",
                     {"model.safetensors": weights.read_bytes()})
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    out = tmp_path / "run"
    with pytest.warns(UserWarning, match="predictions"):  # a new 10-class head
        result = train(None, "digits", out=str(out), weights="resnet18.a1_in1k", epochs=1,
                       batch_size=16, steps_per_epoch=1, image_size=32, verbose=0)
    run = json.load(open(out / "run.json"))
    assert (run["model"], run["weights"], run["recipe"]) == ("resnet18", "a1_in1k", "finetune")
    assert run["mean"] == [0.485, 0.456, 0.406] and run["std"] == [0.229, 0.224, 0.225]
    assert run["eval_crop"] == {"crop_pct": 1.0, "interpolation": "bicubic"}
    # The backbone is the checkpoint's (v1.5, as its row says), one small step further.
    loaded = keras_resnet.ResNet18((32, 32, 3), 10, weights=str(weights), variant="v1.5")
    before = loaded.get_layer("conv4_block2_2_conv").get_weights()[0]
    after = result.model.get_layer("conv4_block2_2_conv").get_weights()[0]
    assert_close(after, before, 1e-2, "one small step", min_scale=0)
    assert result.model.name == loaded.name
