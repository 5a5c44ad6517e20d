"""An ImageNet validation copy, for `evaluate --model NAME.TAG`: image files and the
ImageNet-1k class index of each, found by synset name (never by folder position).

Accepted layouts of `folder:DIR`:

- synset folders `DIR/n01440764/*.JPEG`, ... (or `DIR/val/n01440764/...` when DIR holds
  exactly `train/` and `val/`): a partial copy is fine, empty or missing class folders
  too; a folder that is not one of the 1000 ImageNet-1k synsets is an error (the data of
  another label set: ImageNet-21k, a fine-tune's classes);
- a flat folder of images with a labels file: Kaggle's `LOC_val_solution.csv`
  (`ImageId,PredictionString`, the first word of the string is the synset) or a `val.txt`
  of `FILE LABEL` lines (LABEL a class index 0..999 or a synset), looked for in DIR and
  its parent unless given. Listed files that are missing are skipped (a partial copy);
  images the file does not list are left out.
"""

from __future__ import annotations

import csv
import dataclasses
import os
import re
from typing import Dict, List, Optional, Sequence

import numpy as np

from keras_resnet.data.folder import EXTENSIONS, _imagenet_layout

SYNSET = re.compile(r"n\d{8}")
LABEL_FILES = ("LOC_val_solution.csv", "val.txt")


@dataclasses.dataclass
class ValidationImages:
    """Image files of an ImageNet copy and their class indices.

    Attributes:
        directory: The folder the images are in.
        paths: The image files, sorted.
        labels: int32 class index of each (the position of its synset in `synsets`).
        layout: "synset folders" or the labels file used.
    """

    directory: str
    paths: List[str]
    labels: np.ndarray
    layout: str

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def num_classes(self) -> int:
        """How many classes have at least one image."""
        return int(len(np.unique(self.labels)))


def _images_in(directory: str) -> List[str]:
    return sorted(os.path.join(root, f) for root, _, names in os.walk(directory)
                  for f in names if f.lower().endswith(EXTENSIONS))


def _subdirectories(directory: str) -> List[str]:
    return sorted(e.name for e in os.scandir(directory)
                  if e.is_dir() and not e.name.startswith("."))


def _not_imagenet(names: Sequence[str], where: str, total: int) -> ValueError:
    shown = ", ".join(repr(n) for n in names[:5]) + (", ..." if len(names) > 5 else "")
    return ValueError(
        f"{where} has {len(names)} class folder(s) that are not ImageNet-1k synsets ({shown}): "
        f"the checkpoint scores the {total} ImageNet-1k classes, named as WordNet ids "
        f"(n01440764 ... n15075141). For another label set (ImageNet-21k, a fine-tune's own "
        f"classes) evaluate a model trained on it (`evaluate --model-file`).")


def _synset_folders(directory: str, index: Dict[str, int]) -> ValidationImages:
    names = _subdirectories(directory)
    unknown = [n for n in names if n not in index]
    if unknown:
        raise _not_imagenet(unknown, f"folder:{directory}", len(index))
    paths, labels = [], []
    for name in names:
        found = _images_in(os.path.join(directory, name))
        paths.extend(found)
        labels.extend([index[name]] * len(found))
    return ValidationImages(directory, paths, np.asarray(labels, np.int32), "synset folders")


def _read_labels_file(path: str, index: Dict[str, int]) -> Dict[str, int]:
    """{file stem: class index} from a LOC_val_solution.csv or val.txt file."""
    labels = {}
    name = os.path.basename(path)
    try:
        with open(path, newline="", encoding="utf8") as f:
            if name.lower().endswith(".csv"):
                rows = csv.reader(f)
                header = next(rows, None)
                if header is None or [h.strip() for h in header[:2]] != ["ImageId",
                                                                         "PredictionString"]:
                    raise ValueError(f"labels file {path!r} must start with the header "
                                     f"'ImageId,PredictionString' (Kaggle's "
                                     f"LOC_val_solution.csv). Received: {header!r}")
                entries = ((n + 2, row[0] if row else "", (row[1].split() or [""])[0]
                            if len(row) > 1 else "") for n, row in enumerate(rows))
            else:
                entries = ((n + 1, *(line.split() + ["", ""])[:2]) for n, line in enumerate(f))
            for line, image, label in entries:
                if not image and not label:
                    continue
                if label in index:
                    value = index[label]
                elif label.isdigit() and int(label) < len(index):
                    value = int(label)
                else:
                    raise ValueError(
                        f"labels file {path!r}, line {line}: the label of {image!r} must be "
                        f"an ImageNet-1k synset (n01440764 ...) or a class index 0..."
                        f"{len(index) - 1}. Received: {label!r}")
                labels[os.path.splitext(os.path.basename(image))[0]] = value
    except UnicodeDecodeError:
        raise ValueError(f"labels file {path!r} is not a text file") from None
    if not labels:
        raise ValueError(f"labels file {path!r} lists no images")
    return labels


def _with_labels_file(directory: str, labels_file: str,
                      index: Dict[str, int]) -> ValidationImages:
    labels = _read_labels_file(labels_file, index)
    paths, values = [], []
    for path in _images_in(directory):
        stem = os.path.splitext(os.path.basename(path))[0]
        if stem in labels:
            paths.append(path)
            values.append(labels[stem])
    if not paths:
        raise ValueError(f"none of the {len(labels)} images that {labels_file!r} lists is in "
                         f"{directory!r}")
    return ValidationImages(directory, paths, np.asarray(values, np.int32),
                            os.path.basename(labels_file))


def find_labels_file(directory: str) -> Optional[str]:
    """A `LOC_val_solution.csv` or `val.txt` in `directory` or its parent, else None."""
    for where in (directory, os.path.dirname(os.path.abspath(directory))):
        for name in LABEL_FILES:
            path = os.path.join(where, name)
            if os.path.isfile(path):
                return path
    return None


def index_validation(directory: str, synsets: Sequence[str],
                     labels_file: Optional[str] = None) -> ValidationImages:
    """The images of an ImageNet validation copy and their class indices (see the module
    docstring for the layouts). `synsets`: the checkpoint's classes, in class order.

    Raises:
        ValueError: a missing folder or labels file, class folders that are not among
            `synsets`, a malformed labels file, or no images at all.
    """
    if not os.path.isdir(directory):
        raise ValueError(f"image folder does not exist: {directory!r}")
    index = {s: i for i, s in enumerate(synsets)}
    if labels_file is not None and not os.path.isfile(labels_file):
        raise ValueError(f"labels file does not exist: {labels_file!r}")
    if labels_file is None and _imagenet_layout(directory):
        directory = os.path.join(directory, "val")
    subdirs = _subdirectories(directory)
    if labels_file is None and not (subdirs and any(SYNSET.fullmatch(n) for n in subdirs)):
        labels_file = find_labels_file(directory)
    if labels_file is not None:
        images = _with_labels_file(directory, labels_file, index)
    elif subdirs:
        images = _synset_folders(directory, index)
    else:
        raise ValueError(f"folder:{directory} holds neither synset folders (n01440764/ ...) "
                         f"nor a labels file ({' or '.join(LABEL_FILES)}) in it or its "
                         f"parent; pass the labels file with --labels")
    if not images.paths:
        raise ValueError(f"folder:{directory} holds no images "
                         f"({'/'.join(e[1:] for e in EXTENSIONS)}) in its synset folders")
    return images


def stratified_subset(labels: np.ndarray, count: int, seed: int = 0) -> np.ndarray:
    """Indices (sorted) of `count` examples spread evenly over the classes of `labels`:
    every class gives floor or ceil of count / classes (fewer when it has fewer), drawn
    at random with a fixed `seed`."""
    labels = np.asarray(labels)
    if count >= len(labels):
        return np.arange(len(labels))
    rng = np.random.default_rng(seed)
    rank = np.empty(len(labels), np.int64)
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        rank[members[rng.permutation(len(members))]] = np.arange(len(members))
    class_order = rng.permutation(int(labels.max()) + 1)  # which classes get one more
    order = np.lexsort((class_order[labels], rank))
    return np.sort(order[:count])


def subset(images: ValidationImages, indices: np.ndarray) -> ValidationImages:
    """The images at `indices`."""
    return dataclasses.replace(images, paths=[images.paths[i] for i in indices],
                               labels=images.labels[indices])
