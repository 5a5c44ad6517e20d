"""One battery, run at a tiny input (in the spirit of keras-hub's `run_backbone_test`):
build, predict, the stages the builder records, a `.keras` round trip,
BatchNormalization folding, a mixed-precision copy, and channels_first.

It runs on the smallest registered model with each feature (conftest.model_features: block
types, convention, stem, average-pool downsampling, groups, attention, anti-aliasing, norm
and conv kinds): every code path once; a deeper or wider model runs the same code with
other numbers. Every model is still built
(but BiT's x2-x4), and its parameters and MACs checked, in tests/test_registry.py.
Per-model facts come from the registry, nothing is listed here; conftest marks the large
models' runs slow."""

import keras
import numpy as np
import pytest

import keras_resnet
from conftest import assert_close, randomize_bn_statistics, smallest_of_each_kind
from keras_resnet.registry import model_info
from keras_resnet.specs import get_variant


def _tiny_shape(info):
    """The smallest input the stem allows, not square (height and width may differ;
    with "avg" anti-aliasing both must be multiples of the total stride, 32)."""
    size = info.spec.min_input_size
    return (size, 2 * size if info.spec.anti_alias == "avg" else size + 8, 3)


def _run(model, x):
    """Inference, called eagerly: no graph tracing (the costly part at tiny inputs)."""
    return keras.ops.convert_to_numpy(model(x, training=False))


def _backend_runs_channels_first() -> bool:
    # TensorFlow's CPU kernels have no NCHW convolution; jax, torch and GPUs do.
    if keras.backend.backend() != "tensorflow":
        return True
    import tensorflow as tf
    return bool(tf.config.list_physical_devices("GPU"))


@pytest.mark.parametrize("name", smallest_of_each_kind())  # large models: slow (conftest)
def test_model_battery(name, rng, tmp_path):
    info = model_info(name)
    shape = _tiny_shape(info)
    model = keras_resnet.get_model(name, input_shape=shape, num_classes=7,
                                   classifier_activation=None)
    randomize_bn_statistics(model, rng)
    x = rng.uniform(0, 1, (2,) + shape).astype("float32")

    # build and predict
    assert model.name == name
    logits = _run(model, x)
    assert logits.shape == (2, 7) and np.isfinite(logits).all()

    # the stages the builder records: the stem, then each stage at half the resolution
    stages = info.spec.stage_names
    assert list(model.stage_outputs) == ["conv1", *stages]
    assert list(model.pyramid_outputs) == list(stages)
    strides = [info.spec.stem.stride * 2 ** i for i in range(len(stages))]
    for stage, stride in zip(stages, strides):
        feature = model.pyramid_outputs[stage]
        assert tuple(feature.shape[1:3]) == (-(-shape[0] // stride), -(-shape[1] // stride))

    # .keras round trip: same layers, same outputs, bit for bit
    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]
    np.testing.assert_array_equal(_run(loaded, x), logits)
    del loaded

    # BatchNormalization folding (pre-activation keeps the BNs that follow an Add);
    # weight-standardised convs become plain ones; GroupNorm and EvoNorm never fold
    preactivation = get_variant(info.variant).preactivation
    batchnorm = info.spec.norm == "batch"
    if batchnorm or info.spec.conv == "ws":
        folded = keras_resnet.fold_batchnorm(model, allow_partial=preactivation or not batchnorm)
        bns = [l for l in folded.layers if isinstance(l, keras.layers.BatchNormalization)]
        assert bool(bns) == (preactivation and batchnorm)
        assert not any(isinstance(l, keras_resnet.StdConv2D) for l in folded.layers)
        assert_close(_run(folded, x), logits, what="folded")
        del folded
    else:
        with pytest.raises(ValueError, match="each image's own statistics"):
            keras_resnet.fold_batchnorm(model, allow_partial=True)

    # mixed precision: bfloat16 compute, float32 output, close to float32
    mixed = keras_resnet.with_dtype_policy(model, "mixed_bfloat16")
    first_conv = next(l for l in mixed.layers if isinstance(l, keras.layers.Conv2D))
    assert first_conv.compute_dtype == "bfloat16"
    mixed_logits = _run(mixed, x)
    assert mixed_logits.dtype == np.float32
    # An untrained BiT is ill-conditioned in bfloat16 (its standardised kernels have unit
    # variance and no norm ends a branch): 14% off at 32x40 even with plain convolutions.
    tolerance = 0.3 if info.spec.conv == "ws" else 0.1
    assert np.linalg.norm(mixed_logits - logits) <= tolerance * np.linalg.norm(logits)
    del mixed

    # channels_first: the same weights in the other layout
    keras.config.set_image_data_format("channels_first")
    first = keras_resnet.get_model(name, input_shape=(shape[2],) + shape[:2], num_classes=7,
                                   classifier_activation=None)
    assert first.output_shape == (None, 7)
    last = stages[-1]
    assert first.pyramid_outputs[last].shape[1] == model.pyramid_outputs[last].shape[-1]
    first.set_weights(model.get_weights())
    if _backend_runs_channels_first():
        actual = _run(first, np.moveaxis(x, -1, 1))
        assert_close(actual, logits, what="channels_first")
