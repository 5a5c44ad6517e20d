"""Layer-for-layer parity with keras.applications (built with weights=None)."""

import keras
import numpy as np
import pytest

import keras_resnet
from conftest import randomize_bn_statistics

PEERS = [
    ("resnet50", keras.applications.ResNet50, keras_resnet.ResNet50),
    pytest.param("resnet101", keras.applications.ResNet101, keras_resnet.ResNet101,
                 marks=pytest.mark.slow),
    pytest.param("resnet152", keras.applications.ResNet152, keras_resnet.ResNet152,
                 marks=pytest.mark.slow),
    ("resnet50v2", keras.applications.ResNet50V2, keras_resnet.ResNet50V2),
    pytest.param("resnet101v2", keras.applications.ResNet101V2, keras_resnet.ResNet101V2,
                 marks=pytest.mark.slow),
    pytest.param("resnet152v2", keras.applications.ResNet152V2, keras_resnet.ResNet152V2,
                 marks=pytest.mark.slow),
]


def _named(model):
    """Layer names, minus keras.applications' auto-named ones (V2's max-pool
    shortcut and the input), which we name `..._0_pool` and `input`."""
    return [l.name for l in model.layers
            if not l.name.startswith(("max_pooling2d", "input"))
            and not l.name.endswith("_0_pool")]


@pytest.mark.parametrize("name,peer_fn,ours_fn", PEERS)
def test_identical_to_keras_applications(name, peer_fn, ours_fn, rng):
    shape = (64, 64, 3)
    peer = peer_fn(weights=None, input_shape=shape, classes=10, classifier_activation=None)
    ours = ours_fn(shape, 10, classifier_activation=None)

    assert ours.name == peer.name == name
    assert _named(ours) == _named(peer)
    assert [w.shape for w in ours.weights] == [w.shape for w in peer.weights]
    assert [w.path for w in ours.weights] == [w.path for w in peer.weights]
    assert ours.count_params() == peer.count_params()
    for a, b in zip(ours.layers, peer.layers):
        if isinstance(b, (keras.layers.Conv2D, keras.layers.BatchNormalization)):
            assert a.get_config()["name"] == b.get_config()["name"]
            for key in ("strides", "padding", "use_bias", "epsilon", "momentum", "axis"):
                assert a.get_config().get(key) == b.get_config().get(key), (b.name, key)

    randomize_bn_statistics(peer, rng)
    ours.set_weights(peer.get_weights())
    x = rng.uniform(-1, 1, (2, *shape)).astype("float32")
    expected = np.asarray(peer(x, training=False))
    assert np.abs(expected).max() > 1e-2  # the comparison is not between zeros
    np.testing.assert_allclose(np.asarray(ours(x, training=False)), expected, rtol=1e-5,
                               atol=1e-5)


@pytest.mark.slow  # two pairs of full-size models
@pytest.mark.parametrize("ours_fn,peer_fn", [
    (keras_resnet.ResNet50, keras.applications.ResNet50),
    (keras_resnet.ResNet50V2, keras.applications.ResNet50V2),
])
def test_headless_matches_keras_applications(ours_fn, peer_fn, rng):
    peer = peer_fn(weights=None, include_top=False, pooling="avg")
    ours = ours_fn(include_top=False, pooling="avg")
    assert ours.input_shape == peer.input_shape == (None, None, None, 3)
    randomize_bn_statistics(peer, rng)
    ours.set_weights(peer.get_weights())
    x = rng.uniform(-1, 1, (1, 48, 80, 3)).astype("float32")
    np.testing.assert_allclose(ours.predict(x, verbose=0), peer.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-5)
