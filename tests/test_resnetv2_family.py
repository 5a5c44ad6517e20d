"""timm's resnetv2 family (pre-activation as timm builds it, GroupNorm, EvoNorm, BiT) and
resnet50_gn against timm: parameter counts of every architecture, and per layout the
logits of seeded weights saved as a timm Hub repo (tests/resnetv2_goldens.py,
recorded by scripts/make_torch_goldens.py --resnetv2-family)."""

import json

import keras
import numpy as np
import pytest
from safetensors.numpy import save

import keras_resnet
from keras_resnet.pretrained import resolve
from keras_resnet.registry import REGISTRY, model_info

import resnetv2_goldens as r2
import torch_goldens as g
from conftest import closed_port, put_in_hub_cache

FAMILY = [n for n in REGISTRY if n.startswith("resnetv2_") or n == "resnet50_gn"]
SHAPE = (64, 64, 3)


@pytest.fixture(scope="module")
def goldens():
    return np.load(r2.LOGITS_PATH)


@pytest.fixture(scope="module")
def timm_params():
    with open(r2.PARAMS_PATH) as f:
        return json.load(f)["params"]


@pytest.fixture
def hub_cache(tmp_path, monkeypatch):
    """An empty Hub cache, offline, with an endpoint that refuses connections."""
    root = tmp_path / "hub"
    root.mkdir()
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    monkeypatch.setenv("HF_HUB_CACHE", str(root))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{closed_port()}")
    return root


def _as_timm_repo(hub_cache, name) -> str:
    """The seeded weights of `name`, saved as timm saves a Hub repo; its hf:// address."""
    repo = f"timm/{name}.{r2.TAGS[name]}"
    config = {"architecture": name, "num_classes": r2.NUM_CLASSES}
    put_in_hub_cache(hub_cache, repo, {
        "model.safetensors": save(r2.random_state_dict(name)),
        "config.json": json.dumps(config).encode()})
    return f"hf://{repo}"


def _logits(model, x):
    return keras.ops.convert_to_numpy(model(x, training=False))


def _assert_logits(actual, expected):
    # 1e-4 relative to the logits' scale (single logits can be near zero).
    np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())


def test_every_architecture_has_timms_parameter_count(timm_params):
    assert sorted(timm_params) == sorted(FAMILY)
    for name in FAMILY:
        info = model_info(name)
        assert info.trainable_params == timm_params[name]["trainable"], name
        assert info.params == timm_params[name]["with_buffers"], name
        assert info.reference["timm_params"] == timm_params[name]["trainable"], name


def test_goldens_are_current(goldens):
    """numpy draws the numbers the goldens were recorded with; if not, rerun
    scripts/make_torch_goldens.py --resnetv2-family."""
    np.testing.assert_allclose(g.fingerprint([g.random_input()]), goldens["input_fingerprint"],
                               rtol=1e-12)
    for name in r2.TAGS:
        np.testing.assert_allclose(g.fingerprint(r2.random_state_dict(name).values()),
                                   goldens[f"{name}_fingerprint"], rtol=1e-12, err_msg=name)


@pytest.mark.parametrize("name", list(r2.TAGS))
def test_timm_hub_repo_gives_timms_logits(name, goldens, hub_cache):
    weights = _as_timm_repo(hub_cache, name)
    x = g.random_input().transpose(0, 2, 3, 1)
    model = keras_resnet.get_model(name, weights=weights, num_classes=r2.NUM_CLASSES,
                                   input_shape=SHAPE, classifier_activation=None)
    _assert_logits(_logits(model, x), goldens[f"{name}_logits"])

    # raw [0, 255] pixels through the checkpoint's own normalisation, inside the model
    norm = resolve(weights, name).normalization
    mean, std = np.array(norm.mean), np.array(norm.std)
    raw = ((x * std + mean) * 255.0).astype("float32")
    with_preprocessing = keras_resnet.get_model(
        name, weights=weights, num_classes=r2.NUM_CLASSES, input_shape=SHAPE,
        classifier_activation=None, include_preprocessing=True)
    _assert_logits(_logits(with_preprocessing, raw), goldens[f"{name}_logits"])


def test_one_channel_bit_loads_by_channel_adaptation(goldens, hub_cache):
    """RGB weights into a 1-channel weight-standardised stem: timm's adapt_input_conv
    (the raw kernels summed, then standardised as any kernel)."""
    name = r2.ONE_CHANNEL
    weights = _as_timm_repo(hub_cache, name)
    model = keras_resnet.get_model(name, weights=weights, num_classes=r2.NUM_CLASSES,
                                   input_shape=SHAPE[:2] + (1,), classifier_activation=None)
    conv = model.get_layer("conv1_conv")
    assert isinstance(conv, keras_resnet.StdConv2D)
    expected_kernel = r2.random_state_dict(name)["stem.conv.weight"].sum(axis=1)
    np.testing.assert_allclose(conv.kernel.numpy()[:, :, 0], expected_kernel.transpose(1, 2, 0),
                               rtol=1e-6, atol=1e-6)
    x = g.random_input().transpose(0, 2, 3, 1)[..., :1]
    _assert_logits(_logits(model, x), goldens[f"{name}_1ch_logits"])
