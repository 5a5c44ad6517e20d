"""`keras_resnet.pretrained.resolve`: the one answer to "what do these weights mean".

Every consumer asks it: the builders (which file loads, which normalisation is built
in), `preprocess_input`, the eval crop of `predict` / `evaluate` / `train`, and
`train`'s data normalisation. These tests hold them to one vocabulary and one rule.
"""

import numpy as np
import pytest
from conftest import put_in_hub_cache
from safetensors.numpy import save_file

import keras_resnet
import torch_goldens as g
from keras_resnet import preprocessing
from keras_resnet.models import build_resnet
from keras_resnet.pretrained import IMAGENET_MEAN_STD, NO_WEIGHTS, find_pretrained, resolve
from keras_resnet.registry import model_info
from keras_resnet.training import run as training_run
from keras_resnet.training.settings import _split_full_name

# A checkpoint whose preprocessing differs from a plain file's in both respects:
# mean/std 0.5 (not ImageNet's), crop 1.0 bicubic (not 0.875 bilinear).
MODEL, TAG = "resnet34", "ra4_e3600_r224_in1k"
ROW = find_pretrained(MODEL, TAG)


def test_the_chosen_row_is_distinguishable_from_a_file():
    assert ROW.mean == (0.5, 0.5, 0.5) and (ROW.crop_pct, ROW.interpolation) == (1.0, "bicubic")
    assert IMAGENET_MEAN_STD.mean != ROW.mean


@pytest.fixture
def tag_and_file(tmp_path, monkeypatch):
    """The Hub cache holds the tag's weights; the working directory holds a different
    weights file whose name spells the same tag."""
    hub = tmp_path / "hub"
    hub.mkdir()
    monkeypatch.setenv("HF_HUB_CACHE", str(hub))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    state = g.random_state_dict(MODEL, 1000)
    save_file(state, str(tmp_path / "hub.safetensors"))
    put_in_hub_cache(hub, ROW.hub_repo, {"model.safetensors":
                                         (tmp_path / "hub.safetensors").read_bytes()})
    work = tmp_path / "work"
    work.mkdir()
    save_file({k: np.asarray(2 * v + 1, v.dtype) for k, v in state.items()}, str(work / TAG))
    monkeypatch.chdir(work)
    return state


def _conv1(model):
    return model.get_layer("conv1_conv").get_weights()[0]


def test_a_name_that_spells_a_tag_is_the_tag_for_every_consumer(tag_and_file):
    kernel = np.transpose(tag_and_file["conv1.weight"], (2, 3, 1, 0))
    checkpoint = resolve(TAG, MODEL)
    assert (checkpoint.kind, checkpoint.row) == ("tag", ROW)
    # loaded weights and in-model normalisation: the Hub checkpoint's, not the file's
    model = keras_resnet.ResNet34((32, 32, 3), weights=TAG, include_preprocessing=True)
    np.testing.assert_array_equal(_conv1(model), kernel)
    norm = model.get_layer("preprocessing_normalization")
    np.testing.assert_allclose(np.ravel(norm.mean), ROW.mean)
    np.testing.assert_allclose(np.ravel(norm.variance), np.square(ROW.std))
    # preprocess_input
    x = np.full((1, 2, 2, 3), 51.0, np.float32)
    np.testing.assert_allclose(keras_resnet.preprocess_input(x, TAG, model=MODEL),
                               (x / 255 - 0.5) / 0.5, rtol=1e-6)
    # the eval crop of predict / evaluate / train (training.run.eval_crop is theirs)
    assert training_run.eval_crop(MODEL, TAG) == {"crop_pct": 1.0, "interpolation": "bicubic"}
    # train: the data's normalisation, and the settings keep the tag
    dataset = type("Data", (), {"mean": None, "std": None})()
    assert training_run.use_checkpoint_normalization(dataset, MODEL, TAG) is False
    assert (dataset.mean, dataset.std) == (ROW.mean, ROW.std)
    assert _split_full_name(MODEL, TAG) == (MODEL, TAG)
    assert _split_full_name(None, f"{MODEL}.{TAG}") == (MODEL, TAG)


def test_the_same_name_as_a_path_is_the_file_for_every_consumer(tag_and_file):
    path = f"./{TAG}"
    checkpoint = resolve(path, MODEL)
    assert (checkpoint.kind, checkpoint.path, checkpoint.row) == ("file", path, None)
    # loading reads that file (a file without a suffix has no known format)
    with pytest.raises(ValueError, match=r"`weights` file '\./ra4_e3600_r224_in1k' has an "
                                         "unknown format"):
        keras_resnet.ResNet34((32, 32, 3), weights=path, variant="v1.5")
    model = build_resnet(model_info(MODEL).spec, (32, 32, 3), include_preprocessing=True,
                         variant="v1.5", preprocessing=path, registry_name=MODEL)
    norm = model.get_layer("preprocessing_normalization")
    np.testing.assert_allclose(np.ravel(norm.mean), IMAGENET_MEAN_STD.mean)
    x = np.full((1, 2, 2, 3), 51.0, np.float32)
    np.testing.assert_allclose(keras_resnet.preprocess_input(x, path, model=MODEL),
                               keras_resnet.preprocess_input(x, "torchvision"), rtol=1e-6)
    assert training_run.eval_crop(MODEL, path) == {"crop_pct": 0.875,
                                                   "interpolation": "bilinear"}
    dataset = type("Data", (), {"mean": "own", "std": "own"})()
    assert training_run.use_checkpoint_normalization(dataset, MODEL, path) is False
    assert (dataset.mean, dataset.std) == ("own", "own")  # the data keeps its statistics


def test_one_vocabulary_sources_name_a_default_checkpoint():
    # "timm" is timm's default (first) tag, "torchvision" torchvision's DEFAULT.
    assert resolve("timm", "resnet50").row.name == "resnet50.a1_in1k"
    assert resolve("torchvision", "resnet50").row.name == "resnet50.tv2_in1k"
    assert resolve("torchvision", "resnet18").row.name == "resnet18.tv_in1k"
    assert resolve("imagenet", "resnet50v2").normalization.mode == "tf"
    # without a model, a source names its preprocessing only
    assert resolve("timm").kind == resolve("torchvision").kind == "convention"
    assert resolve("timm").normalization == IMAGENET_MEAN_STD
    assert preprocessing.preprocessing_mode("timm") == "torch"
    with pytest.raises(ValueError, match="resnet200 has no torchvision checkpoint"):
        resolve("torchvision", "resnet200")
    with pytest.raises(ValueError, match="custom architecture has none"):
        keras_resnet.ResNet((1, 1), weights="timm")


def test_the_builders_take_the_same_vocabulary_as_preprocess_input(tmp_path, monkeypatch):
    """`ResNet18(weights="torchvision")` loads what `preprocess_input("torchvision")`
    normalises for (it once raised while preprocess_input accepted it)."""
    hub = tmp_path / "hub"
    hub.mkdir()
    monkeypatch.setenv("HF_HUB_CACHE", str(hub))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    state = g.random_state_dict("resnet18", 1000)
    save_file(state, str(tmp_path / "w.safetensors"))
    put_in_hub_cache(hub, "timm/resnet18.tv_in1k",
                     {"model.safetensors": (tmp_path / "w.safetensors").read_bytes()})
    model = keras_resnet.ResNet18((32, 32, 3), weights="torchvision")
    np.testing.assert_array_equal(_conv1(model),
                                  np.transpose(state["conv1.weight"], (2, 3, 1, 0)))
    assert model.name == "resnet18v1_5"


def test_one_hf_grammar():
    assert resolve("hf://timm/resnet50.a1_in1k", "resnet50").row.name == "resnet50.a1_in1k"
    off_table = resolve("hf://me/pets", "resnet50")
    assert (off_table.kind, off_table.repo, off_table.variant) == ("hub", "me/pets", "v1.5")
    assert off_table.normalization == IMAGENET_MEAN_STD
    for bad in ("hf://timm", "hf://timm/resnet50.a1_in1k@main", "hf://a/b/c", "hf://"):
        with pytest.raises(ValueError, match="'hf://ORG/REPO'"):
            resolve(bad, "resnet50")
        with pytest.raises(ValueError, match="'hf://ORG/REPO'"):
            keras_resnet.preprocess_input(np.zeros((1, 2, 2, 3)), bad)
        with pytest.raises(ValueError, match="'hf://ORG/REPO'"):
            training_run.eval_crop("resnet50", bad)


def test_a_checkpoint_carries_everything_a_consumer_needs():
    c = resolve("resnet50.a1_in1k")
    assert (c.kind, c.model, c.variant, c.repo, c.filename) == (
        "tag", "resnet50", "v1.5", "timm/resnet50.a1_in1k", "model.safetensors")
    assert (c.eval_transform.size, c.eval_transform.crop_pct,
            c.eval_transform.interpolation) == (288, 1.0, "bicubic")
    assert resolve(None) is NO_WEIGHTS and not NO_WEIGHTS.has_file
    with pytest.raises(ValueError, match="is a checkpoint of resnet50, not of model='resnet18'"):
        resolve("resnet50.a1_in1k", "resnet18")
    with pytest.raises(ValueError, match="pass the tag with `model=`"):
        resolve("a1_in1k")
