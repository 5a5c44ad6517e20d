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


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description="Record torchvision's logits (tests/goldens/torchvision_logits.npz), "
                    "or with --pretrained-cfgs timm's pretrained configs.")
    parser.add_argument("--pretrained-cfgs", action="store_true",
                        help=f"write {os.path.relpath(TIMM_CFGS_PATH)} instead of the logits")
    parser.add_argument("--results-csv", metavar="PATH",
                        help="with --pretrained-cfgs: timm's results/results-imagenet.csv "
                             "(the published top-1/top-5)")
    parser.add_argument("--hub-roundtrip", action="store_true",
                        help=f"write {os.path.relpath(HUB_ROUNDTRIP_PATH)} instead: what timm's "
                             "save_for_hf writes for a Hub repo, and timm's logits")
    args = parser.parse_args()
    if args.pretrained_cfgs:
        if not args.results_csv:
            parser.error("--pretrained-cfgs needs --results-csv PATH (timm's "
                         "results/results-imagenet.csv)")
        pretrained_cfgs(args.results_csv)
    elif args.hub_roundtrip:
        hub_roundtrip()
    else:
        main()
