"""What the inputs of given weights look like: normalisation, evaluation transform, labels.

Which normalisation and transform a checkpoint needs is answered in one place,
`keras_resnet.pretrained.resolve`; this module applies them.

| weights | normalisation of RGB images in [0, 255] |
|---|---|
| "imagenet", variant "v1" (keras.applications) | "caffe": RGB -> BGR, minus the mean pixel |
| "imagenet", variant "v2" (keras.applications) | "tf": scale to [-1, 1] |
| "torchvision", "timm" (no model), None, a file | [0, 1], minus ImageNet's mean, over its std |
| a tag ("a1_in1k", with `model=`), a full name, a table repo | its pretrained row's |

The same normalisation runs outside the model (`preprocess_input`) or inside
it (`normalize_input`, what the builders' `include_preprocessing=True` adds).
`eval_transform` is timm's (and torchvision's) evaluation resize and center crop.
"""

from __future__ import annotations

import math
import os
from typing import Optional

import numpy as np
from keras.applications import imagenet_utils

from keras_resnet.imagenet_labels import decode_predictions, imagenet_class_index  # noqa: F401
from keras_resnet.pretrained import (DEFAULT_CROP_PCT, IMAGENET_MEAN_STD,  # noqa: F401
                                     SOURCES, InputNormalization, resolve)

MODES = ("mean_std", "caffe", "tf")
# keras.applications' "caffe" mean pixel, in BGR order (imagenet_utils).
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
INTERPOLATIONS = ("bilinear", "bicubic")


def input_normalization(weights="imagenet", *, model: Optional[str] = None,
                        variant: Optional[str] = None) -> InputNormalization:
    """The input normalisation that `weights` expect: `resolve(weights, model).normalization`.

    Args:
        weights: Any value `keras_resnet.pretrained.resolve` accepts: "imagenet"
            ("caffe" for variant "v1", [-1, 1] for "v2"), "timm" or
            "torchvision" (their default checkpoint of `model`; ImageNet mean
            and std without one), a tag of `model`, a full name
            ("resnet50.a1_in1k"), "hf://ORG/REPO" or a file (ImageNet's mean
            and std: a file records none).
        model: Registry name whose pretrained rows a tag names.
        variant: With "imagenet" and no `model`: "v1" or "v2" (default "v1").
    """
    return resolve(weights, model, variant=variant).normalization


def preprocessing_mode(weights: str = "imagenet", variant: str = "v1") -> str:
    """The keras `imagenet_utils` mode ("caffe", "tf" or "torch") for a source in
    `keras_resnet.pretrained.SOURCES`."""
    if weights not in SOURCES:
        raise ValueError(f"`weights` must be one of {list(SOURCES)}. "
                         f"Received: weights={weights!r}")
    mode = input_normalization(weights, variant=variant).mode
    return "torch" if mode == "mean_std" else mode


def preprocess_input(x, weights: str = "imagenet", *, model: Optional[str] = None,
                     variant: Optional[str] = None, data_format: Optional[str] = None):
    """Preprocess a batch of RGB images in [0, 255] the way `weights` were trained.

    Args:
        x: Images, a numpy array or tensor (batch or single image).
        weights: "imagenet" (keras.applications' files), "torchvision",
            "timm", a pretrained tag with `model` ("a1_in1k") or a full name
            ("resnet50.a1_in1k"); see `input_normalization`.
        model: Registry name, for a tag (and for "imagenet": "resnet50v2"
            means [-1, 1]).
        variant: With "imagenet": "v1" (ResNet50/101/152, "caffe" mode) or
            "v2" (ResNet50V2/101V2/152V2, [-1, 1]); default "v1" (or `model`'s).
        data_format: "channels_last" or "channels_first"; default
            `keras.config.image_data_format()`.

    Returns:
        The preprocessed images, float32. A numpy input is copied, never
        modified in place (keras' function divides float arrays in place).
    """
    norm = input_normalization(weights, model=model, variant=variant)
    if isinstance(x, np.ndarray) or not hasattr(x, "shape"):
        x = np.array(x, dtype=np.float32, copy=True)
    if norm.mode != "mean_std":
        return imagenet_utils.preprocess_input(x, data_format=data_format, mode=norm.mode)
    import keras

    first = (data_format or keras.config.image_data_format()) == "channels_first"
    shape = (3, 1, 1) if first else (3,)
    mean = np.asarray(norm.mean, np.float32).reshape(shape)
    std = np.asarray(norm.std, np.float32).reshape(shape)
    if isinstance(x, np.ndarray):  # our own copy: in place, in the order keras' "torch" mode
        x /= 255.0
        x -= mean
        x /= std
        return x
    x = keras.ops.cast(x, "float32") / 255.0
    return (x - mean) / std


def normalize_input(x, normalization: InputNormalization, *, data_format: Optional[str] = None):
    """Normalise the symbolic RGB [0, 255] input `x` with Keras layers (`x -> x`).

    What `include_preprocessing=True` puts before the stem: "mean_std" is
    `Rescaling(1 / 255)` + `Normalization(mean, std ** 2)`, "caffe" is
    `ReverseChannels` + `Normalization(mean pixel, 1)`, "tf" is
    `Rescaling(1 / 127.5, offset=-1)`; layers named `preprocessing_*`. An
    integer (uint8) input is cast first. They compute in the dtype policy's
    variable dtype: float32 under mixed precision.
    """
    import keras

    from keras_resnet.layers import ReverseChannels

    if not isinstance(normalization, InputNormalization) or normalization.mode not in MODES:
        raise ValueError("`normalization` must be an InputNormalization with mode one of "
                         f"{list(MODES)}. Received: normalization={normalization!r}")
    data_format = data_format or keras.config.image_data_format()
    axis = 1 if data_format == "channels_first" else -1
    dtype = keras.config.dtype_policy().variable_dtype
    if normalization.mode == "tf":
        return keras.layers.Rescaling(1.0 / 127.5, offset=-1.0, dtype=dtype,
                                      name="preprocessing_rescaling")(x)
    if normalization.mode == "caffe":
        x = ReverseChannels(data_format, dtype=dtype, name="preprocessing_rgb_to_bgr")(x)
        mean, variance = CAFFE_MEAN_BGR, (1.0, 1.0, 1.0)
    else:
        x = keras.layers.Rescaling(1.0 / 255.0, dtype=dtype, name="preprocessing_rescaling")(x)
        mean, variance = normalization.mean, tuple(s * s for s in normalization.std)
    return keras.layers.Normalization(axis=axis, mean=list(mean), variance=list(variance),
                                      dtype=dtype, name="preprocessing_normalization")(x)


def _check_eval_arguments(size, crop_pct, interpolation) -> None:
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        raise ValueError(f"`size` must be a positive integer. Received: size={size!r}")
    if (not isinstance(crop_pct, (int, float)) or isinstance(crop_pct, bool)
            or not 0 < crop_pct <= 1):
        raise ValueError(f"`crop_pct` must be a number in (0, 1]. Received: crop_pct={crop_pct!r}")
    if interpolation not in INTERPOLATIONS:
        raise ValueError(f"`interpolation` must be one of {list(INTERPOLATIONS)}. "
                         f"Received: interpolation={interpolation!r}")


def resize_size(size: int, crop_pct: float = DEFAULT_CROP_PCT) -> int:
    """The shorter side before the center crop: `floor(size / crop_pct)` (timm's rule)."""
    _check_eval_arguments(size, crop_pct, "bilinear")
    return math.floor(size / crop_pct)


def eval_transform(image, size: int, crop_pct: float = DEFAULT_CROP_PCT,
                   interpolation: str = "bilinear"):
    """timm's evaluation transform: resize, keeping the aspect ratio, then center-crop.

    The shorter side becomes `floor(size / crop_pct)` and the longer one
    keeps the aspect ratio (truncated, as torchvision's `Resize(int)`); then
    the center `size` x `size` square is cut (offsets rounded as
    torchvision's `CenterCrop`). torchvision's resize(256) + crop(224) is
    `size=224, crop_pct=0.875`. Resizing is antialiased.

    Args:
        image: A decoded HxWxC image or an NxHxWxC batch (numpy or tensor),
            values in [0, 255] (uint8 or float).
        size: Output height and width.
        crop_pct: Fraction of the resized shorter side that is kept, in (0, 1].
        interpolation: "bilinear" or "bicubic" (None: "bilinear").

    Returns:
        float32 `size` x `size` images, still in [0, 255] (not normalised; a
        uint8 input's are clipped to it); numpy for a numpy input.
    """
    import tensorflow as tf

    interpolation = interpolation or "bilinear"
    _check_eval_arguments(size, crop_pct, interpolation)
    as_numpy = isinstance(image, np.ndarray)
    image = tf.convert_to_tensor(image)
    if image.shape.rank not in (3, 4):
        raise ValueError("`image` must be an HxWxC image or an NxHxWxC batch. "
                         f"Received: image.shape={tuple(image.shape)}")
    clip = image.dtype == tf.uint8
    scale = math.floor(size / crop_pct)
    shape = tf.shape(image)
    h, w = shape[-3], shape[-2]
    portrait = w <= h
    new_h = tf.where(portrait, scale * h // w, scale)
    new_w = tf.where(portrait, scale, scale * w // h)
    out = tf.image.resize(tf.cast(image, tf.float32), tf.stack([new_h, new_w]),
                          method=interpolation, antialias=True)
    top = tf.cast(tf.round(tf.cast(new_h - size, tf.float32) / 2.0), tf.int32)  # half to even
    left = tf.cast(tf.round(tf.cast(new_w - size, tf.float32) / 2.0), tf.int32)
    out = tf.image.crop_to_bounding_box(out, top, left, size, size)
    if clip:
        out = tf.clip_by_value(out, 0.0, 255.0)
    return out.numpy() if as_numpy else out


def load_eval_image(path, size: int, crop_pct: float = DEFAULT_CROP_PCT,
                    interpolation: str = "bilinear") -> np.ndarray:
    """Read an image file (JPEG/PNG/BMP/GIF, as RGB) and apply `eval_transform`.

    Returns a float32 `size` x `size` x 3 array in [0, 255]; a file that
    cannot be decoded raises a ValueError naming it.
    """
    import tensorflow as tf

    from keras_resnet.image_files import check_image, decode_file

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"image file does not exist: {path!r}")
    check_image(path)
    return eval_transform(decode_file(tf.constant(path)), size, crop_pct,
                          interpolation).numpy()
