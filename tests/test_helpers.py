"""The shared test helpers of tests/conftest.py: many tests rest on them, so a helper
that passed everything would hide real bugs."""

import keras
import numpy as np
import pytest

from conftest import (assert_close, model_features, op_types, smallest_of_each_kind, training_step,
                      weighted_sum)
from keras_resnet.registry import list_models, model_info


def test_assert_close_fails_on_a_difference_a_shape_or_nan():
    assert_close([1.0, 2.0], [1.0, 2.0001])  # within 1e-4 of the scale 2
    assert_close([0.5], [0.50009])  # the scale is at least 1 ...
    with pytest.raises(AssertionError, match="exceeds"):
        assert_close([0.5], [0.50009], min_scale=0)  # ... unless told otherwise
    for actual, expected, message in (([1.0, 2.1], [1.0, 2.0], "max difference"),
                                      ([1.0], [1.0, 2.0], "shape"),
                                      ([np.nan], [0.0], "max difference")):
        with pytest.raises(AssertionError, match=message):
            assert_close(actual, expected, what="x")


def test_training_step_gives_the_outputs_and_gradients():
    dense = keras.layers.Dense(2, use_bias=False)
    dense.build((None, 3))
    kernel = np.arange(6, dtype="float32").reshape(3, 2)
    dense.set_weights([kernel])
    x = np.array([[1.0, 2.0, 3.0]], "float32")
    upstream = np.array([[1.0, -1.0]], "float32")
    y, (dx, dkernel) = training_step(dense, x, upstream, weighted_sum, input_gradient=True)
    np.testing.assert_array_equal(y, x @ kernel)
    np.testing.assert_array_equal(dx, upstream @ kernel.T)
    np.testing.assert_array_equal(dkernel, x.T @ upstream)
    logits, grads = training_step(dense, x, np.array([1]))  # sparse crossentropy by default
    p = np.exp(logits) / np.exp(logits).sum()
    np.testing.assert_allclose(grads[0], x.T @ (p - [[0, 1]]), rtol=1e-5)


def test_op_types_sees_the_traced_ops():
    dense = keras.layers.Dense(2, activation="relu")
    assert {"MatMul", "Relu"} <= op_types(dense, np.ones((1, 3), "float32"), training=False)


def test_smallest_of_each_kind_covers_every_feature():
    chosen = smallest_of_each_kind()
    every = set().union(*(model_features(n) for n in list_models()))
    assert set().union(*(model_features(n) for n in chosen)) == every
    for feature in every:  # each by its smallest model
        having = [n for n in list_models() if feature in model_features(n)]
        smallest = min(model_info(n).params for n in having)
        assert any(model_info(n).params == smallest for n in having if n in chosen), feature
    assert len(chosen) < len(list_models()) / 3  # the point: a few models, not every one


