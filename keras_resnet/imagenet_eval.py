"""A pretrained checkpoint on the user's own ImageNet validation copy, next to its
published accuracy (`keras-resnet evaluate --model NAME.TAG --data folder:DIR`).

The images go through the checkpoint's evaluation transform (its test size, crop_pct and
interpolation: `keras_resnet.pretrained.resolve(...).eval_transform`, timm's eval
pipeline) and its normalisation inside the model (`include_preprocessing=True`). Classes
are matched by synset name (`keras_resnet.data.imagenet_val`). Files are read and decoded
by tf.data; the model runs on whatever Keras backend is set.
"""

from __future__ import annotations

import sys
import time
from typing import Dict, Optional

import numpy as np

from keras_resnet.data.imagenet_val import (ValidationImages, index_validation,
                                            stratified_subset, subset)
from keras_resnet.imagenet_labels import IMAGENET_CLASSES, IMAGENET_SYNSETS
from keras_resnet.pretrained import Checkpoint, resolve

DEFAULT_BATCH_SIZE = 32


def _positive_int(name: str, value, allow_none: bool = True) -> None:
    if value is None and allow_none:
        return
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}")


def checkpoint_to_evaluate(model: str, weights=None) -> Checkpoint:
    """The checkpoint that `model` (a full name "MODEL.TAG") or `model` (a registry name)
    with `weights` (a tag, "hf://ORG/REPO" or a weights file) name."""
    if weights is None:
        from keras_resnet.classify import pretrained_checkpoint
        return pretrained_checkpoint(model)
    from keras_resnet.registry import model_info
    checkpoint = resolve(weights, model_info(model).name)
    if not checkpoint.has_file:
        raise ValueError(f"`weights` must name a checkpoint to evaluate. Received: "
                         f"weights={weights!r}")
    return checkpoint


def check_classes(checkpoint: Checkpoint, name: str) -> None:
    """ValueError unless the checkpoint's classifier scores ImageNet-1k's 1000 classes."""
    from keras_resnet.weights import checkpoint_classes

    classes = checkpoint_classes(checkpoint)
    if classes == IMAGENET_CLASSES:
        return
    what = ("no classifier" if classes is None else
            f"a {classes}-class classifier" + (
                " (an ImageNet-12k/21k/22k head)" if classes > IMAGENET_CLASSES else
                " (a fine-tune to other classes)"))
    raise ValueError(f"{name} has {what}, not ImageNet-1k's {IMAGENET_CLASSES} classes: "
                     f"`evaluate --model` scores ImageNet-1k checkpoints (see `keras-resnet "
                     f"list --pretrained`); evaluate a fine-tune on its own data with "
                     f"`evaluate --model-file`")


def evaluate_checkpoint(model: str, data: str, *, weights=None,
                        labels_file: Optional[str] = None, image_size: Optional[int] = None,
                        crop_pct: Optional[float] = None, limit: Optional[int] = None,
                        batch_size: int = DEFAULT_BATCH_SIZE, seed: int = 0,
                        verbose: int = 1) -> Dict[str, object]:
    """Top-1 and top-5 accuracy of a pretrained checkpoint on an ImageNet validation copy.

    Args:
        model: A pretrained full name "MODEL.TAG" (`keras-resnet list --pretrained`), or a
            registry name with `weights`.
        data: "folder:DIR": synset folders, or a flat folder with a labels file (see
            `keras_resnet.data.imagenet_val`).
        weights: With a registry name: a pretrained tag, "hf://ORG/REPO" or a weights file.
        labels_file: A LOC_val_solution.csv or val.txt (default: looked for beside DIR).
        image_size, crop_pct: Override the checkpoint's evaluation size and crop.
        limit: Evaluate a stratified subset of this many images (fixed by `seed`).
        batch_size: Images per batch.
        verbose: 1 shows a progress bar with images/s (on stderr).

    Returns:
        A dict: "name", "top1" and "top5" (percent), "published_top1" and
        "published_top5" (None off the pretrained table), "num_images",
        "num_classes" (with images), "total_images" (before `limit`), "image_size",
        "crop_pct", "interpolation", "layout", "seconds", "unreadable_files", and per
        image "paths", "labels", "top5_classes", "top5_probabilities".

    Raises:
        ValueError: before any image is read: a bad argument, a checkpoint that does not
            score ImageNet-1k's classes (an in12k/in21k head, a fine-tune), class folders
            that are not ImageNet-1k synsets.
    """
    from keras_resnet.data import parse_source
    from keras_resnet.preprocessing import _check_eval_arguments

    _positive_int("image_size", image_size)
    _positive_int("limit", limit)
    _positive_int("batch_size", batch_size, allow_none=False)
    kind, directory = parse_source(data)
    if kind != "folder":
        raise ValueError(f"`data` must be folder:DIR, an ImageNet validation copy (synset "
                         f"folders, or images with a labels file). Received: data={data!r}")
    checkpoint = checkpoint_to_evaluate(model, weights)
    name = checkpoint.row.name if checkpoint.row is not None else \
        f"{checkpoint.model} ({checkpoint.text})"
    transform = checkpoint.eval_transform
    size = image_size or transform.size or 224
    crop = transform.crop_pct if crop_pct is None else crop_pct
    _check_eval_arguments(size, crop, transform.interpolation)
    images = index_validation(directory, IMAGENET_SYNSETS, labels_file)
    check_classes(checkpoint, name)
    total = len(images)
    if limit is not None:
        images = subset(images, stratified_subset(images.labels, limit, seed))

    net = _build(checkpoint, size)
    start = time.perf_counter()
    labels, top5, probs, unreadable = _run(net, images, size, crop, transform.interpolation,
                                           batch_size, verbose)
    seconds = time.perf_counter() - start
    top1 = 100.0 * float(np.mean(top5[:, 0] == labels)) if len(labels) else float("nan")
    top5_acc = 100.0 * float(np.mean((top5 == labels[:, None]).any(axis=1))) \
        if len(labels) else float("nan")
    row = checkpoint.row
    return {
        "name": name, "top1": top1, "top5": top5_acc,
        "published_top1": row.top1 if row is not None else None,
        "published_top5": row.top5 if row is not None else None,
        "num_images": int(len(labels)), "num_classes": images.num_classes,
        "total_images": total, "image_size": size, "crop_pct": crop,
        "interpolation": transform.interpolation, "layout": images.layout,
        "seconds": seconds, "unreadable_files": dict(unreadable.reasons),
        "paths": [p for p in images.paths if p not in unreadable.reasons],
        "labels": labels, "top5_classes": top5, "top5_probabilities": probs,
    }


def _build(checkpoint: Checkpoint, size: int):
    """The checkpoint's model at `size`, its normalisation inside."""
    from keras_resnet.builders import get_model

    if checkpoint.row is not None:
        return get_model(checkpoint.row.name, include_preprocessing=True,
                         input_shape=(size, size, 3))
    return get_model(checkpoint.model, weights=checkpoint.text, include_preprocessing=True,
                     input_shape=(size, size, 3), num_classes=IMAGENET_CLASSES)


def _run(net, images: ValidationImages, size: int, crop_pct: float, interpolation: str,
         batch_size: int, verbose: int):
    """(labels, top-5 classes, top-5 probabilities, UnreadableFiles) of the images."""
    import keras
    import tensorflow as tf

    from keras_resnet.data.photos import UnreadableFiles, stream_files
    from keras_resnet.image_files import decode_file
    from keras_resnet.preprocessing import eval_transform

    unreadable = UnreadableFiles(len(images), "validation image files")
    ds = stream_files(images.paths, images.labels, decode_file, unreadable, shuffle=False)
    ds = ds.map(lambda image, label: (eval_transform(image, size, crop_pct, interpolation),
                                      label), num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)
    bar = _Progress(len(images)) if verbose else None
    labels, top5, probs = [], [], []
    seen = 0
    start = time.perf_counter()
    try:
        for x, y in ds.as_numpy_iterator():
            p = np.asarray(keras.ops.convert_to_numpy(net.predict_on_batch(x)), np.float64)
            best = np.argsort(-p, axis=1)[:, :5]
            labels.append(y)
            top5.append(best)
            probs.append(np.take_along_axis(p, best, axis=1))
            seen += len(y)
            if bar is not None:
                bar.update(seen, time.perf_counter() - start)
    except tf.errors.OpError:
        if unreadable.too_many:
            raise ValueError(unreadable.error()) from None
        raise
    if bar is not None:
        bar.done()
    if not labels:
        return (np.zeros(0, np.int32), np.zeros((0, 5), np.int64), np.zeros((0, 5)),
                unreadable)
    return np.concatenate(labels), np.concatenate(top5), np.concatenate(probs), unreadable


class _Progress:
    """A one-line progress bar on stderr: images done, percent, images/s, time left."""

    WIDTH = 30

    def __init__(self, total: int):
        self.total = max(total, 1)

    def update(self, done: int, seconds: float) -> None:
        rate = done / seconds if seconds > 0 else 0.0
        left = (self.total - done) / rate if rate > 0 else 0.0
        filled = int(self.WIDTH * done / self.total)
        sys.stderr.write(f"\r[{'=' * filled}{'.' * (self.WIDTH - filled)}] {done}/{self.total} "
                         f"images  {rate:.1f} img/s  {left:.0f} s left ")
        sys.stderr.flush()

    def done(self) -> None:
        sys.stderr.write("\n")
        sys.stderr.flush()


def report(result: Dict[str, object]) -> str:
    """The lines `keras-resnet evaluate --model` prints."""
    subset_note = "" if result["num_images"] == result["total_images"] else \
        f", a stratified subset of the {result['total_images']}"
    lines = [f"{result['name']}: {result['num_images']} images of {result['num_classes']} "
             f"classes{subset_note} ({result['layout']}); {result['image_size']} px, crop_pct "
             f"{result['crop_pct']:g}, {result['interpolation']}; "
             f"{result['num_images'] / max(result['seconds'], 1e-9):.1f} img/s"]
    for k in ("top1", "top5"):
        ours, published = result[k], result[f"published_{k}"]
        line = f"{'top-' + k[3:]:<6} {ours:7.3f}%"
        if published is not None:
            line += f"   published {published:7.3f}%   difference {ours - published:+.3f}"
        else:
            line += "   published: none (not a row of the pretrained table)"
        lines.append(line)
    if result["unreadable_files"]:
        lines.append(f"skipped {len(result['unreadable_files'])} unreadable image file(s)")
    return "\n".join(lines)
