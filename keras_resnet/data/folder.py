"""`folder:DIR`: one sub-directory of JPEG/PNG images per class.

The conventions are `keras.utils.image_dataset_from_directory`'s: class names
are the sorted sub-directory names, files with the extensions it accepts are
used, anything else is ignored. The validation split is stratified and fixed
by a seed, so the held-out images are the same in every run.
"""

from __future__ import annotations

import os
from typing import List, Tuple

import numpy as np

from keras_resnet.data.base import IMAGENET_MEAN, IMAGENET_STD, ImageData, Split

EXTENSIONS = (".jpeg", ".jpg", ".png", ".bmp", ".gif")
VALIDATION_SPLIT = 0.2
SPLIT_SEED = 1337


def list_images(directory: str) -> Tuple[List[str], List[List[str]]]:
    """Class names and, for each, its sorted image files; ValueError if unusable."""
    if not os.path.isdir(directory):
        raise ValueError(f"image folder does not exist: {directory!r}")
    classes = sorted(e.name for e in os.scandir(directory)
                     if e.is_dir() and not e.name.startswith("."))
    if len(classes) < 2:
        raise ValueError(f"image folder {directory!r} must hold one sub-directory of images per "
                         f"class, at least 2; found {len(classes)}")
    files = []
    for name in classes:
        class_dir = os.path.join(directory, name)
        found = sorted(os.path.join(root, f) for root, _, names in os.walk(class_dir)
                       for f in names if f.lower().endswith(EXTENSIONS))
        if not found:
            raise ValueError(f"class directory {class_dir!r} has no images "
                             f"({'/'.join(e[1:] for e in EXTENSIONS)})")
        files.append(found)
    return classes, files


def check_image(path: str) -> None:
    """Raise a ValueError unless Pillow can decode `path` completely.

    JPEGs are decoded at 1/8 scale (`draft`), which still reads every coded
    block, so truncated or corrupt files are caught at a fraction of the cost.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            if im.format == "JPEG":
                im.draft("RGB", (max(im.width // 8, 1), max(im.height // 8, 1)))
            im.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise ValueError(f"unreadable image {path!r}: {e}") from None


def load_folder(directory: str, validation_split: float = VALIDATION_SPLIT,
                verify: bool = True) -> ImageData:
    """Index an image folder and split each class into train and validation files.

    Every file is decoded once up front (`verify=True`), so an unreadable
    image is reported by name before training starts. Inputs are normalised
    with ImageNet's channel statistics (what pretrained weights expect).
    """
    classes, files = list_images(directory)
    rng = np.random.RandomState(SPLIT_SEED)
    train, test = ([], []), ([], [])
    for label, paths in enumerate(files):
        order = rng.permutation(len(paths))
        n_val = int(round(len(paths) * validation_split)) if len(paths) > 1 else 0
        for rank, i in enumerate(order):
            split = test if rank < n_val else train
            split[0].append(paths[i])
            split[1].append(label)
    if not test[0]:
        raise ValueError(f"image folder {directory!r} is too small for a validation split")
    if verify:
        for path in train[0] + test[0]:
            check_image(path)
    return ImageData(f"folder:{directory}", classes,
                     Split(np.asarray(train[1], np.int32), paths=train[0]),
                     Split(np.asarray(test[1], np.int32), paths=test[0]),
                     native_size=None, hflip=True, mean=IMAGENET_MEAN, std=IMAGENET_STD)
