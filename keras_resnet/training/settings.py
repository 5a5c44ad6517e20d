"""Argument checks; a run's settings (`RunSettings`), new or read back from run.json
(`RunRecord`) to resume."""

from __future__ import annotations

import dataclasses
import os
import typing
from typing import Dict, List, Optional, Tuple

from keras_resnet.training.distribute import STRATEGIES, check_strategy_backend
from keras_resnet.training.files import read_json
from keras_resnet.training.recipes import get_recipe

PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")


def check_positive(name: str, value) -> None:
    """ValueError unless `value` is None or a positive int (not a bool)."""
    if value is not None and (not isinstance(value, int) or isinstance(value, bool)
                              or value < 1):
        raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}")


AUGMENTATION_KEYS = ("auto_augment", "random_erasing", "mixup", "cutmix")


def resolve_augmentation(recipe, source: str, **given) -> dict:
    """The run's `auto_augment`, `random_erasing`, `mixup` and `cutmix`: each
    given value (not None) overrides the recipe's; auto_augment "none" turns
    the recipe's off. ValueError for a bad value, or for auto_augment /
    random_erasing asked for data that is not image files (they are for photos)."""
    from keras_resnet.data import parse_source
    from keras_resnet.data.augment import check_augmentation

    values = {k: getattr(recipe, k) if given.get(k) is None else given[k]
              for k in AUGMENTATION_KEYS}
    if values["auto_augment"] == "none":
        values["auto_augment"] = None
    check_augmentation(**values)
    if parse_source(source)[0] != "folder":
        for key in ("auto_augment", "random_erasing"):
            if given.get(key) not in (None, 0, "none"):
                raise ValueError(f"`{key}` is for photos (folder:DIR); {source!r} gets the "
                                 f"paper's augmentation. Received: {key}={given[key]!r}")
    return values


def run_recipe(settings: RunSettings):
    """The run's recipe with its augmentation settings (which may override the recipe's)."""
    r = get_recipe(settings.recipe)
    return dataclasses.replace(r, **{k: getattr(settings, k) for k in AUGMENTATION_KEYS})


@dataclasses.dataclass(frozen=True)
class RunSettings:
    """What a run trains, on what and how: everything `train` reads after checking
    its arguments (`resolve_settings`), and what run.json stores for `--resume`.

    `jit` is the one exception: how this process compiles, chosen again by every
    invocation (None: Keras' "auto"), so not stored.
    """

    model: str  # registry name, e.g. "resnet20"
    data: str  # SOURCE, e.g. "digits", "folder:DIR"
    epochs: int
    batch_size: int  # global
    weights: Optional[str]  # initial weights as given (a file, a tag, "imagenet", hf://)
    recipe: str  # a key of RECIPES
    precision: str  # one of PRECISIONS
    image_size: int
    steps_per_epoch: Optional[int]  # None: one pass over the data
    seed: int
    auto_augment: Optional[str]
    random_erasing: float
    mixup: float
    cutmix: float
    # Re-estimate BatchNormalization's statistics before validation (precise BN);
    # None: when an epoch has fewer steps than the moving averages span, on one replica.
    precise_bn: Optional[bool] = None
    # Gradient checkpointing (`keras_resnet.remat`): None, "block" or "stage". Memory and
    # time only (the same results); stored so that --resume keeps it unless told otherwise.
    remat: Optional[str] = None
    jit: Optional[bool] = dataclasses.field(default=None, compare=False)

    def to_json(self) -> dict:
        """The stored settings (all but `jit`), as run.json's keys."""
        return {k: getattr(self, k) for k in STORED_KEYS}


STORED_KEYS = tuple(f.name for f in dataclasses.fields(RunSettings) if f.name != "jit")
# What run.json adds to the settings: facts of the data, known once it is loaded.
DATA_KEYS = ("class_names", "mean", "std", "num_train", "num_test", "eval_crop")


@dataclasses.dataclass(frozen=True)
class RunRecord:
    """run.json: a run's `RunSettings`, its classes, input normalisation (`mean`,
    `std`, per channel, of [0, 1] pixels), split sizes and evaluation crop
    (`{"crop_pct", "interpolation"}`). On disk one flat JSON object."""

    settings: RunSettings
    class_names: Tuple[str, ...]
    mean: Tuple[float, ...]
    std: Tuple[float, ...]
    num_train: int
    num_test: int
    eval_crop: Dict[str, object]

    def to_json(self) -> dict:
        """run.json's object: the settings' keys and `DATA_KEYS`."""
        return {**self.settings.to_json(), "class_names": list(self.class_names),
                "mean": list(self.mean), "std": list(self.std), "num_train": self.num_train,
                "num_test": self.num_test, "eval_crop": dict(self.eval_crop)}

    @classmethod
    def from_json(cls, obj, where: str = "run.json", *, jit: Optional[bool] = None) -> "RunRecord":
        """The record of run.json's object `obj`; a ValueError naming `where` and the
        keys for one written by another version (a key missing or unknown) or by
        hand (a value of the wrong type). `jit` is the settings' (not stored)."""
        if not isinstance(obj, dict):
            raise ValueError(f"{where} must hold a JSON object, not {type(obj).__name__}")
        obj = {"precise_bn": None, "remat": None, **obj}  # run.json files from before these
        known = STORED_KEYS + DATA_KEYS
        missing = [k for k in known if k not in obj]
        unknown = sorted(k for k in obj if k not in known)
        if missing or unknown:
            parts = ([f"missing {', '.join(missing)}"] if missing else []) + (
                [f"unknown {', '.join(unknown)}"] if unknown else [])
            raise ValueError(f"{where} is not a run.json this keras_resnet writes "
                             f"({'; '.join(parts)}); it cannot be resumed or read")
        hints = typing.get_type_hints(RunSettings)
        for key in STORED_KEYS:
            _check_json_type(where, key, obj[key], hints[key])
        _check_json_type(where, "class_names", obj["class_names"], List[str])
        for key in ("mean", "std"):
            _check_json_type(where, key, obj[key], List[float])
        for key in ("num_train", "num_test"):
            _check_json_type(where, key, obj[key], int)
        _check_json_type(where, "eval_crop", obj["eval_crop"], dict)
        settings = RunSettings(**{k: obj[k] for k in STORED_KEYS}, jit=jit)
        return cls(settings, tuple(obj["class_names"]), tuple(obj["mean"]), tuple(obj["std"]),
                   obj["num_train"], obj["num_test"], dict(obj["eval_crop"]))


def _check_json_type(where: str, key: str, value, hint) -> None:
    """ValueError unless `value` (from JSON) is of the type `hint` (int, float -- an int
    too --, str, dict, Optional[...] or List[...]; a bool is no number)."""
    def fits(v, h) -> bool:
        origin, args = typing.get_origin(h), typing.get_args(h)
        if origin is typing.Union:
            return any(fits(v, a) for a in args)
        if origin is list:
            return isinstance(v, list) and all(fits(x, args[0]) for x in v)
        if h is type(None):
            return v is None
        if h in (int, float):
            return isinstance(v, (int, float) if h is float else int) and not isinstance(v, bool)
        return isinstance(v, h)

    if not fits(value, hint):
        raise ValueError(f"{where}: {key} must be {_json_type_name(hint)}. "
                         f"Received: {key}={value!r}")


def _json_type_name(hint) -> str:
    """The JSON words for a type hint: "an integer or null", "a list of strings"."""
    names = {int: "an integer", float: "a number", str: "a string", dict: "an object",
             type(None): "null"}
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Union:
        return " or ".join(_json_type_name(a) for a in args)
    if origin is list:
        return "a list of " + _json_type_name(args[0]).split(" ", 1)[1] + "s"
    return names[hint]


def read_run_record(run_dir: str, what: str = "run.json", *,
                    jit: Optional[bool] = None) -> RunRecord:
    """The `RunRecord` of `run_dir`/run.json; a ValueError naming `what` when it is
    missing, unreadable or not one this version writes."""
    path = os.path.join(run_dir, "run.json")
    return RunRecord.from_json(read_json(path, what), f"{what} {path!r}", jit=jit)


def resolve_settings(model, data, *, out, epochs, batch_size, weights, recipe, precision,
                     jit, strategy, resume, image_size, steps_per_epoch, seed,
                     auto_augment=None, random_erasing=None, mixup=None,
                     cutmix=None, precise_bn=None, remat=None) -> RunSettings:
    """Check every argument and return the run's settings (before touching `out`):
    with `resume`, those of `out`'s run.json (any argument given must agree with them)."""
    from keras_resnet.data import parse_source
    from keras_resnet.registry import model_info
    from keras_resnet.pretrained import resolve

    if not out:
        raise ValueError("`out` must name the run directory")
    for key, value in (("epochs", epochs), ("batch_size", batch_size),
                       ("image_size", image_size), ("steps_per_epoch", steps_per_epoch)):
        check_positive(key, value)
    if precision is not None and precision not in PRECISIONS:
        raise ValueError(f"`precision` must be one of {', '.join(PRECISIONS)}. "
                         f"Received: {precision!r}")
    if strategy not in STRATEGIES:
        raise ValueError(f"`strategy` must be one of {', '.join(STRATEGIES)}. "
                         f"Received: {strategy!r}")
    check_strategy_backend(strategy)
    if precise_bn is not None and not isinstance(precise_bn, bool):
        raise ValueError(f"`precise_bn` must be True, False or None (automatic). "
                         f"Received: precise_bn={precise_bn!r}")
    from keras_resnet.remat import check_remat
    check_remat(remat)
    remat = "block" if remat is True else (remat or None)
    given = dict(precise_bn=precise_bn, model=model, data=data, epochs=epochs,
                 batch_size=batch_size, weights=weights,
                 recipe=recipe, precision=precision, image_size=image_size,
                 steps_per_epoch=steps_per_epoch, auto_augment=auto_augment,
                 random_erasing=random_erasing, mixup=mixup, cutmix=cutmix)
    if resume:
        settings = read_run_record(out, "run.json of the run to resume", jit=jit).settings
        for key, value in given.items():
            if value is not None and value != getattr(settings, key):
                raise ValueError(f"--resume continues {out!r} with its own settings: {key} "
                                 f"was {getattr(settings, key)!r}, not {value!r}")
        # remat changes memory and time only: a resumed run may turn it on or change it.
        return settings if remat is None else dataclasses.replace(settings, remat=remat)
    if os.path.exists(out) and (not os.path.isdir(out) or os.listdir(out)):
        raise ValueError(f"`out` {out!r} already exists and is not empty; pass --resume to "
                         "continue that run or choose another directory")
    model, weights = _split_full_name(model, weights)
    if model is None or data is None:
        raise ValueError("`model` and `data` are required (unless resuming)")
    info = model_info(model)
    parse_source(data)
    r = get_recipe(recipe or ("finetune" if weights is not None else "paper-cifar"))
    size = image_size or info.input_shape[0]
    smallest = info.spec.min_input_size
    if size < smallest:
        raise ValueError(f"`image_size` must be at least {smallest} for {info.name}. "
                         f"Received: image_size={size}")
    resolve(weights, info.name)  # None, a file, "imagenet", a tag or hf://: checked now
    augmentation = resolve_augmentation(r, data, auto_augment=auto_augment,
                                        random_erasing=random_erasing, mixup=mixup, cutmix=cutmix)
    return RunSettings(model=info.name, data=data, epochs=epochs or r.epochs,
                       batch_size=batch_size or r.batch_size, weights=weights, recipe=r.name,
                       precision=precision or "float32", image_size=size,
                       steps_per_epoch=steps_per_epoch, seed=seed, precise_bn=precise_bn,
                       remat=remat, jit=jit, **augmentation)


def _split_full_name(model, weights):
    """(model, weights) with a pretrained full name "resnet50.a1_in1k" in `weights`
    split into its model (which must agree with `model`, or stands for it) and tag;
    `keras_resnet.pretrained.resolve` decides what `weights` is."""
    from keras_resnet.pretrained import resolve

    checkpoint = resolve(weights, model)  # a full name of another model raises
    if checkpoint.kind == "tag" and isinstance(weights, str) and "." in weights:
        return checkpoint.model, checkpoint.row.tag
    return model, weights
