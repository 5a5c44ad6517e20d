"""What every data source returns: an `ImageData` with a train and a held-out split."""

from __future__ import annotations

import dataclasses
from typing import List, Optional, Sequence, Tuple

import numpy as np


@dataclasses.dataclass
class Split:
    """One split of a dataset: labels plus either decoded images or image files.

    Attributes:
        labels: int32 class indices, shape (N,).
        images: uint8 images (N, H, W, 3), for sources that fit in memory.
        paths: Image files to decode on the fly (for `folder:`), one per label.
    """

    labels: np.ndarray
    images: Optional[np.ndarray] = None
    paths: Optional[List[str]] = None

    def __len__(self) -> int:
        return len(self.labels)


@dataclasses.dataclass
class ImageData:
    """A labelled image dataset with a fixed held-out split.

    Attributes:
        source: The SOURCE string it was loaded from, e.g. "cifar10:/data".
        class_names: Name of each class index.
        train: The split to train on.
        test: The held-out split (`accuracy` in metrics.json is measured on it).
        native_size: (height, width) of the stored images, or None for image
            files, whose sizes vary (they are streamed: random-resized crop to
            the model's input for training, `eval_transform` for evaluation).
        hflip: Whether horizontal flips keep the label (False for digits).
        mean, std: Per-channel statistics of the training images in [0, 1],
            used to normalise inputs.
    """

    source: str
    class_names: List[str]
    train: Split
    test: Split
    native_size: Optional[Tuple[int, int]]
    hflip: bool
    mean: Sequence[float]
    std: Sequence[float]

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


def channel_stats(images: np.ndarray) -> Tuple[Tuple[float, ...], Tuple[float, ...]]:
    """Per-channel mean and standard deviation of uint8 NHWC images, in [0, 1]."""
    channels = images.shape[-1]
    total = np.zeros(channels)
    squares = np.zeros(channels)
    for start in range(0, len(images), 2048):  # chunks: 50k CIFAR images in float64 is 1.2 GB
        x = images[start:start + 2048].reshape(-1, channels).astype(np.float64) / 255.0
        total += x.sum(axis=0)
        squares += (x * x).sum(axis=0)
    count = max(images.size // channels, 1)
    mean = total / count
    std = np.sqrt(np.maximum(squares / count - mean * mean, 1e-6))
    return tuple(float(v) for v in mean), tuple(float(v) for v in std)


def check_labels(labels, num_classes: int, where: str) -> np.ndarray:
    """Labels as int32, or a ValueError saying where the out-of-range one is."""
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"{where}: labels must be a flat list of integers")
    bad = np.flatnonzero((labels < 0) | (labels >= num_classes))
    if bad.size:
        raise ValueError(f"{where}: label {int(labels[bad[0]])} at index {int(bad[0])} is out "
                         f"of range; expected 0..{num_classes - 1}")
    return labels.astype(np.int32)
