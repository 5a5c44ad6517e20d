"""`folder:DIR`: image files, one sub-directory per class; flat or ImageNet layout.

Flat: `DIR/CLASS/*`; the validation split is stratified and fixed by a seed,
so the held-out images are the same in every run. ImageNet layout:
`DIR/train/CLASS/*` and `DIR/val/CLASS/*` (chosen when DIR holds exactly the
two directories `train` and `val`); the `val` folder is the held-out split.

The conventions are `keras.utils.image_dataset_from_directory`'s: class names
are the sorted sub-directory names, files with the extensions it accepts are
used, anything else is ignored. Only the file names are read here: images are
decoded while training (`keras_resnet.data.photos`), where an unreadable file
is skipped and named.
"""

from __future__ import annotations

import os
from typing import List, Tuple

import numpy as np

from keras_resnet.data.base import ImageData, Split
from keras_resnet.pretrained import IMAGENET_MEAN, IMAGENET_STD

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


def _imagenet_layout(directory: str) -> bool:
    """Whether `directory` holds exactly the two folders `train` and `val`."""
    if not os.path.isdir(directory):
        return False
    subdirs = {e.name for e in os.scandir(directory) if e.is_dir() and not e.name.startswith(".")}
    return subdirs == {"train", "val"}


def _split_flat(files: List[List[str]], validation_split: float):
    """(train, test) as (paths, labels), each class split at random with a fixed seed."""
    rng = np.random.RandomState(SPLIT_SEED)
    train, test = ([], []), ([], [])
    for label, paths in enumerate(files):
        order = rng.permutation(len(paths))
        n_val = int(round(len(paths) * validation_split)) if len(paths) > 1 else 0
        for rank, i in enumerate(order):
            split = test if rank < n_val else train
            split[0].append(paths[i])
            split[1].append(label)
    return train, test


def _imagenet_splits(directory: str):
    """(classes, train, test) of the ImageNet layout; `val` may lack classes, not add any."""
    classes, files = list_images(os.path.join(directory, "train"))
    val_dir = os.path.join(directory, "val")
    val_classes = sorted(e.name for e in os.scandir(val_dir)
                         if e.is_dir() and not e.name.startswith("."))
    unknown = sorted(set(val_classes) - set(classes))
    if unknown:
        raise ValueError(f"{val_dir!r} has classes that train/ lacks: {', '.join(unknown[:5])}")
    train = ([p for paths in files for p in paths],
             [label for label, paths in enumerate(files) for _ in paths])
    test = ([], [])
    for name in val_classes:
        class_dir = os.path.join(val_dir, name)
        found = sorted(os.path.join(root, f) for root, _, names in os.walk(class_dir)
                       for f in names if f.lower().endswith(EXTENSIONS))
        test[0].extend(found)
        test[1].extend([classes.index(name)] * len(found))
    return classes, train, test


def load_folder(directory: str, validation_split: float = VALIDATION_SPLIT) -> ImageData:
    """Index an image folder: its classes and the files of each split (nothing decoded).

    ImageNet layout (`train/` and `val/`): the val folder is the held-out
    split; flat layout: a fixed stratified `validation_split` of each class.
    Inputs are normalised with ImageNet's channel statistics (what pretrained
    weights expect).
    """
    if _imagenet_layout(directory):
        classes, train, test = _imagenet_splits(directory)
        if not test[0]:
            raise ValueError(f"{os.path.join(directory, 'val')!r} holds no images")
    else:
        classes, files = list_images(directory)
        train, test = _split_flat(files, validation_split)
        if not test[0]:
            raise ValueError(f"image folder {directory!r} is too small for a validation split")
    return ImageData(f"folder:{directory}", classes,
                     Split(np.asarray(train[1], np.int32), paths=train[0]),
                     Split(np.asarray(test[1], np.int32), paths=test[0]),
                     # ImageNet's statistics: computing a folder's own would read it all
                     native_size=None, hflip=True, mean=IMAGENET_MEAN, std=IMAGENET_STD)
