"""Pretrained weights by tag, full name and "hf://ORG/REPO", through a Hugging Face Hub
cache built here (nothing downloads); conventions; input-channel adaptation.

Every test points HF_HUB_CACHE (and HF_HOME) at its own directory and HF_ENDPOINT at a
closed local port; `keras_resnet.weights.hub` reads them when a file is asked for.
"""

import dataclasses
import json
import time
import warnings

import h5py
import keras
import numpy as np
import pytest
from keras.src.legacy.saving import legacy_h5_format
from safetensors.numpy import save_file

import keras_resnet
from keras_resnet import cli, pretrained, pretrained_timm
from keras_resnet.pretrained import list_pretrained, timm_variant
from keras_resnet.registry import REGISTRY
from keras_resnet.specs import get_variant
from keras_resnet.weights import hub, imagenet, load_weights
from keras_resnet.weights.assign import adapt_kernel, input_conv
from keras_resnet.pretrained import NO_WEIGHTS, resolve
from keras_resnet.weights.torch_layout import to_keras

import torch_goldens as g
from conftest import closed_port, put_in_hub_cache

GOLDEN = dict(num_classes=g.NUM_CLASSES, input_shape=(64, 64, 3), classifier_activation=None)


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


def _safetensors(name, tmp_path, num_classes=g.NUM_CLASSES) -> bytes:
    path = tmp_path / f"{name}.safetensors"
    save_file(g.random_state_dict(name, num_classes), str(path))
    return path.read_bytes()


def _run(model, x):
    return keras.ops.convert_to_numpy(model(x, training=False))


@pytest.fixture(scope="module")
def goldens():
    return np.load(g.GOLDENS_PATH)


def _assert_golden(model, name, goldens):
    logits = _run(model, g.random_input().transpose(0, 2, 3, 1))
    expected = goldens[f"{name}_logits"]
    np.testing.assert_allclose(logits, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())


# --- the table: every row is a registered model's, with a buildable convention ---

def test_every_row_names_a_registered_model_with_a_unique_tag():
    seen = set()
    for row in list_pretrained():
        assert row.model in REGISTRY, row.name
        assert (row.model, row.tag) not in seen, row.name
        seen.add((row.model, row.tag))
        get_variant(row.variant)
        source = resolve(row.tag, row.model)
        assert source.row == row
        assert source.fit_variant(None, REGISTRY[row.model].variant) == row.variant
        if row.source == "timm":
            assert row.variant == timm_variant(row.model) and row.filename == "model.safetensors"
            assert row.hub_repo == f"timm/{row.name}" and source.kind == "tag"
        else:  # keras.applications: the model's own convention, a published file
            assert row.tag == "imagenet" and row.variant == REGISTRY[row.model].variant
            assert (REGISTRY[row.model].arch, row.variant) in imagenet.IMAGENET_WEIGHTS
    timm_tags = sum(len(tags) for model, tags in pretrained_timm.TAGS.items()
                    if model in REGISTRY)
    assert len(seen) == 6 + timm_tags and timm_tags >= 75  # 74 ImageNet-1k + resnet50.bamboo


@pytest.mark.parametrize("name", sorted({row.model for row in list_pretrained()}))
def test_every_row_architecture_builds_with_its_convention(name):
    """Built headless at 32x32 with variant=None; a timm layout checkpoint of the
    architecture (when the goldens generator knows it) fits every layer."""
    tags = [row.tag for row in list_pretrained(name)]
    source = resolve(tags[-1], name)
    variant = source.fit_variant(None, "unused")
    if variant == keras_resnet.model_info(name).variant and name not in g.DEPTHS:
        return  # built at its default convention in test_registry.py; no layout to fit here
    model = keras_resnet.get_model(name, include_top=False, input_shape=(32, 32, 3),
                                   variant=variant)
    if source.kind == "tag" and name in g.DEPTHS:
        named = to_keras(g.random_state_dict(name), name)
        named.pop("predictions")
        keras_resnet.weights.assign(model, named, source=name)  # raises on any mismatch


def test_full_name_and_tag_lists():
    with pytest.raises(ValueError, match=r"Unknown pretrained tag 'a9_in1k' for resnet18\..*"
                                         r"a1_in1k, a2_in1k, a3_in1k, tv_in1k"):
        keras_resnet.get_model("resnet18.a9_in1k")
    with pytest.raises(ValueError, match=r"Unknown model 'resnet19'"):
        keras_resnet.get_model("resnet19.a1_in1k")
    with pytest.raises(ValueError, match=r"already names weights 'a1_in1k'"):
        keras_resnet.get_model("resnet18.a1_in1k", weights="tv_in1k")
    with pytest.raises(ValueError, match=r"for resnet20\..*none: resnet20 has no pretrained"):
        keras_resnet.ResNet20(weights="a1_in1k")


# --- heads of other than 1000 classes: in12k/in21k tags, headless checkpoints -----

@pytest.fixture
def in21k_style_row(monkeypatch):
    """A resnet18 row like an in12k/in21k tag: a classifier of other than 1000 classes
    (11 here, to keep the file small), published on the Hub as timm publishes its tags."""
    base = pretrained.find_pretrained("resnet18", "tv_in1k")
    row = dataclasses.replace(base, tag="fake_in21k", num_classes=11, top1=None, top5=None,
                              eval_size=64, hub_repo="timm/resnet18.fake_in21k")
    monkeypatch.setattr(pretrained, "PRETRAINED", pretrained.PRETRAINED + [row])
    return row


def test_a_tag_builds_its_own_head_size(in21k_style_row, hub_cache, tmp_path):
    state = g.random_state_dict("resnet18", 11)
    save_file(state, str(tmp_path / "w.safetensors"))
    put_in_hub_cache(hub_cache, in21k_style_row.hub_repo,
                     {"model.safetensors": (tmp_path / "w.safetensors").read_bytes()})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the whole file loads: no fresh classifier
        by_name = keras_resnet.get_model("resnet18.fake_in21k", input_shape=(64, 64, 3))
        by_tag = keras_resnet.ResNet18(weights="fake_in21k", input_shape=(64, 64, 3))
        by_repo = keras_resnet.ResNet18(weights="hf://timm/resnet18.fake_in21k",
                                        input_shape=(64, 64, 3))
    for model in (by_name, by_tag, by_repo):
        assert model.output_shape == (None, 11)
        kernel, bias = model.get_layer("predictions").get_weights()
        np.testing.assert_array_equal(kernel, state["fc.weight"].T)
        np.testing.assert_array_equal(bias, state["fc.bias"])
    # An explicit num_classes still wins: the file's classifier is then left out, and said.
    with pytest.warns(UserWarning, match=r"classifier has 11 classes, the model 5"):
        own = keras_resnet.ResNet18(weights="fake_in21k", input_shape=(64, 64, 3),
                                    num_classes=5)
    assert own.output_shape == (None, 5)


def test_a_headless_checkpoint_gets_the_default_head_and_says_so(hub_cache, tmp_path):
    row = pretrained.find_pretrained("resnet50", "bamboo")
    assert (row.num_classes, row.top1, row.license) == (0, None, None)
    state = g.random_state_dict("resnet50", 1000)
    del state["fc.weight"], state["fc.bias"]  # timm saves it with num_classes=0
    save_file(state, str(tmp_path / "w.safetensors"))
    put_in_hub_cache(hub_cache, row.hub_repo,
                     {"model.safetensors": (tmp_path / "w.safetensors").read_bytes()})
    with pytest.warns(UserWarning, match=r"the file has no classifier"):
        model = keras_resnet.get_model("resnet50.bamboo", input_shape=(32, 32, 3))
    assert model.output_shape == (None, 1000)
    headless = keras_resnet.get_model("resnet50.bamboo", input_shape=(32, 32, 3),
                                      include_top=False, pooling="avg")
    assert headless.output_shape == (None, 2048)


# --- conventions -----------------------------------------------------------------

def test_an_explicit_variant_must_fit_the_checkpoint():
    with pytest.raises(ValueError, match=r"weights='a1_in1k' needs variant='v1\.5', the "
                                         r"convention of resnet50\.a1_in1k .*"
                                         r"Received: variant='v1'"):
        keras_resnet.ResNet50(weights="a1_in1k", variant="v1")
    with pytest.raises(ValueError, match=r"weights='hf://me/r18' needs variant='v1\.5'.*"
                                         r"Received: variant='v2'"):
        keras_resnet.ResNet18(weights="hf://me/r18", variant="v2")
    with pytest.raises(ValueError, match=r"weights='imagenet' needs variant='v2'.*"
                                         r"Received: variant='v1'"):
        keras_resnet.ResNet50V2(weights="imagenet", variant="v1")


def test_variant_none_is_the_checkpoints_or_the_models():
    rows = {(r.model, r.tag): r for r in list_pretrained()}
    for model, tag in [("resnet50", "imagenet"), ("resnet50v2", "imagenet"),
                       ("resnet50", "a1_in1k"), ("resnet50d", "ra2_in1k")]:
        source = resolve(tag, model)
        assert source.fit_variant(None, REGISTRY[model].variant) == rows[model, tag].variant
    assert resolve("hf://a/b", "resnet50").fit_variant(None, "v1") == "v1.5"
    assert NO_WEIGHTS.fit_variant(None, "v1") == "v1"
    assert keras_resnet.ResNet18((32, 32, 3), 4).name == "resnet18"  # names as before
    assert keras_resnet.ResNet50V2((32, 32, 3), 4).name == "resnet50v2"


# --- the Hub cache: tags, full names, hf:// -------------------------------------

@pytest.mark.parametrize("name,tag,builder", [("resnet18", "tv_in1k", None),
                                              ("resnet50d", "ra2_in1k", keras_resnet.ResNet50D)])
def test_tag_from_the_hub_cache_matches_the_peer(name, tag, builder, hub_cache, tmp_path,
                                                 goldens):
    put_in_hub_cache(hub_cache, f"timm/{name}.{tag}",
                     {"model.safetensors": _safetensors(name, tmp_path)})
    if builder is None:  # the full name
        model = keras_resnet.get_model(f"{name}.{tag}", **GOLDEN)
    else:
        model = builder(weights=tag, **GOLDEN)
    assert model.name == {"resnet18": "resnet18v1_5", "resnet50d": "resnet50d"}[name]
    _assert_golden(model, name, goldens)


def test_hf_repo_with_a_config(hub_cache, tmp_path, goldens):
    config = {"architecture": "resnet18", "num_classes": g.NUM_CLASSES, "num_features": 512}
    put_in_hub_cache(hub_cache, "someone/pets-resnet18", {
        "model.safetensors": _safetensors("resnet18", tmp_path),
        "config.json": json.dumps(config).encode()})
    model = keras_resnet.ResNet18(weights="hf://someone/pets-resnet18", **GOLDEN)
    _assert_golden(model, "resnet18", goldens)
    with pytest.raises(ValueError, match=r"holds a 'resnet18' \(its config.json's "
                                         r"architecture\), not a resnet34"):
        keras_resnet.ResNet34(weights="hf://someone/pets-resnet18", **GOLDEN)
    with pytest.raises(ValueError, match=r"has a 10-class classifier .* num_classes=1000: "
                                         r"pass num_classes=10"):
        keras_resnet.ResNet18(weights="hf://someone/pets-resnet18", input_shape=(64, 64, 3),
                              num_classes=1000)
    # without num_classes: the config's head
    assert keras_resnet.ResNet18(weights="hf://someone/pets-resnet18",
                                 input_shape=(64, 64, 3)).output_shape == (None, 10)
    headless = keras_resnet.ResNet18(weights="hf://someone/pets-resnet18", include_top=False,
                                     input_shape=(64, 64, 3))  # no classifier to compare
    assert headless.output_shape[-1] == 512


def test_hf_repo_without_a_config(hub_cache, tmp_path, goldens):
    data = _safetensors("resnet50d", tmp_path)
    put_in_hub_cache(hub_cache, "someone/resnet50d", {"model.safetensors": data})
    model = keras_resnet.get_model("resnet50d", weights="hf://someone/resnet50d", **GOLDEN)
    _assert_golden(model, "resnet50d", goldens)


def _assert_names_the_fetch(message, repo):
    assert repo in message and "model.safetensors" in message
    assert f"hf download {repo} model.safetensors" in message
    assert f"hf_hub_download('{repo}', 'model.safetensors')" in message
    assert "Traceback" not in message and "\n" not in message


@pytest.mark.whole_machine  # a time limit
def test_offline_without_the_file_fails_fast_naming_the_command(hub_cache):
    start = time.monotonic()
    with pytest.raises(ValueError) as e:
        keras_resnet.ResNet18(weights="tv_in1k", input_shape=(32, 32, 3))
    assert time.monotonic() - start < 10
    _assert_names_the_fetch(str(e.value), "timm/resnet18.tv_in1k")
    assert "HF_HUB_OFFLINE is set" in str(e.value) and str(hub_cache) in str(e.value)


@pytest.mark.whole_machine  # a time limit
def test_unreachable_endpoint_fails_fast_naming_the_command(hub_cache, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    assert not hub.is_offline()
    start = time.monotonic()
    with pytest.raises(ValueError) as e:
        hub.fetch("timm/resnet50.a1_in1k", "model.safetensors")
    assert time.monotonic() - start < 10
    _assert_names_the_fetch(str(e.value), "timm/resnet50.a1_in1k")
    assert not list(hub_cache.glob("models--*/snapshots/*/*"))  # nothing half-written


@pytest.mark.whole_machine  # a time limit
def test_a_hanging_endpoint_cannot_block(hub_cache, monkeypatch):
    """A lookup or server that never answers (a black-holed address, a stuck DNS query)."""
    import huggingface_hub
    import threading
    release = threading.Event()
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setattr(hub, "PROBE_TIMEOUT_S", 0.2)
    monkeypatch.setattr(huggingface_hub, "get_hf_file_metadata",
                        lambda *a, **k: release.wait(30))
    start = time.monotonic()
    try:
        with pytest.raises(ValueError, match=r"no answer from http://127\.0\.0\.1:\d+ within"):
            hub.fetch("timm/resnet18.tv_in1k", "model.safetensors")
    finally:
        release.set()
    assert time.monotonic() - start < 5


def test_truncated_file_in_the_cache_leaves_the_model_untouched(hub_cache, tmp_path):
    data = _safetensors("resnet18", tmp_path)
    put_in_hub_cache(hub_cache, "timm/resnet18.tv_in1k",
                     {"model.safetensors": data[:len(data) // 2]})
    model = keras_resnet.ResNet18((32, 32, 3), g.NUM_CLASSES, variant="v1.5")
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(ValueError, match=r"Could not read weights file .*"
                                         r"hf download --force-download timm/resnet18\.tv_in1k"):
        load_weights(model, "tv_in1k", arch="resnet18", variant="v1.5")
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)


def test_convert_takes_a_tag(hub_cache, tmp_path, goldens):
    data = _safetensors("resnet18", tmp_path)
    put_in_hub_cache(hub_cache, "timm/resnet18.tv_in1k", {"model.safetensors": data})
    dst = tmp_path / "r18.weights.h5"
    assert cli.main(["convert", "tv_in1k", str(dst), "--model", "resnet18",
                     "--num-classes", "10", "--input-shape", "64", "64", "3"]) == 0
    model = keras_resnet.ResNet18(weights=str(dst), variant="v1.5", **GOLDEN)
    _assert_golden(model, "resnet18", goldens)


# --- other input channels: the first convolution adapts (timm's adapt_input_conv) ---

def test_adapt_kernel_is_timms_rule(rng):
    kernel = rng.normal(size=(3, 3, 3, 5)).astype("float32")
    np.testing.assert_allclose(adapt_kernel(kernel, 1)[:, :, 0], kernel.sum(axis=2))
    for n in (2, 4, 5, 7):
        adapted = adapt_kernel(kernel, n)
        assert adapted.shape == (3, 3, n, 5)
        for c in range(n):
            np.testing.assert_allclose(adapted[:, :, c], kernel[:, :, c % 3] * 3 / n, rtol=1e-6)


def _gray_equals_rgb(builder, weights, rng, **kwargs):
    rgb = builder(input_shape=(32, 32, 3), weights=weights, **kwargs)
    gray = builder(input_shape=(32, 32, 1), weights=weights, **kwargs)
    x = rng.uniform(-1, 1, (2, 32, 32, 1)).astype("float32")
    np.testing.assert_allclose(_run(gray, x), _run(rgb, np.repeat(x, 3, axis=-1)),
                               rtol=1e-4, atol=1e-4)
    return rgb


@pytest.mark.parametrize("name", ["resnet18", "resnet50d"])
def test_rgb_safetensors_into_other_channels(name, tmp_path, rng):
    path = tmp_path / f"{name}.safetensors"
    save_file(g.random_state_dict(name), str(path))
    kwargs = dict(num_classes=g.NUM_CLASSES, classifier_activation=None, variant="v1.5")
    rgb = _gray_equals_rgb(getattr(keras_resnet, REGISTRY[name].builder_name), str(path), rng,
                           **kwargs)
    conv = input_conv(rgb)
    assert conv.name == ("conv1_1_conv" if name == "resnet50d" else "conv1_conv")
    kernel = keras.ops.convert_to_numpy(conv.kernel)
    for n in (2, 4):
        model = keras_resnet.get_model(name, input_shape=(32, 32, n), weights=str(path), **kwargs)
        np.testing.assert_allclose(keras.ops.convert_to_numpy(input_conv(model).kernel),
                                   adapt_kernel(kernel, n), rtol=1e-6)


def test_rgb_keras_file_into_other_channels(tmp_path, rng):
    source = keras_resnet.ResNet18((32, 32, 3), 4)  # v1: the first conv has a bias
    kernel, bias = source.get_layer("conv1_conv").get_weights()
    source.get_layer("conv1_conv").set_weights([kernel, rng.normal(size=bias.shape)])
    path = tmp_path / "rgb.weights.h5"
    source.save_weights(path)
    _gray_equals_rgb(keras_resnet.ResNet18, str(path), rng, num_classes=4)
    four = keras_resnet.ResNet18((32, 32, 4), 4, weights=str(path))
    np.testing.assert_allclose(four.get_layer("conv1_conv").get_weights()[1],
                               source.get_layer("conv1_conv").get_weights()[1])


@pytest.mark.slow  # a full-size ResNet50 file
def test_imagenet_into_one_channel(tmp_path, monkeypatch, rng):
    """weights="imagenet" from a pre-filled Keras cache (a legacy .h5 like the published)."""
    source = keras_resnet.ResNet50((32, 32, 3), include_top=False, pooling="avg")
    path = tmp_path / "models" / "r50_notop.h5"
    path.parent.mkdir()
    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, source)
    remote = imagenet.RemoteFile(path.name, f"http://127.0.0.1:{closed_port()}/x.h5",
                                 imagenet._md5(str(path)))
    monkeypatch.setitem(imagenet.IMAGENET_WEIGHTS, ("resnet50", "v1"), {False: remote})
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    _gray_equals_rgb(keras_resnet.ResNet50, "imagenet", rng, include_top=False, pooling="avg")
