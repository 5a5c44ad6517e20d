"""timm's ResNet family (timm/models/resnet.py): parameter counts, and per layout the logits
of timm's model for seeded weights, loaded offline as a timm Hub repo (recorded by
`scripts/make_torch_goldens.py --resnet-family`); the new blocks' options and layers."""

import json

import keras
import numpy as np
import pytest
from safetensors.numpy import save_file

import keras_resnet
from conftest import assert_close, is_large_model, put_in_hub_cache, randomize_bn_statistics
from keras_resnet.blocks import anti_alias_pool
from keras_resnet.pretrained import resolve
from keras_resnet.registry import ARCHS, REGISTRY
from keras_resnet.specs import eca_kernel_size, se_channels
from keras_resnet.weights.torch_layout import to_keras

import timm_family_goldens as f
import torch_goldens as g

with open(f.PARAMS_PATH) as _file:
    RECORDED = json.load(_file)
GOLDEN = dict(num_classes=f.NUM_CLASSES, input_shape=(64, 64, 3), classifier_activation=None)


@pytest.fixture(scope="module")
def goldens():
    return np.load(f.LOGITS_PATH)


@pytest.fixture
def hub_cache(tmp_path, monkeypatch):
    """An empty Hub cache, offline, with an endpoint that refuses connections."""
    from conftest import closed_port
    root = tmp_path / "hub"
    root.mkdir()
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    monkeypatch.setenv("HF_HUB_CACHE", str(root))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{closed_port()}")
    return root


def _timm_repo(hub_cache, tmp_path, full_name):
    """Lay out the seeded weights of `full_name` as timm's Hub repo timm/`full_name`
    (model.safetensors + config.json) and return its "hf://" name."""
    arch = full_name.split(".")[0]
    path = tmp_path / "model.safetensors"
    save_file(f.random_state_dict(ARCHS[arch]), str(path))
    config = {"architecture": arch, "num_classes": f.NUM_CLASSES,
              "pretrained_cfg": {"tag": full_name.split(".")[1], "mean": g_mean(), "std": g_std()}}
    put_in_hub_cache(hub_cache, f"timm/{full_name}", {
        "model.safetensors": path.read_bytes(), "config.json": json.dumps(config).encode()})
    return f"hf://timm/{full_name}"


def g_mean():
    return [0.485, 0.456, 0.406]


def g_std():
    return [0.229, 0.224, 0.225]


def _nhwc(x):
    return x.transpose(0, 2, 3, 1)


def _run(model, x):
    return keras.ops.convert_to_numpy(model(x, training=False))


# --- parameter counts ---------------------------------------------------------------

def test_every_pretrained_architecture_of_timms_resnet_module_is_registered():
    # resnet50_gn (GroupNorm) comes with the norm layers; every other one is here.
    assert set(RECORDED["not_registered"]) <= {"resnet50_gn"}
    assert len(RECORDED["params"]) == 63 - len(RECORDED["not_registered"]) + 1


@pytest.mark.parametrize("name", sorted(RECORDED["params"]))
def test_registered_parameters_equal_timms(name):
    # The registry's trainable count is its default convention's (test_registry.py checks it
    # against the built model): timm's "v1.5" for the family, "v1" for ResNet18..152.
    info = REGISTRY[name]
    if info.variant == "v1.5":
        assert info.trainable_params == RECORDED["params"][name]
    assert info.reference.get("timm_params", info.reference.get("torchvision_params")) == \
        RECORDED["params"][name]


# --- logits per layout ----------------------------------------------------------------

def _layout_params():
    for layout, full_name in f.LAYOUTS.items():
        marks = [pytest.mark.slow] if is_large_model(full_name.split(".")[0]) else []
        yield pytest.param(layout, full_name, marks=marks, id=layout)


@pytest.mark.slow  # regenerates the weights of every layout
def test_goldens_are_current(goldens):
    np.testing.assert_allclose(g.fingerprint([f.random_input()]), goldens["input_fingerprint"],
                               rtol=1e-12)
    for layout, full_name in f.LAYOUTS.items():
        state = f.random_state_dict(ARCHS[full_name.split(".")[0]])
        np.testing.assert_allclose(g.fingerprint(state.values()),
                                   goldens[f"{layout}_fingerprint"], rtol=1e-12, err_msg=layout)
    assert str(goldens["timm_version"]) == RECORDED["timm_version"]


@pytest.mark.parametrize("layout,full_name", _layout_params())
def test_layout_matches_timm(layout, full_name, goldens, hub_cache, tmp_path):
    arch = full_name.split(".")[0]
    weights = _timm_repo(hub_cache, tmp_path, full_name)
    expected = goldens[f"{layout}_logits"]
    x = _nhwc(f.random_input())
    model = keras_resnet.get_model(arch, weights=weights, **GOLDEN)
    assert_close(_run(model, x), expected, what=f"{arch} logits")
    del model
    # raw [0, 255] RGB, normalised inside the model as the checkpoint expects
    norm = resolve(weights, arch).normalization
    raw = (x * np.array(norm.std) + np.array(norm.mean)) * 255.0
    model = keras_resnet.get_model(arch, weights=weights, include_preprocessing=True, **GOLDEN)
    assert_close(_run(model, raw.astype("float32")), expected, what=f"{arch} raw input")


def test_one_channel_model_loads_by_channel_adaptation(hub_cache, tmp_path, rng):
    weights = _timm_repo(hub_cache, tmp_path, f.LAYOUTS["stem_t"])
    options = dict(weights=weights, num_classes=f.NUM_CLASSES, classifier_activation=None)
    rgb = keras_resnet.ResNet10T((64, 64, 3), **options)
    gray = keras_resnet.ResNet10T((64, 64, 1), **options)
    x = rng.normal(size=(2, 64, 64, 1)).astype("float32")
    assert_close(_run(gray, x), _run(rgb, np.repeat(x, 3, axis=-1)), what="1-channel")


# --- the layers ----------------------------------------------------------------------

def test_squeeze_and_eca_sizes_are_timms():
    # timm: make_divisible(C / 16, 8, round_limit=0); ECA-Net's |log2(C) + 1| / 2, odd, >= 3
    assert [se_channels(c, 1 / 16) for c in (64, 256, 512, 2048, 100)] == [8, 16, 32, 128, 8]
    assert se_channels(256, 0.25) == 64
    assert [eca_kernel_size(c) for c in (64, 256, 512, 1024, 2048)] == [3, 5, 5, 5, 7]


@pytest.mark.parametrize("size", [(7, 7), (8, 11), (2, 3), (None, None)])
def test_blur_pool_is_reflect_padded_binomial(size, rng):
    from keras_resnet.weights.assign import is_fixed
    inputs = keras.Input((*size, 3))
    model = keras.Model(inputs, anti_alias_pool(inputs, "blur", 2, "b"))
    assert all(is_fixed(layer) for layer in model.layers if layer.weights)
    assert all(layer.__class__.__module__.startswith("keras.") for layer in model.layers)
    h, w = (size if size[0] else (9, 6))
    x = rng.normal(size=(2, h, w, 3)).astype("float32")
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="reflect")
    taps = np.array([1.0, 2.0, 1.0]) / 4
    kernel = np.outer(taps, taps)
    out_h, out_w = (h + 2 - 3) // 2 + 1, (w + 2 - 3) // 2 + 1
    expected = np.zeros((2, out_h, out_w, 3))
    for i in range(out_h):
        for j in range(out_w):
            patch = padded[:, 2 * i:2 * i + 3, 2 * j:2 * j + 3, :]
            expected[:, i, j] = np.einsum("nhwc,hw->nc", patch, kernel)
    np.testing.assert_allclose(_run(model, x), expected, rtol=1e-5, atol=1e-6)


def test_to_keras_maps_attention_and_the_rs_stem():
    spec = ARCHS["resnetrs50"]
    named = to_keras(f.random_state_dict(spec), "rs")
    assert named["conv2_block1_se_reduce"][0].shape == (1, 1, 256, 64)
    assert named["pool1_conv"][0].shape == (3, 3, 64, 64) and len(named["pool1_bn"]) == 4
    named = to_keras(f.random_state_dict(ARCHS["ecaresnet26t"]), "eca")
    assert named["conv2_block1_eca_conv"][0].shape == (5, 1, 1)
    with pytest.raises(ValueError, match=r"unexpected key 'layer1.0.attn.weight'"):
        to_keras({"conv1.weight": np.zeros((64, 3, 7, 7)),
                  "layer1.0.attn.weight": np.zeros((1,))}, "x")


@pytest.mark.parametrize("options,message", [
    (dict(attention="cbam"), r"`attention` must be one of \[None, 'se', 'eca'\]"),
    (dict(anti_alias="max", variant="v1.5"), r"`anti_alias` must be one of"),
    (dict(anti_alias="avg"), r"`anti_alias='avg'` needs .* variant 'v1.5', not 'v1'"),
    (dict(anti_alias="blur", variant="v1.5", output_stride=16), r"`output_stride` must be 32"),
    (dict(se_ratio=0), r"`se_ratio` must be a number in \(0, 1\]"),
    (dict(stem_pool="avg"), r"`stem_pool` must be one of \['max', 'conv'\]"),
    (dict(stem="deeper"), r"`stem` must be one of"),
    (dict(reduce_first=0), r"`reduce_first` must be a positive integer"),
    (dict(down_kernel_size=2), r"`down_kernel_size` must be odd"),
    (dict(stem_width=4), r"`stem_width` must be an integer of at least 8"),
])
def test_bad_options_are_named(options, message):
    with pytest.raises(ValueError, match=message):
        keras_resnet.ResNet((1, 1), (32, 32, 3), 10, **options)


def test_anti_alias_avg_needs_sizes_its_pools_divide():
    with pytest.raises(ValueError, match=r"`input_shape` .* multiple of 32 .* anti_alias='avg'"):
        keras_resnet.ResNetAA50((48, 64, 3))
    assert keras_resnet.ResNet((1, 1, 1, 1), (64, 32, 3), anti_alias="avg",
                               variant="v1.5").output_shape == (None, 1000)


# --- the deployment path on the new blocks ---------------------------------------------

SMALL = dict(block_type="bottleneck", widths=(16, 32, 64, 128), variant="v1.5",
             classifier_activation=None)
NEW_KINDS = {
    "se-tiered-avg": dict(attention="se", stem="tiered", avg_down=True),
    "eca-rs-stem": dict(attention="eca", stem="deep", stem_pool="conv", avg_down=True),
    "aa-avg-senet": dict(anti_alias="avg", groups=4, width_per_group=16, stem="deep",
                         stem_width=32, reduce_first=2, down_kernel_size=3, attention="se"),
    "blur": dict(anti_alias="blur", attention="se"),
}


def _small(kind, shape=(64, 64, 3)):
    return keras_resnet.ResNet((1, 1, 1, 1), shape, 10, **SMALL, **NEW_KINDS[kind])


@pytest.mark.parametrize("kind", list(NEW_KINDS))
def test_new_blocks_fold_save_and_run_in_bfloat16(kind, rng, tmp_path):
    model = _small(kind)
    randomize_bn_statistics(model, rng)
    x = rng.uniform(0, 1, (2, 64, 64, 3)).astype("float32")
    logits = _run(model, x)
    folded = keras_resnet.fold_batchnorm(model)
    assert not [l for l in folded.layers if isinstance(l, keras.layers.BatchNormalization)]
    assert_close(_run(folded, x), logits, what="folded")
    stock = keras_resnet.with_stock_layers(model)
    assert all(l.__class__.__module__.startswith("keras.") for l in stock.layers)
    np.testing.assert_allclose(_run(stock, x), logits, rtol=1e-5, atol=1e-5)
    mixed = keras_resnet.with_dtype_policy(folded, "mixed_bfloat16")
    assert np.linalg.norm(_run(mixed, x) - logits) <= 0.1 * np.linalg.norm(logits)
    path = tmp_path / "m.keras"
    model.save(path)
    config = __import__("zipfile").ZipFile(path).read("config.json").decode()
    assert "keras_resnet" not in config  # stock layers only: plain Keras loads it
    np.testing.assert_array_equal(_run(keras.saving.load_model(path), x), logits)


def test_se_model_exports_to_onnx_and_int8(rng, tmp_path):
    pytest.importorskip("onnxruntime")
    import onnxruntime as ort
    from keras_resnet.deploy import export
    model = _small("se-tiered-avg", (32, 32, 3))
    randomize_bn_statistics(model, rng)
    x = rng.uniform(-2, 2, (3, 32, 32, 3)).astype("float32")
    expected = _run(model, x)
    path = export(model, tmp_path / "m.onnx", "onnx")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: x})[0]
    assert_close(got, expected, what="onnxruntime")
    calibration = rng.uniform(-2, 2, (16, 32, 32, 3)).astype("float32")
    int8 = export(model, tmp_path / "m_int8.onnx", "onnx", quantize="int8",
                  calibration=calibration)
    session = ort.InferenceSession(str(int8), providers=["CPUExecutionProvider"])
    quantized = session.run(None, {session.get_inputs()[0].name: x})[0]
    assert quantized.shape == expected.shape and np.isfinite(quantized).all()
    import onnx
    ops = {node.op_type for node in onnx.load(str(int8)).graph.node}
    assert ops & {"QLinearConv", "ConvInteger", "QuantizeLinear"}, ops
    assert np.corrcoef(quantized.ravel(), expected.ravel())[0, 1] > 0.9
