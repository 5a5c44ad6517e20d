"""Shared fixtures: a clean Keras session per test, fixed seeds, data format reset."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _clean_session():
    keras.utils.set_random_seed(0)
    yield
    keras.config.set_image_data_format("channels_last")
    keras.backend.clear_session()


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def randomize_bn_statistics(model, rng):
    """Give every BatchNormalization non-trivial gamma, beta, mean and variance,
    so parity tests exercise the inference-mode BN path for real."""
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights([
                rng.uniform(0.5, 1.5, gamma.shape).astype("float32"),
                rng.normal(0, 0.1, beta.shape).astype("float32"),
                rng.normal(0, 0.1, mean.shape).astype("float32"),
                rng.uniform(0.5, 2.0, var.shape).astype("float32"),
            ])
