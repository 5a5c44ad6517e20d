"""Classify image files with a published ImageNet checkpoint, as its accuracy was measured.

`classify("resnet50.a1_in1k", ["cat.jpg"])` builds the model at the row's
evaluation size with its normalisation inside (`include_preprocessing=True`),
applies the row's evaluation transform (resize the shorter side to
`eval_size / crop_pct` with its interpolation, center crop) and decodes the
1000 ImageNet classes. A checkpoint with another head (the 11821 classes of an
in12k tag, the 21843 of an in21k tag) is not given ImageNet-1k's names: its
classes are named by index ("#4321"), as no class list ships with the package.
`keras-resnet predict --model NAME.TAG` prints it.
"""

from __future__ import annotations

from typing import List, Sequence, Tuple

import numpy as np

from keras_resnet.builders import get_model
from keras_resnet.imagenet_labels import IMAGENET_CLASSES
from keras_resnet.pretrained import Checkpoint, resolve


def pretrained_checkpoint(name: str) -> Checkpoint:
    """The checkpoint of a full name "MODEL.TAG" (e.g. "resnet50.a1_in1k")."""
    model, dot, tag = name.partition(".") if isinstance(name, str) else ("", "", "")
    if not dot or not model or not tag:
        raise ValueError("`name` must be a pretrained full name MODEL.TAG, e.g. "
                         f"'resnet50.a1_in1k' (see `keras-resnet list --pretrained`). "
                         f"Received: name={name!r}")
    checkpoint = resolve(name, model)  # an unknown model or tag raises, listing them
    if checkpoint.row is None:
        raise ValueError(f"`name` must be a pretrained full name MODEL.TAG; {name!r} is a "
                         f"file. Received: name={name!r}")
    return checkpoint


def classify(name: str, images: Sequence[str], *,
             top: int = 5) -> List[Tuple[str, List[Tuple[str, str, float]]]]:
    """Top ImageNet classes `(wordnet_id, class_name, probability)` of each image file.

    For a head of other than ImageNet-1k's 1000 classes, `wordnet_id` is "" and
    `class_name` the class index ("#4321"): the package has no class names for it.

    Args:
        name: A pretrained full name, "MODEL.TAG" (`keras_resnet.list_pretrained()`).
        images: Image files (JPEG/PNG/BMP/GIF).
        top: Classes per image, most probable first.

    Returns:
        `(path, classes)` per image, in order.
    """
    from keras_resnet import preprocessing

    checkpoint = pretrained_checkpoint(name)
    row, crop = checkpoint.row, checkpoint.eval_transform
    if row.num_classes == 0:
        raise ValueError(f"{row.name} has no classifier (a headless pretraining checkpoint): "
                         "it cannot classify; build it with include_top=False, or fine-tune a "
                         f"head. Received: name={name!r}")
    if not isinstance(top, int) or isinstance(top, bool) or not 1 <= top <= row.num_classes:
        raise ValueError(f"`top` must be an integer in [1, {row.num_classes}]. "
                         f"Received: top={top!r}")
    if isinstance(images, str) or not images:
        raise ValueError("`images` must list at least one image file")
    batch = np.stack([preprocessing.load_eval_image(p, crop.size, crop.crop_pct,
                                                    crop.interpolation) for p in images])
    imagenet_1k = row.num_classes == IMAGENET_CLASSES
    if imagenet_1k:
        preprocessing.imagenet_class_index()  # offline without it: fail before building
    model = get_model(row.name, include_preprocessing=True,
                      input_shape=(crop.size, crop.size, 3))
    probs = np.asarray(model.predict(batch, verbose=0), dtype=np.float64)
    if imagenet_1k:
        return list(zip(images, preprocessing.decode_predictions(probs, top=top)))
    return list(zip(images, decode_by_index(probs, top)))


def decode_by_index(probs, top: int) -> List[List[Tuple[str, str, float]]]:
    """`(wordnet_id, class_name, probability)` for a head without class names: the
    wordnet id is "" and the name the class index ("#4321"), most probable first."""
    return [[("", f"#{i}", float(p[i])) for i in np.argsort(p)[-top:][::-1]] for p in probs]
