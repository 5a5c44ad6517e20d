"""Record torchvision's logits for the seeded random weights of tests/torch_goldens.py,
and timm's pretrained configs for the pretrained table.

Run once by a developer, in an environment with torch and torchvision (keras is
not needed), from the repository root:

    python3 -m venv /tmp/torchvenv
    /tmp/torchvenv/bin/pip install torch==2.14.1 torchvision==0.29.1 timm numpy
    /tmp/torchvenv/bin/python scripts/make_torch_goldens.py
    /tmp/torchvenv/bin/python scripts/make_torch_goldens.py --pretrained-cfgs
    /tmp/torchvenv/bin/python scripts/make_torch_goldens.py --hub-roundtrip

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

It also records, for issue 22's table of the whole family, every tag of timm's
`resnet` and `resnetv2` modules that has pretrained weights (`modules`), the
cfg of each (in `cfgs`, with `hf_hub_filename`), each architecture's tags in
timm's order (`arch_tags`: the first is timm's default), and the published
ImageNet-1k top-1/top-5 of each tag at its default test size (`published`),
read from timm's results CSV, which is not part of the timm wheel: pass it as
`--results-csv`, taken from the pytorch-image-models repository:

    git -C pytorch-image-models show HEAD:results/results-imagenet.csv > /tmp/results.csv
    /tmp/torchvenv/bin/python scripts/make_torch_goldens.py --pretrained-cfgs \
        --results-csv /tmp/results.csv
    python scripts/make_timm_table.py   # regenerates keras_resnet/pretrained_timm.py

With `--hub-roundtrip` it writes tests/goldens/timm_hub_roundtrip.json: for each
model of HUB_ROUNDTRIP (a fine-tuned ResNet-D and a plain ResNet18, 10 classes,
the seeded weights of tests/torch_goldens.py), what timm's `save_for_hf` writes
for a Hub repo (config.json, and the key/shape/dtype list of model.safetensors;
no weights) and timm's float64 logits for the fixed input. tests/test_sharing.py
regenerates the weights, lays the directory out as timm does and loads it
(timm -> keras_resnet), and checks that `save_pretrained` writes the same config
fields and state dict (keras_resnet -> timm).

With `--eval-transform [--sample-images DIR]` it writes tests/goldens/timm_eval_transform.npz
(a few tens of KB): timm's evaluation transform (`create_transform` with the checkpoint's
`resolve_data_config`, PIL) on scikit-learn's two sample photos, bilinear and bicubic at
crop_pct 0.875 and 1.0 and resnet50.a1_in1k's cfg at 288, kept as patches and block
means (`eval_transform_summary`); tests/test_preprocessing_timm.py compares
`keras_resnet.preprocessing.load_eval_image` with them:

    /work/torchvenv/bin/python scripts/make_torch_goldens.py --eval-transform \
        --sample-images .venv/lib/python3.11/site-packages/sklearn/datasets/images

With `--resnetv2-family` it writes tests/goldens/timm_resnetv2_family.json (timm's
parameter count of every registered resnetv2 / resnet50_gn architecture) and
tests/goldens/timm_resnetv2_family.npz (timm's logits for the seeded weights of
tests/resnetv2_goldens.py, one architecture per layout), for
tests/test_resnetv2_family.py.

With `--resnet-family` it writes tests/goldens/timm_resnet_family.json (timm's
parameter count, num_classes=1000, of every architecture of timm's resnet module
with pretrained weights that keras_resnet registers from it, counted on the meta
device) and tests/goldens/timm_resnet_family.npz (for one architecture per
layout of `timm_family_goldens.LAYOUTS`: timm's float64 logits for the seeded
weights of `timm_family_goldens.random_state_dict`, whose keys and shapes are
first checked to be exactly timm's).
"""

import argparse
import csv
import hashlib
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
HUB_ROUNDTRIP_PATH = os.path.join(os.path.dirname(g.GOLDENS_PATH), "timm_hub_roundtrip.json")
# name in torch_goldens.DEPTHS -> the timm checkpoint whose pretrained cfg it is fine-tuned
# from (a non-ImageNet mean/std, a test size and crop of its own).
HUB_ROUNDTRIP = {"resnet50d": "resnet50d.ra4_e3600_r224_in1k", "resnet18": "resnet18.a1_in1k"}
HUB_LABELS = [f"class_{i}" for i in range(g.NUM_CLASSES)]
CFG_FIELDS = ("hf_hub_id", "input_size", "test_input_size", "crop_pct", "test_crop_pct",
              "interpolation", "mean", "std", "num_classes", "license", "hf_hub_filename")
# timm's modules whose every pretrained tag the table holds (issue 22).
TIMM_MODULES = ("resnet", "resnetv2")


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


def _cfg_record(name: str) -> dict:
    try:
        cfg = timm.models.get_pretrained_cfg(name, allow_unregistered=False)
    except RuntimeError:  # an unknown architecture, or a tag timm does not have
        cfg = None
    record = {"known": cfg is not None}
    record.update({field: _jsonable(getattr(cfg, field)) if cfg is not None else None
                   for field in CFG_FIELDS})
    return record


def _published(results_csv: str, names, cfgs) -> dict:
    """top-1/top-5 of each name in timm's results CSV at the cfg's default test size."""
    rows = {}
    with open(results_csv, newline="") as f:
        for r in csv.DictReader(f):
            rows.setdefault(r["model"], []).append(r)
    out = {}
    for name in names:
        cfg = cfgs[name]
        size = (cfg["test_input_size"] or cfg["input_size"])[1]
        found = [r for r in rows.get(name, []) if int(r["img_size"]) == size]
        if not found:
            continue  # not published (in12k/in21k heads, headless checkpoints)
        r = found[0]
        out[name] = {"img_size": size, "top1": float(r["top1"]), "top5": float(r["top5"]),
                     "crop_pct": float(r["crop_pct"]), "interpolation": r["interpolation"]}
    return out


def pretrained_cfgs(results_csv: str) -> None:
    """Write TIMM_CFGS_PATH: timm's cfg of every timm row of the pretrained table and
    of every pretrained tag of TIMM_MODULES, with their published accuracies."""
    # keras_resnet's registry and pretrained modules import no framework, so this
    # works where keras is not installed.
    sys.path.insert(0, _REPO_ROOT)
    from keras_resnet.pretrained import PRETRAINED
    from keras_resnet.registry import list_models

    cfgs = {row.name: _cfg_record(row.name) for row in PRETRAINED if row.source == "timm"}
    modules = {m: timm.list_models(module=m, pretrained=True) for m in TIMM_MODULES}
    family = [name for tags in modules.values() for name in tags]
    cfgs.update({name: _cfg_record(name) for name in family})
    arch_tags = {}
    for name in family:
        arch = name.split(".", 1)[0]
        if arch not in arch_tags:  # timm's default_cfgs order; the first is its default
            arch_tags[arch] = [full.split(".", 1)[1] for full, cfg
                               in timm.models.get_arch_pretrained_cfgs(arch).items()
                               if full in family]
    timm_names = set(timm.list_models())
    in1k_tags, other_tags = {}, {}
    # The registered names, and the family's architectures whether registered yet or not
    # (so the recording stays valid as the architectures are registered).
    for name in sorted(set(list_models()) | set(arch_tags)):
        if name not in timm_names:
            continue
        arch_cfgs = timm.models.get_arch_pretrained_cfgs(name)
        tags = {full.split(".", 1)[1]: cfg for full, cfg in arch_cfgs.items()}
        in1k_tags[name] = sorted(t for t, cfg in tags.items() if _is_in1k(t, cfg))
        other_tags[name] = sorted(t for t, cfg in tags.items() if not _is_in1k(t, cfg))
    with open(results_csv, "rb") as f:
        csv_sha256 = hashlib.sha256(f.read()).hexdigest()
    out = {"timm_version": timm.__version__,
           "modules": modules,
           "arch_tags": arch_tags,
           "published": _published(results_csv, family, cfgs),
           "results_csv": {"file": "results/results-imagenet.csv of "
                                   "huggingface/pytorch-image-models", "sha256": csv_sha256},
           "cfgs": cfgs,
           "in1k_tags": in1k_tags,
           "other_tags": other_tags,
           "registered_not_in_timm": [n for n in list_models() if n not in timm_names]}
    with open(TIMM_CFGS_PATH + ".tmp", "w") as f:
        json.dump(out, f, sort_keys=True, indent=1)
        f.write("\n")
    os.replace(TIMM_CFGS_PATH + ".tmp", TIMM_CFGS_PATH)
    unknown = [name for name, record in cfgs.items() if not record["known"]]
    print(f"wrote {TIMM_CFGS_PATH}: {len(cfgs)} cfgs ({len(unknown)} unknown to timm"
          f"{': ' + ', '.join(unknown) if unknown else ''}), IN-1k tags of {len(in1k_tags)} "
          f"architectures, {len(family)} tags of timm's {'/'.join(TIMM_MODULES)} modules, "
          f"timm {timm.__version__}")


def hub_roundtrip() -> None:
    """Write HUB_ROUNDTRIP_PATH: timm's Hub directory of each HUB_ROUNDTRIP model."""
    import tempfile

    from safetensors.numpy import load_file
    from timm.models import save_for_hf

    x = torch.from_numpy(g.random_input()).double()
    models = {}
    for name, timm_name in HUB_ROUNDTRIP.items():
        model = timm.create_model(timm_name, pretrained=False, num_classes=g.NUM_CLASSES)
        state = g.random_state_dict(name)
        model.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in state.items()},
                              strict=True)
        model.eval()
        with tempfile.TemporaryDirectory() as tmp:
            save_for_hf(model, tmp, model_config={"label_names": HUB_LABELS},
                        safe_serialization=True)
            with open(os.path.join(tmp, "config.json")) as f:
                config = json.load(f)
            saved = load_file(os.path.join(tmp, "model.safetensors"))
            reloaded = timm.create_model(f"local-dir:{tmp}", pretrained=True)
        keys = [[k, list(v.shape), str(v.dtype)] for k, v in saved.items()]
        assert all(np.array_equal(saved[k], state[k]) for k in state), name
        with torch.no_grad():
            logits = model.double()(x).numpy()
            again = reloaded.double().eval()(x).numpy()
        assert np.abs(logits - again).max() < 1e-9, f"{name}: timm's own round trip"
        models[name] = {"timm_name": timm_name, "config": config, "state_dict": keys,
                        "logits": logits.tolist(),
                        "fingerprint": g.fingerprint(state.values()).tolist()}
        print(f"{name}: {len(keys)} tensors, logits in [{logits.min():.3f}, "
              f"{logits.max():.3f}]")
    out = {"timm_version": timm.__version__, "torch_version": torch.__version__,
           "numpy_version": np.__version__,
           "input_fingerprint": g.fingerprint([g.random_input()]).tolist(),
           "label_names": HUB_LABELS, "models": models}
    with open(HUB_ROUNDTRIP_PATH, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print(f"wrote {HUB_ROUNDTRIP_PATH} ({os.path.getsize(HUB_ROUNDTRIP_PATH)} bytes)")


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


def resnetv2_family() -> None:
    """Write tests/goldens/timm_resnetv2_family.{json,npz}: timm's parameter counts
    (num_classes=1000) of every timm resnetv2 architecture this zoo registers, and for one
    architecture per layout (`resnetv2_goldens.TAGS`) the float64 logits of timm's model
    for the seeded weights of tests/resnetv2_goldens.py (and the BiT one again with a
    1-channel input, its first conv adapted by timm's `adapt_input_conv`)."""
    import resnetv2_goldens as r2
    sys.path.insert(0, _REPO_ROOT)
    from keras_resnet.registry import REGISTRY

    archs = [n for n, info in REGISTRY.items()
             if n.startswith("resnetv2_") or n == "resnet50_gn"]
    params = {}
    for name in archs:  # on the meta device: nothing allocated, BiT-152x4 included
        model = timm.create_model(name, pretrained=False, num_classes=1000, device="meta")
        params[name] = {
            "trainable": sum(p.numel() for p in model.parameters()),
            "with_buffers": sum(v.numel() for k, v in model.state_dict().items()
                                if not k.endswith("num_batches_tracked"))}
    with open(r2.PARAMS_PATH + ".tmp", "w") as f:
        json.dump({"timm_version": timm.__version__, "params": params}, f, indent=1,
                  sort_keys=True)
        f.write("\n")
    os.replace(r2.PARAMS_PATH + ".tmp", r2.PARAMS_PATH)

    x = torch.from_numpy(g.random_input()).double()
    out = {"timm_version": np.array(timm.__version__),
           "input_fingerprint": g.fingerprint([g.random_input()])}
    for name in r2.TAGS:
        state = r2.random_state_dict(name)
        for suffix, in_chans in (("", 3), ("_1ch", 1)):
            if in_chans == 1 and name != r2.ONE_CHANNEL:
                continue
            weights = r2.one_channel(state) if in_chans == 1 else state
            model = timm.create_model(name, pretrained=False, num_classes=r2.NUM_CLASSES,
                                      in_chans=in_chans)
            expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
            ours = {k: tuple(v.shape) for k, v in weights.items()}
            assert ours == expected, f"{name}: generated keys/shapes differ from timm's"
            model.load_state_dict({k: torch.from_numpy(np.array(v))
                                   for k, v in weights.items()}, strict=True)
            model = model.double().eval()
            with torch.no_grad():
                logits = model(x[:, :in_chans]).numpy()
            print(f"{name}{suffix}: logits in [{logits.min():.3f}, {logits.max():.3f}]")
            out[f"{name}{suffix}_logits"] = logits
        out[f"{name}_fingerprint"] = g.fingerprint(state.values())
    tmp = r2.LOGITS_PATH[:-len(".npz")] + ".tmp.npz"
    np.savez_compressed(tmp, **out)
    os.replace(tmp, r2.LOGITS_PATH)
    print(f"wrote {r2.PARAMS_PATH} ({len(params)} archs) and {r2.LOGITS_PATH} "
          f"({os.path.getsize(r2.LOGITS_PATH)} bytes)")


def resnet_family() -> None:
    """Write timm_family_goldens.PARAMS_PATH and LOGITS_PATH (see the docstring)."""
    sys.path.insert(0, _REPO_ROOT)
    import timm_family_goldens as f
    from keras_resnet.registry import ARCHS, REGISTRY

    names = sorted({m.split(".")[0] for m in timm.list_models(module="resnet", pretrained=True)})
    params, not_registered = {}, []
    for name in names:
        if name not in REGISTRY:
            not_registered.append(name)
            continue
        model = timm.create_model(name, pretrained=False, device="meta")
        params[name] = sum(p.numel() for p in model.parameters())
    tags = set(timm.list_models(module="resnet", pretrained=True))
    x = torch.from_numpy(f.random_input()).double()
    out = {"timm_version": np.array(timm.__version__), "torch_version": np.array(torch.__version__),
           "numpy_version": np.array(np.__version__),
           "input_fingerprint": g.fingerprint([f.random_input()])}
    for layout, full_name in f.LAYOUTS.items():
        assert full_name in tags, f"{full_name}: not a pretrained tag of timm's resnet module"
        arch = full_name.split(".")[0]
        model = timm.create_model(arch, pretrained=False, num_classes=f.NUM_CLASSES)
        state = f.random_state_dict(ARCHS[arch])
        expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
        ours = {k: tuple(v.shape) for k, v in state.items()}
        assert ours == expected, (f"{arch}: keys/shapes differ from timm's: "
                                  f"{sorted(set(ours.items()) ^ set(expected.items()))[:6]}")
        model.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in state.items()},
                              strict=True)
        model = model.double().eval()
        with torch.no_grad():
            logits = model(x).numpy()
        print(f"{layout} ({arch}): logits in [{logits.min():.3f}, {logits.max():.3f}]")
        out[f"{layout}_logits"] = logits
        out[f"{layout}_fingerprint"] = g.fingerprint(state.values())
    np.savez_compressed(f.LOGITS_PATH, **out)
    record = {"timm_version": timm.__version__, "params": params,
              "not_registered": not_registered}
    with open(f.PARAMS_PATH, "w") as fh:
        json.dump(record, fh, sort_keys=True, indent=1)
        fh.write("\n")
    print(f"wrote {f.LOGITS_PATH} ({os.path.getsize(f.LOGITS_PATH)} bytes) and "
          f"{f.PARAMS_PATH}: {len(params)} architectures; not registered: {not_registered}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description="Record torchvision's logits (tests/goldens/torchvision_logits.npz), "
                    "or with --pretrained-cfgs timm's pretrained configs, or with "
                    "--eval-transform timm's evaluation transform on real photos.")
    parser.add_argument("--pretrained-cfgs", action="store_true",
                        help=f"write {os.path.relpath(TIMM_CFGS_PATH)} instead of the logits")
    parser.add_argument("--results-csv", metavar="PATH",
                        help="with --pretrained-cfgs: timm's results/results-imagenet.csv "
                             "(the published top-1/top-5)")
    parser.add_argument("--hub-roundtrip", action="store_true",
                        help=f"write {os.path.relpath(HUB_ROUNDTRIP_PATH)} instead: what timm's "
                             "save_for_hf writes for a Hub repo, and timm's logits")
    parser.add_argument("--eval-transform", action="store_true",
                        help=f"write {os.path.relpath(EVAL_TRANSFORM_PATH)} instead")
    parser.add_argument("--sample-images", metavar="DIR",
                        help="with --eval-transform: scikit-learn's sample photos "
                             "(default: sklearn/datasets/images, if sklearn is installed)")
    parser.add_argument("--resnet-family", action="store_true",
                        help="write tests/goldens/timm_resnet_family.{json,npz} instead: timm's "
                             "parameter counts and per-layout logits of its resnet module")
    parser.add_argument("--resnetv2-family", action="store_true",
                        help="write tests/goldens/timm_resnetv2_family.{json,npz} instead")
    args = parser.parse_args()
    if args.resnetv2_family:
        resnetv2_family()
    elif args.resnet_family:
        resnet_family()
    elif args.pretrained_cfgs:
        if not args.results_csv:
            parser.error("--pretrained-cfgs needs --results-csv PATH (timm's "
                         "results/results-imagenet.csv)")
        pretrained_cfgs(args.results_csv)
    elif args.hub_roundtrip:
        hub_roundtrip()
    elif args.eval_transform:
        eval_transform_goldens(args.sample_images)
    else:
        main()
