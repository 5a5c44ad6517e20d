"""`keras-resnet predict --model NAME.TAG` / `keras_resnet.classify.classify`: a pretrained
checkpoint at its evaluation size, with its crop and normalisation, top-5 ImageNet classes."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import put_in_hub_cache
from torch_goldens import random_state_dict

import keras_resnet
from keras_resnet import classify, cli, downloads, imagenet_labels, preprocessing

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def class_index(tmp_path, monkeypatch):
    """A Keras cache holding a class index in keras' format (its md5 patched in)."""
    (tmp_path / "keras" / "models").mkdir(parents=True)
    path = tmp_path / "keras" / "models" / imagenet_labels.CLASS_INDEX.fname
    path.write_text(json.dumps({str(i): [f"n{i:08d}", f"class_{i}"] for i in range(1000)}))
    md5 = downloads._md5(str(path))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setattr(imagenet_labels, "CLASS_INDEX", downloads.RemoteFile(
        imagenet_labels.CLASS_INDEX.fname, "http://127.0.0.1:9/index.json", md5))
    monkeypatch.setattr(imagenet_labels, "_CLASS_INDEX", None)
    return md5


@pytest.fixture
def tv_in1k(tmp_path):
    """Random resnet18 weights in timm's resnet18.tv_in1k layout (a .safetensors file)."""
    from safetensors.numpy import save_file
    path = tmp_path / "model.safetensors"
    save_file(random_state_dict("resnet18", num_classes=1000), str(path))
    return path


@pytest.fixture
def cat(tmp_path, rng):
    from PIL import Image
    path = str(tmp_path / "cat.png")
    Image.fromarray(rng.integers(0, 256, (300, 200, 3), dtype=np.uint8)).save(path)
    return path


def _expected_top5(weights_file, image):
    """What the checkpoint's evaluation does, step by step, with the plain model."""
    model = keras_resnet.ResNet18((224, 224, 3), 1000, weights=str(weights_file),
                                  variant="v1.5")
    x = preprocessing.load_eval_image(image, 224, 0.875, "bilinear")  # tv_in1k's row
    probs = model.predict(keras_resnet.preprocess_input(x[None], "torchvision"), verbose=0)[0]
    best = np.argsort(-probs)[:5]
    return [f"class_{i}" for i in best], probs[best]


def _parse(line, image):
    assert line.startswith(image + ": "), line
    pairs = [item.rsplit(" ", 1) for item in line[len(image) + 2:].split(", ")]
    return [name for name, _ in pairs], np.array([float(p) for _, p in pairs])


def test_predict_pretrained_name(class_index, tv_in1k, cat, monkeypatch, capsys):
    calls = []

    def local_weights(name, **kwargs):  # only the weights source: a local file, not the Hub
        calls.append((name, kwargs))
        model, _ = name.split(".")
        return keras_resnet.get_model(model, weights=str(tv_in1k), variant="v1.5", **kwargs)

    monkeypatch.setattr(classify, "get_model", local_weights)
    capsys.readouterr()
    assert cli.main(["predict", "--model", "resnet18.tv_in1k", cat]) == 0
    names, scores = _parse(capsys.readouterr().out.strip(), cat)
    kwargs = dict(include_preprocessing=True, input_shape=(224, 224, 3))
    assert calls == [("resnet18.tv_in1k", kwargs)]
    expected_names, expected_scores = _expected_top5(tv_in1k, cat)
    assert names == expected_names
    np.testing.assert_allclose(scores, expected_scores, atol=1e-4)
    (path, top), = classify.classify("resnet18.tv_in1k", [cat], top=2)
    assert path == cat and [c[1] for c in top] == expected_names[:2]


def test_pretrained_checkpoint():
    row = classify.pretrained_checkpoint("resnet50.a1_in1k").row
    assert (row.eval_size, row.crop_pct, row.interpolation) == (288, 1.0, "bicubic")
    with pytest.raises(ValueError, match="full name MODEL.TAG"):
        classify.pretrained_checkpoint("resnet50")


@pytest.mark.slow  # a subprocess importing TensorFlow
def test_cli_end_to_end_from_a_local_hugging_face_cache(class_index, tv_in1k, cat, tmp_path):
    # The Hub cache layout huggingface_hub reads offline: refs/main names the snapshot.
    snapshot = put_in_hub_cache(tmp_path / "hub", "timm/resnet18.tv_in1k",
                                {"model.safetensors": tv_in1k.read_bytes()})
    env = {**os.environ, "PYTHONPATH": REPO, "TF_CPP_MIN_LOG_LEVEL": "3",
           "CUDA_VISIBLE_DEVICES": "", "HF_HUB_CACHE": str(tmp_path / "hub"),
           "HF_HUB_OFFLINE": "1", "KERAS_HOME": str(tmp_path / "keras")}
    # The class index is a stand-in too: its md5 is patched in the child process.
    code = ("import sys; from keras_resnet import downloads, imagenet_labels; "
            "imagenet_labels.CLASS_INDEX = downloads.RemoteFile("
            "imagenet_labels.CLASS_INDEX.fname, "
            "'http://127.0.0.1:9/index.json', sys.argv[1]); from keras_resnet import cli; "
            "sys.exit(cli.main(sys.argv[2:]))")
    proc = subprocess.run([sys.executable, "-c", code, class_index, "predict", "--model",
                           "resnet18.tv_in1k", cat], env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    names, scores = _parse(proc.stdout.strip(), cat)
    expected_names, expected_scores = _expected_top5(
        snapshot / "model.safetensors", cat)
    assert names == expected_names
    np.testing.assert_allclose(scores, expected_scores, atol=1e-4)


def test_a_head_without_imagenet_1k_names_is_named_by_index(tmp_path, cat, monkeypatch):
    """An in12k/in21k-style head (11 classes here): no ImageNet-1k names, no class index
    fetched (none is installed here); the classes are their indices."""
    import dataclasses

    from safetensors.numpy import save_file

    from keras_resnet import pretrained
    base = pretrained.find_pretrained("resnet18", "tv_in1k")
    row = dataclasses.replace(base, tag="fake_in21k", num_classes=11, top1=None, top5=None,
                              eval_size=64, hub_repo="timm/resnet18.fake_in21k")
    monkeypatch.setattr(pretrained, "PRETRAINED", pretrained.PRETRAINED + [row])
    monkeypatch.setattr(imagenet_labels, "_class_index", None)  # any use of it fails
    save_file(random_state_dict("resnet18", num_classes=11), str(tmp_path / "w.safetensors"))

    def local_weights(name, **kwargs):  # the Hub file, from a local path
        return keras_resnet.get_model("resnet18", weights=str(tmp_path / "w.safetensors"),
                                      variant="v1.5", num_classes=11, **kwargs)

    monkeypatch.setattr(classify, "get_model", local_weights)
    (path, top), = classify.classify("resnet18.fake_in21k", [cat], top=11)
    assert [wnid for wnid, _, _ in top] == [""] * 11
    assert sorted(name for _, name, _ in top) == sorted(f"#{i}" for i in range(11))
    probs = [p for _, _, p in top]
    assert probs == sorted(probs, reverse=True) and abs(sum(probs) - 1) < 1e-5
    with pytest.raises(ValueError, match=r"`top` must be an integer in \[1, 11\]"):
        classify.classify("resnet18.fake_in21k", [cat], top=12)


def test_a_headless_checkpoint_cannot_classify(cat):
    with pytest.raises(ValueError, match=r"resnet50\.bamboo has no classifier"):
        classify.classify("resnet50.bamboo", [cat])
