"""Training augmentation for photos (image folders): the options of the ImageNet recipes.

- `auto_augment="randaugment"`: `keras.layers.RandAugment`'s policy (its
  defaults: 2 of its 11 operations per image, strength factor 0.5) made of the
  same Keras layers, with only the drawn operations computed (see `rand_augment`).
- `auto_augment="trivialaugment"`: TrivialAugment-wide (Mueller & Hutter 2021,
  torchvision's `TrivialAugmentWide`), which Keras lacks: one operation per
  image, chosen uniformly among 14 (identity included), at a strength drawn
  uniformly up to the "wide" maximum, made of Keras' own layers.
- `random_erasing=p`: `keras.layers.RandomErasing` with probability p, on the
  normalised image with normal noise (timm's "pixel" mode).
- `mixup=alpha`, `cutmix=alpha`: `keras.layers.MixUp` / `keras.layers.CutMix`
  on each batch (one-hot labels); with both, each batch gets one of the two
  with probability 1/2 (timm's switch).

Every layer here is Keras' own and runs inside tf.data on any Keras backend.
"""

from __future__ import annotations

import dataclasses
from typing import Optional

import tensorflow as tf

AUTO_AUGMENTS = ("randaugment", "trivialaugment")


@dataclasses.dataclass(frozen=True)
class Augmentation:
    """The optional augmentations of a recipe (see the module docstring)."""

    auto_augment: Optional[str] = None
    random_erasing: float = 0.0
    mixup: float = 0.0
    cutmix: float = 0.0

    @property
    def one_hot(self) -> bool:
        """Whether labels must be one-hot (mixup and cutmix mix them)."""
        return bool(self.mixup or self.cutmix)


def check_augmentation(auto_augment, random_erasing, mixup, cutmix) -> Augmentation:
    """An `Augmentation`, or a ValueError naming the argument and what is allowed."""
    if auto_augment is not None and auto_augment not in AUTO_AUGMENTS:
        raise ValueError(f"`auto_augment` must be one of {', '.join(AUTO_AUGMENTS)} (or None). "
                         f"Received: auto_augment={auto_augment!r}")
    if not _number(random_erasing) or not 0 <= random_erasing <= 1:
        raise ValueError("`random_erasing` must be a probability in [0, 1]. "
                         f"Received: random_erasing={random_erasing!r}")
    if not _number(mixup) or mixup < 0:
        raise ValueError("`mixup` must be the alpha of Beta(alpha, alpha), >= 0 (0: off). "
                         f"Received: mixup={mixup!r}")
    if not _number(cutmix) or not 0 <= cutmix <= 1:  # keras.layers.CutMix's bound
        raise ValueError("`cutmix` must be the alpha of Beta(alpha, alpha), in [0, 1] (0: off). "
                         f"Received: cutmix={cutmix!r}")
    return Augmentation(auto_augment, float(random_erasing), float(mixup), float(cutmix))


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _one_of(ops, num_ops: int, seed: Optional[int]):
    """Apply `num_ops` operations, each drawn uniformly from `ops` (None: identity), to
    one float image in [0, 255]; only the drawn operation runs (`tf.switch_case`)."""

    def apply(image):
        for _ in range(num_ops):
            which = tf.random.uniform([], 0, len(ops), dtype=tf.int32, seed=seed)
            branches = [(lambda op=op, x=image: x if op is None else tf.cast(op(x), tf.float32))
                        for op in ops]
            out = tf.switch_case(which, branches)
            out.set_shape(image.shape)
            image = tf.clip_by_value(out, 0.0, 255.0)
        return image

    return apply


def rand_augment(seed: Optional[int] = None, num_ops: int = 2, factor: float = 0.5):
    """RandAugment as `keras.layers.RandAugment` defines it (its 11 operations, each
    at a strength drawn up to `factor`, 2 per image), on one float image in [0, 255].

    The operations are Keras' layers with the settings RandAugment gives them;
    only the dispatch differs: Keras' layer computes all 11 operations for each
    of its `num_ops` and keeps one (`where`), 11x the work, which made the
    pipeline slower than ResNet50's training (11 img/s at 224 on 2 cores)."""
    import keras

    f, value_range = (0.0, factor), (0, 255)
    ops = [
        keras.layers.RandomShear(x_factor=f, y_factor=f, seed=seed),
        keras.layers.RandomTranslation(f, f, seed=seed),
        keras.layers.RandomRotation(f, seed=seed),
        keras.layers.RandomBrightness(f, value_range=value_range, seed=seed),
        keras.layers.RandomColorDegeneration(f, seed=seed),
        keras.layers.RandomContrast(f, value_range=value_range, seed=seed),
        keras.layers.RandomSharpness(f, value_range=value_range, seed=seed),
        keras.layers.RandomPosterization(max(1, int(8 * factor)), value_range=value_range,
                                         seed=seed),
        keras.layers.Solarization(addition_factor=f, threshold_factor=f,
                                  value_range=value_range, seed=seed),
        keras.layers.AutoContrast(value_range=value_range),
        keras.layers.Equalization(value_range=value_range),
    ]
    return _one_of(ops, num_ops, seed)


def trivial_augment_wide(seed: Optional[int] = None):
    """TrivialAugment-wide on one float image in [0, 255], from Keras layers.

    The strengths are torchvision's "wide" maxima in Keras' terms: shear 0.99,
    translation 32/224 of the side, rotation 135 degrees, brightness and
    contrast 1 +- 0.99, colour and sharpness over their whole range,
    posterize to 2..8 bits, solarize above a threshold in [0, 255],
    autocontrast, equalize, and the identity.
    """
    import keras

    value_range = (0, 255)
    ops = [
        None,  # identity
        keras.layers.RandomShear(x_factor=0.99, seed=seed),
        keras.layers.RandomShear(y_factor=0.99, seed=seed),
        keras.layers.RandomTranslation(0.0, 32 / 224, seed=seed),
        keras.layers.RandomTranslation(32 / 224, 0.0, seed=seed),
        keras.layers.RandomRotation(135 / 360, seed=seed),
        keras.layers.RandomBrightness(0.99, value_range=value_range, seed=seed),
        keras.layers.RandomColorDegeneration(1.0, seed=seed),
        keras.layers.RandomContrast(0.99, value_range=value_range, seed=seed),
        keras.layers.RandomSharpness(1.0, value_range=value_range, seed=seed),
        keras.layers.RandomPosterization((2, 8), value_range=value_range, seed=seed),
        keras.layers.Solarization(threshold_factor=1.0, value_range=value_range, seed=seed),
        keras.layers.AutoContrast(value_range=value_range),
        keras.layers.Equalization(value_range=value_range),
    ]
    return _one_of(ops, 1, seed)


def auto_augment_fn(name: Optional[str], seed: Optional[int] = None):
    """The per-image function of `auto_augment` (float [0, 255] -> float [0, 255]), or None."""
    if name is None:
        return None
    return trivial_augment_wide(seed) if name == "trivialaugment" else rand_augment(seed)


def random_erasing_fn(probability: float, seed: Optional[int] = None):
    """Erase a random rectangle with normal noise, with `probability`, in a
    normalised image (or None when the probability is 0)."""
    if not probability:
        return None
    import keras

    # factor=(p, p): Keras draws the probability uniformly in `factor`; a float would mean (0, p).
    layer = keras.layers.RandomErasing(factor=(probability, probability), value_range=(0, 1),
                                       seed=seed)
    return lambda image: tf.cast(layer(image), tf.float32)


def mix_fn(mixup: float, cutmix: float, seed: Optional[int] = None):
    """Mixup and/or cutmix of a batch of (images, one-hot labels), or None when both are 0."""
    if not (mixup or cutmix):
        return None
    import keras

    layers = [keras.layers.MixUp(alpha=mixup, seed=seed)] if mixup else []
    # factor=(a, a): Keras draws CutMix's alpha uniformly in `factor`; a float would mean (0, a).
    layers += [keras.layers.CutMix(factor=(cutmix, cutmix), seed=seed)] if cutmix else []

    def one(layer, images, labels):
        out = layer({"images": images, "labels": labels})
        return tf.cast(out["images"], tf.float32), tf.cast(out["labels"], tf.float32)

    def apply(images, labels):
        if len(layers) == 1:
            return one(layers[0], images, labels)
        return tf.cond(tf.random.uniform([], seed=seed) < 0.5,
                       lambda: one(layers[0], images, labels),
                       lambda: one(layers[1], images, labels))

    return apply
