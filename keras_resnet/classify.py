"""Classify image files with a published ImageNet checkpoint, as its accuracy was measured.

`classify("resnet50.a1_in1k", ["cat.jpg"])` builds the model at the row's
evaluation size with its normalisation inside (`include_preprocessing=True`),
applies the row's evaluation transform (resize the shorter side to
`eval_size / crop_pct` with its interpolation, center crop) and decodes the
1000 ImageNet classes. `keras-resnet predict --model NAME.TAG` prints it.
"""

from __future__ import annotations

from typing import List, Sequence, Tuple

import numpy as np

from keras_resnet.builders import get_model
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
    if not isinstance(top, int) or isinstance(top, bool) or not 1 <= top <= row.num_classes:
        raise ValueError(f"`top` must be an integer in [1, {row.num_classes}]. "
                         f"Received: top={top!r}")
    if isinstance(images, str) or not images:
        raise ValueError("`images` must list at least one image file")
    batch = np.stack([preprocessing.load_eval_image(p, crop.size, crop.crop_pct,
                                                    crop.interpolation) for p in images])
    preprocessing.imagenet_class_index()  # offline without it: fail before building
    model = get_model(row.name, include_preprocessing=True,
                      input_shape=(crop.size, crop.size, 3))
    probs = np.asarray(model.predict(batch, verbose=0), dtype=np.float64)
    return list(zip(images, preprocessing.decode_predictions(probs, top=top)))
