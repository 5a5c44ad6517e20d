"""The weights loader: every format, the classifier rules, mismatches, corrupt files,
security, and parity with keras.applications' legacy .h5 files."""

import os
import sys
import warnings

import h5py
import keras
import numpy as np
import pytest
from keras.src.legacy.saving import legacy_h5_format
from safetensors.numpy import save_file

import keras_resnet
from keras_resnet import downloads
from keras_resnet.weights import assign, imagenet, read_weights
from keras_resnet.weights.torch_layout import TORCH_EXTRA

import torch_goldens as g
from conftest import randomize_bn_statistics


def _weights(model):
    return [w.copy() for w in model.get_weights()]


def _assert_same(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


def _r18(path=None, **kwargs):
    kwargs = {"variant": "v1.5", "num_classes": g.NUM_CLASSES, "input_shape": (32, 32, 3),
              "classifier_activation": None, **kwargs}
    return keras_resnet.ResNet18(weights=None if path is None else str(path), **kwargs)


@pytest.fixture
def r18_safetensors(tmp_path):
    path = tmp_path / "resnet18.safetensors"
    save_file(g.random_state_dict("resnet18"), str(path))
    return path


def _run(model, x):
    """One inference call (cheaper than `predict`, which traces a function first)."""
    return keras.ops.convert_to_numpy(model(x, training=False))


def _x(rng, size=32):
    return rng.uniform(-1, 1, (2, size, size, 3)).astype("float32")


# --- Keras formats -----------------------------------------------------------

@pytest.mark.parametrize("fmt", [".weights.h5", ".keras", ".h5"])
def test_keras_formats_round_trip(fmt, tmp_path, rng, r18_safetensors):
    source = _r18(r18_safetensors)
    path = tmp_path / f"model{fmt}"
    if fmt in (".h5", ".keras"):  # .h5: a legacy whole-model file ("model_weights")
        source.save(path)
    else:
        source.save_weights(path)
    loaded = _r18(path)
    _assert_same(loaded.get_weights(), source.get_weights())
    x = _x(rng)
    np.testing.assert_array_equal(_run(loaded, x), _run(source, x))


def test_weights_h5_loads_by_name_not_position(tmp_path, rng):
    """A model whose layers were created in another order still loads by name."""
    source = keras_resnet.ResNet18((32, 32, 3), 4)
    randomize_bn_statistics(source, rng)
    path = tmp_path / "r18.weights.h5"
    source.save_weights(path)
    named, layout = read_weights(str(path))
    assert layout == "keras"
    assert set(named) == {layer.name for layer in source.layers if layer.weights}
    for name, arrays in named.items():
        _assert_same(arrays, source.get_layer(name).get_weights())


def test_backbone_of_a_wrapped_model_loads(tmp_path, rng):
    """Weights saved from a classifier built around a ResNet load into the bare ResNet."""
    backbone = keras_resnet.ResNet18((32, 32, 3), include_top=False, pooling="avg")
    randomize_bn_statistics(backbone, rng)
    wrapped = keras.Sequential([backbone, keras.layers.Dense(3, name="new_head")])
    path = tmp_path / "wrapped.weights.h5"
    wrapped.save_weights(path)
    with pytest.raises(ValueError, match="'new_head'"):  # the extra head is named
        keras_resnet.ResNet18((32, 32, 3), include_top=False, weights=str(path))
    named, _ = read_weights(str(path))
    del named["new_head"]
    fresh = keras_resnet.ResNet18((32, 32, 3), include_top=False, pooling="avg")
    assign(fresh, named, source=str(path))
    _assert_same(fresh.get_weights(), backbone.get_weights())


# --- keras.applications parity (legacy .h5, the published files' format) -------

def _save_legacy(model, path):
    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, model)


@pytest.fixture(scope="module")
def keras_applications_files(tmp_path_factory):
    """keras.applications ResNet50 / ResNet50V2 with random weights and BN statistics,
    saved in the legacy .h5 layout with and without the top, and their outputs."""
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    out = {"x": x}
    root = tmp_path_factory.mktemp("keras_applications")
    for name, builder in [("resnet50", keras.applications.ResNet50),
                          ("resnet50v2", keras.applications.ResNet50V2)]:
        for top in (True, False):
            keras.utils.set_random_seed(0)
            model = builder(weights=None, include_top=top, input_shape=(32, 32, 3),
                            pooling=None if top else "avg")
            randomize_bn_statistics(model, rng)
            if top:  # a non-trivial classifier bias too
                kernel, bias = model.get_layer("predictions").get_weights()
                model.get_layer("predictions").set_weights([kernel, rng.normal(size=bias.shape)])
            path = root / f"{name}{'' if top else '_notop'}.h5"
            _save_legacy(model, path)
            out[(name, top)] = (path, _run(model, x))
            keras.backend.clear_session()
    return out


@pytest.mark.parametrize("builder,name", [(keras_resnet.ResNet50, "resnet50"),
                                          (keras_resnet.ResNet50V2, "resnet50v2")])
@pytest.mark.parametrize("top", [True, False])
def test_keras_applications_legacy_h5_parity(builder, name, top, keras_applications_files):
    path, expected = keras_applications_files[(name, top)]
    model = builder((32, 32, 3), include_top=top, pooling=None if top else "avg",
                    weights=str(path))
    np.testing.assert_allclose(_run(model, keras_applications_files["x"]),
                               expected, rtol=1e-5, atol=1e-6)


@pytest.mark.slow  # keras.applications ResNet50 files (the fixture builds four)
def test_legacy_h5_with_top_loads_into_headless_model(keras_applications_files):
    path, _ = keras_applications_files[("resnet50", True)]
    full = keras_resnet.ResNet50((32, 32, 3), weights=str(path))
    features = keras.Model(full.input, full.get_layer("avg_pool").output)
    headless = keras_resnet.ResNet50((32, 32, 3), include_top=False, pooling="avg",
                                     weights=str(path))
    x = keras_applications_files["x"]
    np.testing.assert_array_equal(_run(headless, x),
                                  _run(features, x))


def _rename_layers(path, rename):
    """Rename the layer groups of a legacy .h5 file in place."""
    with h5py.File(path, "r+") as f:
        names = [n.decode() if isinstance(n, bytes) else str(n)
                 for n in f.attrs["layer_names"]]
        for n in names:
            if rename(n) != n:
                f.move(n, rename(n))
        f.attrs["layer_names"] = [rename(n).encode() for n in names]


@pytest.mark.slow  # keras.applications ResNet50 files (the fixture builds four)
def test_legacy_h5_classifier_named_probs(keras_applications_files, tmp_path):
    """keras-applications, which made the published files, named the classifier "probs"."""
    path, expected = keras_applications_files[("resnet50", True)]
    copy = tmp_path / "probs.h5"
    copy.write_bytes(path.read_bytes())
    _rename_layers(copy, lambda n: "probs" if n == "predictions" else n)
    model = keras_resnet.ResNet50((32, 32, 3), weights=str(copy))
    np.testing.assert_allclose(_run(model, keras_applications_files["x"]), expected,
                               rtol=1e-5, atol=1e-6)


def test_legacy_h5_with_other_names_loads_by_position(tmp_path, rng):
    model = keras_resnet.ResNet18((32, 32, 3), 4)
    randomize_bn_statistics(model, rng)
    path = tmp_path / "renamed.h5"
    _save_legacy(model, path)
    _rename_layers(path, lambda n: f"other_{n}")
    _assert_same(keras_resnet.ResNet18((32, 32, 3), 4, weights=str(path)).get_weights(),
                 model.get_weights())
    with pytest.raises(ValueError, match="by position fails: the file has 41 layers with "
                                         "weights, the model 73"):
        keras_resnet.ResNet34((32, 32, 3), 4, weights=str(path))


def test_legacy_h5_keras2_weight_names_are_ordered_by_kind(tmp_path, rng):
    """Files written by Keras 2 (the published ones) name weights `layer/kernel:0`;
    they are matched by kind, so a file storing BN statistics first still loads."""
    model = keras_resnet.ResNet18((32, 32, 3), 4)
    randomize_bn_statistics(model, rng)
    path = tmp_path / "keras2.h5"
    with h5py.File(path, "w") as f:
        layers = [layer for layer in model.layers if layer.weights]
        f.attrs["layer_names"] = [layer.name.encode() for layer in model.layers]
        for layer in layers:
            group = f.create_group(layer.name)
            kinds = [w.name for w in layer.weights][::-1]  # reversed on purpose
            names = [f"{layer.name}/{k}:0".encode() for k in kinds]
            group.attrs["weight_names"] = names
            for k, n, value in zip(kinds, names, layer.get_weights()[::-1]):
                group.create_dataset(n.decode(), data=value)
        for layer in model.layers:
            if not layer.weights:
                f.create_group(layer.name).attrs["weight_names"] = []
    loaded = keras_resnet.ResNet18((32, 32, 3), 4, weights=str(path))
    _assert_same(loaded.get_weights(), model.get_weights())


# --- torchvision / timm files --------------------------------------------------

def test_timm_style_prefixed_keys_load(tmp_path, r18_safetensors):
    state = {f"module.{k}": v for k, v in g.random_state_dict("resnet18").items()}
    path = tmp_path / "timm.safetensors"
    save_file(state, str(path))
    _assert_same(_r18(path).get_weights(), _r18(r18_safetensors).get_weights())


def test_torch_layout_mapping_by_hand(r18_safetensors):
    named, layout = read_weights(str(r18_safetensors))
    state = g.random_state_dict("resnet18")
    assert layout == "torch"
    np.testing.assert_array_equal(named["conv1_conv"][0],
                                  state["conv1.weight"].transpose(2, 3, 1, 0))
    np.testing.assert_array_equal(named["conv3_block1_0_conv"][0][0, 0],
                                  state["layer2.0.downsample.0.weight"][:, :, 0, 0].T)
    gamma, beta, mean, var = named["conv5_block2_2_bn"]
    np.testing.assert_array_equal(var, state["layer4.1.bn2.running_var"])
    np.testing.assert_array_equal(beta, state["layer4.1.bn2.bias"])
    np.testing.assert_array_equal(named["predictions"][0], state["fc.weight"].T)


def test_torch_file_needs_v1_5(r18_safetensors):
    with pytest.raises(ValueError, match=r"variant='v1\.5'"):
        keras_resnet.ResNet18((32, 32, 3), 10, weights=str(r18_safetensors))  # default v1


def test_unknown_torch_layout_is_refused(tmp_path):
    state = g.random_state_dict("resnet18")
    state["layer1.0.gate.weight"] = np.zeros((4, 64, 1, 1), "float32")  # no layout has it
    path = tmp_path / "gated_resnet18.safetensors"
    save_file(state, str(path))
    with pytest.raises(ValueError, match=r"unexpected key 'layer1\.0\.gate\.weight'"):
        _r18(path)


def test_pth_without_torch_names_the_extra(tmp_path, monkeypatch):
    path = tmp_path / "resnet18.pth"
    path.write_bytes(b"not really a pickle")
    monkeypatch.setitem(sys.modules, "torch", None)  # as if torch were not installed
    with pytest.raises(ValueError, match="keras-resnet-zoo\\[torch\\]") as e:
        _r18(path)
    assert str(path) in str(e.value)
    assert TORCH_EXTRA in str(e.value)


def test_pth_loads_with_torch(tmp_path, r18_safetensors):
    torch = pytest.importorskip("torch")
    state = {k: torch.from_numpy(np.array(v)) for k, v in g.random_state_dict("resnet18").items()}
    path = tmp_path / "resnet18.pth"
    torch.save({"state_dict": state, "epoch": 3}, path)
    _assert_same(_r18(path).get_weights(), _r18(r18_safetensors).get_weights())


# --- the classifier: include_top=False, other num_classes ----------------------

def test_headless_model_skips_the_classifier(r18_safetensors, rng):
    full = _r18(r18_safetensors)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning: skipping the head is expected
        headless = _r18(r18_safetensors, include_top=False, pooling="avg", input_shape=None)
    features = keras.Model(full.input, full.get_layer("avg_pool").output)
    x = _x(rng)
    np.testing.assert_array_equal(_run(headless, x), _run(features, x))


def test_other_num_classes_keeps_a_fresh_classifier_and_warns(r18_safetensors):
    fresh = _r18(None, num_classes=3)
    head = [w.copy() for w in fresh.get_layer("predictions").get_weights()]
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)  # the same initialisation as `fresh`
    with pytest.warns(UserWarning, match=r"except the classifier 'predictions'.*10 classes"):
        model = _r18(r18_safetensors, num_classes=3)
    _assert_same(model.get_layer("predictions").get_weights(), head)
    reference = _r18(r18_safetensors)
    _assert_same(model.get_layer("conv5_block2_2_bn").get_weights(),
                 reference.get_layer("conv5_block2_2_bn").get_weights())


# --- mismatches and corrupt files: clear errors, model untouched --------------

def _fail_untouched(model, path, match):
    from keras_resnet.weights import load_weights
    before = _weights(model)
    with pytest.raises(ValueError, match=match):
        load_weights(model, str(path), arch="resnet18", variant="v1.5")
    _assert_same(model.get_weights(), before)


def test_deeper_file_names_the_first_extra_layer(tmp_path):
    path = tmp_path / "resnet34.safetensors"
    save_file(g.random_state_dict("resnet34"), str(path))
    _fail_untouched(_r18(), path, r"'conv2_block3_1_bn' of shapes \[\(64,\), \(64,\)")


def test_shallower_file_names_the_first_missing_layer(tmp_path, r18_safetensors):
    from keras_resnet.weights import load_weights
    model = keras_resnet.ResNet34((32, 32, 3), 10, variant="v1.5")
    before = _weights(model)
    with pytest.raises(ValueError, match=r"no weights for layer 'conv2_block3_1_conv'"):
        load_weights(model, str(r18_safetensors), arch="resnet34", variant="v1.5")
    _assert_same(model.get_weights(), before)


def test_other_variant_names_layer_and_both_shapes(tmp_path):
    v1 = keras_resnet.ResNet18((32, 32, 3), 10, variant="v1")
    path = tmp_path / "v1.weights.h5"
    v1.save_weights(path)
    _fail_untouched(_r18(), path, r"'conv1_conv' has weights of shapes \[\(7, 7, 3, 64\), "
                                  r"\(64,\)\] in the file but .* expects \[\(7, 7, 3, 64\)\]")


def test_a_file_for_other_input_channels_names_conv1(tmp_path):
    """RGB files adapt to other channels (tests/test_pretrained.py); other files do not."""
    gray = _r18(input_shape=(32, 32, 1))
    path = tmp_path / "gray.weights.h5"
    gray.save_weights(path)
    _fail_untouched(_r18(), path, r"'conv1_conv'.*\(7, 7, 1, 64\).*\(7, 7, 3, 64\)")


@pytest.mark.parametrize("fmt", [".weights.h5", ".safetensors", ".keras", ".h5"])
def test_truncated_file_fails_cleanly(fmt, tmp_path, r18_safetensors):
    source = _r18(r18_safetensors)
    full = tmp_path / f"full{fmt}"
    if fmt == ".safetensors":
        full.write_bytes(r18_safetensors.read_bytes())
    elif fmt == ".keras":
        source.save(full)
    elif fmt == ".h5":
        _save_legacy(source, full)
    else:
        source.save_weights(full)
    data = full.read_bytes()
    broken = tmp_path / f"broken{fmt}"
    broken.write_bytes(data[:len(data) // 2])
    keras.backend.clear_session()
    _fail_untouched(_r18(), broken, f"{broken}")


def test_unknown_suffix_lists_the_formats(tmp_path):
    path = tmp_path / "weights.npz"
    path.write_bytes(b"")
    with pytest.raises(ValueError, match=r"unknown format; supported: \.weights\.h5"):
        _r18(path)


def test_keras_file_that_would_run_code_is_refused(tmp_path):
    inputs = keras.Input((4,))
    evil = keras.Model(inputs, keras.layers.Lambda(lambda t: t * 2, name="code")(inputs))
    path = tmp_path / "evil.keras"
    evil.save(path)
    with pytest.raises(ValueError, match="safe_mode") as e:
        _r18(path)
    assert "evil.keras" in str(e.value)


# --- "imagenet": the table, a pre-filled cache, an empty one ------------------

def test_imagenet_table_matches_keras_applications():
    from keras.src.applications import resnet
    for (arch, variant), files in imagenet.IMAGENET_WEIGHTS.items():
        stem = arch + ("v2" if variant == "v2" else "")
        assert (files[True].md5, files[False].md5) == resnet.WEIGHTS_HASHES[stem]
        for f in files.values():
            assert f.origin == resnet.BASE_WEIGHTS_PATH + f.fname
        assert files[False].fname.endswith("_notop.h5")


@pytest.mark.parametrize("builder", [keras_resnet.ResNet18, keras_resnet.ResNet20])
def test_imagenet_without_a_published_file_names_what_exists(builder):
    with pytest.raises(ValueError, match=r"No ImageNet weights.*resnet50 \(variant='v1'\)"):
        builder(weights="imagenet")


def test_imagenet_with_another_variant_names_both():
    with pytest.raises(ValueError, match=r"weights='imagenet' needs variant='v1'.*"
                                         r"Received: variant='v1\.5'"):
        keras_resnet.ResNet50(weights="imagenet", variant="v1.5")


def _unreachable(monkeypatch):
    """Point every published file at a closed local port: no test touches the network."""
    for key, files in list(imagenet.IMAGENET_WEIGHTS.items()):
        monkeypatch.setitem(imagenet.IMAGENET_WEIGHTS, key, {
            top: imagenet.RemoteFile(f.fname, f"http://127.0.0.1:9/{f.fname}", f.md5)
            for top, f in files.items()})


@pytest.mark.slow  # keras.applications ResNet50 files (the fixture builds four)
def test_imagenet_from_a_prefilled_cache(keras_applications_files, tmp_path, monkeypatch):
    _unreachable(monkeypatch)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    for top in (True, False):
        path, expected = keras_applications_files[("resnet50", top)]
        remote = imagenet.IMAGENET_WEIGHTS[("resnet50", "v1")][top]
        (tmp_path / "models").mkdir(exist_ok=True)
        os.symlink(path, tmp_path / "models" / remote.fname)
        monkeypatch.setitem(imagenet.IMAGENET_WEIGHTS[("resnet50", "v1")], top,
                            imagenet.RemoteFile(remote.fname, remote.origin,
                                                downloads._md5(str(path))))
        model = keras_resnet.ResNet50((32, 32, 3), include_top=top,
                                      pooling=None if top else "avg", weights="imagenet")
        np.testing.assert_allclose(_run(model, keras_applications_files["x"]),
                                   expected, rtol=1e-5, atol=1e-6)
        keras.backend.clear_session()
    # Fine-tuning: 10 classes from the 1000-class file keeps a fresh classifier.
    with pytest.warns(UserWarning, match="1000 classes, the model 10"):
        keras_resnet.ResNet50((32, 32, 3), 10, weights="imagenet")


def test_imagenet_with_an_empty_cache_fails_fast_saying_where(tmp_path, monkeypatch):
    _unreachable(monkeypatch)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    remote = imagenet.IMAGENET_WEIGHTS[("resnet50", "v2")][False]
    with pytest.raises(ValueError) as e:
        keras_resnet.ResNet50V2((32, 32, 3), include_top=False, weights="imagenet")
    message = str(e.value)
    assert remote.fname in message and remote.md5 in message
    assert str(tmp_path / "models" / remote.fname) in message
    assert not any((tmp_path / "models").glob("*"))  # nothing half-downloaded


@pytest.mark.slow  # keras.applications ResNet50 files (the fixture builds four)
def test_a_cached_file_with_a_wrong_md5_is_not_used(
        keras_applications_files, tmp_path, monkeypatch):
    _unreachable(monkeypatch)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    remote = imagenet.IMAGENET_WEIGHTS[("resnet50", "v1")][False]  # the real md5
    (tmp_path / "models").mkdir()
    os.symlink(keras_applications_files[("resnet50", False)][0],
               tmp_path / "models" / remote.fname)
    with pytest.raises(ValueError, match="Could not download .*fails its md5 check"):
        keras_resnet.ResNet50((32, 32, 3), include_top=False, weights="imagenet")


def test_connection_check_never_waits_for_a_hanging_lookup(monkeypatch):
    import threading
    release = threading.Event()

    def hang(*args, **kwargs):
        release.wait(30)
        raise OSError("released")

    monkeypatch.setattr(downloads.socket, "create_connection", hang)
    try:
        reason = downloads._check_reachable("https://example.invalid/x.h5", timeout=0.1)
    finally:
        release.set()
    assert "no connection to example.invalid:443" in reason
