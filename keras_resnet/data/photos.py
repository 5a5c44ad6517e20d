"""Image files, streamed: read and decode on the fly, skipping (and naming) unreadable files.

Nothing is decoded before training starts and no decoded image is kept: each
epoch reads the (shuffled) file list again. JPEGs are cropped while decoding
(`tf.image.decode_and_crop_jpeg`), so a random-resized crop decodes only the
pixels it keeps. `tf.io.decode_image` with 3 channels handles grey, CMYK,
paletted, 16-bit (scaled to 8 bits) and alpha images (alpha dropped).

A file that cannot be read or decoded does not stop an epoch: it is dropped,
counted in an `UnreadableFiles` and named on stderr the first time; once more
than `MAX_UNREADABLE` of the files are unreadable the pipeline fails with a
ValueError-worthy message (`UnreadableFiles.error`).
"""

from __future__ import annotations

import re
import sys
import threading
from typing import Callable, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

MAX_UNREADABLE = 0.01  # fail once more than 1% of the files are unreadable

# torchvision's / timm's RandomResizedCrop (the paper's "scale augmentation", section 3.4).
CROP_SCALE = (0.08, 1.0)
CROP_RATIO = (3 / 4, 4 / 3)


class UnreadableFiles:
    """The files of one pipeline that could not be decoded (thread-safe).

    `add` is called from the pipeline (through `tf.py_function`, only for a
    failed file): the first time a file fails it is named on stderr with
    the reason; once more than `MAX_UNREADABLE` of `total` files failed it
    raises, which ends the epoch with `error()` as the message.
    """

    def __init__(self, total: int, where: str = "image files"):
        self.total = max(int(total), 1)
        self.where = where
        self.reasons = {}  # path -> reason, in the order they were found
        self._lock = threading.Lock()

    @property
    def too_many(self) -> bool:
        return len(self.reasons) > MAX_UNREADABLE * self.total

    def error(self) -> str:
        """The one-line message of a run stopped by too many unreadable files."""
        first = next(iter(self.reasons.items()), ("", ""))
        return (f"more than {MAX_UNREADABLE:.0%} of the {self.where} are unreadable "
                f"({len(self.reasons)} of {self.total}), e.g. {first[0]!r}: {first[1]}")

    def add(self, path: str) -> None:
        """Record `path` as unreadable (once), name it on stderr, raise when too many."""
        with self._lock:
            new = path not in self.reasons
            if new:
                self.reasons[path] = _why_unreadable(path)
            count, too_many = len(self.reasons), self.too_many
        if new and not too_many:  # past the limit, the error names it instead
            print(f"keras-resnet: skipped unreadable image {path!r} ({self.reasons[path]}); "
                  f"{count} of {self.total} {self.where} skipped", file=sys.stderr, flush=True)
        if too_many:
            raise ValueError(self.error())


def _why_unreadable(path: str) -> str:
    """The decoder's own message for a file that failed in the pipeline (run eagerly, once)."""
    try:
        tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
    except tf.errors.OpError as e:
        # "{{function_node ...}} jpeg::Uncompress failed. ... [Op:DecodeImage] name:" -> the middle
        message = re.sub(r"^\{\{[^}]*\}\}\s*|\s*\[Op:.*$", "", (e.message or "").splitlines()[0])
        return message.strip() or type(e).__name__
    return "could not be decoded"


def random_crop_window(shape: tf.Tensor, scale: Sequence[float] = CROP_SCALE,
                       ratio: Sequence[float] = CROP_RATIO) -> tf.Tensor:
    """[top, left, height, width] of a random crop of an image of `shape` (H, W, ...):
    area a uniform fraction `scale` of the image's, aspect ratio log-uniform in
    `ratio` (torchvision's RandomResizedCrop; after 10 failed draws, the whole image)."""
    begin, size, _ = tf.image.sample_distorted_bounding_box(
        shape, tf.constant([0.0, 0.0, 1.0, 1.0], shape=[1, 1, 4]), min_object_covered=0.0,
        aspect_ratio_range=tuple(ratio), area_range=tuple(scale), max_attempts=10,
        use_image_if_no_bounding_boxes=True)
    return tf.stack([begin[0], begin[1], size[0], size[1]])


def decode_random_crop(path: tf.Tensor) -> tf.Tensor:
    """Decode only a random-resized-crop window of the file (not yet resized).

    JPEGs: the header gives the size, `decode_and_crop_jpeg` decodes the
    window alone. Other formats are decoded whole, then cropped."""
    contents = tf.io.read_file(path)

    def jpeg():
        window = random_crop_window(tf.image.extract_jpeg_shape(contents))
        return tf.image.decode_and_crop_jpeg(contents, window, channels=3,
                                             dct_method="INTEGER_ACCURATE")

    def other():
        image = tf.io.decode_image(contents, channels=3, expand_animations=False)
        image.set_shape([None, None, 3])
        t, left, h, w = tf.unstack(random_crop_window(tf.shape(image)))
        return image[t:t + h, left:left + w]

    image = tf.cond(tf.io.is_jpeg(contents), jpeg, other)
    image.set_shape([None, None, 3])
    return image


def stream_files(paths: Sequence[str], labels: np.ndarray, decode: Callable[[tf.Tensor], tf.Tensor],
                 unreadable: UnreadableFiles, *, shuffle: bool, seed: Optional[int] = None,
                 shard: Tuple[int, int] = (1, 0)) -> tf.data.Dataset:
    """(decoded uint8 image, label) pairs read from `paths` on the fly, in parallel.

    `decode(path)` reads one file. The order is the list's, or with `shuffle`
    reshuffled every epoch (the whole list: paths, not images, are buffered).
    `shard` = (count, index) keeps every count-th file from index on (one
    worker's share). Files that fail to decode are dropped and reported to
    `unreadable` (which may raise, ending the epoch).
    """
    ds = tf.data.Dataset.from_tensor_slices((np.asarray(paths, dtype=object).astype(str),
                                             np.asarray(labels, np.int32)))
    count, index = shard
    if count > 1:
        ds = ds.shard(count, index)
    if shuffle:
        ds = ds.shuffle(max(len(paths) // count, 1), seed=seed, reshuffle_each_iteration=True)

    placeholder = tf.zeros([1, 1, 3], tf.uint8)

    def one_file(path, label):
        # A one-element dataset whose error is dropped; the fallback element then marks it.
        decoded = tf.data.Dataset.from_tensors(path).map(lambda p: (decode(p), True))
        fallback = tf.data.Dataset.from_tensors((placeholder, False))
        return decoded.ignore_errors().concatenate(fallback).take(1).map(
            lambda image, ok: (image, label, ok, path))

    def readable(image, label, ok, path):
        def report(p):
            unreadable.add(p.numpy().decode("utf-8", "replace"))
            return False
        # Python runs for a failed file only: the readable ones never leave the graph.
        return tf.cond(ok, lambda: tf.constant(True),
                       lambda: tf.reshape(tf.py_function(report, [path], tf.bool), []))

    ds = ds.interleave(one_file, cycle_length=tf.data.AUTOTUNE,
                       num_parallel_calls=tf.data.AUTOTUNE, deterministic=not shuffle)
    return ds.filter(readable).map(lambda image, label, ok, path: (image, label))
