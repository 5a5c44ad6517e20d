"""The pretrained-weights table: one row per published checkpoint, as data.

Two sources: keras.applications' ImageNet files (`weights="imagenet"`, the v1
and v2 ResNet50/101/152; their download table with hashes is
`keras_resnet.weights.imagenet`), and every checkpoint of timm's `resnet` and
`resnetv2` modules on the Hugging Face Hub (`weights="a1_in1k"`, or
`get_model("resnet50.a1_in1k")`): the ImageNet-1k ones, the ImageNet-12k and
-21k heads (11821 and 21843 classes), the fine-tunes at 288/384 and the
headless `resnet50.bamboo`, named as timm names them, each with the
preprocessing and evaluation transform its accuracy was measured with. The timm
rows are data generated from timm's own configs (`keras_resnet.pretrained_timm`).
Like the model registry, this module imports no framework.

It is also the one place that says what a `weights=` value means: `resolve`
turns any accepted value into a `Checkpoint` (its source, row, file, variant,
input normalisation and evaluation transform). Every consumer -- the builders,
`get_model`, `preprocess_input`, `classify`, training, the CLI -- asks it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from typing import List, Optional, Tuple

from keras_resnet import pretrained_timm
from keras_resnet.registry import REGISTRY, model_info
from keras_resnet.specs import TORCH_VARIANTS

IMAGENET_MEAN, IMAGENET_STD = pretrained_timm.IMAGENET
HUB_FILENAME = "model.safetensors"


@dataclasses.dataclass(frozen=True)
class Pretrained:
    """One published checkpoint of a registered model.

    Attributes:
        model: Registry name, e.g. "resnet50".
        tag: What `weights=` takes for it, e.g. "a1_in1k" or "imagenet".
        source: "timm" (a Hub repo) or "keras.applications".
        variant: The convention the file needs ("v1", "v1.5", "v2", "v2.timm").
        num_classes: Width of its classifier: 1000 (ImageNet-1k), 11821
            (ImageNet-12k), 21843 (ImageNet-21k), or 0 (a headless checkpoint).
        top1, top5: ImageNet-1k validation accuracy (%) as the source publishes
            it, measured at `eval_size` with `crop_pct` and `interpolation`
            (None: not published, e.g. an in12k/in21k head).
        eval_size: Image size of that evaluation.
        crop_pct: Center-crop fraction of the evaluation: the shorter side is
            resized to `eval_size / crop_pct`, then the center `eval_size`
            square is cut (None: not published; 0.875 is the usual value).
        interpolation: Resize filter of the evaluation ("bilinear", "bicubic";
            None: not published).
        preprocessing: Input normalisation the weights expect: "mean_std"
            (RGB in [0, 1], minus `mean`, over `std`), or a keras.applications
            mode: "caffe" (BGR minus the mean pixel) or "tf" ([-1, 1]).
        mean, std: For "mean_std", per RGB channel on the [0, 1] scale.
        license: License of the weights as the source states it (None: not stated).
        train_size: Image size it was trained at, where the source says.
        hub_repo, filename: Where the file is on the Hugging Face Hub.
    """

    model: str
    tag: str
    source: str
    variant: str
    num_classes: int
    top1: Optional[float]
    top5: Optional[float]
    eval_size: int
    crop_pct: Optional[float]
    interpolation: Optional[str]
    preprocessing: str
    mean: Optional[Tuple[float, float, float]]
    std: Optional[Tuple[float, float, float]]
    license: Optional[str]
    train_size: Optional[int] = None
    hub_repo: Optional[str] = None
    filename: Optional[str] = None

    @property
    def name(self) -> str:
        """Full name, `model.tag` (timm's convention), e.g. "resnet50.a1_in1k"."""
        return f"{self.model}.{self.tag}"


def _keras_applications(model: str, top1: float, top5: float, license: Optional[str]):
    variant = model_info(model).variant
    return Pretrained(model=model, tag="imagenet", source="keras.applications", variant=variant,
                      num_classes=1000, top1=top1, top5=top5, eval_size=224, crop_pct=None,
                      interpolation=None, preprocessing="caffe" if variant == "v1" else "tf",
                      mean=None, std=None, license=license)


def timm_variant(model: str) -> str:
    """The convention a timm file of registered model `model` needs: the model's default,
    except keras.applications' "v1" (stride on the first 1x1, conv biases), which no torch
    file has: timm's post-activation nets there are torchvision's "v1.5"."""
    variant = model_info(model).variant
    return "v1.5" if variant == "v1" else variant


def _timm(model: str, tag: str, num_classes: int, train_size: int, eval_size: int,
          crop_pct: float, interpolation: str, mean_std, license: Optional[str],
          top1: Optional[float], top5: Optional[float]) -> Pretrained:
    name = f"{model}.{tag}"
    return Pretrained(model=model, tag=tag, source="timm", variant=timm_variant(model),
                      num_classes=num_classes, top1=top1, top5=top5, eval_size=eval_size,
                      crop_pct=crop_pct, interpolation=interpolation, preprocessing="mean_std",
                      mean=mean_std[0], std=mean_std[1], license=license,
                      train_size=train_size,
                      hub_repo=pretrained_timm.HUB_REPOS.get(name, f"timm/{name}"),
                      filename=pretrained_timm.HUB_FILENAMES.get(name, HUB_FILENAME))


_KERAS_APPLICATIONS = [
    # keras.applications: accuracies from its documentation's table
    # (keras.io/api/applications). The v1 files are Kaiming He's released
    # weights (MIT), ported by Keras; the V2 files state no license.
    _keras_applications("resnet50", 74.9, 92.1, "MIT"),
    _keras_applications("resnet101", 76.4, 92.8, "MIT"),
    _keras_applications("resnet152", 76.6, 93.1, "MIT"),
    _keras_applications("resnet50v2", 76.0, 93.0, None),
    _keras_applications("resnet101v2", 77.2, 93.8, None),
    _keras_applications("resnet152v2", 78.0, 94.2, None),
]

# timm: every pretrained tag of its `resnet` and `resnetv2` modules (keras_resnet.pretrained_timm,
# generated from timm's own configs and results CSV by scripts/make_timm_table.py), in timm's
# order per model. The fb_* tags were pretrained on extra data (YFCC100M, IG-1B) and are licensed
# for non-commercial use only (cc-by-nc-4.0).
_TIMM_ROWS = [(model, row) for model, rows in pretrained_timm.TAGS.items() for row in rows]

PRETRAINED: List[Pretrained] = _KERAS_APPLICATIONS + [_timm(model, *row)
                                                      for model, row in _TIMM_ROWS]


def list_pretrained(model: Optional[str] = None) -> List[Pretrained]:
    """The pretrained checkpoints, of every model or of registered model `model`."""
    if model is None:
        return list(PRETRAINED)
    name = model_info(model).name  # checks the name
    return [row for row in PRETRAINED if row.model == name]


def find_pretrained(model: str, tag: str) -> Optional[Pretrained]:
    """The row of registered model `model` with tag `tag` ("a1_in1k", "imagenet"),
    or None when the table has none."""
    return next((row for row in list_pretrained(model) if row.tag == tag), None)


# --- what a `weights=` value means: the one resolver --------------------------

HF_PREFIX = "hf://"
HUB_VARIANT = "v1.5"  # a Hub repo holds a torchvision/timm state dict
# Sources named by themselves: "imagenet" is keras.applications' file of the
# model; "timm" and "torchvision" are their default checkpoint of the model
# (timm's first tag, torchvision's DEFAULT: "tv2_in1k", else "tv_in1k").
SOURCES = ("imagenet", "timm", "torchvision")
DEFAULT_CROP_PCT = 0.875
DEFAULT_INTERPOLATION = "bilinear"
# The only hf:// grammar: "hf://ORG/REPO", nothing after the repo name.
HUB_REPO = re.compile(r"[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*")
_TAG = re.compile(r"[\w-]+")  # no path separator, no file suffix
ACCEPTED = ("None, 'imagenet', 'timm', 'torchvision', a pretrained tag of the model "
            "('a1_in1k'), a full name 'MODEL.TAG' ('resnet50.a1_in1k'), 'hf://ORG/REPO', "
            "the path to a weights file or a saved model directory")


@dataclasses.dataclass(frozen=True)
class InputNormalization:
    """How RGB images in [0, 255] are normalised for some weights.

    Attributes:
        mode: "mean_std" ([0, 1], minus `mean`, over `std`), "caffe" (RGB ->
            BGR, minus the ImageNet mean pixel) or "tf" (scale to [-1, 1]).
        mean, std: For "mean_std", per RGB channel on the [0, 1] scale.
    """

    mode: str
    mean: Optional[Tuple[float, float, float]] = None
    std: Optional[Tuple[float, float, float]] = None


IMAGENET_MEAN_STD = InputNormalization("mean_std", IMAGENET_MEAN, IMAGENET_STD)


@dataclasses.dataclass(frozen=True)
class EvalTransform:
    """The evaluation resize and center crop a checkpoint was measured with.

    Attributes:
        size: Output size (the row's `eval_size`; None where nothing says).
        crop_pct: Kept fraction of the shorter side (0.875 where unpublished).
        interpolation: "bilinear" or "bicubic" ("bilinear" where unpublished).
    """

    size: Optional[int] = None
    crop_pct: float = DEFAULT_CROP_PCT
    interpolation: str = DEFAULT_INTERPOLATION


@dataclasses.dataclass(frozen=True)
class Checkpoint:
    """What a `weights=` value means (see `resolve`).

    Attributes:
        kind: "none" (no weights), "imagenet" (keras.applications' file),
            "tag" (a row of the pretrained table on the Hub), "hub" (any
            "hf://ORG/REPO"), "file" (a local weights file) or "convention"
            ("timm"/"torchvision" without a model: their preprocessing only).
        text: The value as given (a path as a string; None for "none").
        model: The registered model it is a checkpoint of (None: a custom
            architecture, or not known).
        row: Its pretrained row (None for "hub" repos off the table, files).
        repo, filename: Where it is on the Hugging Face Hub ("tag", "hub").
        path: The local file ("file").
        variant: The convention the file needs (None: any, e.g. a Keras file).
        normalization: The input normalisation its weights expect.
        eval_transform: The evaluation resize and crop of its published accuracy.
        num_classes: The classifier width its config.json records (a saved
            directory or a Hub repo; None: not recorded).
        label_names: Its class names, where config.json records them.
    """

    kind: str
    text: Optional[str]
    model: Optional[str]
    row: Optional[Pretrained]
    repo: Optional[str]
    filename: Optional[str]
    path: Optional[str]
    variant: Optional[str]
    normalization: InputNormalization
    eval_transform: EvalTransform
    num_classes: Optional[int] = None
    label_names: Optional[Tuple[str, ...]] = None

    @property
    def label(self) -> str:
        """How messages name it, e.g. "weights='a1_in1k'"."""
        return f"weights={self.text!r}"

    @property
    def has_file(self) -> bool:
        """Whether there are weights to load (not "none" or "convention")."""
        return self.kind not in ("none", "convention")

    def fit_variant(self, variant: Optional[str], default: str) -> str:
        """The variant to build: `variant`, else the checkpoint's, else `default`.

        Raises:
            ValueError: when an explicit `variant` differs from the checkpoint's,
                naming both.
        """
        if variant is None:
            return self.variant or default
        if self.variant is not None and variant != self.variant:
            what = (f"{self.row.name} ({self.row.source})" if self.row is not None
                    else f"{self.repo}, a torchvision/timm layout")
            raise ValueError(f"{self.label} needs variant={self.variant!r}, the convention of "
                             f"{what}; pass variant=None (or {self.variant!r}). "
                             f"Received: variant={variant!r}")
        return variant


NO_WEIGHTS = Checkpoint("none", None, None, None, None, None, None, None, IMAGENET_MEAN_STD,
                        EvalTransform())


def row_normalization(row: Pretrained) -> InputNormalization:
    """The input normalisation of a pretrained row."""
    if row.preprocessing == "mean_std":
        return InputNormalization("mean_std", tuple(row.mean), tuple(row.std))
    return InputNormalization(row.preprocessing)


def row_eval_transform(row: Pretrained) -> EvalTransform:
    """The evaluation transform of a pretrained row (defaults where unpublished)."""
    return EvalTransform(row.eval_size, row.crop_pct or DEFAULT_CROP_PCT,
                         row.interpolation or DEFAULT_INTERPOLATION)


def _of_row(kind: str, text: str, row: Pretrained) -> Checkpoint:
    return Checkpoint(kind, text, row.model, row, row.hub_repo, row.filename, None, row.variant,
                      row_normalization(row), row_eval_transform(row))


def _tags(model: Optional[str]) -> str:
    if model is None:
        return "none: a custom architecture has no pretrained tags"
    tags = [row.tag for row in list_pretrained(model)]
    return ", ".join(tags) if tags else f"none: {model} has no pretrained weights"


def _imagenet(text: str, model: Optional[str], variant: Optional[str]) -> Checkpoint:
    if model is None:  # the convention alone: "caffe" for v1, [-1, 1] for v2
        variant = variant or "v1"
        if variant not in ("v1", "v2"):
            raise ValueError("weights='imagenet' (keras.applications) exists for variant 'v1' "
                             f"and 'v2' only. Received: variant={variant!r}")
        return Checkpoint("imagenet", text, None, None, None, None, None, variant,
                          InputNormalization("caffe" if variant == "v1" else "tf"),
                          EvalTransform())
    row = find_pretrained(model, "imagenet")
    if row is None:
        have = ", ".join(f"{r.model} (variant={r.variant!r})" for r in PRETRAINED
                         if r.tag == "imagenet")
        raise ValueError(
            f"No ImageNet weights are published for {model}: weights='imagenet' "
            f"(keras.applications) is published for resnet50/101/152 and their V2 twins "
            f"only: {have}. Its pretrained tags: {_tags(model)}.")
    return _of_row("imagenet", text, row)


def _default_row(model: str, source: str) -> Optional[Pretrained]:
    rows = [r for r in list_pretrained(model) if r.source == "timm"]
    if source == "torchvision":
        by_tag = {r.tag: r for r in rows}
        return by_tag.get("tv2_in1k") or by_tag.get("tv_in1k")
    return rows[0] if rows else None


def _hub(text: str, model: Optional[str]) -> Checkpoint:
    repo = text[len(HF_PREFIX):]
    if not HUB_REPO.fullmatch(repo):
        raise ValueError("`weights` must name a Hub repo as 'hf://ORG/REPO' (e.g. "
                         f"'hf://timm/resnet50.a1_in1k'). Received: weights={text!r}")
    row = next((r for r in PRETRAINED if r.hub_repo == repo), None)
    if row is not None and (model is None or row.model == model):
        return dataclasses.replace(_of_row("hub", text, row), filename=HUB_FILENAME)
    # Off the table: a torchvision/timm state dict of unknown preprocessing, in the
    # model's own convention when that is a torch one (timm's resnetv2: "v2.timm").
    variant = HUB_VARIANT
    if model is not None and REGISTRY[model].variant in TORCH_VARIANTS:
        variant = REGISTRY[model].variant
    return Checkpoint("hub", text, model, None, repo, HUB_FILENAME, None, variant,
                      IMAGENET_MEAN_STD, EvalTransform())


def _full_name(text: str) -> Optional[Tuple[str, str]]:
    """(model, tag) when `text` spells "MODEL.TAG" with a registered MODEL."""
    name, dot, tag = text.partition(".")
    if dot and name.lower() in REGISTRY and _TAG.fullmatch(tag):
        return name.lower(), tag
    return None


def resolve(weights, model: Optional[str] = None, *,
            variant: Optional[str] = None) -> Checkpoint:
    """What `weights` means for registered model `model`: the one resolver.

    Accepted values (one vocabulary, for every consumer): None; "imagenet"
    (keras.applications' file of the model); "timm" or "torchvision" (that
    source's default checkpoint of the model: timm's first tag, torchvision's
    DEFAULT); a pretrained tag of the model ("a1_in1k"); a full name
    "MODEL.TAG" ("resnet50.a1_in1k", which also names the model);
    "hf://ORG/REPO" (a Hub repo holding a torchvision/timm model.safetensors);
    the path to a weights file (a str or `os.PathLike`); or a saved directory
    (config.json + model.safetensors, as `keras_resnet.save_pretrained` and
    timm's `save_for_hf` write), whose config gives the preprocessing, the
    evaluation transform, the head size and the class names.

    The rule for a path that also spells a tag: a value without a path
    separator that names a source, a tag of the model or a full name is that
    checkpoint, even when a file of that name exists; write "./a1_in1k" for the
    file. A value that is neither is a file, which must exist. A file records
    no preprocessing: it gets ImageNet's mean and std and the 0.875 bilinear
    crop (pass its checkpoint's name to any consumer for another).

    Args:
        weights: The value to resolve.
        model: Registry name whose tags `weights` may name (None: a custom
            architecture, or any model for a full name).
        variant: For "imagenet" without a model: "v1" ("caffe") or "v2"
            ([-1, 1]); default "v1".

    Returns:
        A `Checkpoint`; `NO_WEIGHTS` for None.

    Raises:
        ValueError: for a value of another type, an unknown tag (listing the
            model's tags), a full name of another model, a malformed "hf://"
            address, a missing file, or "imagenet" for a model that has none.
    """
    if weights is None:
        return NO_WEIGHTS
    if model is not None:
        model = model_info(model).name  # an unknown model is named first
    if isinstance(weights, os.PathLike):
        weights = os.fspath(weights)
        return _directory(weights, model) if os.path.isdir(weights) else _file(weights, model)
    if not isinstance(weights, str):
        raise ValueError(f"`weights` must be one of: {ACCEPTED}. Received: weights={weights!r}")
    if weights == "imagenet":
        return _imagenet(weights, model, variant)
    if weights in ("timm", "torchvision"):
        if model is None:
            return Checkpoint("convention", weights, None, None, None, None, None, HUB_VARIANT,
                              IMAGENET_MEAN_STD, EvalTransform())
        row = _default_row(model, weights)
        if row is None:
            raise ValueError(f"{model} has no {weights} checkpoint; its pretrained tags: "
                             f"{_tags(model)}. Received: weights={weights!r}")
        return _of_row("tag", weights, row)
    if weights.startswith(HF_PREFIX):
        return _hub(weights, model)
    full = _full_name(weights)
    if full is not None:
        name, tag = full
        if model is not None and name != model:
            raise ValueError(f"`weights` {weights!r} is a checkpoint of {name}, not of "
                             f"model={model!r}; pass a tag of {model} or the model {name}")
        row = find_pretrained(name, tag)
        if row is None:
            if os.path.isfile(weights):
                return _file(weights, model)
            raise ValueError(f"Unknown pretrained tag {tag!r} for {name}. `weights` must be "
                             f"one of: {ACCEPTED}. Tags of {name}: {_tags(name)}. "
                             f"Received: weights={weights!r}")
        # "resnet50.imagenet" is keras.applications' file, fetched as weights="imagenet" is
        return _of_row("imagenet" if row.source == "keras.applications" else "tag", weights, row)
    row = find_pretrained(model, weights) if model is not None and _TAG.fullmatch(weights) \
        else None
    if row is not None:
        return _of_row("tag", weights, row)
    if not os.path.exists(weights) and _TAG.fullmatch(weights):
        if model is None and any(r.tag == weights for r in PRETRAINED):
            example = next(r.name for r in PRETRAINED if r.tag == weights)
            raise ValueError(f"{weights!r} is a pretrained tag: pass the tag with `model=`, or "
                             f"a full name MODEL.TAG such as {example!r}. "
                             f"Received: weights={weights!r}")
        if model is None:
            raise ValueError(f"`weights` must be one of: {ACCEPTED}. "
                             f"Received: weights={weights!r}")
        raise ValueError(f"Unknown pretrained tag {weights!r} for {model}. `weights` must be "
                         f"one of: {ACCEPTED}. Tags of {model}: {_tags(model)}. "
                         f"Received: weights={weights!r}")
    if os.path.isdir(weights):
        return _directory(weights, model)
    return _file(weights, model)


def _directory(path: str, model: Optional[str]) -> Checkpoint:
    """A saved directory (`save_pretrained`'s, timm's `save_for_hf`): config.json and
    model.safetensors; its preprocessing, head and labels from config.json."""
    config_path = os.path.join(path, "config.json")
    weights_path = os.path.join(path, HUB_FILENAME)
    if not (os.path.isfile(config_path) and os.path.isfile(weights_path)):
        raise ValueError(f"`weights` directory {path!r} is not a saved model: it needs "
                         f"config.json and {HUB_FILENAME} (what save_pretrained and timm's "
                         f"save_for_hf write). Received: weights={path!r}")
    base = Checkpoint("file", path, model, None, None, None, weights_path, HUB_VARIANT,
                      IMAGENET_MEAN_STD, EvalTransform())
    return with_config(base, read_config(config_path), config_path, model=model)


def read_config(path: str) -> dict:
    """A `config.json` as a dict (a one-line ValueError for anything else)."""
    try:
        with open(path, encoding="utf8") as f:
            config = json.load(f)
    except (OSError, ValueError) as e:
        first = (str(e).splitlines() or [type(e).__name__])[0]
        raise ValueError(f"Could not read the config file {path!r}: {first}") from None
    if not isinstance(config, dict):
        raise ValueError(f"The config file {path!r} does not hold a JSON object.")
    return config


def _numbers(value, count: int) -> bool:
    return (isinstance(value, (list, tuple)) and len(value) == count
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value))


def with_config(checkpoint: Checkpoint, config: dict, where: str, *,
                model: Optional[str] = None) -> Checkpoint:
    """`checkpoint` with what a timm-style config.json says: the architecture (checked
    against registered `model`), num_classes, label_names, and `pretrained_cfg`'s
    mean/std, eval size (`test_input_size`, else `input_size`), crop and
    interpolation. A config of keras_resnet's (its "keras_resnet" entry) also names
    the registered model and its variant.

    Raises:
        ValueError: naming `where` and the field, for a field of the wrong type, or
            an architecture other than `model`'s.
    """
    ours = config.get("keras_resnet") if isinstance(config.get("keras_resnet"), dict) else {}
    arch = ours.get("model") or config.get("architecture")
    if arch is not None and not isinstance(arch, str):
        raise ValueError(f"{where}: 'architecture' must name the model (a string). "
                         f"Received: {arch!r}")
    name = arch.split(".", 1)[0].lower() if arch else None
    if model is not None and name is not None:
        same = name in REGISTRY and REGISTRY[name].spec == REGISTRY[model].spec
        if not same:
            fix = (f"build get_model({name!r}, weights=...) instead" if name in REGISTRY
                   else f"keras_resnet has no {name}")
            raise ValueError(f"{where} holds a {arch!r}, not a {model}: {fix}")
    cfg = config.get("pretrained_cfg", {})
    if not isinstance(cfg, dict):
        raise ValueError(f"{where}: 'pretrained_cfg' must be a JSON object")
    changes = {"model": checkpoint.model or (name if name in REGISTRY else None)}
    classes = config.get("num_classes", cfg.get("num_classes"))
    if classes is not None:
        if not isinstance(classes, int) or isinstance(classes, bool) or classes < 1:
            raise ValueError(f"{where}: 'num_classes' must be a positive integer. "
                             f"Received: {classes!r}")
        changes["num_classes"] = classes
    labels = config.get("label_names", cfg.get("label_names"))
    if labels is not None:
        if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
            raise ValueError(f"{where}: 'label_names' must be a list of strings")
        changes["label_names"] = tuple(labels)
    if ours.get("variant") is not None:
        changes["variant"] = str(ours["variant"])
    mean, std = cfg.get("mean"), cfg.get("std")
    if mean is not None or std is not None:
        if not (_numbers(mean, 3) and _numbers(std, 3) and all(x > 0 for x in std)):
            raise ValueError(f"{where}: pretrained_cfg's 'mean' and 'std' must be 3 numbers "
                             f"each (std > 0). Received: mean={mean!r}, std={std!r}")
        changes["normalization"] = InputNormalization("mean_std", tuple(map(float, mean)),
                                                      tuple(map(float, std)))
    size = cfg.get("test_input_size") or cfg.get("input_size")
    crop = cfg.get("test_crop_pct") or cfg.get("crop_pct") or DEFAULT_CROP_PCT
    interpolation = cfg.get("interpolation") or DEFAULT_INTERPOLATION
    if size is not None and not (_numbers(size, 3) and size[1] == size[2] and size[1] > 0):
        raise ValueError(f"{where}: pretrained_cfg's input size must be [channels, size, "
                         f"size]. Received: {size!r}")
    if not (isinstance(crop, (int, float)) and 0 < crop <= 1):
        raise ValueError(f"{where}: pretrained_cfg's 'crop_pct' must be in (0, 1]. "
                         f"Received: {crop!r}")
    if interpolation not in ("bilinear", "bicubic"):
        interpolation = DEFAULT_INTERPOLATION  # timm's others ("bicubic" is its usual one)
    changes["eval_transform"] = EvalTransform(int(size[1]) if size else None, float(crop),
                                              interpolation)
    return dataclasses.replace(checkpoint, **changes)


def _file(path: str, model: Optional[str]) -> Checkpoint:
    if not os.path.isfile(path):
        raise ValueError(f"`weights` file does not exist: {path!r}. `weights` must be one of: "
                         f"{ACCEPTED}. Received: weights={path!r}")
    return Checkpoint("file", path, model, None, None, None, path, None, IMAGENET_MEAN_STD,
                      EvalTransform())
