"""save_pretrained / push_to_hub and the timm round trip, both ways.

timm is not installed here: what timm writes for a Hub repo (config.json, the
state dict's keys, its logits) is recorded by `scripts/make_torch_goldens.py
--hub-roundtrip` for the seeded weights of tests/torch_goldens.py. A real timm
load of the directory a test writes runs where timm is importable.
"""

import json
import os

import numpy as np
import pytest
from conftest import assert_close, closed_port, put_in_hub_cache, smallest_of_each_kind
from safetensors.numpy import load_file, save_file

import keras_resnet
from keras_resnet.pretrained import resolve, timm_variant
from keras_resnet.registry import list_models, model_info
from keras_resnet.sharing import push_to_hub, save_pretrained, timm_state_dict
from keras_resnet.weights import torch_layout

import torch_goldens as g

GOLDENS = os.path.join(os.path.dirname(g.GOLDENS_PATH), "timm_hub_roundtrip.json")
CFGS = os.path.join(os.path.dirname(g.GOLDENS_PATH), "timm_pretrained_cfgs.json")


@pytest.fixture(scope="module")
def goldens():
    with open(GOLDENS) as f:
        return json.load(f)


def _timm_names():
    with open(CFGS) as f:
        lacking = set(json.load(f)["registered_not_in_timm"])
    return [name for name in list_models() if name not in lacking]


def _timm_directory(path, name, goldens):
    """The directory timm's save_for_hf writes, from the seeded weights."""
    path.mkdir()
    (path / "config.json").write_text(json.dumps(goldens["models"][name]["config"]))
    save_file(g.random_state_dict(name), str(path / "model.safetensors"))
    return path


def _x():
    return g.random_input().transpose(0, 2, 3, 1)


def test_goldens_are_current(goldens):
    np.testing.assert_allclose(g.fingerprint([g.random_input()]), goldens["input_fingerprint"],
                               rtol=1e-12)
    for name, record in goldens["models"].items():
        np.testing.assert_allclose(g.fingerprint(g.random_state_dict(name).values()),
                                   record["fingerprint"], rtol=1e-12)
        # the generator's key set is timm's, key for key, shape for shape
        assert {k: tuple(s) for k, s, _ in record["state_dict"]} == g.state_dict_shapes(name)


@pytest.mark.parametrize("name", [n for n in smallest_of_each_kind() if n in _timm_names()])
def test_keras_to_timm_to_keras_is_the_identity(name, rng):
    # One model of each kind timm has (their layers are the code the mappings cover; depth
    # and width are numbers in it): the inverse mapping covers its layout.
    model = keras_resnet.get_model(name, variant=timm_variant(name), input_shape=(32, 32, 3),
                                   num_classes=3)
    from keras_resnet.weights.assign import is_fixed
    named = {layer.name: [rng.standard_normal(w.shape).astype("float32")
                          for w in layer.get_weights()]
             for layer in model.layers if layer.weights and not is_fixed(layer)}  # not blur
    state = torch_layout.to_torch(named, avg_down=model_info(name).spec.avg_down)
    if name in g.DEPTHS:  # timm's own key set and shapes
        assert {k: v.shape for k, v in state.items()} == g.state_dict_shapes(name, 3)
    back = torch_layout.to_keras(state, name)
    assert set(back) == set(named)
    for layer, arrays in named.items():
        for a, b in zip(arrays, back[layer]):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", ["resnet50d", "resnet18"])
def test_timm_directory_loads_with_its_head_and_preprocessing(name, goldens, tmp_path,
                                                              monkeypatch):
    record = goldens["models"][name]
    cfg = record["config"]["pretrained_cfg"]
    directory = _timm_directory(tmp_path / "timm", name, goldens)
    expected = np.asarray(record["logits"])
    # a local directory: no num_classes given, the config's 10
    model = keras_resnet.get_model(name, weights=str(directory), input_shape=(64, 64, 3),
                                   classifier_activation=None)
    assert model.output_shape == (None, 10)
    assert_close(model.predict(_x(), verbose=0), expected, 1e-4, what=f"{name} from a dir")
    checkpoint = resolve(str(directory), name)
    assert checkpoint.normalization.mean == tuple(cfg["mean"])
    assert checkpoint.normalization.std == tuple(cfg["std"])
    assert checkpoint.eval_transform.size == (cfg.get("test_input_size") or cfg["input_size"])[1]
    assert checkpoint.eval_transform.crop_pct == cfg.get("test_crop_pct", cfg["crop_pct"])
    assert checkpoint.label_names == tuple(goldens["label_names"])
    # hf:// from the Hub cache, with the config's normalisation built in: pixels in
    hub = tmp_path / "hub"
    hub.mkdir()
    monkeypatch.setenv("HF_HUB_CACHE", str(hub))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{closed_port()}")
    put_in_hub_cache(hub, f"someone/{name}-pets", {
        f: (directory / f).read_bytes() for f in ("config.json", "model.safetensors")})
    model = keras_resnet.get_model(name, weights=f"hf://someone/{name}-pets",
                                   input_shape=(64, 64, 3), classifier_activation=None,
                                   include_preprocessing=True)
    pixels = (_x() * np.array(cfg["std"]) + np.array(cfg["mean"])) * 255.0
    assert_close(model.predict(pixels.astype("float32"), verbose=0), expected, 1e-4,
                 what=f"{name} from hf://, pixels in")


@pytest.mark.parametrize("name", ["resnet50d", "resnet18"])
def test_save_pretrained_writes_what_timm_writes(name, goldens, tmp_path):
    record = goldens["models"][name]
    timm_config = record["config"]
    directory = _timm_directory(tmp_path / "timm", name, goldens)
    model = keras_resnet.get_model(name, weights=str(directory), input_shape=(64, 64, 3))
    # what the Keras model does not carry: the checkpoint it came from, the licence
    out = save_pretrained(model, str(tmp_path / "ours"), label_names=goldens["label_names"],
                          base_weights=str(directory), license="apache-2.0")
    assert sorted(os.listdir(out)) == ["README.md", "config.json", "model.safetensors"]
    with open(os.path.join(out, "config.json")) as f:
        ours = json.load(f)
    for key in ("architecture", "num_classes", "num_features", "global_pool", "label_names",
                "model_args"):
        assert ours[key] == timm_config[key], key
    theirs, mine = timm_config["pretrained_cfg"], ours["pretrained_cfg"]
    for key in ("mean", "std", "interpolation", "num_classes", "first_conv", "classifier",
                "crop_mode", "custom_load", "fixed_input_size", "license"):
        assert mine[key] == theirs[key], key
    # the evaluation timm would run: its test size and crop, where it has them
    assert mine["input_size"] == theirs.get("test_input_size", theirs["input_size"])
    assert mine["crop_pct"] == theirs.get("test_crop_pct", theirs["crop_pct"])
    state = load_file(os.path.join(out, "model.safetensors"))
    assert [[k, list(v.shape), str(v.dtype)] for k, v in sorted(state.items())] == sorted(
        record["state_dict"])
    seeded = g.random_state_dict(name)
    for key, value in state.items():
        np.testing.assert_array_equal(value, seeded[key], err_msg=key)
    # and back: the directory we wrote loads with the same logits
    again = keras_resnet.get_model(name, weights=out, input_shape=(64, 64, 3),
                                   classifier_activation=None)
    assert_close(again.predict(_x(), verbose=0), np.asarray(record["logits"]), 1e-4)
    card = open(os.path.join(out, "README.md")).read()
    assert "library_name: timm" in card and "license: apache-2.0" in card


def test_timm_loads_what_save_pretrained_writes(tmp_path, rng):
    timm = pytest.importorskip("timm")  # not in CI: the goldens above stand in for it
    torch = pytest.importorskip("torch")
    model = keras_resnet.get_model("resnext50_32x4d", input_shape=(64, 64, 3), num_classes=5,
                                   classifier_activation=None)
    out = save_pretrained(model, str(tmp_path / "r"))
    theirs = timm.create_model(f"local-dir:{out}", pretrained=True).eval()
    x = rng.standard_normal((2, 64, 64, 3)).astype("float32")
    with torch.no_grad():
        logits = theirs(torch.from_numpy(x.transpose(0, 3, 1, 2))).numpy()
    assert_close(logits, model.predict(x, verbose=0), 1e-4)


def test_a_model_timm_lacks_keeps_keras_names(tmp_path, rng):
    model = keras_resnet.get_model("resnet20", num_classes=4, classifier_activation=None)
    out = save_pretrained(model, str(tmp_path / "cifar"), label_names=list("abcd"))
    config = json.load(open(os.path.join(out, "config.json")))
    assert config["architecture"] == "resnet20" and config["keras_resnet"]["layout"] == "keras"
    assert all("/" in k for k in load_file(os.path.join(out, "model.safetensors")))
    assert "timm has no architecture" in open(os.path.join(out, "README.md")).read()
    again = keras_resnet.get_model("resnet20", weights=out, classifier_activation=None)
    x = rng.uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    assert_close(again.predict(x, verbose=0), model.predict(x, verbose=0), 1e-6)
    with pytest.raises(ValueError, match=r"timm has no architecture for resnet20"):
        save_pretrained(model, str(tmp_path / "t"), layout="timm")
    with pytest.raises(ValueError, match=r"timm has no architecture"):
        timm_state_dict(model)


def test_bad_input_is_one_line_and_writes_nothing(tmp_path):
    import keras
    model = keras_resnet.get_model("resnet18", variant="v1.5", input_shape=(32, 32, 3),
                                   num_classes=3)
    (tmp_path / "exists").mkdir()
    with pytest.raises(ValueError, match=r"already exists"):
        save_pretrained(model, str(tmp_path / "exists"))
    with pytest.raises(ValueError, match=r"parent of `directory` does not exist"):
        save_pretrained(model, str(tmp_path / "no" / "such"))
    extra = keras.layers.Dense(2, name="extra_head")(model.output)
    custom = keras.Model(model.input, extra, name="resnet18v1_5")
    with pytest.raises(ValueError, match=r"extra_head.*Custom layers"):
        save_pretrained(custom, str(tmp_path / "custom"))
    with pytest.raises(ValueError, match=r"cannot tell which registered model"):
        save_pretrained(keras.Model(model.input, model.output, name="mine"),
                        str(tmp_path / "mine"))
    assert sorted(os.listdir(tmp_path)) == ["exists"]  # nothing half-written
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    save_file({"a/0": np.zeros(1, "float32")}, str(broken / "model.safetensors"))
    with pytest.raises(ValueError, match=r"Could not read the config file .*config.json"):
        keras_resnet.get_model("resnet18", weights=str(broken))
    (broken / "config.json").write_text(json.dumps({"architecture": "seresnet50"}))
    with pytest.raises(ValueError, match=r"holds a 'seresnet50', not a resnet18: "
                                         r"build get_model\('seresnet50', weights=...\)"):
        keras_resnet.get_model("resnet18", weights=str(broken))
    (broken / "config.json").write_text(json.dumps({"architecture": "vit_base_patch16_224"}))
    with pytest.raises(ValueError, match=r"holds a 'vit_base_patch16_224', not a resnet18: "
                                         r"keras_resnet has no vit_base_patch16_224"):
        keras_resnet.get_model("resnet18", weights=str(broken))


class _FakeApi:
    """huggingface_hub.HfApi's two calls push_to_hub makes, recorded (no network)."""

    calls = []

    def __init__(self, endpoint=None, token=None):
        self.endpoint = endpoint

    def create_repo(self, repo_id, private=False, exist_ok=False, repo_type=None):
        self.calls.append(("create_repo", repo_id, private, exist_ok, self.endpoint))
        return f"{self.endpoint}/{repo_id}"

    def upload_folder(self, repo_id, folder_path, repo_type=None, commit_message=None):
        files = {name: open(os.path.join(folder_path, name), "rb").read()
                 for name in os.listdir(folder_path)}
        self.calls.append(("upload_folder", repo_id, files))


def test_push_to_hub_uploads_the_directory(tmp_path, monkeypatch):
    import huggingface_hub
    endpoint = f"http://127.0.0.1:{closed_port()}"
    monkeypatch.setenv("HF_ENDPOINT", endpoint)
    monkeypatch.setattr(huggingface_hub, "HfApi", _FakeApi)
    _FakeApi.calls = []
    model = keras_resnet.get_model("resnet18", variant="v1.5", input_shape=(32, 32, 3),
                                   num_classes=3)
    url = push_to_hub(model, "me/pets", private=True, label_names=["a", "b", "c"])
    assert url == f"{endpoint}/me/pets"
    (create, repo, private, exist_ok, where), upload = _FakeApi.calls
    assert (create, repo, private, exist_ok, where) == ("create_repo", "me/pets", True, True,
                                                        endpoint)
    assert upload[0] == "upload_folder" and upload[1] == "me/pets"
    files = upload[2]
    assert sorted(files) == ["README.md", "config.json", "model.safetensors"]
    assert json.loads(files["config.json"])["label_names"] == ["a", "b", "c"]
    card = files["README.md"].decode()
    assert "hf://me/pets" in card and "hf-hub:me/pets" in card
    with pytest.raises(ValueError, match=r"`repo_id` must be 'ORG/NAME'"):
        push_to_hub(model, "no-org")


def test_push_a_training_run_from_the_command_line(tmp_path, monkeypatch, capsys, goldens):
    from keras_resnet.cli import main
    from keras_resnet.training import train
    weights = _timm_directory(tmp_path / "timm", "resnet18", goldens)  # fine-tune from timm's
    run = str(tmp_path / "run")
    train("resnet18", "digits", out=run, epochs=1, batch_size=8, steps_per_epoch=1,
          image_size=32, weights=str(weights), verbose=0)
    assert main(["push", run, "me/digits", "--save-to", str(tmp_path / "d")]) == 0
    config = json.load(open(tmp_path / "d" / "config.json"))
    record = json.load(open(os.path.join(run, "run.json")))
    assert config["architecture"] == "resnet18" and config["num_classes"] == 10
    assert config["label_names"] == record["class_names"]
    assert config["pretrained_cfg"]["mean"] == record["mean"]
    assert config["pretrained_cfg"]["input_size"] == [3, 32, 32]
    card = open(tmp_path / "d" / "README.md").read()
    assert "| recipe | finetune |" in card and "| accuracy |" in card
    monkeypatch.setattr("huggingface_hub.HfApi", _FakeApi)
    _FakeApi.calls = []
    assert main(["push", run, "me/digits", "--private"]) == 0
    assert _FakeApi.calls[0][:3] == ("create_repo", "me/digits", True)
    assert main(["push", str(tmp_path), "me/digits"]) == 2  # not a run: one line
    assert "not a `keras-resnet train` run directory" in capsys.readouterr().err


def test_a_missing_onnx_package_is_one_line_naming_the_extra(monkeypatch, tmp_path, capsys):
    from keras_resnet import deploy
    from keras_resnet.cli import main
    monkeypatch.setattr(deploy, "_installed", lambda module: module != "tf2onnx")
    with pytest.raises(ValueError, match=r"needs tf2onnx, not installed: pip install "
                                         r"\"keras-resnet-zoo\[onnx\]\""):
        deploy.check_arguments(str(tmp_path / "m.onnx"), "onnx")
    model_file = tmp_path / "m.keras"
    model_file.write_bytes(b"")
    assert main(["export", str(model_file), str(tmp_path / "m.onnx"), "--format", "onnx"]) == 2
    err = capsys.readouterr().err
    assert "keras-resnet-zoo[onnx]" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
