"""fold_batchnorm and with_dtype_policy: equivalence with the original model, and clear errors."""

import keras
import numpy as np
import pytest

import keras_resnet
from keras_resnet.inference import fold_batchnorm, with_dtype_policy
from keras_resnet.registry import ARCHS
from conftest import assert_close, randomize_bn_statistics, smallest_of_each_kind

BN = keras.layers.BatchNormalization


def _small_shape(arch):
    return (32, 32, 3) if ARCHS[arch].stem.name == "cifar" else (64, 64, 3)


def _bns(model):
    return [layer.name for layer in model.layers if isinstance(layer, BN)]


def _assert_same_outputs(model, folded, rng, atol=1e-4):
    """Max |difference| within `atol` times the output scale (at least 1)."""
    x = rng.normal(size=(2,) + tuple(model.input_shape[1:])).astype("float32")
    assert_close(folded(x, training=False), model(x, training=False), atol)


def _fold_cases():
    # The smallest model of each kind is folded at its own convention in
    # tests/test_every_model.py; here in the other of v1 / v1.5.
    smallest = smallest_of_each_kind()
    # timm's SE, ECA, anti-aliased and RS nets exist only as "v1.5" (stride on the 3x3).
    other_variant = (a for a in ARCHS if a in smallest and ARCHS[a].norm == "batch"
                     and ARCHS[a].attention is None and ARCHS[a].anti_alias is None)
    for arch in other_variant:
        variant = "v1" if ARCHS[arch].default_variant == "v1.5" else "v1.5"
        yield pytest.param(arch, variant, id=f"{arch}-{variant}")  # large: slow (conftest)


@pytest.mark.parametrize("arch,variant", _fold_cases())
def test_fold_matches_original(arch, variant, rng):
    model = keras_resnet.get_model(arch, input_shape=_small_shape(arch), variant=variant,
                                   classifier_activation=None)
    randomize_bn_statistics(model, rng)
    before = [w.copy() for w in model.get_weights()]
    folded = fold_batchnorm(model)

    _assert_same_outputs(model, folded, rng)
    assert _bns(folded) == []
    # Every other layer survives under its name, weighted layers in the same order.
    kept = [layer.name for layer in model.layers if not isinstance(layer, BN)]
    assert sorted(layer.name for layer in folded.layers) == sorted(kept)
    weighted = [layer.name for layer in model.layers if layer.weights and not isinstance(layer, BN)]
    assert [layer.name for layer in folded.layers if layer.weights] == weighted
    # In v1/v1.5 every conv is followed by a BN, so every conv now has a bias.
    assert all(layer.use_bias for layer in folded.layers
               if isinstance(layer, keras.layers.Conv2D))
    # The original is untouched.
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


@pytest.mark.slow  # a full-size ResNet50
def test_fold_softmax_outputs_within_1e4(rng):
    model = keras_resnet.ResNet50((64, 64, 3), 10)
    randomize_bn_statistics(model, rng)
    x = rng.normal(size=(4, 64, 64, 3)).astype("float32")
    np.testing.assert_allclose(fold_batchnorm(model).predict(x, verbose=0),
                               model.predict(x, verbose=0), atol=1e-4, rtol=0)


@pytest.mark.parametrize("shortcut", ["A", "C"])
def test_fold_other_shortcuts(shortcut, rng):
    model = keras_resnet.ResNet18((32, 32, 3), 10, shortcut=shortcut, variant="v1.5")
    randomize_bn_statistics(model, rng)
    folded = fold_batchnorm(model)
    _assert_same_outputs(model, folded, rng)
    assert _bns(folded) == []


def test_fold_folds_the_arithmetic_exactly(rng):
    """A single conv + BN without scale/center and a conv bias, against the formula."""
    inputs = keras.Input((5, 5, 3))
    y = keras.layers.Conv2D(4, 3, name="c")(inputs)
    y = keras.layers.BatchNormalization(epsilon=0.5, center=False, name="bn")(y)
    model = keras.Model(inputs, y)
    kernel = rng.normal(size=(3, 3, 3, 4)).astype("float32")
    bias = rng.normal(size=4).astype("float32")
    mean, var = rng.normal(size=4).astype("float32"), rng.uniform(1, 2, 4).astype("float32")
    model.get_layer("c").set_weights([kernel, bias])
    model.get_layer("bn").set_weights([np.full(4, 2.0, "float32"), mean, var])
    folded = fold_batchnorm(model)
    k, b = folded.get_layer("c").get_weights()
    s = 2.0 / np.sqrt(var.astype("float64") + 0.5)
    np.testing.assert_allclose(k, kernel * s, rtol=1e-6)
    np.testing.assert_allclose(b, (bias - mean) * s, rtol=1e-6, atol=1e-6)


def test_fold_nested_and_sequential_models(rng):
    backbone = keras_resnet.ResNet20(include_top=False, input_shape=(32, 32, 3))
    randomize_bn_statistics(backbone, rng)
    inputs = keras.Input((32, 32, 3))
    outputs = keras.layers.Dense(3)(keras.layers.GlobalAveragePooling2D()(backbone(inputs)))
    model = keras.Model(inputs, outputs)
    folded = fold_batchnorm(model)
    _assert_same_outputs(model, folded, rng)
    assert _bns(folded.get_layer(backbone.name)) == []

    seq = keras.Sequential([keras.Input((8, 8, 2)), keras.layers.Conv2D(3, 3),
                            keras.layers.BatchNormalization(), keras.layers.ReLU()])
    randomize_bn_statistics(seq, rng)
    folded = fold_batchnorm(seq)
    _assert_same_outputs(seq, folded, rng)
    assert _bns(folded) == []


def test_fold_v2_needs_allow_partial(rng):
    model = keras_resnet.ResNet50V2((64, 64, 3), 10)
    randomize_bn_statistics(model, rng)
    with pytest.raises(ValueError, match=r"conv2_block1_preact_bn: its input comes from "
                                         r"'pool1_pool' \(MaxPooling2D\).*allow_partial"):
        fold_batchnorm(model)
    folded = fold_batchnorm(model, allow_partial=True)
    _assert_same_outputs(model, folded, rng)
    # Only the BNs after an Add / a pooling layer remain: one per block, and post_bn.
    assert sorted(_bns(folded)) == sorted(
        name for name in _bns(model) if name.endswith("_preact_bn") or name == "post_bn")
    assert len(_bns(folded)) == 17


def _conv_bn(**conv_kwargs):
    inputs = keras.Input((8, 8, 3))
    y = keras.layers.Conv2D(4, 3, name="c", **conv_kwargs)(inputs)
    return inputs, y


@pytest.mark.parametrize("case,message", [
    ("activation", "'c' applies an activation before it"),
    ("two_consumers", "the output of 'c' is also used elsewhere"),
    ("dense", r"its input comes from 'd' \(Dense\), not a convolution"),
    ("axis", "it does not normalize the channel axis of 'c'"),
    ("shared_conv", "the convolution 'c' before it is shared"),
])
def test_fold_refuses_what_it_cannot_fold(case, message):
    if case == "activation":
        inputs, y = _conv_bn(activation="relu")
        outputs = keras.layers.BatchNormalization(name="bn")(y)
    elif case == "two_consumers":
        inputs, y = _conv_bn()
        outputs = keras.layers.Add()([keras.layers.BatchNormalization(name="bn")(y), y])
    elif case == "dense":
        inputs = keras.Input((5,))
        dense = keras.layers.Dense(3, name="d")(inputs)
        outputs = keras.layers.BatchNormalization(name="bn")(dense)
    elif case == "axis":
        inputs, y = _conv_bn()
        outputs = keras.layers.BatchNormalization(axis=1, name="bn")(y)
    else:
        inputs = keras.Input((8, 8, 3))
        conv = keras.layers.Conv2D(3, 3, padding="same", name="c")
        outputs = keras.layers.BatchNormalization(name="bn")(conv(conv(inputs)))
    model = keras.Model(inputs, outputs)
    with pytest.raises(ValueError, match=f"bn: {message}"):
        fold_batchnorm(model)


def test_fold_bad_arguments():
    with pytest.raises(ValueError, match="`model` must be a functional or Sequential"):
        fold_batchnorm("resnet50")
    inputs = keras.Input((8, 8, 3))
    plain = keras.Model(inputs, keras.layers.Conv2D(2, 3)(inputs))
    with pytest.raises(ValueError, match="nothing to fold"):
        fold_batchnorm(plain)
    with pytest.raises(ValueError, match="`allow_partial` must be True or False"):
        fold_batchnorm(plain, allow_partial="yes")


def test_folded_model_saves_and_reloads(tmp_path, rng):
    model = keras_resnet.ResNet20()
    randomize_bn_statistics(model, rng)
    folded = fold_batchnorm(model)
    path = tmp_path / "folded.keras"
    folded.save(path)
    _assert_same_outputs(model, keras.models.load_model(path), rng)


def test_bfloat16_copy_close_to_float32(rng):
    model = keras_resnet.ResNet20()
    randomize_bn_statistics(model, rng)
    x = rng.normal(size=(64, 32, 32, 3)).astype("float32")
    bf16 = with_dtype_policy(fold_batchnorm(model))
    convs = [layer for layer in bf16.layers if isinstance(layer, keras.layers.Conv2D)]
    assert {layer.dtype_policy.name for layer in convs} == {"mixed_bfloat16"}
    assert bf16.get_layer("predictions").dtype_policy.name == "float32"
    expected = model.predict(x, verbose=0)
    actual = bf16.predict(x, verbose=0)
    assert actual.dtype == np.float32
    assert np.abs(actual - expected).max() < 0.05
    agreement = np.mean(actual.argmax(-1) == expected.argmax(-1))
    assert agreement >= 0.9, agreement


def test_bfloat16_copy_equals_building_under_the_policy(rng):
    """with_dtype_policy is the documented path: build under the policy, set the weights."""
    model = keras_resnet.ResNet20()
    randomize_bn_statistics(model, rng)
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        built = keras_resnet.ResNet20()
    finally:
        keras.config.set_dtype_policy("float32")
    built.set_weights(model.get_weights())
    x = rng.normal(size=(8, 32, 32, 3)).astype("float32")
    np.testing.assert_array_equal(with_dtype_policy(model).predict(x, verbose=0),
                                  built.predict(x, verbose=0))


@pytest.mark.parametrize("fold", [False, True])
def test_bfloat16_weights_compute_what_mixed_precision_does(rng, fold):
    """"bfloat16" stores the weights in bf16 (cast once, not per call) and computes as
    "mixed_bfloat16": the same logits; BatchNormalization keeps float32 statistics."""
    model = keras_resnet.ResNet20()
    randomize_bn_statistics(model, rng)
    model = fold_batchnorm(model) if fold else model
    x = rng.normal(size=(8, 32, 32, 3)).astype("float32")
    pure = with_dtype_policy(model, "bfloat16")
    np.testing.assert_array_equal(pure.predict(x, verbose=0),
                                  with_dtype_policy(model).predict(x, verbose=0))
    kernels = [layer.kernel.dtype for layer in pure.layers
               if isinstance(layer, keras.layers.Conv2D)]
    assert set(kernels) == {"bfloat16"}
    stats = [v.dtype for layer in pure.layers
             if isinstance(layer, keras.layers.BatchNormalization) for v in layer.weights]
    assert set(stats) == (set() if fold else {"float32"})
    assert pure.layers[-1].dtype_policy.name == "float32"  # the output layer


def test_with_dtype_policy_bad_policy():
    with pytest.raises(ValueError, match="`policy` must be a Keras dtype policy"):
        with_dtype_policy(keras_resnet.ResNet20(), "bf17")
