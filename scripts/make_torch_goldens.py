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

With `--resnet-family` it writes tests/goldens/timm_resnet_family.json (timm's
parameter count, num_classes=1000, of every architecture of timm's resnet module
with pretrained weights that keras_resnet registers from it, counted on the meta
device) and tests/goldens/timm_resnet_family.npz (for one architecture per
layout of `timm_family_goldens.LAYOUTS`: timm's float64 logits for the seeded
weights of `timm_family_goldens.random_state_dict`, whose keys and shapes are
first checked to be exactly timm's).
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
                    "or with --pretrained-cfgs timm's pretrained configs.")
    parser.add_argument("--pretrained-cfgs", action="store_true",
                        help=f"write {os.path.relpath(TIMM_CFGS_PATH)} instead of the logits")
    parser.add_argument("--resnet-family", action="store_true",
                        help="write tests/goldens/timm_resnet_family.{json,npz} instead: timm's "
                             "parameter counts and per-layout logits of its resnet module")
    args = parser.parse_args()
    if args.pretrained_cfgs:
        pretrained_cfgs()
    elif args.resnet_family:
        resnet_family()
    else:
        main()
