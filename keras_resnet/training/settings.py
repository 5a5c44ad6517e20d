"""Argument checks, and a run's settings: new, or read back from run.json to resume."""

from __future__ import annotations

import dataclasses
import os

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


def run_recipe(settings: dict):
    """The run's recipe with its augmentation settings (which may override the recipe's)."""
    r = get_recipe(settings["recipe"])
    return dataclasses.replace(r, **{k: settings[k] for k in AUGMENTATION_KEYS if k in settings})


def resolve_settings(model, data, *, out, epochs, batch_size, weights, recipe, precision,
                     jit, strategy, resume, image_size, steps_per_epoch, seed,
                     auto_augment=None, random_erasing=None, mixup=None, cutmix=None) -> dict:
    """Check every argument and return the run's settings (before touching `out`)."""
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
    given = dict(model=model, data=data, epochs=epochs, batch_size=batch_size, weights=weights,
                 recipe=recipe, precision=precision, image_size=image_size,
                 steps_per_epoch=steps_per_epoch, auto_augment=auto_augment,
                 random_erasing=random_erasing, mixup=mixup, cutmix=cutmix)
    if resume:
        settings = read_json(os.path.join(out, "run.json"), "run.json of the run to resume")
        for key, value in given.items():
            if value is not None and value != settings.get(key):
                raise ValueError(f"--resume continues {out!r} with its own settings: {key} "
                                 f"was {settings.get(key)!r}, not {value!r}")
        settings["jit"] = jit
        return settings
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
    return dict(model=info.name, data=data, epochs=epochs or r.epochs,
                batch_size=batch_size or r.batch_size, weights=weights, recipe=r.name,
                precision=precision or "float32", image_size=size,
                steps_per_epoch=steps_per_epoch, seed=seed, jit=jit, **augmentation)


def _split_full_name(model, weights):
    """(model, weights) with a pretrained full name "resnet50.a1_in1k" in `weights`
    split into its model (which must agree with `model`, or stands for it) and tag;
    `keras_resnet.pretrained.resolve` decides what `weights` is."""
    from keras_resnet.pretrained import resolve

    if weights is None or model is not None:
        checkpoint = resolve(weights, model)  # a full name of another model raises
    else:
        checkpoint = resolve(weights)
    if checkpoint.kind == "tag" and isinstance(weights, str) and "." in weights:
        return checkpoint.model, checkpoint.row.tag
    return model, weights
