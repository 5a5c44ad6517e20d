"""`keras-resnet evaluate --model NAME.TAG --data folder:DIR`: a pretrained checkpoint on an
ImageNet validation copy, classes matched by synset name, at the checkpoint's transform.

The checkpoint is random resnet18 weights in a local Hugging Face cache; the folder a few
synsets of small JPEGs made here. No network."""

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from conftest import closed_port, put_in_hub_cache
from safetensors.numpy import save_file
from torch_goldens import random_state_dict

import keras_resnet
from keras_resnet import cli, preprocessing
from keras_resnet.data.imagenet_val import index_validation, stratified_subset
from keras_resnet.imagenet_eval import evaluate_checkpoint
from keras_resnet.imagenet_labels import IMAGENET_SYNSETS, synset_index

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
S = IMAGENET_SYNSETS
# Images per synset folder: classes 3, 500 and 999, and an empty folder (class 7).
COUNTS = {S[3]: 2, S[500]: 3, S[999]: 1, S[7]: 0}
# The biased head's ranking: 500 first, then 3, then three classes without images.
RANKING = [500, 3, 10, 20, 30]


@pytest.fixture
def hub_cache(tmp_path, monkeypatch):
    root = tmp_path / "hub"
    root.mkdir()
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    monkeypatch.setenv("HF_HUB_CACHE", str(root))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{closed_port()}")
    return root


def _weights(tmp_path, biased=False, num_classes=1000):
    state = random_state_dict("resnet18", num_classes=num_classes)
    if biased:  # the bias decides the ranking: images of class k score as class k or not
        state["fc.weight"] = state["fc.weight"] * 1e-3
        state["fc.bias"] = np.zeros(num_classes)
        for rank, k in enumerate(RANKING):
            state["fc.bias"][k] = 50.0 - 10 * rank
    path = tmp_path / f"w{int(biased)}{num_classes}.safetensors"
    save_file(state, str(path))
    return path


def _jpeg(path, rng, shape):
    from PIL import Image
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(str(path), quality=90)


@pytest.fixture
def imagenet(tmp_path, rng):
    """A partial ImageNet copy in synset folders (one empty), images of assorted sizes."""
    root = tmp_path / "imagenet_val"
    n = 0
    for synset, count in COUNTS.items():
        (root / synset).mkdir(parents=True)
        for _ in range(count):
            n += 1
            _jpeg(root / synset / f"ILSVRC2012_val_{n:08d}.JPEG", rng,
                  (60 + 7 * n, 90 - 5 * n))
    return root


def _labels_of(paths):
    return [synset_index()[os.path.basename(os.path.dirname(p))] for p in paths]


def test_a_keras_applications_row_is_its_imagenet_file():
    from keras_resnet.imagenet_eval import checkpoint_to_evaluate
    checkpoint = checkpoint_to_evaluate("resnet50.imagenet")
    assert checkpoint.kind == "imagenet" and checkpoint.repo is None  # not a Hub repo
    assert (checkpoint.row.top1, checkpoint.eval_transform.size) == (74.9, 224)


def test_synsets_are_imagenet_class_order():
    assert len(S) == 1000 == len(set(S)) and list(S) == sorted(S)
    assert (S[0], S[1], S[999]) == ("n01440764", "n01443537", "n15075141")  # tench .. toilet
    assert S[281] == "n02123045"  # keras' class index: 281 is tabby


def test_classes_mapped_by_synset_name_not_position(imagenet, hub_cache, tmp_path, capsys):
    put_in_hub_cache(hub_cache, "timm/resnet18.tv_in1k",
                     {"model.safetensors": _weights(tmp_path, biased=True).read_bytes()})
    assert cli.main(["evaluate", "--model", "resnet18.tv_in1k", "--data",
                     f"folder:{imagenet}"]) == 0
    out = capsys.readouterr().out
    # 3 of the 6 images are of class 500 (top-1), 5 of 6 of classes 500 or 3 (top-5).
    assert re.search(r"top-1 +50\.000% +published +69\.752% +difference -19\.752", out), out
    assert re.search(r"top-5 +83\.333% +published +89\.082% +difference -5\.749", out), out
    assert "6 images of 3 classes (synset folders); 224 px, crop_pct 0.875, bilinear" in out


def test_predictions_are_the_models_on_the_checkpoints_transform(imagenet, hub_cache,
                                                                 tmp_path):
    weights = _weights(tmp_path)
    put_in_hub_cache(hub_cache, "timm/resnet18.tv_in1k",
                     {"model.safetensors": weights.read_bytes()})
    result = evaluate_checkpoint("resnet18.tv_in1k", f"folder:{imagenet}", image_size=64,
                                 crop_pct=0.9, verbose=0)
    assert (result["image_size"], result["crop_pct"], result["interpolation"]) == (
        64, 0.9, "bilinear")
    assert result["labels"].tolist() == _labels_of(result["paths"])
    model = keras_resnet.ResNet18((64, 64, 3), 1000, weights=str(weights), variant="v1.5")
    x = np.stack([preprocessing.load_eval_image(p, 64, 0.9, "bilinear")
                  for p in result["paths"]])
    probs = model.predict(keras_resnet.preprocess_input(x, "torchvision"), verbose=0)
    best = np.argsort(-probs, axis=1)[:, :5]
    np.testing.assert_array_equal(result["top5_classes"], best)
    np.testing.assert_allclose(result["top5_probabilities"],
                               np.take_along_axis(probs, best, axis=1), atol=1e-5)
    labels = result["labels"]
    assert result["top1"] == pytest.approx(100 * np.mean(best[:, 0] == labels))


def test_classes_that_are_not_the_checkpoints_fail_before_any_image(hub_cache, tmp_path,
                                                                    rng, capsys):
    pets = tmp_path / "pets"
    for name in ("cat", "dog"):
        _jpeg(pets / name / "a.jpg", rng, (40, 40))
    assert cli.main(["evaluate", "--model", "resnet18.tv_in1k", "--data",
                     f"folder:{pets}"]) == 2
    err = capsys.readouterr().err
    assert "2 class folder(s) that are not ImageNet-1k synsets ('cat', 'dog')" in err
    assert len(err.strip().splitlines()) == 1

    imagenet = tmp_path / "val"
    _jpeg(imagenet / S[0] / "a.jpg", rng, (40, 40))
    for repo, classes, what in (("someone/in21k", 21843, "an ImageNet-12k/21k/22k head"),
                                ("someone/pets", 10, "a fine-tune to other classes")):
        put_in_hub_cache(hub_cache, repo, {"config.json": json.dumps(
            {"architecture": "resnet18", "num_classes": classes}).encode()})
        assert cli.main(["evaluate", "--model", "resnet18", "--weights", f"hf://{repo}",
                         "--data", f"folder:{imagenet}"]) == 2
        err = capsys.readouterr().err
        assert f"has a {classes}-class classifier ({what}), not ImageNet-1k's 1000" in err
    # A weights file is read for its classifier: 10 classes, before any model is built.
    file = _weights(tmp_path, num_classes=10)
    assert cli.main(["evaluate", "--model", "resnet18", "--weights", str(file),
                     "--data", f"folder:{imagenet}"]) == 2
    assert "has a 10-class classifier" in capsys.readouterr().err


def test_flat_folder_with_a_labels_file(tmp_path, rng):
    flat = tmp_path / "ILSVRC" / "val"
    for i in range(1, 5):
        _jpeg(flat / f"ILSVRC2012_val_{i:08d}.JPEG", rng, (20, 20))
    _jpeg(flat / "stray.jpg", rng, (20, 20))  # not listed: left out
    (tmp_path / "ILSVRC" / "LOC_val_solution.csv").write_text(
        "ImageId,PredictionString\n"
        f"ILSVRC2012_val_00000001,{S[65]} 1 2 3 4 {S[65]} 5 6 7 8\n"
        f"ILSVRC2012_val_00000002,{S[970]} 1 2 3 4\n"
        f"ILSVRC2012_val_00000003,{S[0]} 1 2 3 4\n"
        f"ILSVRC2012_val_00000004,{S[65]} 1 2 3 4\n"
        f"ILSVRC2012_val_00000009,{S[1]} 1 2 3 4\n")  # not in the copy: fine
    images = index_validation(str(flat), S)  # found in DIR's parent
    assert [os.path.basename(p) for p in images.paths] == [
        f"ILSVRC2012_val_{i:08d}.JPEG" for i in range(1, 5)]
    assert images.labels.tolist() == [65, 970, 0, 65]
    assert images.layout == "LOC_val_solution.csv"
    val_txt = tmp_path / "val.txt"  # caffe's form: class indices; synsets also taken
    val_txt.write_text("ILSVRC2012_val_00000001.JPEG 65\nILSVRC2012_val_00000002.JPEG 970\n"
                       f"ILSVRC2012_val_00000004.JPEG {S[12]}\n\n")
    images = index_validation(str(flat), S, str(val_txt))
    assert images.labels.tolist() == [65, 970, 12] and images.layout == "val.txt"
    val_txt.write_text("ILSVRC2012_val_00000001.JPEG 1000\n")
    with pytest.raises(ValueError, match=r"line 1: the label of 'ILSVRC2012_val_00000001.JPEG'"
                                         r" must be an ImageNet-1k synset"):
        index_validation(str(flat), S, str(val_txt))
    _jpeg(tmp_path / "other" / "flat" / "a.jpg", rng, (20, 20))
    with pytest.raises(ValueError, match="neither synset folders .* nor a labels file"):
        index_validation(str(tmp_path / "other" / "flat"), S)


def test_train_val_layout_and_empty_folders(imagenet):
    images = index_validation(str(imagenet), S)
    assert images.labels.tolist() == _labels_of(images.paths) == [3, 3, 500, 500, 500, 999]
    assert images.num_classes == 3
    os.rename(imagenet, imagenet.parent / "val")
    (imagenet.parent / "train").mkdir()
    assert index_validation(str(imagenet.parent), S).paths == [
        p.replace(str(imagenet), str(imagenet.parent / "val")) for p in images.paths]


def test_stratified_subset():
    labels = np.repeat(np.arange(10), [50] * 5 + [3] * 5)
    picked = stratified_subset(labels, 25)
    counts = np.bincount(labels[picked], minlength=10)
    assert counts.sum() == 25 and counts.max() - counts.min() <= 1
    big = stratified_subset(labels, 100)  # the small classes give all they have
    assert np.bincount(labels[big], minlength=10)[5:].tolist() == [3] * 5
    assert np.array_equal(stratified_subset(labels, 25), picked)  # fixed seed
    assert len(stratified_subset(labels, 10_000)) == len(labels)


def test_limit_and_bad_arguments(imagenet, hub_cache, tmp_path, capsys):
    put_in_hub_cache(hub_cache, "timm/resnet18.tv_in1k",
                     {"model.safetensors": _weights(tmp_path, biased=True).read_bytes()})
    assert cli.main(["evaluate", "--model", "resnet18.tv_in1k", "--data",
                     f"folder:{imagenet}", "--limit", "3", "--image-size", "32"]) == 0
    captured = capsys.readouterr()
    assert "3 images of 3 classes, a stratified subset of the 6" in captured.out
    assert "3/3 images" in captured.err and "img/s" in captured.err  # the progress bar
    for argv, message in (
            (["--limit", "0"], "`limit` must be a positive integer"),
            (["--crop-pct", "1.5"], "`crop_pct` must be a number in (0, 1]"),
            (["--confusion", "x.png"], "--confusion goes with --model-file")):
        assert cli.main(["evaluate", "--model", "resnet18.tv_in1k", "--data",
                         f"folder:{imagenet}", *argv]) == 2
        assert message in capsys.readouterr().err
    assert cli.main(["evaluate", "--model-file", "m.keras", "--data", "digits",
                     "--limit", "3"]) == 2
    assert "--limit goes with --model NAME.TAG" in capsys.readouterr().err


@pytest.mark.slow  # a subprocess per backend, importing TensorFlow and the backend
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_other_backends(backend, imagenet, tmp_path):
    import importlib.util
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed")
    put_in_hub_cache(tmp_path / "hub", "timm/resnet18.tv_in1k",
                     {"model.safetensors": _weights(tmp_path, biased=True).read_bytes()})
    env = {**os.environ, "KERAS_BACKEND": backend, "PYTHONPATH": REPO,
           "HF_HUB_CACHE": str(tmp_path / "hub"), "HF_HUB_OFFLINE": "1",
           "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run([sys.executable, "-m", "keras_resnet", "evaluate", "--model",
                           "resnet18.tv_in1k", "--data", f"folder:{imagenet}",
                           "--image-size", "64"], env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert re.search(r"top-1 +50\.000%", proc.stdout), proc.stdout
    assert re.search(r"top-5 +83\.333%", proc.stdout), proc.stdout
