"""Record torchvision's logits for the seeded random weights of tests/torch_goldens.py,
and timm's pretrained configs for the pretrained table.

Run once by a developer, in an environment with torch and torchvision (keras is
not needed), from the repository root:

    python3 -m venv /tmp/torchvenv
    /tmp/torchvenv/bin/pip install torch==2.14.1 torchvision==0.29.1 timm numpy
    /tmp/torchvenv/bin/python scripts/make_torch_goldens.py
    /tmp/torchvenv/bin/python scripts/make_torch_goldens.py --pretrained-cfgs

It writes tests/goldens/torchvision_logits.npz (a few KB): for each model of
`torch_goldens.DEPTHS` (resnet18..152, ResNeXt and Wide ResNet from torchvision,
ResNet-D from timm), the float64 logits of the peer's model for the fixed input,
plus fingerprints of the weights and input (so the tests notice when numpy
draws other numbers) and the versions used. tests/test_torch_goldens.py
regenerates the same weights with numpy, loads them through the .safetensors
path and compares.

With `--pretrained-cfgs` it writes tests/goldens/timm_pretrained_cfgs.json
instead (and leaves the .npz alone): for every timm row of
`keras_resnet.pretrained.PRETRAINED`, timm's own pretrained cfg of that name
(hf_hub_id, input_size, test_input_size, crop_pct, test_crop_pct,
interpolation, mean, std, num_classes, license; "known": false where timm has
no such tag), and for every registered model name timm also defines, all the
ImageNet-1k tags timm hosts for it (`*_in1k` with an hf_hub_id), so that
tests/test_pretrained_table.py can check the table against timm without
torch. It reads timm's registry only: no network, no weights downloaded.

With `--eval-transform [--sample-images DIR]` it writes tests/goldens/timm_eval_transform.npz
(a few tens of KB): timm's evaluation transform (`create_transform` with the checkpoint's
`resolve_data_config`, PIL) on scikit-learn's two sample photos, bilinear and bicubic at
crop_pct 0.875 and 1.0 and resnet50.a1_in1k's cfg at 288, kept as patches and block
means (`eval_transform_summary`); tests/test_preprocessing_timm.py compares
`keras_resnet.preprocessing.load_eval_image` with them:

    /work/torchvenv/bin/python scripts/make_torch_goldens.py --eval-transform \
        --sample-images .venv/lib/python3.11/site-packages/sklearn/datasets/images
"""

import argparse
import json
import os
import sys

import numpy as np
import timm
import torch
import torchvision

_REPO_ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, os.path.join(_REPO_ROOT, "tests"))
import torch_goldens as g  # noqa: E402

TIMM_CFGS_PATH = os.path.join(os.path.dirname(g.GOLDENS_PATH), "timm_pretrained_cfgs.json")
CFG_FIELDS = ("hf_hub_id", "input_size", "test_input_size", "crop_pct", "test_crop_pct",
              "interpolation", "mean", "std", "num_classes", "license")


def main() -> None:
    torch.manual_seed(0)
    x = torch.from_numpy(g.random_input()).double()
    out = {"torch_version": np.array(torch.__version__),
           "torchvision_version": np.array(torchvision.__version__),
           "timm_version": np.array(timm.__version__),
           "numpy_version": np.array(np.__version__),
           "input_fingerprint": g.fingerprint([g.random_input()])}
    for name, (*_, library) in g.DEPTHS.items():
        if library == "timm":
            model = timm.create_model(name, pretrained=False, num_classes=g.NUM_CLASSES)
        else:
            model = getattr(torchvision.models, name)(weights=None, num_classes=g.NUM_CLASSES)
        state = g.random_state_dict(name)
        expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
        ours = {k: tuple(v.shape) for k, v in state.items()}
        assert ours == expected, f"{name}: generated keys/shapes differ from torchvision's"
        model.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in state.items()},
                              strict=True)
        model = model.double().eval()
        with torch.no_grad():
            logits = model(x).numpy()
        print(f"{name}: logits in [{logits.min():.3f}, {logits.max():.3f}]")
        out[f"{name}_logits"] = logits
        out[f"{name}_fingerprint"] = g.fingerprint(state.values())
    os.makedirs(os.path.dirname(g.GOLDENS_PATH), exist_ok=True)
    np.savez_compressed(g.GOLDENS_PATH, **out)
    print(f"wrote {g.GOLDENS_PATH} ({os.path.getsize(g.GOLDENS_PATH)} bytes)")


def _jsonable(value):
    return list(value) if isinstance(value, tuple) else value


def _is_in1k(tag: str, cfg) -> bool:
    return tag.endswith("_in1k") and bool(cfg.hf_hub_id)


def pretrained_cfgs() -> None:
    """Write TIMM_CFGS_PATH: timm's cfg of every timm row of the pretrained table."""
    # keras_resnet's registry and pretrained modules import no framework, so this
    # works where keras is not installed.
    sys.path.insert(0, _REPO_ROOT)
    from keras_resnet.pretrained import PRETRAINED
    from keras_resnet.registry import list_models

    cfgs = {}
    for row in PRETRAINED:
        if row.source != "timm":
            continue
        try:
            cfg = timm.models.get_pretrained_cfg(row.name, allow_unregistered=False)
        except RuntimeError:  # an unknown architecture, or a tag timm does not have
            cfg = None
        record = {"known": cfg is not None}
        record.update({field: _jsonable(getattr(cfg, field)) if cfg is not None else None
                       for field in CFG_FIELDS})
        cfgs[row.name] = record
    timm_names = set(timm.list_models())
    in1k_tags, other_tags = {}, {}
    for name in list_models():
        if name not in timm_names:
            continue
        arch_cfgs = timm.models.get_arch_pretrained_cfgs(name)
        tags = {full.split(".", 1)[1]: cfg for full, cfg in arch_cfgs.items()}
        in1k_tags[name] = sorted(t for t, cfg in tags.items() if _is_in1k(t, cfg))
        other_tags[name] = sorted(t for t, cfg in tags.items() if not _is_in1k(t, cfg))
    out = {"timm_version": timm.__version__,
           "cfgs": cfgs,
           "in1k_tags": in1k_tags,
           "other_tags": other_tags,
           "registered_not_in_timm": [n for n in list_models() if n not in timm_names]}
    with open(TIMM_CFGS_PATH, "w") as f:
        json.dump(out, f, sort_keys=True, indent=1)
        f.write("\n")
    unknown = [name for name, record in cfgs.items() if not record["known"]]
    print(f"wrote {TIMM_CFGS_PATH}: {len(cfgs)} table rows ({len(unknown)} unknown to timm"
          f"{': ' + ', '.join(unknown) if unknown else ''}), IN-1k tags of {len(in1k_tags)} "
          f"architectures, timm {timm.__version__}")


EVAL_TRANSFORM_PATH = os.path.join(os.path.dirname(g.GOLDENS_PATH), "timm_eval_transform.npz")
# (size, crop_pct, interpolation, the checkpoint whose cfg it is or ""): both interpolations
# at two crop_pcts, and resnet50.a1_in1k's cfg at its test size.
EVAL_CASES = [(224, 0.875, "bilinear", "resnet50.tv_in1k"), (224, 1.0, "bilinear", ""),
              (224, 0.875, "bicubic", "resnet50.gluon_in1k"), (224, 1.0, "bicubic", ""),
              (288, 1.0, "bicubic", "resnet50.a1_in1k")]
SAMPLE_PHOTOS = ("china.jpg", "flower.jpg")
PATCH, BLOCK = 24, 16


def eval_transform_summary(image: np.ndarray) -> dict:
    """What the golden keeps of an evaluation output (HxWx3, [0, 255]): its center and
    top-left PATCH x PATCH pixels, its BLOCK x BLOCK block means and channel means."""
    image = np.asarray(image, np.float64)
    h, w, _ = image.shape
    top, left = (h - PATCH) // 2, (w - PATCH) // 2
    blocks = image[:h // BLOCK * BLOCK, :w // BLOCK * BLOCK].reshape(
        h // BLOCK, BLOCK, w // BLOCK, BLOCK, 3).mean(axis=(1, 3))
    return {"center": image[top:top + PATCH, left:left + PATCH],
            "corner": image[:PATCH, :PATCH], "blocks": blocks, "mean": image.mean(axis=(0, 1))}


def _sample_photo_dir(given):
    if given:
        return given
    try:
        import sklearn
    except ImportError:
        sys.exit("--eval-transform reads scikit-learn's sample photos: pass --sample-images "
                 "DIR (sklearn/datasets/images of an environment with scikit-learn)")
    return os.path.join(os.path.dirname(sklearn.__file__), "datasets", "images")


def eval_transform_goldens(sample_images=None) -> None:
    """Write EVAL_TRANSFORM_PATH: timm's evaluation transform (create_transform with
    resolve_data_config's settings, PIL) on scikit-learn's two sample photos for every
    case of EVAL_CASES, summarised by `eval_transform_summary` (uint8 patches, float32
    block and channel means); the photos' md5s so the test knows the files are the same."""
    import hashlib

    from PIL import Image
    from timm.data import create_transform, resolve_data_config

    directory = _sample_photo_dir(sample_images)
    out = {"timm_version": np.array(timm.__version__),
           "pil_version": np.array(Image.__version__),
           "cases": np.array(json.dumps(EVAL_CASES))}
    for photo in SAMPLE_PHOTOS:
        path = os.path.join(directory, photo)
        with open(path, "rb") as f:
            out[f"{photo}/md5"] = np.array(hashlib.md5(f.read()).hexdigest())
        for size, crop_pct, interpolation, name in EVAL_CASES:
            args = {"input_size": (3, size, size), "crop_pct": crop_pct,
                    "interpolation": interpolation}
            if name:  # the checkpoint's own cfg, at its test size
                cfg = timm.models.get_pretrained_cfg(name).to_dict()
                config = resolve_data_config(pretrained_cfg=cfg, use_test_size=True)
                assert {k: config[k] for k in args} == args, (name, config)
            transform = create_transform(**args, is_training=False)
            # Resize + CenterCrop (PIL, uint8); the ToTensor and Normalize after them are
            # keras_resnet's normalisation, tested elsewhere.
            pil = Image.open(path).convert("RGB")
            for step in transform.transforms[:-2]:
                pil = step(pil)
            summary = eval_transform_summary(np.asarray(pil))
            key = f"{photo}/{size}/{crop_pct}/{interpolation}"
            for part, value in summary.items():
                dtype = np.uint8 if part in ("center", "corner") else np.float32
                out[f"{key}/{part}"] = value.astype(dtype)
            print(f"{key}: {np.asarray(pil).shape}, {type(transform.transforms[0]).__name__}")
    np.savez_compressed(EVAL_TRANSFORM_PATH, **out)
    print(f"wrote {EVAL_TRANSFORM_PATH} ({os.path.getsize(EVAL_TRANSFORM_PATH)} bytes)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description="Record torchvision's logits (tests/goldens/torchvision_logits.npz), "
                    "or with --pretrained-cfgs timm's pretrained configs, or with "
                    "--eval-transform timm's evaluation transform on real photos.")
    parser.add_argument("--pretrained-cfgs", action="store_true",
                        help=f"write {os.path.relpath(TIMM_CFGS_PATH)} instead of the logits")
    parser.add_argument("--eval-transform", action="store_true",
                        help=f"write {os.path.relpath(EVAL_TRANSFORM_PATH)} instead")
    parser.add_argument("--sample-images", metavar="DIR",
                        help="with --eval-transform: scikit-learn's sample photos "
                             "(default: sklearn/datasets/images, if sklearn is installed)")
    options = parser.parse_args()
    if options.pretrained_cfgs:
        pretrained_cfgs()
    elif options.eval_transform:
        eval_transform_goldens(options.sample_images)
    else:
        main()
