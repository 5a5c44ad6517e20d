"""`digits`: scikit-learn's 1,797 real 8x8 handwritten digits, shipped with it (offline)."""

from __future__ import annotations

import numpy as np

from keras_resnet.data.base import ImageData, Split, channel_stats

TEST_FRACTION = 0.2
SPLIT_SEED = 0


def load_digits() -> ImageData:
    """The digits as 8x8 RGB uint8 images with a fixed stratified 80/20 split.

    The 0..16 grey levels are scaled to 0..255 and repeated over 3 channels;
    the pipeline upscales them to the model's input size. The split is fixed
    (`SPLIT_SEED`), so every run is scored on the same 360 held-out digits.
    """
    from sklearn.datasets import load_digits as sk_load_digits
    from sklearn.model_selection import train_test_split

    bunch = sk_load_digits()
    images = np.round(bunch.images * (255.0 / 16.0)).astype(np.uint8)
    images = np.repeat(images[..., None], 3, axis=-1)
    labels = bunch.target.astype(np.int32)
    x_train, x_test, y_train, y_test = train_test_split(
        images, labels, test_size=TEST_FRACTION, stratify=labels, random_state=SPLIT_SEED)
    mean, std = channel_stats(x_train)
    return ImageData("digits", [str(d) for d in range(10)], Split(y_train, images=x_train),
                     Split(y_test, images=x_test), native_size=(8, 8), hflip=False,
                     mean=mean, std=std)
