"""The tf.data input pipeline: decode, augment, resize, normalise, shuffle, cache, prefetch.

Training order: decode (files only) -> resize to the model's input (files only,
whose sizes vary) -> cache -> shuffle -> the paper's augmentation at the stored
resolution (pad by 1/8 of the side, i.e. 4 px at 32x32, random crop back,
horizontal flip where labels allow) -> resize to the model's input ->
normalise -> batch -> prefetch. Evaluation uses the same normalisation
without augmentation; image files are then resized keeping their aspect ratio
and center-cropped (`keras_resnet.preprocessing.eval_transform`, timm's
evaluation transform) instead of squashed to the input size.
"""

from __future__ import annotations

from typing import Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

from keras_resnet.data.base import ImageData, Split
from keras_resnet.preprocessing import DEFAULT_CROP_PCT, eval_transform

# Decoded, resized file datasets are cached in memory up to this size.
CACHE_LIMIT_BYTES = 2 << 30


def resize(image: tf.Tensor, size: Tuple[int, int]) -> tf.Tensor:
    """Bilinear (antialiased) resize to `size`; a no-op when the size already matches."""
    image = tf.cast(image, tf.float32)
    if tuple(image.shape[-3:-1]) == tuple(size):
        return image
    return tf.image.resize(image, size, method="bilinear", antialias=True)


def normalize(image: tf.Tensor, mean: Sequence[float], std: Sequence[float]) -> tf.Tensor:
    """Map 0..255 pixels to (x / 255 - mean) / std per channel."""
    mean = tf.constant(mean, tf.float32)
    std = tf.constant(std, tf.float32)
    return (tf.cast(image, tf.float32) / 255.0 - mean) / std


def decode_file(path: tf.Tensor) -> tf.Tensor:
    """Read a JPEG/PNG/BMP/GIF file as an RGB uint8 tensor (grey images get 3 channels)."""
    image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
    image.set_shape([None, None, 3])
    return image


def preprocess(image, size: Tuple[int, int], mean: Sequence[float],
               std: Sequence[float]) -> tf.Tensor:
    """Resize and normalise one decoded image or a batch, as the model was trained."""
    return normalize(resize(image, size), mean, std)


def augment(image: tf.Tensor, hflip: bool) -> tf.Tensor:
    """The paper's CIFAR augmentation (section 4.2), scaled to the image's size.

    Zero-pad by 1/8 of the side on each border (4 px at 32x32), take a random
    crop of the original size, and flip horizontally with probability 1/2.
    """
    h, w = image.shape[0], image.shape[1]
    pad_h, pad_w = max(h // 8, 1), max(w // 8, 1)
    image = tf.pad(image, [[pad_h, pad_h], [pad_w, pad_w], [0, 0]])
    image = tf.image.random_crop(image, [h, w, image.shape[-1]])
    if hflip:
        image = tf.image.random_flip_left_right(image)
    return image


def _source(split: Split, size: Tuple[int, int],
            crop: Optional[Tuple[float, str]] = None) -> Tuple[tf.data.Dataset, bool]:
    """Decoded (image, label) pairs and whether they are already at `size`.

    Files are resized to `size`, or with `crop` = (crop_pct, interpolation)
    put through `eval_transform` (square `size` only)."""
    labels = split.labels.astype(np.int32)
    if split.images is not None:
        ds = tf.data.Dataset.from_tensor_slices((split.images, labels))
        return ds, tuple(split.images.shape[1:3]) == tuple(size)
    ds = tf.data.Dataset.from_tensor_slices((np.asarray(split.paths), labels))
    if crop is not None and size[0] == size[1]:
        def load(p, y):
            return eval_transform(decode_file(p), size[0], *crop), y
    else:
        def load(p, y):
            return resize(decode_file(p), size), y
    ds = ds.map(load, num_parallel_calls=tf.data.AUTOTUNE)
    if len(split) * size[0] * size[1] * 3 * 4 <= CACHE_LIMIT_BYTES:
        ds = ds.cache()
    return ds, True


def make_dataset(data: ImageData, split: str, image_size: Tuple[int, int], batch_size: int, *,
                 training: bool, augment_images: bool = True, seed: Optional[int] = 0,
                 crop_pct: float = DEFAULT_CROP_PCT,
                 interpolation: str = "bilinear") -> tf.data.Dataset:
    """Batches of (normalised float32 images, int32 labels) for `split` ("train" or "test").

    With `training=True` the examples are reshuffled every epoch and, with
    `augment_images`, augmented; otherwise their order is fixed and image
    files go through `eval_transform` with `crop_pct` and `interpolation`.
    """
    part: Split = getattr(data, split)
    size = tuple(image_size)
    ds, at_size = _source(part, size, None if training else (crop_pct, interpolation))
    if training:
        ds = ds.shuffle(min(len(part), 50_000), seed=seed, reshuffle_each_iteration=True)

    def transform(image, label):
        if training and augment_images:
            image = augment(image, data.hflip)
        image = resize(image, size) if not at_size else tf.cast(image, tf.float32)
        return normalize(image, data.mean, data.std), label

    ds = ds.map(transform, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)
