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


# --- the layers and the deployment path, on a small BiT-like net ---------------------------

def _small_bit(**options):
    """BiT's layout (fixed stem, GroupNorm, weight-standardised convs, v2.timm) at one block
    per stage and 32-64 channels."""
    return keras_resnet.ResNet((1, 1, 1, 1), (32, 32, 3), 10, block_type="bottleneck",
                               variant="v2.timm", stem="fixed", norm="group", conv="ws",
                               widths=(32, 64, 96, 128), classifier_activation=None, **options)


def _randomize(model, rng):
    """Random weights everywhere (a fresh GroupNorm is the identity affine)."""
    model.set_weights([rng.normal(1.0 if w.name in ("gamma", "v") else 0.0, 0.3,
                                  w.shape).astype("float32") if w.name in ("gamma", "beta", "v")
                       else w.numpy() for w in model.weights])
    return model


def test_with_plain_convs_computes_the_standardised_kernels_once(rng):
    model = _randomize(_small_bit(), rng)
    plain = keras_resnet.with_plain_convs(model)
    stds = [layer for layer in model.layers if isinstance(layer, keras_resnet.StdConv2D)]
    assert len(stds) == 1 + 4 * 3 + 4  # stem, 3 per block, 4 projection shortcuts
    assert not any(isinstance(layer, keras_resnet.StdConv2D) for layer in plain.layers)
    kernel = stds[0].kernel.numpy().astype("float64")
    expected = ((kernel - kernel.mean(axis=(0, 1, 2)))
                / np.sqrt(kernel.var(axis=(0, 1, 2)) + 1e-8))
    np.testing.assert_allclose(plain.get_layer(stds[0].name).kernel.numpy(), expected,
                               rtol=1e-5, atol=1e-6)
    x = rng.uniform(-2, 2, (2, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(_logits(plain, x), _logits(model, x), rtol=1e-5, atol=1e-5)


def test_fold_batchnorm_is_partial_with_groupnorm(rng):
    model = _randomize(_small_bit(), rng)
    with pytest.raises(ValueError, match=r"GroupNormalization normalises with each image's own "
                                         r"statistics.*allow_partial=True"):
        keras_resnet.fold_batchnorm(model)
    folded = keras_resnet.fold_batchnorm(model, allow_partial=True)
    assert not any(isinstance(layer, keras_resnet.StdConv2D) for layer in folded.layers)
    groupnorms = [layer.name for layer in folded.layers
                  if isinstance(layer, keras.layers.GroupNormalization)]
    assert len(groupnorms) == 4 * 3 + 1 and "post_bn" in groupnorms  # every GroupNorm kept
    x = rng.uniform(-2, 2, (2, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(_logits(folded, x), _logits(model, x), rtol=1e-5, atol=1e-5)
    # plain convs and GroupNorm only: nothing to fold, and the message says why
    plain_gn = keras_resnet.ResNet((1, 1, 1, 1), (32, 32, 3), 10, block_type="bottleneck",
                                   variant="v1.5", norm="group", widths=(32, 32, 64, 64))
    with pytest.raises(ValueError, match="nothing to fold.*GroupNormalization"):
        keras_resnet.fold_batchnorm(plain_gn, allow_partial=True)


def test_bit_in_bfloat16_and_after_a_keras_file(rng, tmp_path):
    model = _randomize(_small_bit(), rng)
    x = rng.uniform(-2, 2, (2, 32, 32, 3)).astype("float32")
    logits = _logits(model, x)
    mixed = keras_resnet.with_dtype_policy(model, "mixed_bfloat16")
    mixed_logits = _logits(mixed, x)
    assert mixed_logits.dtype == np.float32
    assert np.linalg.norm(mixed_logits - logits) <= 0.05 * np.linalg.norm(logits)
    path = tmp_path / "bit.keras"  # StdConv2D is keras_resnet's: loads with it imported
    model.save(path)
    np.testing.assert_array_equal(_logits(keras.saving.load_model(path), x), logits)


def test_bit_exports_to_int8_onnx(rng, tmp_path):
    import onnx
    import onnxruntime as ort
    from keras_resnet.deploy import export

    model = _randomize(_small_bit(), rng)
    calibration = rng.uniform(-2, 2, (16, 32, 32, 3)).astype("float32")
    path = tmp_path / "bit.onnx"
    export(model, path, "onnx", quantize="int8", calibration=calibration)
    graph = onnx.load(str(path)).graph
    int8 = [t for t in graph.initializer if t.data_type == onnx.TensorProto.INT8
            and len(t.dims) == 4]
    assert len(int8) == 1 + 4 * 3 + 4  # every (now plain) convolution's kernel
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = calibration[:4]
    got = session.run(None, {session.get_inputs()[0].name: x})[0]
    expected = _logits(model, x)
    assert np.linalg.norm(got - expected) <= 0.2 * np.linalg.norm(expected)


@pytest.mark.parametrize("argument,value", [("norm", "layer"), ("conv", "std")])
def test_norm_and_conv_are_checked(argument, value):
    with pytest.raises(ValueError, match=f"`{argument}` must be one of"):
        keras_resnet.ResNet((1, 1, 1, 1), (32, 32, 3), **{argument: value})
    with pytest.raises(ValueError, match=f"`{argument}` must be one of"):
        keras_resnet.block(keras.Input((8, 8, 64)), 16, **{argument: value})
    with pytest.raises(ValueError, match="multiples of 32"):
        keras_resnet.ResNet((1, 1, 1), (32, 32, 3), stem="cifar", norm="group")


def test_a_bit_block_by_hand():
    """`block` and `stack` take the kinds: a BiT stage composed by hand."""
    x = keras.Input((8, 8, 64))
    y = keras_resnet.stack(x, 32, 2, 2, variant="v2.timm", norm="group", conv="ws", name="s")
    model = keras.Model(x, y)
    kinds = {type(layer).__name__ for layer in model.layers}
    assert {"StdConv2D", "GroupNormalization"} <= kinds and "BatchNormalization" not in kinds
    assert model.output_shape == (None, 4, 4, 128)
