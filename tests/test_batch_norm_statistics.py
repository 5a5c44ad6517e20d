"""Short epochs: BatchNormalization's moving statistics re-estimated before validation
(precise BN), and statistics that do not fit the weights shown as a clear warning."""

import csv
import os
import warnings

import keras
import numpy as np
import pytest

from keras_resnet.training import train
from keras_resnet.training.callbacks import (BatchNormStatistics, batch_norm_layers,
                                             recompute_batch_norm_statistics)

TINY = dict(epochs=2, batch_size=32, steps_per_epoch=2, image_size=16, verbose=0)


def _small_net():
    inputs = keras.Input((6, 6, 3))
    x = keras.layers.Conv2D(4, 3, name="conv")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.ReLU()(x))
    return keras.Model(inputs, keras.layers.Dense(3)(x))


def test_precise_bn_is_the_average_of_the_batch_statistics(rng):
    net = _small_net()
    bn = net.get_layer("bn")
    bn.moving_mean.assign(np.full(4, 1e4, "float32"))  # a bad state: far off
    bn.moving_variance.assign(np.full(4, 1e-6, "float32"))
    batches = [rng.normal(i, 1 + i, (8, 6, 6, 3)).astype("float32") for i in range(3)]
    conv = keras.Model(net.input, net.get_layer("conv").output)
    features = [conv.predict(b, verbose=0) for b in batches]
    kernel = [w.numpy() for w in net.trainable_weights]
    assert recompute_batch_norm_statistics(net, ((b, None) for b in batches)) == 3
    np.testing.assert_allclose(bn.moving_mean.numpy(),
                               np.mean([f.mean(axis=(0, 1, 2)) for f in features], axis=0),
                               rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(bn.moving_variance.numpy(),
                               np.mean([f.var(axis=(0, 1, 2)) for f in features], axis=0),
                               rtol=1e-4)
    assert bn.momentum == 0.99  # the layer's own, restored
    for before, w in zip(kernel, net.trainable_weights):  # weights untouched
        np.testing.assert_array_equal(before, w.numpy())
    bn.trainable = False  # frozen layers keep their (pretrained) statistics
    assert batch_norm_layers(net) == []


def test_unfit_statistics_are_a_warning_naming_the_fix():
    callback = BatchNormStatistics()
    with pytest.warns(UserWarning, match=r"epoch 3: held-out loss 3e\+10 against a training "
                                         r"loss of 1\.2: BatchNormalization's moving "
                                         r"statistics do not fit .*precise_bn=True"):
        callback.on_epoch_end(2, {"loss": 1.2, "val_loss": 3e10})
    with pytest.warns(UserWarning, match="held-out loss nan"):
        callback.on_epoch_end(0, {"loss": 1.2, "val_loss": float("nan")})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        callback.on_epoch_end(0, {"loss": 1.2, "val_loss": 2.5})  # fine
        callback.on_epoch_end(0, {"loss": 40.0, "val_loss": 50.0})  # training diverged too


def _val_losses(out):
    with open(os.path.join(out, "log.csv")) as f:
        return [float(row["val_loss"]) for row in csv.DictReader(f)]


def test_short_epochs_warn_without_precise_bn_and_validate_with_it(tmp_path):
    # Two steps an epoch: without precise BN the run says what is wrong and the fix.
    with pytest.warns(UserWarning, match=r"an epoch has 2 step\(s\), fewer than the ~100 .*"
                                         r"Fix: precise_bn=True \(--precise-bn"):
        train("resnet20", "digits", out=str(tmp_path / "off"), precise_bn=False, **TINY)
    # By default the statistics are re-estimated: no warning, a sane held-out loss.
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*(an epoch has|moving statistics)")
        result = train("resnet20", "digits", out=str(tmp_path / "on"), **TINY)
    losses = _val_losses(tmp_path / "on")
    assert len(losses) == 2 and all(np.isfinite(losses)) and max(losses) < 10, losses
    assert result.metrics["loss"] < 10
    # The saved model has the statistics of a pass, not the initial zeros and ones.
    bn = batch_norm_layers(result.model)[-1]
    assert not np.allclose(bn.moving_mean.numpy(), 0)


def test_the_default_batch_gives_a_small_collection_steps(capsys):
    from keras_resnet.training.run import _small_data_batch
    from keras_resnet.training.settings import resolve_settings
    settings = resolve_settings("resnet18", "digits", out="unused", epochs=None, batch_size=None,
                                weights=None, recipe=None, precision=None, jit=None,
                                strategy="auto", resume=False, image_size=None,
                                steps_per_epoch=None, seed=0)
    assert settings.batch_size == 128  # the recipe's
    small = _small_data_batch(settings, 192, verbose=1)  # 2 steps at 128: 12 at 16
    assert small.batch_size == 16
    assert "192 training images: batch 16 (not the recipe's 128), 12 steps" in \
        capsys.readouterr().out
    assert _small_data_batch(settings, 600, verbose=0).batch_size == 64  # 10 steps
    assert _small_data_batch(settings, 50_000, verbose=0) is settings
    assert _small_data_batch(settings, 20, verbose=0).batch_size == 16  # no smaller than 16
