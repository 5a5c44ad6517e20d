"""keras_resnet.layers.Conv2D: Keras' Conv2D, trained on small maps as one GEMM (on CPU).

It must be Keras' layer in every observable way (outputs, gradients, config,
saved file, inference graph) and must really take the GEMM path where it claims to:
ResNet18-152's training speed on 32x32 inputs rests on it (benchmarks/fit.py).
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_resnet
from keras_resnet import layers as layers_module
from keras_resnet.inference import with_stock_layers
from keras_resnet.layers import SMALL_MAP_POSITIONS, Conv2D, loading_fast_layers

from conftest import op_types, training_step, weighted_sum


def _pair(rng, input_shape, **options):
    """Our layer and Keras' with the same random weights, both built."""
    layers = Conv2D(**options), keras.layers.Conv2D(**options)
    for layer in layers:
        layer.build(input_shape)
    weights = [rng.normal(size=w.shape).astype("float32") for w in layers[1].get_weights()]
    for layer in layers:
        layer.set_weights(weights)
    return layers


# (input size, kernel, stride, padding, bias, activation): output maps of 1, 2x2 and 4x4
CASES = [
    (1, 3, 1, "same", False, None),        # ResNet18's conv5 at 32x32: 3x3 over a 1x1 map
    (4, 3, 2, "valid", False, None),       # the strided 3x3 after explicit zero padding
    (3, 3, 2, "same", True, "relu"),       # SAME with stride 2 pads bottom/right only
    (2, 1, 2, "valid", True, None),        # a 1x1 projection shortcut
    (2, 3, 1, "same", False, None),        # 2x2: the largest map that takes the GEMM
    (4, 3, 1, "same", False, None),        # 4x4: oneDNN's own kernels
]


@pytest.mark.parametrize("size, kernel, stride, padding, bias, activation", CASES)
def test_training_matches_keras_conv2d(size, kernel, stride, padding, bias, activation):
    rng = np.random.default_rng(size * 10 + stride)
    ours, stock = _pair(rng, (5, size, size, 6), filters=7, kernel_size=kernel, strides=stride,
                        padding=padding, use_bias=bias, activation=activation)
    x = rng.normal(size=(5, size, size, 6)).astype("float32")
    y = stock(x, training=True).numpy()
    np.testing.assert_allclose(ours(x, training=True).numpy(), y, rtol=1e-5, atol=1e-5)
    upstream = rng.normal(size=y.shape).astype("float32")
    # gradients of sum(output * upstream) w.r.t. x and the weights
    grads = [training_step(layer, x, upstream, weighted_sum, input_gradient=True)[1]
             for layer in (ours, stock)]
    for got, want in zip(*grads):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    positions = y.shape[1] * y.shape[2]
    gemm = "MatMul" in op_types(ours, x, True)
    assert gemm == (positions <= SMALL_MAP_POSITIONS), positions
    # inference is Keras' own graph, bit for bit
    assert op_types(ours, x, False) == op_types(stock, x, False)
    np.testing.assert_array_equal(ours(x, training=False).numpy(), stock(x, training=False).numpy())


def test_other_configurations_keep_keras_code():
    """Grouped and dilated convolutions and unknown map sizes never take the GEMM path."""
    x = np.zeros((2, 2, 2, 4), "float32")
    for options in (dict(groups=2), dict(dilation_rate=2)):
        layer = Conv2D(4, 3, padding="same", **options)  # a 2x2 output map
        assert "MatMul" not in op_types(layer, x, True), options
    inputs = keras.Input((None, None, 4))
    layer = Conv2D(4, 3, padding="same")
    layer(inputs)
    assert not layer._trains_as_gemm(inputs)


def test_a_model_trains_the_same_with_keras_layers():
    """A ResNet18 at 32x32 (three GEMM stages) takes the same SGD step as its stock copy."""
    keras.utils.set_random_seed(0)
    model = keras_resnet.ResNet18((32, 32, 3), 10, variant="v1.5", classifier_activation=None)
    stock = with_stock_layers(model)
    small = [layer.name for layer in model.layers if isinstance(layer, Conv2D)
             and layer.output.shape[1] * layer.output.shape[2] <= SMALL_MAP_POSITIONS]
    assert len(small) == 10  # conv5 (1x1 maps, 5 convs) and conv4 (2x2 maps, 5 convs)
    assert all(type(layer) is keras.layers.Conv2D for layer in stock.layers
               if isinstance(layer, keras.layers.Conv2D))
    rng = np.random.default_rng(1)
    x = rng.normal(size=(8, 32, 32, 3)).astype("float32")
    y = rng.integers(0, 10, 8)
    grads = [training_step(m, x, y)[1] for m in (model, stock)]
    for v, a, b in zip(model.trainable_variables, *grads):
        assert np.linalg.norm(a - b) <= 1e-4 * np.linalg.norm(b) + 1e-7, v.path
    keras.backend.clear_session()


def test_saves_as_keras_conv2d_and_loads_as_itself_when_asked(tmp_path):
    layer_input = keras.Input((2, 2, 3))
    model = keras.Model(layer_input, Conv2D(4, 3, padding="same", name="c")(layer_input))
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert type(loaded.get_layer("c")) is keras.layers.Conv2D  # the file names Keras' layer
    with loading_fast_layers():
        fast = keras.saving.load_model(tmp_path / "m.keras")
    assert type(fast.get_layer("c")) is Conv2D
    x = np.ones((1, 2, 2, 3), "float32")
    for m in (loaded, fast):
        assert m.get_layer("c").get_config() == model.get_layer("c").get_config()
        np.testing.assert_array_equal(m.predict(x, verbose=0), model.predict(x, verbose=0))


def test_gemm_path_stays_off_with_a_gpu(monkeypatch):
    """Measured on CPU only: where TensorFlow sees a GPU the Keras code runs."""
    x = np.zeros((2, 1, 1, 4), "float32")  # a 1x1 map: the GEMM path on CPU
    layer = Conv2D(4, 3, padding="same")
    assert "MatMul" in op_types(layer, x, True)
    monkeypatch.setattr(layers_module, "gpu_visible", lambda: True)
    layer = Conv2D(4, 3, padding="same")
    assert "MatMul" not in op_types(layer, x, True)
    assert not layer._trains_as_gemm(tf.constant(x))


def test_quantized_convolution_keeps_keras_code():
    x = tf.zeros((2, 1, 1, 4))
    plain = Conv2D(4, 3, padding="same")
    quantized = Conv2D(4, 3, padding="same", dtype="int8_from_float32")
    for layer in (plain, quantized):
        layer.build(x.shape)
    assert quantized.quantization_mode == "int8" and plain.quantization_mode is None
    assert plain._trains_as_gemm(x) and not quantized._trains_as_gemm(x)
