"""The tf.data input pipeline: in-memory arrays (digits, CIFAR) and streamed image files.

Arrays (the paper's setting): cache -> shuffle -> the paper's augmentation at
the stored resolution (pad by 1/8 of the side, i.e. 4 px at 32x32, random crop
back, horizontal flip where labels allow) -> resize to the model's input ->
normalise -> batch -> prefetch.

Image files (photos, `folder:DIR`; see `keras_resnet.data.photos`): file list
-> shard per worker -> shuffle the list every epoch -> parallel read and
decode, unreadable files skipped and named -> random-resized crop (scale
0.08-1, ratio 3/4-4/3; JPEGs cropped while decoding) to the model's size +
horizontal flip -> RandAugment / TrivialAugment (optional) -> normalise ->
random erasing (optional) -> batch -> mixup / cutmix (optional) -> prefetch.
Nothing is decoded up front or cached.

Evaluation uses the same normalisation without augmentation; image files are
resized keeping their aspect ratio and center-cropped
(`keras_resnet.preprocessing.eval_transform`, timm's evaluation transform).
With mixup or cutmix, labels are one-hot (training and evaluation alike).
"""

from __future__ import annotations

from typing import Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

from keras_resnet.data.augment import (Augmentation, auto_augment_fn, mix_fn,
                                       random_erasing_fn)
from keras_resnet.data.base import ImageData, Split
from keras_resnet.data.photos import UnreadableFiles, decode_random_crop, stream_files
from keras_resnet.image_files import decode_file
from keras_resnet.preprocessing import DEFAULT_CROP_PCT, eval_transform


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


def _arrays(data: ImageData, part: Split, size: Tuple[int, int], *, training: bool,
            augment_images: bool, seed: Optional[int]) -> tf.data.Dataset:
    """Normalised (image, label) pairs of in-memory images: the paper's pipeline."""
    at_size = tuple(part.images.shape[1:3]) == tuple(size)
    ds = tf.data.Dataset.from_tensor_slices((part.images, part.labels.astype(np.int32)))
    if training:
        ds = ds.shuffle(min(len(part), 50_000), seed=seed, reshuffle_each_iteration=True)

    def transform(image, label):
        if training and augment_images:
            image = augment(image, data.hflip)
        image = resize(image, size) if not at_size else tf.cast(image, tf.float32)
        return normalize(image, data.mean, data.std), label

    return ds.map(transform, num_parallel_calls=tf.data.AUTOTUNE)


def _files(data: ImageData, part: Split, size: Tuple[int, int], *, training: bool,
           augment_images: bool, seed: Optional[int], crop: Tuple[float, str],
           extra: Augmentation, shard: Tuple[int, int],
           unreadable: UnreadableFiles) -> tf.data.Dataset:
    """Normalised (image, label) pairs streamed from image files (see the module docstring)."""
    photo = training and augment_images
    ds = stream_files(part.paths, part.labels, decode_random_crop if photo else decode_file,
                      unreadable, shuffle=training, seed=seed, shard=shard)
    auto = auto_augment_fn(extra.auto_augment, seed) if photo else None
    erase = random_erasing_fn(extra.random_erasing, seed) if photo else None

    def transform(image, label):
        if photo:
            image = resize(image, size)
            if data.hflip:
                image = tf.image.random_flip_left_right(image, seed=seed)
            if auto is not None:
                image = auto(image)
        elif size[0] == size[1]:
            image = eval_transform(image, size[0], *crop)
        else:  # eval_transform crops squares; a non-square input is resized
            image = resize(image, size)
        image = normalize(image, data.mean, data.std)
        if erase is not None:
            image = erase(image)
        image.set_shape([*size, 3])
        return image, label

    ds = ds.map(transform, num_parallel_calls=tf.data.AUTOTUNE)
    if shard[0] > 1:  # the file list is already this worker's share
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
        ds = ds.with_options(options)
    return ds


def make_dataset(data: ImageData, split: str, image_size: Tuple[int, int], batch_size: int, *,
                 training: bool, augment_images: bool = True, seed: Optional[int] = 0,
                 crop_pct: float = DEFAULT_CROP_PCT, interpolation: str = "bilinear",
                 extra: Augmentation = Augmentation(), shard: Tuple[int, int] = (1, 0),
                 unreadable: Optional[UnreadableFiles] = None,
                 one_hot_labels: bool = False) -> tf.data.Dataset:
    """Batches of (normalised float32 images, labels) for `split` ("train" or "test").

    With `training=True` the examples are reshuffled every epoch and, with
    `augment_images`, augmented: the paper's pad-crop-flip for in-memory
    images, random-resized crop + flip and the options in `extra` for image
    files (mixup and cutmix for both). Otherwise their order is fixed and
    image files go through `eval_transform` with `crop_pct` and
    `interpolation`. Labels are int32, or float32 one-hot with `one_hot_labels`
    or when `extra` mixes images (mixup, cutmix). Image files are streamed: `shard` = (workers,
    this worker) splits the file list, and `unreadable` (default: a new one)
    collects the files skipped as undecodable.
    """
    part: Split = getattr(data, split)
    size = tuple(image_size)
    if part.images is not None:
        ds = _arrays(data, part, size, training=training, augment_images=augment_images,
                     seed=seed)
    else:
        unreadable = unreadable or UnreadableFiles(len(part), f"{split} image files")
        ds = _files(data, part, size, training=training, augment_images=augment_images,
                    seed=seed, crop=(crop_pct, interpolation), extra=extra, shard=shard,
                    unreadable=unreadable)
    if one_hot_labels or extra.one_hot:
        depth = data.num_classes
        ds = ds.map(lambda x, y: (x, tf.one_hot(y, depth)), num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.batch(batch_size)
    mix = mix_fn(extra.mixup, extra.cutmix, seed) if training and augment_images else None
    if mix is not None:
        ds = ds.map(mix, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)
