"""The one custom layer the zoo needs: the parameter-free shortcut of option A."""

from __future__ import annotations

import keras


@keras.saving.register_keras_serializable(package="keras_resnet")
class ZeroPadChannels(keras.layers.Layer):
    """Appends zero-valued channels: the paper's option A shortcut.

    The extra channels are split between both ends of the channel axis (the
    common CIFAR implementation), which changes nothing about the parameter
    count and lets CIFAR checkpoints trained that way load.

    Args:
        extra_channels: How many zero channels to add.
        data_format: "channels_last" or "channels_first"; defaults to
            `keras.config.image_data_format()`.
    """

    def __init__(self, extra_channels: int, data_format: str | None = None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(extra_channels, int) or extra_channels < 0:
            raise ValueError(
                "`extra_channels` must be a non-negative integer. "
                f"Received: extra_channels={extra_channels!r}"
            )
        self.extra_channels = extra_channels
        self.data_format = data_format or keras.config.image_data_format()

    def call(self, inputs):
        before = self.extra_channels // 2
        pad = [[0, 0]] * 4
        axis = 1 if self.data_format == "channels_first" else 3
        pad[axis] = [before, self.extra_channels - before]
        return keras.ops.pad(inputs, pad)

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        axis = 1 if self.data_format == "channels_first" else 3
        if shape[axis] is not None:
            shape[axis] += self.extra_channels
        return tuple(shape)

    def get_config(self):
        return {**super().get_config(), "extra_channels": self.extra_channels,
                "data_format": self.data_format}


@keras.saving.register_keras_serializable(package="keras_resnet")
class DropPath(keras.layers.Layer):
    """Stochastic depth: while training, zero a residual branch for a random
    `rate` of the samples and scale the kept ones by `1 / (1 - rate)`.

    Args:
        rate: Probability of dropping the branch, in [0, 1).
        seed: Optional seed for the random draws.
    """

    def __init__(self, rate: float, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(rate, (int, float)) or not 0 <= rate < 1:
            raise ValueError(f"`rate` must be a number in [0, 1). Received: rate={rate!r}")
        self.rate = float(rate)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=None):
        if not training or self.rate == 0:
            return inputs
        keep = 1.0 - self.rate
        shape = (keras.ops.shape(inputs)[0],) + (1,) * (len(inputs.shape) - 1)
        mask = keras.ops.floor(keep + keras.random.uniform(shape, seed=self.seed_generator,
                                                           dtype=inputs.dtype))
        return inputs * mask / keep

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}
