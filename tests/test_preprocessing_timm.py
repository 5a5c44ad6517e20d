"""Our evaluation transform is timm's: `load_eval_image` against timm's `create_transform`
(PIL) on scikit-learn's two sample photos (real 640x427 JPEGs that ship with it), bilinear
and bicubic at crop_pct 0.875 and 1.0, and resnet50.a1_in1k's cfg at its test size.

timm is not needed: its outputs were recorded by
`scripts/make_torch_goldens.py --eval-transform` into tests/goldens/timm_eval_transform.npz
(patches and block means of each output). The bound is PIL's uint8 rounding: PIL rounds
the output (and its intermediate pass) to integers, we keep float32."""

import hashlib
import json
import os

import numpy as np
import pytest

from keras_resnet.classify import pretrained_checkpoint
from keras_resnet.preprocessing import load_eval_image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GOLDEN = os.path.join(ROOT, "tests", "goldens", "timm_eval_transform.npz")


def _summary(image):
    # The recorder's function, imported without timm or torch.
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        "summary", os.path.join(ROOT, "scripts", "make_torch_goldens.py"))
    source = open(spec.origin).read()
    start = source.index("PATCH, BLOCK =")
    end = source.index("def _sample_photo_dir")
    namespace = {"np": np}
    exec(source[start:end], namespace)
    return namespace["eval_transform_summary"](image)


@pytest.fixture(scope="module")
def golden():
    return np.load(GOLDEN)


@pytest.fixture(scope="module")
def photos(golden):
    import sklearn
    directory = os.path.join(os.path.dirname(sklearn.__file__), "datasets", "images")
    paths = {}
    for name in ("china.jpg", "flower.jpg"):
        path = os.path.join(directory, name)
        with open(path, "rb") as f:
            if hashlib.md5(f.read()).hexdigest() != str(golden[f"{name}/md5"]):
                pytest.skip(f"scikit-learn's {name} is not the file the golden was made from")
        paths[name] = path
    return paths


CASES = [(224, 0.875, "bilinear", "resnet50.tv_in1k"), (224, 1.0, "bilinear", ""),
         (224, 0.875, "bicubic", "resnet50.gluon_in1k"), (224, 1.0, "bicubic", ""),
         (288, 1.0, "bicubic", "resnet50.a1_in1k")]


def test_the_cases_are_the_recorded_ones(golden):
    assert [tuple(c) for c in json.loads(str(golden["cases"]))] == CASES


@pytest.mark.parametrize("photo", ["china.jpg", "flower.jpg"])
@pytest.mark.parametrize("size,crop_pct,interpolation,name", CASES)
def test_eval_transform_matches_timm(photo, size, crop_pct, interpolation, name, golden,
                                     photos):
    if name:  # the checkpoint's transform, as our resolver says it
        t = pretrained_checkpoint(name).eval_transform
        assert (t.size, t.crop_pct, t.interpolation) == (size, crop_pct, interpolation)
    ours = _summary(load_eval_image(photos[photo], size, crop_pct, interpolation))
    key = f"{photo}/{size}/{crop_pct}/{interpolation}"
    # Pixels: PIL's uint8 rounding (of its output and of its intermediate pass) gives a
    # mean of 0.24-0.30 levels, at most 2.6 (bicubic overshoot); TensorFlow's default
    # (fast) JPEG decoder alone gave a mean of 1.6 and up to 8.
    for part in ("center", "corner"):
        diff = np.abs(ours[part] - golden[f"{key}/{part}"].astype(np.float64))
        assert diff.mean() < 0.35 and diff.max() <= 3, (part, diff.mean(), diff.max())
    blocks = np.abs(ours["blocks"] - golden[f"{key}/blocks"])  # geometry: no shift, no blur
    assert blocks.max() < 0.2, blocks.max()
    np.testing.assert_allclose(ours["mean"], golden[f"{key}/mean"], atol=0.05)
