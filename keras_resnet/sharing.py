"""Share a model: the directory timm writes for a Hub repo, and its upload.

`save_pretrained(model, directory)` writes what timm's `save_for_hf` writes:

- `config.json`: architecture, num_classes, label_names, model_args and
  `pretrained_cfg` (input size, crop_pct, interpolation, mean/std, license),
  plus a "keras_resnet" entry (registry model, variant, layout) timm ignores;
- `model.safetensors`: timm's state dict (`torch_layout.to_torch`), which
  `timm.create_model("local-dir:DIR")` or "hf-hub:ORG/REPO" loads; for a model
  timm has no architecture for (the CIFAR ResNet20-110 with option-A
  shortcuts, the "v1" and "v2" conventions) the tensors keep their Keras layer
  names ("LAYER/INDEX") and the architecture is named in this zoo's registry;
- `README.md`: a model card (the training run's recipe and held-out metrics
  when `run_dir` is given, the base checkpoint and its licence).

`get_model(NAME, weights=DIRECTORY)` or `weights="hf://ORG/REPO"` loads it back,
with its head size, class names and preprocessing. `push_to_hub(model, repo_id)`
uploads the directory through huggingface_hub's `HfApi`.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from typing import Optional, Sequence

import numpy as np

from keras_resnet.pretrained import (HUB_FILENAME, HUB_REPO, IMAGENET_MEAN_STD, EvalTransform,
                                     InputNormalization, resolve, timm_variant)
from keras_resnet.registry import REGISTRY
from keras_resnet.weights import hub, keras_files, torch_layout

CONFIG = "config.json"
README = "README.md"
LAYOUTS = ("auto", "timm", "keras")
TIMM_VARIANTS = ("v1.5", "v2.timm")  # timm's resnet.py and resnetv2.py conventions


def timm_architecture(name: str, variant: str) -> Optional[str]:
    """timm's name of registered model `name` built with `variant`, or None where
    timm has no such architecture (the CIFAR nets, the "v1" and "v2" conventions)."""
    spec = REGISTRY[name].spec
    if (spec.stem.name == "cifar" or variant not in TIMM_VARIANTS
            or variant != timm_variant(name)):
        return None
    return spec.name


def _weights_of(model) -> dict:
    """{layer name: arrays} of every layer with weights, the in-model preprocessing
    (`preprocessing_*`) left out."""
    import keras

    named = {}
    for layer in model.layers:
        if not layer.weights or layer.name.startswith("preprocessing_"):
            continue
        if isinstance(layer, keras.Model):
            raise ValueError(f"`model` {model.name!r} holds a nested model {layer.name!r}; "
                             "save_pretrained takes a keras_resnet model itself")
        named[layer.name] = [np.asarray(w) for w in layer.get_weights()]
    return named


def _variant(named: dict) -> str:
    stem = named.get("conv1_conv") or named.get("conv1_1_conv") or []
    biased = len(stem) == 2  # keras.applications' convs have a bias, timm's none
    if any(name.startswith("post_bn") or "_preact_" in name for name in named):
        return "v2" if biased else "v2.timm"
    return "v1" if biased else "v1.5"


def _registry_name(model, model_name: Optional[str]) -> str:
    if model_name is not None:
        if model_name not in REGISTRY:
            raise ValueError(f"`model_name` must be a registered model (keras-resnet list). "
                             f"Received: model_name={model_name!r}")
        return model_name
    name = model.name.lower()
    for candidate in (name, name.removesuffix("v1_5"), name.removesuffix("v1")):
        if candidate in REGISTRY:
            return candidate
    raise ValueError(f"cannot tell which registered model {model.name!r} is: pass "
                     "model_name= (a name of `keras-resnet list`)")


def _check_architecture(model, named: dict, name: str, variant: str, num_classes: int) -> None:
    """ValueError naming the layers where `model` differs from registered `name` (custom
    layers, another depth): a fresh build's weights must have the same names and shapes."""
    from keras_resnet.builders import get_model

    channels = model.input_shape[-1]
    reference = get_model(name, input_shape=(64, 64, channels), variant=variant,
                          num_classes=max(num_classes, 1), include_top=num_classes > 0,
                          pooling="avg")
    expected = {layer: [a.shape for a in arrays]
                for layer, arrays in _weights_of(reference).items()}
    actual = {layer: [a.shape for a in arrays] for layer, arrays in named.items()}
    if expected != actual:
        extra = sorted(set(actual) - set(expected))
        missing = sorted(set(expected) - set(actual))
        shapes = sorted(k for k in set(actual) & set(expected) if actual[k] != expected[k])
        parts = ([f"layers {', '.join(extra[:5])} that {name} lacks"] if extra else []) + (
            [f"no {', '.join(missing[:5])}"] if missing else []) + (
            [f"other shapes in {', '.join(shapes[:5])}"] if shapes else [])
        raise ValueError(f"`model` {model.name!r} is not a {name} (variant {variant!r}) as "
                         f"keras_resnet builds it: it has {'; '.join(parts)}. Custom layers "
                         "cannot be expressed in a timm or keras_resnet directory.")


def _normalization_of(model) -> Optional[InputNormalization]:
    """The normalisation `include_preprocessing=True` built into `model`, if any."""
    layers = {layer.name: layer for layer in model.layers}
    if "preprocessing_rgb_to_bgr" in layers:
        return InputNormalization("caffe")
    norm = layers.get("preprocessing_normalization")
    if norm is not None:
        mean = np.ravel(np.asarray(norm.input_mean, np.float64))
        std = np.sqrt(np.ravel(np.asarray(norm.input_variance, np.float64)))
        return InputNormalization("mean_std", tuple(float(m) for m in mean),
                                  tuple(float(s) for s in std))
    if "preprocessing_rescaling" in layers:
        return InputNormalization("tf")
    return None


def _read_json(path: str, what: str) -> Optional[dict]:
    if not os.path.isfile(path):
        return None
    try:
        with open(path, encoding="utf8") as f:
            obj = json.load(f)
    except (OSError, ValueError) as e:
        raise ValueError(f"cannot read {what} {path!r}: {e}") from None
    if not isinstance(obj, dict):
        raise ValueError(f"{what} {path!r} does not hold a JSON object")
    return obj


def read_run(run_dir: str) -> tuple:
    """(run.json, metrics.json or None) of a `keras-resnet train` run directory."""
    run = _read_json(os.path.join(run_dir, "run.json"), "the run's run.json")
    if run is None:
        raise ValueError(f"{run_dir!r} is not a `keras-resnet train` run directory (no "
                         "run.json)")
    return run, _read_json(os.path.join(run_dir, "metrics.json"), "the run's metrics.json")


def save_pretrained(model, directory: str, *, model_name: Optional[str] = None,
                    label_names: Optional[Sequence[str]] = None,
                    normalization: Optional[InputNormalization] = None,
                    eval_transform: Optional[EvalTransform] = None,
                    run_dir: Optional[str] = None, base_weights: Optional[str] = None,
                    license: Optional[str] = None, layout: str = "auto",
                    repo_id: Optional[str] = None) -> str:
    """Write `model` as timm writes a Hub repo: config.json, model.safetensors, README.md.

    Args:
        model: A keras_resnet model (a registered architecture; any head size,
            or none; its in-model preprocessing is recorded, not saved as weights).
        directory: A new directory (must not exist); written under a temporary
            name and renamed, so it is complete or absent.
        model_name: Registered model name; default read from `model.name`.
        label_names: Class names (default: the run's).
        normalization: Input normalisation; default the model's in-model one,
            else the run's mean/std, else `base_weights`', else ImageNet's.
        eval_transform: Evaluation size, crop and filter; default the run's,
            else `base_weights`', else the model's input size, 0.875, bilinear.
        run_dir: A `keras-resnet train` run: its classes, normalisation,
            recipe and held-out metrics go into the config and the model card.
        base_weights: The checkpoint it was fine-tuned from (default the run's).
        license: The weights' licence (default the base checkpoint's).
        layout: "timm" (timm's state dict; an error where timm has no such
            architecture), "keras" (Keras layer names) or "auto" (timm's where
            it can, else Keras').
        repo_id: The Hub repo, for the model card's usage lines.

    Returns:
        `directory`.

    Raises:
        ValueError: an existing `directory` or a missing parent, a model that
            is not a registered architecture (custom layers, named), "timm"
            for an architecture timm lacks, an unreadable run directory.
    """
    import keras

    from keras_resnet.atomic import atomic_directory

    if layout not in LAYOUTS:
        raise ValueError(f"`layout` must be one of {', '.join(LAYOUTS)}. "
                         f"Received: layout={layout!r}")
    if not isinstance(directory, (str, os.PathLike)) or not os.fspath(directory):
        raise ValueError(f"`directory` must be a path. Received: directory={directory!r}")
    directory = os.fspath(directory)
    if os.path.exists(directory):
        raise ValueError(f"`directory` {directory!r} already exists; save_pretrained writes "
                         "a new directory")
    parent = os.path.dirname(os.path.abspath(directory))
    if not os.path.isdir(parent):
        raise ValueError(f"the parent of `directory` does not exist: {parent!r}")
    if not isinstance(model, keras.Model) or not getattr(model, "inputs", None):
        raise ValueError(f"`model` must be a built keras.Model. Received: {model!r}")
    run, metrics = read_run(run_dir) if run_dir is not None else (None, None)
    run = run or {}
    name = _registry_name(model, model_name or run.get("model"))
    named = _weights_of(model)
    variant = _variant(named)
    classes = int(named["predictions"][0].shape[-1]) if "predictions" in named else 0
    _check_architecture(model, named, name, variant, classes)
    arch = timm_architecture(name, variant)
    if layout == "timm" and arch is None:
        raise ValueError(f"timm has no architecture for {name} with variant {variant!r} "
                         "(timm's ResNets have the 'v1.5' and 'v2.timm' conventions); save it with "
                         "layout='keras' (or 'auto'): keras_resnet loads that, timm cannot")
    timm_layout = arch is not None and layout != "keras"
    base = base_weights if base_weights is not None else run.get("weights")
    checkpoint = resolve(base, name) if base is not None else None
    labels = list(label_names) if label_names is not None else run.get("class_names")
    if labels is not None and classes and len(labels) != classes:
        raise ValueError(f"`label_names` has {len(labels)} names but the model has "
                         f"{classes} classes")
    norm = normalization or _normalization_of(model)
    if norm is None and run.get("mean") is not None:
        norm = InputNormalization("mean_std", tuple(run["mean"]), tuple(run["std"]))
    if norm is None:
        norm = checkpoint.normalization if checkpoint is not None else IMAGENET_MEAN_STD
    size = model.input_shape[1]
    if eval_transform is None:
        crop = run.get("eval_crop") or {}
        if run.get("image_size"):
            eval_transform = EvalTransform(run["image_size"], crop.get("crop_pct", 0.875),
                                           crop.get("interpolation", "bilinear"))
        elif checkpoint is not None and checkpoint.eval_transform.size:
            eval_transform = checkpoint.eval_transform
        else:
            eval_transform = EvalTransform(size or 224)
    size = eval_transform.size or size or 224
    licence = license or (checkpoint.row.license if checkpoint is not None
                          and checkpoint.row is not None else None)
    channels = int(model.input_shape[-1])
    features = (int(named["predictions"][0].shape[0]) if classes
                else int(model.output_shape[-1]))
    config = _config(name, arch if timm_layout else name, variant, classes, features, channels,
                     labels, norm, eval_transform, size, licence, timm_layout,
                     deep_stem="conv1_1_conv" in named)
    if timm_layout:
        state = torch_layout.to_torch(named, avg_down=REGISTRY[name].spec.avg_down,
                                      source=model.name)
    else:
        state = keras_files.to_keras_state(named)
    card = model_card(config, run=run or None, metrics=metrics, checkpoint=checkpoint,
                      repo_id=repo_id)
    from safetensors.numpy import save_file
    with atomic_directory(directory) as tmp:
        save_file(state, os.path.join(tmp, HUB_FILENAME), metadata={"format": "pt"})
        with open(os.path.join(tmp, CONFIG), "w", encoding="utf8") as f:
            json.dump(config, f, indent=2)
            f.write("\n")
        with open(os.path.join(tmp, README), "w", encoding="utf8") as f:
            f.write(card)
    return directory


def timm_state_dict(model, model_name: Optional[str] = None) -> dict:
    """`model`'s weights as timm's state dict (numpy arrays, timm's key names).

    Raises:
        ValueError: for a model timm has no architecture for, or custom layers.
    """
    name = _registry_name(model, model_name)
    named = _weights_of(model)
    variant = _variant(named)
    if timm_architecture(name, variant) is None:
        raise ValueError(f"timm has no architecture for {name} with variant {variant!r}")
    return torch_layout.to_torch(named, avg_down=REGISTRY[name].spec.avg_down,
                                 source=model.name)


def _config(name, arch, variant, classes, features, channels, labels, norm, transform, size,
            licence, timm_layout, *, deep_stem) -> dict:
    """config.json, in the order and with the fields timm's `save_config_for_hf` writes."""
    cfg = {"custom_load": False, "input_size": [channels, size, size],
           "fixed_input_size": False, "interpolation": transform.interpolation,
           "crop_pct": transform.crop_pct, "crop_mode": "center"}
    if norm.mode == "mean_std":
        cfg["mean"], cfg["std"] = list(norm.mean), list(norm.std)
    elif norm.mode == "tf":
        cfg["mean"], cfg["std"] = [0.5] * 3, [0.5] * 3
    if variant == "v2.timm":  # timm's resnetv2.py names
        first_conv, classifier = ("stem.conv1" if deep_stem else "stem.conv"), "head.fc"
    else:
        first_conv, classifier = ("conv1.0" if deep_stem else "conv1"), "fc"
    cfg.update({"num_classes": classes, "pool_size": [math.ceil(size / 32)] * 2,
                "first_conv": first_conv, "classifier": classifier})
    if licence:
        cfg["license"] = licence
    config = {"architecture": arch, "num_classes": classes, "num_features": features,
              "global_pool": "avg"}
    if labels:
        config["label_names"] = list(labels)
    config["model_args"] = {"num_classes": classes, "in_chans": channels, "global_pool": "avg"}
    config["pretrained_cfg"] = cfg
    from keras_resnet import __version__
    config["keras_resnet"] = {"model": name, "variant": variant,
                              "layout": "timm" if timm_layout else "keras",
                              "normalization": norm.mode, "version": __version__}
    return config


def model_card(config: dict, *, run: Optional[dict] = None, metrics: Optional[dict] = None,
               checkpoint=None, repo_id: Optional[str] = None) -> str:
    """README.md: front matter, what the model is, how it was trained, how to load it."""
    ours = config["keras_resnet"]
    timm_layout = ours["layout"] == "timm"
    cfg = config["pretrained_cfg"]
    base = (checkpoint.row.hub_repo if checkpoint is not None and checkpoint.row is not None
            and checkpoint.row.hub_repo else None)
    front = ["---", "tags:", "- image-classification", "- keras-resnet"]
    front += ["- timm"] if timm_layout else []
    front.append(f"library_name: {'timm' if timm_layout else 'keras'}")
    if cfg.get("license"):
        front.append(f"license: {cfg['license']}")
    if base:
        front.append(f"base_model: {base}")
    front.append("---")
    title = repo_id or f"{ours['model']} ({config['num_classes']} classes)"
    lines = front + ["", f"# {title}", "",
                     f"A {ours['model']} (variant {ours['variant']}) image classifier with "
                     f"{config['num_classes']} classes, saved by keras_resnet "
                     f"{ours['version']}."]
    if config.get("label_names"):
        names = config["label_names"]
        lines.append(f"Classes: {', '.join(names[:20])}{' ...' if len(names) > 20 else ''}.")
    size = cfg["input_size"][1]
    norm = (f"mean {cfg['mean']}, std {cfg['std']} on [0, 1] RGB" if "mean" in cfg
            else f"keras.applications' {ours['normalization']!r} mode")
    lines += ["", "## Preprocessing", "",
              f"Resize the shorter side to floor({size} / {cfg['crop_pct']}) "
              f"({cfg['interpolation']}), center-crop {size}x{size}, then normalise: {norm}."]
    lines += ["", "## Weights", ""]
    if checkpoint is not None and checkpoint.row is not None:
        lines.append(f"Fine-tuned from `{checkpoint.row.name}` ({checkpoint.row.source}"
                     f"{', ' + base if base else ''}), licence {checkpoint.row.license}.")
    elif checkpoint is not None:
        lines.append(f"Initialised from `{checkpoint.text}`.")
    else:
        lines.append("Trained from scratch." if run else "Base checkpoint: not recorded.")
    lines.append(f"Licence of these weights: {cfg.get('license') or 'not stated'}.")
    if run:
        keys = ("data", "recipe", "epochs", "batch_size", "image_size", "precision",
                "auto_augment", "random_erasing", "mixup", "cutmix", "seed")
        lines += ["", "## Training (keras-resnet train)", "", "| setting | value |", "|---|---|"]
        lines += [f"| {k} | {run[k]} |" for k in keys if k in run]
    if metrics:
        lines += ["", "## Held-out metrics", "", "| metric | value |", "|---|---|"]
        lines += [f"| {k} | {metrics[k]:.4f} |" if isinstance(metrics[k], float)
                  else f"| {k} | {metrics[k]} |"
                  for k in ("accuracy", "top5_accuracy", "loss", "num_examples")
                  if k in metrics]
    where = f"hf://{repo_id}" if repo_id else "DIRECTORY"
    lines += ["", "## Use", "", "```python", "import keras_resnet",
              f"model = keras_resnet.get_model({ours['model']!r}, weights={where!r})",
              "```"]
    if timm_layout:
        source = f"hf-hub:{repo_id}" if repo_id else "local-dir:DIRECTORY"
        lines += ["", "```python", "import timm",
                  f"model = timm.create_model({source!r}, pretrained=True)", "```"]
    else:
        lines += ["", f"timm has no architecture for this model ({ours['model']}, variant "
                      f"{ours['variant']}): `model.safetensors` holds Keras layer names "
                      "(LAYER/INDEX), which keras_resnet loads."]
    return "\n".join(lines) + "\n"


def _hub_api():
    try:
        import huggingface_hub
    except ImportError:
        raise ValueError(f"push_to_hub needs huggingface_hub: {hub.HUB_EXTRA}") from None
    return huggingface_hub


def push_to_hub(model, repo_id: str, *, private: bool = False, token: Optional[str] = None,
                commit_message: str = "Upload model (keras_resnet)", **options) -> str:
    """Write `save_pretrained`'s directory for `model` and upload it to Hub repo `repo_id`
    (created if missing) with huggingface_hub's `HfApi` (HF_ENDPOINT, HF_TOKEN).

    `options` go to `save_pretrained` (run_dir, label_names, ...). Returns the
    repo's address. Raises ValueError for a malformed `repo_id`, a missing
    huggingface_hub, or an upload the Hub refused (one line).
    """
    if not isinstance(repo_id, str) or not HUB_REPO.fullmatch(repo_id):
        raise ValueError(f"`repo_id` must be 'ORG/NAME'. Received: repo_id={repo_id!r}")
    if not isinstance(private, bool):
        raise ValueError(f"`private` must be True or False. Received: private={private!r}")
    hf = _hub_api()
    with tempfile.TemporaryDirectory(prefix="keras-resnet-push-") as tmp:
        folder = save_pretrained(model, os.path.join(tmp, "repo"), repo_id=repo_id, **options)
        api = hf.HfApi(endpoint=hub.endpoint(), token=token)
        try:
            url = api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
            api.upload_folder(repo_id=repo_id, folder_path=folder, repo_type="model",
                              commit_message=commit_message)
        except Exception as e:  # HTTP, auth, connection errors: one line
            text = (str(e).strip().splitlines() or [""])[0]
            raise ValueError(f"uploading to the Hugging Face Hub repo {repo_id!r} at "
                             f"{hub.endpoint()} failed: {type(e).__name__}: {text[:200]} "
                             "(log in with `hf auth login` or set HF_TOKEN)") from None
    return str(url)


__all__ = ["save_pretrained", "push_to_hub", "timm_state_dict", "timm_architecture",
           "model_card", "read_run"]
