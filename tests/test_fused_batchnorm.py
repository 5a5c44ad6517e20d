"""FusedBatchNormalization: the zoo's BatchNormalization, computed by TensorFlow's fused kernel.

It must be Keras' layer in every observable way (outputs, gradients, moving
statistics, config, saving) and must really run the fused kernel where it
claims to: the speed of CIFAR training rests on it (benchmarks/run.py).
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_resnet
from keras_resnet import layers
from keras_resnet.inference import with_stock_layers
from keras_resnet.layers import FusedBatchNormalization, loading_fast_layers
from tests.conftest import randomize_bn_statistics
from tests.conftest import op_types, training_step, weighted_sum


def _pair(rng, shape, **options):
    """A fused layer and a Keras layer with the same random weights, both built."""
    layers = FusedBatchNormalization(**options), keras.layers.BatchNormalization(**options)
    for layer in layers:
        layer.build(shape)
    channels = layers[0].gamma.shape[0]
    weights = [rng.uniform(0.5, 1.5, channels), rng.normal(size=channels),
               rng.normal(size=channels), rng.uniform(0.5, 2.0, channels)]
    for layer in layers:
        layer.set_weights([w.astype("float32") for w in weights])
    return layers


@pytest.fixture(params=["fused forward", "moments forward"])
def forward_path(request, monkeypatch):
    """Both training forward passes: the fused kernel's (AVX-512, GPUs) and the moments one
    that CPUs without AVX-512 get (`layers.slow_fused_forward`), forced here."""
    forced = request.param == "moments forward"
    monkeypatch.setattr(layers, "slow_fused_forward", lambda: forced)
    return request.param


@pytest.mark.parametrize("axis, shape, epsilon", [
    (-1, (8, 5, 6, 7), 1.001e-5),  # keras.applications' v1 epsilon
    (-1, (8, 5, 6, 7), 1e-5),      # torch's: the smallest the fused kernel takes
    (1, (8, 7, 5, 6), 1e-3),       # channels_first
])
def test_matches_keras_batchnorm(rng, axis, shape, epsilon, forward_path):
    fused, stock = _pair(rng, shape, axis=axis, epsilon=epsilon, momentum=0.9)
    x = rng.normal(2.0, 3.0, size=shape).astype("float32")
    upstream = rng.normal(size=shape).astype("float32")
    for _ in range(2):  # two steps: moving statistics compound
        # the output, and the gradients of sum(output * upstream) w.r.t. x, gamma and beta
        got, want = ([y, *grads] for y, grads in
                     (training_step(layer, x, upstream, weighted_sum, input_gradient=True)
                      for layer in (fused, stock)))
        for name, a, b in zip(("output", "d/dx", "d/dgamma", "d/dbeta"), got, want):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=5e-5, err_msg=name)
    # Keras keeps the biased batch variance; the kernel returns the unbiased one.
    np.testing.assert_allclose(fused.moving_mean.numpy(), stock.moving_mean.numpy(), atol=1e-6)
    np.testing.assert_allclose(fused.moving_variance.numpy(), stock.moving_variance.numpy(),
                               rtol=1e-6)
    np.testing.assert_allclose(fused(x, training=False).numpy(), stock(x, training=False).numpy(),
                               rtol=1e-5, atol=1e-5)


def test_runs_the_fused_kernel_in_training_and_keras_ops_in_inference(rng, monkeypatch):
    fused, stock = _pair(rng, (4, 3, 3, 5))
    x = rng.normal(size=(4, 3, 3, 5)).astype("float32")
    monkeypatch.setattr(layers, "slow_fused_forward", lambda: False)
    assert "FusedBatchNormV3" in op_types(fused, x, True)
    assert "Mean" not in op_types(fused, x, True)  # no unfused moments
    monkeypatch.setattr(layers, "slow_fused_forward", lambda: True)  # a CPU without AVX-512
    assert "FusedBatchNormV3" not in op_types(fused, x, True)
    assert "FusedBatchNormV3" not in op_types(stock, x, True)
    assert op_types(fused, x, False) == op_types(stock, x, False)
    np.testing.assert_array_equal(fused(x, training=False).numpy(),
                                  stock(x, training=False).numpy())


@pytest.mark.parametrize("case", ["rank2", "float64", "small_epsilon", "renorm", "mask"])
def test_falls_back_to_keras_where_the_kernel_differs(rng, case):
    shape = (6, 5) if case in ("rank2", "mask") else (4, 3, 3, 5)
    options = dict(epsilon=1e-6 if case == "small_epsilon" else 1e-3,
                   renorm=case == "renorm")
    dtype = "float64" if case == "float64" else "float32"
    fused, stock = (cls(dtype=dtype, **options) for cls in
                    (FusedBatchNormalization, keras.layers.BatchNormalization))
    x = rng.normal(size=shape).astype(dtype)
    mask = np.array([True, True, False, True, False, True]) if case == "mask" else None
    for layer in (fused, stock):
        layer.build(shape)
    fused.set_weights(stock.get_weights())
    if case != "mask":
        assert "FusedBatchNormV3" not in op_types(fused, x, True)
    np.testing.assert_array_equal(fused(x, training=True, mask=mask).numpy(),
                                  stock(x, training=True, mask=mask).numpy())


def test_frozen_layer_normalizes_with_moving_statistics(rng):
    fused, stock = _pair(rng, (4, 3, 3, 5))
    fused.trainable = False
    x = rng.normal(size=(4, 3, 3, 5)).astype("float32")
    before = fused.moving_mean.numpy().copy()
    np.testing.assert_array_equal(fused(x, training=True).numpy(),
                                  stock(x, training=False).numpy())
    np.testing.assert_array_equal(fused.moving_mean.numpy(), before)


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_precision(rng, policy, forward_path):
    """Half-precision outputs, float32 statistics; inference normalises the half input
    in one fused op, within a rounding of Keras' cast-to-float32 result."""
    shape = (4, 3, 3, 5)
    x = rng.normal(size=shape).astype("float32")
    fused32, _ = _pair(rng, shape)
    half = FusedBatchNormalization(dtype=policy)
    stock = keras.layers.BatchNormalization(dtype=policy)
    for layer in (half, stock):
        layer.build(shape)
        layer.set_weights(fused32.get_weights())
    compute = "bfloat16" if policy == "mixed_bfloat16" else "float16"
    xh = tf.cast(x, compute)
    assert "FusedBatchNormV3" in op_types(half, xh, False)
    for training in (True, False):
        y = half(xh, training=training)
        assert y.dtype == compute and half.moving_mean.dtype == "float32"
        np.testing.assert_allclose(tf.cast(y, "float32").numpy(),
                                   tf.cast(stock(xh, training=training), "float32").numpy(),
                                   rtol=2e-2, atol=2e-2)
    np.testing.assert_allclose(half.moving_variance.numpy(), stock.moving_variance.numpy(),
                               rtol=1e-5)


def test_zoo_models_use_it_and_match_stock_keras_layers(rng, tmp_path):
    """A whole ResNet20 training pass (outputs, moving statistics, gradients) equals
    the same model with Keras' own BatchNormalization; ours saves as Keras' layer
    and loads as the fused one inside `loading_fast_layers`."""
    model = keras_resnet.ResNet20(classifier_activation=None)
    bns = [l for l in model.layers if isinstance(l, keras.layers.BatchNormalization)]
    assert len(bns) == 19 and all(isinstance(l, FusedBatchNormalization) for l in bns)
    randomize_bn_statistics(model, rng)
    stock = with_stock_layers(model)
    assert not any(isinstance(l, FusedBatchNormalization) for l in stock.layers)
    assert [l.get_config() for l in stock.layers] == [l.get_config() for l in model.layers]

    x = rng.normal(size=(16, 32, 32, 3)).astype("float32")
    y = rng.integers(0, 10, 16)
    results = [training_step(m, x, y) for m in (model, stock)]
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-4, atol=1e-4)
    for a, b in zip(model.non_trainable_weights, stock.non_trainable_weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6, err_msg=a.path)
    # Gradients agree to rounding, except where rounding flips a ReLU at exactly zero:
    # that changes the gradient of everything before it by ~1e-3 (measured), so the
    # bound is a relative norm, still far below what a wrong formula gives.
    for v, a, b in zip(model.trainable_variables, results[0][1], results[1][1]):
        assert np.linalg.norm(a - b) <= 1e-2 * np.linalg.norm(b), v.path

    model.save(tmp_path / "fused.keras")
    loaded = keras.saving.load_model(tmp_path / "fused.keras")
    assert type(loaded.get_layer("conv1_bn")) is keras.layers.BatchNormalization  # as saved
    with loading_fast_layers():
        fast = keras.saving.load_model(tmp_path / "fused.keras")
    assert isinstance(fast.get_layer("conv1_bn"), FusedBatchNormalization)
    for m in (loaded, fast):
        np.testing.assert_array_equal(m.predict(x, verbose=0), model.predict(x, verbose=0))


def test_files_name_keras_batchnormalization(tmp_path):
    """The fused layer saves as Keras' own, with the same config and weights paths:
    a zoo model's file names exactly what its `with_stock_layers` copy's does."""
    import io
    import re
    import zipfile

    import h5py

    model = keras_resnet.ResNet18((32, 32, 3), 10)
    assert FusedBatchNormalization.__name__ == "BatchNormalization"  # the weights' path
    for m, name in ((model, "fused.keras"), (with_stock_layers(model), "stock.keras")):
        m.save(tmp_path / name)
    # (the original shares one dtype policy object between its layers; the copy does not)
    configs = {name: re.sub(r', "shared_object_id": \d+', "", zipfile.ZipFile(
        tmp_path / name).read("config.json").decode()) for name in ("fused.keras", "stock.keras")}
    assert "keras_resnet" not in configs["fused.keras"]
    assert configs["fused.keras"] == configs["stock.keras"]
    paths = {}
    for name in ("fused.keras", "stock.keras"):
        with zipfile.ZipFile(tmp_path / name) as archive, \
                h5py.File(io.BytesIO(archive.read("model.weights.h5"))) as f:
            paths[name] = []
            f.visit(paths[name].append)
    assert "layers/batch_normalization_19/vars/3" in paths["fused.keras"]
    assert paths["fused.keras"] == paths["stock.keras"]
    with pytest.raises(ValueError, match="functional or Sequential"):
        with_stock_layers("resnet18")


@pytest.mark.parametrize("flags, isa, slow", [
    ({"avx2", "fma"}, None, True),                        # an AVX2 server (EPYC Zen 2/3)
    ({"avx2", "fma", "avx512f"}, None, False),
    ({"avx2", "fma", "avx512f"}, "AVX2", True),           # oneDNN capped: an emulated AVX2
    ({"avx2", "fma", "avx512f"}, "avx512_core_amx", False),
    ({"fp", "asimd"}, None, False),                       # Arm: not oneDNN's x86 kernels
])
def test_the_moments_forward_is_for_x86_without_avx512(flags, isa, slow, monkeypatch):
    from keras_resnet import cpu
    monkeypatch.setattr(cpu, "cpu_flags", lambda: set(flags))
    if isa is None:
        monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    else:
        monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", isa)
    assert layers.slow_fused_forward.__wrapped__() is slow  # uncached: this test's CPU
