"""The zoo's custom layers.

`ZeroPadChannels` is the paper's parameter-free option A shortcut, `DropPath`
is stochastic depth for a residual branch, and `ReverseChannels` is the
RGB -> BGR flip of the "caffe" input preprocessing (`include_preprocessing=True`),
`StdConv2D` is BiT's weight-standardised convolution and `EvoNormS0` timm's
EvoNorm2dS0: layers Keras does not have, so a file of a model with one of them
needs `import keras_resnet` to load.

`FusedBatchNormalization` (`keras.layers.BatchNormalization` run by
TensorFlow's fused kernel where that is faster) and `Conv2D`
(`keras.layers.Conv2D` whose training convolution on output maps of at most
`SMALL_MAP_POSITIONS` positions is one GEMM, image patches x kernel, on
TensorFlow on CPU) are the fast training layers: they compute what the Keras
layer does, and save as it (`keras_compat.serialize_as_stock`), so a file of
a model built from them names only Keras' layers and loads without
keras_resnet, as Keras' layers. `with_fast_layers` (keras_resnet.inference)
swaps them into a model and `loading_fast_layers` into a loaded file.
"""

from __future__ import annotations

import contextlib
import functools
import os

import keras

from keras_resnet import keras_compat


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
class ReverseChannels(keras.layers.Layer):
    """Reverses the order of the channels (RGB -> BGR), casting to the compute dtype.

    Args:
        data_format: "channels_last" or "channels_first"; defaults to
            `keras.config.image_data_format()`.
    """

    def __init__(self, data_format: str | None = None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = data_format or keras.config.image_data_format()
        if self.data_format not in ("channels_last", "channels_first"):
            raise ValueError("`data_format` must be 'channels_last' or 'channels_first'. "
                             f"Received: data_format={data_format!r}")

    def call(self, inputs):
        axis = 1 if self.data_format == "channels_first" else -1
        return keras.ops.flip(keras.ops.cast(inputs, self.compute_dtype), axis=axis)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}


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


def standardize_kernel(kernel, epsilon: float):
    """A convolution kernel (kh, kw, in, out) with each output channel's weights
    standardised: minus their mean, over sqrt(their biased variance + `epsilon`),
    as timm's StdConv2d (`F.batch_norm` over the flattened weights)."""
    mean, variance = keras.ops.moments(kernel, axes=(0, 1, 2), keepdims=True)
    return (kernel - mean) / keras.ops.sqrt(variance + epsilon)


@keras.saving.register_keras_serializable(package="keras_resnet")
class StdConv2D(keras.layers.Conv2D):
    """`keras.layers.Conv2D` with weight standardisation (Qiao et al. 2019; BiT).

    The kernel is standardised per output channel on every call (see
    `standardize_kernel`); the stored kernel is the raw one, as in timm's
    StdConv2d state dicts. For inference, `keras_resnet.with_plain_convs`
    computes the standardised kernel once into a plain `Conv2D`.

    Args:
        epsilon: Added to the variance (timm's `eps`; 1e-8 for BiT).
        **kwargs: `keras.layers.Conv2D`'s arguments.
    """

    def __init__(self, *args, epsilon: float = 1e-6, **kwargs):
        super().__init__(*args, **kwargs)
        if not isinstance(epsilon, (int, float)) or isinstance(epsilon, bool) or epsilon <= 0:
            raise ValueError(f"`epsilon` must be a positive number. Received: epsilon={epsilon!r}")
        self.epsilon = float(epsilon)

    def standardized_kernel(self):
        """The kernel the convolution uses, in float32."""
        return standardize_kernel(keras.ops.cast(self.kernel, "float32"), self.epsilon)

    def call(self, inputs):
        kernel = keras.ops.cast(self.standardized_kernel(), self.compute_dtype)
        outputs = self.convolution_op(inputs, kernel)
        if self.use_bias:
            shape = ((1,) * (self.rank + 1) + (self.filters,) if self.data_format ==
                     "channels_last" else (1, self.filters) + (1,) * self.rank)
            outputs = outputs + keras.ops.reshape(self.bias, shape)
        return self.activation(outputs) if self.activation is not None else outputs

    def quantize(self, mode, **kwargs):
        raise ValueError("A weight-standardised convolution cannot be quantized as it is: "
                         "convert the model with `keras_resnet.with_plain_convs` first.")

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(package="keras_resnet")
class EvoNormS0(keras.layers.Layer):
    """timm's EvoNorm2dS0 (Liu et al. 2020): a normalisation and its non-linearity.

    `x * sigmoid(v * x) / group_std(x) * gamma + beta` with `apply_act`, else
    `x * gamma + beta`; `group_std` is the standard deviation (biased, plus
    `epsilon`) over each sample's spatial positions and the channels of its
    group, computed in float32.

    Args:
        groups: Channel groups (the channels must divide into them).
        epsilon: Added to the variance.
        apply_act: Apply the sigmoid gating and the group normalisation (timm's
            `apply_act`); without, only the affine transform.
        axis: The channel axis (-1 or 3 channels-last, 1 channels-first).
    """

    def __init__(self, groups: int = 32, epsilon: float = 1e-5, apply_act: bool = True,
                 axis: int = -1, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(groups, int) or groups < 1:
            raise ValueError(f"`groups` must be a positive integer. Received: groups={groups!r}")
        self.groups, self.epsilon, self.apply_act, self.axis = groups, epsilon, apply_act, axis

    def build(self, input_shape):
        channels = input_shape[self.axis]
        if channels % self.groups:
            raise ValueError(f"EvoNormS0 {self.name!r}: {channels} channels do not divide "
                             f"into groups={self.groups}.")
        self.gamma = self.add_weight(shape=(channels,), initializer="ones", name="gamma")
        self.beta = self.add_weight(shape=(channels,), initializer="zeros", name="beta")
        self.v = (self.add_weight(shape=(channels,), initializer="ones", name="v")
                  if self.apply_act else None)

    def _shape(self, rank):
        shape = [1] * rank
        shape[self.axis] = -1
        return shape

    def call(self, inputs):
        x = inputs
        rank = len(x.shape)
        shape = self._shape(rank)
        if self.apply_act:
            x32 = keras.ops.cast(x, "float32")
            v = keras.ops.reshape(keras.ops.cast(self.v, "float32"), shape)
            channels_last = self.axis % rank == rank - 1
            t = x32 if channels_last else keras.ops.moveaxis(x32, 1, -1)
            grouped = keras.ops.reshape(t, (keras.ops.shape(t)[0], -1, self.groups,
                                            t.shape[-1] // self.groups))
            _, variance = keras.ops.moments(grouped, axes=(1, 3), keepdims=True)
            std = keras.ops.sqrt(variance + self.epsilon)  # (n, 1, groups, 1)
            std = keras.ops.repeat(keras.ops.reshape(std, (-1, self.groups)),
                                   t.shape[-1] // self.groups, axis=1)  # (n, channels)
            std = keras.ops.reshape(std, [-1] + [1] * (rank - 2) + [t.shape[-1]])
            if not channels_last:
                std = keras.ops.moveaxis(std, -1, 1)
            x = keras.ops.cast(x32 * keras.ops.sigmoid(x32 * v) / std, x.dtype)
        gamma = keras.ops.cast(keras.ops.reshape(self.gamma, shape), x.dtype)
        beta = keras.ops.cast(keras.ops.reshape(self.beta, shape), x.dtype)
        return x * gamma + beta

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "groups": self.groups, "epsilon": self.epsilon,
                "apply_act": self.apply_act, "axis": self.axis}


class FusedBatchNormalization(keras.layers.BatchNormalization):
    """`keras.layers.BatchNormalization` run by TensorFlow's fused kernel where that is faster.

    Same arguments, weights, config, name and results (within float rounding)
    as the Keras layer it subclasses, and it saves as that layer: a `.keras`
    file or config names `keras.layers.BatchNormalization`, which loads as
    Keras' layer (`with_fast_layers` swaps this one back in). On the
    TensorFlow backend, for a 4-D input normalised over its channel axis:

    - training takes one `FusedBatchNormV3` op (and one gradient op) where
      Keras 3 runs about ten unfused ones: most of the gap in CPU training
      speed between Keras and torch on small ResNets (on x86 CPUs without
      AVX-512, where oneDNN's forward kernel is slow, the forward pass is
      `tf.nn.moments` and the normalisation, the gradient still the fused one:
      `slow_fused_forward`);
    - inference under a mixed-precision policy normalises the float16/bfloat16
      input in one op instead of casting it to float32 and back;
    - float32 inference (and a frozen float32 layer) runs Keras' own ops, so
      its outputs are bit-identical to keras.applications'.

    Anything the kernel does not compute exactly like Keras (other backends,
    masks, renorm, synchronized statistics, other ranks or axes, float64,
    epsilon below cuDNN's 1e-5) runs the Keras code.
    """

    def call(self, inputs, training=None, mask=None):
        data_format = self._fused_data_format(inputs, mask)
        learning = bool(training) and self.trainable
        half = keras.backend.standardize_dtype(inputs.dtype) in ("float16", "bfloat16")
        if data_format is None or not (learning or half):
            return super().call(inputs, training=training, mask=mask)
        return self._fused(inputs, data_format, learning)

    def _fused(self, inputs, data_format, learning):
        import tensorflow as tf  # the fused kernel is TensorFlow's; checked by the caller

        channels = inputs.shape[-1 if data_format == "NHWC" else 1]
        scale = self.gamma if self.scale else tf.ones((channels,))
        offset = self.beta if self.center else tf.zeros((channels,))
        if not learning:  # a float16/bfloat16 input with float32 statistics: no casts
            return tf.raw_ops.FusedBatchNormV3(
                x=inputs, scale=scale, offset=offset, mean=self.moving_mean,
                variance=self.moving_variance, epsilon=self.epsilon, data_format=data_format,
                is_training=False)[0]
        x = tf.cast(inputs, "float32")  # as Keras: batch statistics in float32
        if slow_fused_forward():
            y, mean, variance = _moments_forward_fused_backward(x, scale, offset, self.epsilon,
                                                                data_format)
        else:
            y, mean, variance = tf.raw_ops.FusedBatchNormV3(
                x=x, scale=scale, offset=offset, mean=tf.constant([]),
                variance=tf.constant([]), epsilon=self.epsilon, data_format=data_format,
                is_training=True)[:3]
            # The kernel returns the unbiased batch variance; Keras averages the biased one.
            count = tf.cast(tf.size(x, out_type=tf.int64) // channels, "float32")
            variance = variance * tf.maximum(count - 1.0, 0.0) / count
        self.moving_mean.assign(self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
        self.moving_variance.assign(self.moving_variance * self.momentum
                                    + variance * (1.0 - self.momentum))
        return tf.cast(y, self.compute_dtype)

    def _fused_data_format(self, inputs, mask):
        """"NHWC" or "NCHW" when the fused kernel computes exactly this layer, else None."""
        if (keras.backend.backend() != "tensorflow" or mask is not None or self.renorm
                or self.synchronized or len(inputs.shape) != 4 or self.epsilon < 1e-5
                or keras.backend.standardize_dtype(inputs.dtype) == "float64"
                or self.variable_dtype != "float32"):  # the kernel takes float32 statistics
            return None
        return {3: "NHWC", 1: "NCHW"}.get(self.axis % 4)


@functools.lru_cache(maxsize=None)
def slow_fused_forward() -> bool:
    """Whether `FusedBatchNormV3`'s training forward pass is oneDNN's slow one here: on an x86
    CPU without AVX-512 (or with oneDNN capped below it by ONEDNN_MAX_CPU_ISA), with no GPU.
    Measured with ONEDNN_MAX_CPU_ISA=AVX2 (2 threads, 16x56x56x256 NHWC): 66 ms, where
    tf.nn.moments and the normalisation take 16 ms and the fused gradient 12 ms (AVX-512:
    the fused forward 5 ms)."""
    from keras_resnet import cpu
    isa = os.environ.get("ONEDNN_MAX_CPU_ISA", "ALL").upper()
    capped = isa not in ("ALL", "DEFAULT") and not isa.startswith(("AVX512", "AVX10"))
    flags = cpu.cpu_flags()
    x86_without_avx512 = "avx2" in flags and "avx512f" not in flags
    return (capped or x86_without_avx512) and not gpu_visible()


def _moments_forward_fused_backward(x, scale, offset, epsilon, data_format):
    """Training batch normalisation of float32 `x`: (y, batch mean, biased batch variance),
    the forward pass by `tf.nn.moments` and element-wise ops, the gradient by the fused
    kernel's `FusedBatchNormGradV3` (what `FusedBatchNormV3`'s gradient runs)."""
    import tensorflow as tf
    axes, shape = ([0, 1, 2], [1, 1, 1, -1]) if data_format == "NHWC" else ([0, 2, 3],
                                                                           [1, -1, 1, 1])

    @tf.custom_gradient
    def normalize(x, scale, offset):
        mean, variance = tf.nn.moments(x, axes)
        multiplier = tf.math.rsqrt(variance + epsilon) * scale
        y = x * tf.reshape(multiplier, shape) + tf.reshape(offset - mean * multiplier, shape)

        def grad(dy, dmean, dvariance):  # the statistics only feed the moving averages
            dx, dscale, doffset = tf.raw_ops.FusedBatchNormGradV3(
                y_backprop=dy, x=x, scale=scale, reserve_space_1=mean,
                reserve_space_2=variance, reserve_space_3=tf.constant([]), epsilon=epsilon,
                data_format=data_format, is_training=True)[:3]
            return dx, dscale, doffset
        return (y, mean, variance), grad
    # Tensors, not variables, into the custom gradient: the reads pass the gradients on.
    return normalize(x, tf.convert_to_tensor(scale), tf.convert_to_tensor(offset))


# Output maps up to this many positions train as one GEMM. Measured on AVX-512
# (2 threads, batch 128): oneDNN's convolutions reach 20-80 GFLOP/s on 1x1 and
# 2x2 maps (its kernel gradient on a 1x1 map: 20), a GEMM ~100; ResNet18 at
# 32x32 trained 1.31x faster with 4 than with 0, and 1.05x faster than with 16.
SMALL_MAP_POSITIONS = 4


class Conv2D(keras.layers.Conv2D):
    """`keras.layers.Conv2D` that trains on small maps as one matrix multiply.

    Same arguments, weights, config, name and outputs (within float rounding) as
    the Keras layer it subclasses, and it saves as that layer (a file names
    `keras.layers.Conv2D`). Only training with TensorFlow on CPU changes, and
    only where the output map has at most `SMALL_MAP_POSITIONS` positions (the
    last stages of ResNet18-152 on 32x32 inputs): the convolution is computed
    as image patches x kernel, one GEMM forward and two backward, where oneDNN's
    direct convolutions run at a fifth of the machine's GEMM speed. That was
    measured on CPU only, so with a GPU visible the Keras code runs. Inference,
    and a Keras-quantized layer, run exactly the Keras code.
    """

    def call(self, inputs, training=None):
        if not (training and self._trains_as_gemm(inputs)):
            return super().call(inputs)
        outputs = _conv2d_as_gemm(inputs, self.kernel, self.strides, self.padding.upper())
        if self.use_bias:
            outputs = outputs + self.bias
        return self.activation(outputs) if self.activation is not None else outputs

    def _trains_as_gemm(self, inputs) -> bool:
        # Keras routes a quantized layer (int8, float8, ...) to `quantized_call`, not
        # here; the check keeps the GEMM, which reads the kernel as float32, off anyway.
        if (keras.backend.backend() != "tensorflow" or self.quantization_mode is not None
                or self.data_format != "channels_last"
                or self.groups != 1 or tuple(self.dilation_rate) != (1, 1)
                or keras.backend.standardize_dtype(inputs.dtype) != "float32"
                or gpu_visible()):
            return False
        _, height, width, _ = self.compute_output_shape(tuple(inputs.shape))
        return height is not None and width is not None and height * width <= SMALL_MAP_POSITIONS


def gpu_visible() -> bool:
    """Whether TensorFlow sees a GPU (where it would place the GEMM path's ops)."""
    import tensorflow as tf  # the caller checked the backend

    return bool(tf.config.list_logical_devices("GPU"))


# Saved as Keras' own layers: see serialize_as_stock.
keras_compat.serialize_as_stock(FusedBatchNormalization, keras.layers.BatchNormalization)
keras_compat.serialize_as_stock(Conv2D, keras.layers.Conv2D)

# Keras' layer -> the fast subclass that computes it.
FAST = {keras.layers.BatchNormalization: FusedBatchNormalization, keras.layers.Conv2D: Conv2D}


@keras.saving.register_keras_serializable(package="keras_resnet", name="FusedBatchNormalization")
class SavedFusedBatchNormalization(FusedBatchNormalization):
    """`FusedBatchNormalization` as files saved before it saved as Keras' own name it.

    Those files (keras_resnet 0.1.0 until 2026-12) say
    `keras_resnet>FusedBatchNormalization` and `keras_resnet>Conv2D`, and key this
    layer's weights by its class name (`fused_batch_normalization_3`), so this class
    keeps that name. They load with keras_resnet imported; `with_fast_layers` or
    `with_stock_layers` replace it, and the copy saves as Keras' own layers.
    """


SavedFusedBatchNormalization.__name__ = "FusedBatchNormalization"
SavedFusedBatchNormalization.__qualname__ = "FusedBatchNormalization"
keras.saving.get_custom_objects()["keras_resnet>Conv2D"] = Conv2D  # same class name as Keras'
# A layer of an older file -> the layer it is today.
SAVED = {SavedFusedBatchNormalization: FusedBatchNormalization}


def loading_fast_layers() -> contextlib.AbstractContextManager:
    """Inside the block, `keras.saving.load_model` builds Keras' BatchNormalization
    and Conv2D as `FusedBatchNormalization` and `Conv2D`, for a file loaded to
    continue training (with its optimizer state) at the fast layers' speed."""
    return keras_compat.deserializing_as(FAST)


def _conv2d_as_gemm(inputs, kernel, strides, padding):
    """`tf.nn.conv2d(inputs, kernel, strides, padding)` (NHWC, no dilation) as patches x kernel."""
    import tensorflow as tf  # checked by the caller: TensorFlow backend only

    kh, kw, cin, cout = kernel.shape
    patches = tf.image.extract_patches(inputs, [1, kh, kw, 1], [1, *strides, 1], [1, 1, 1, 1],
                                       padding)  # (n, oh, ow, kh * kw * cin), as the kernel
    shape = tf.shape(patches)
    outputs = tf.matmul(tf.reshape(patches, [-1, kh * kw * cin]),
                        tf.reshape(tf.convert_to_tensor(kernel), [-1, cout]))
    return tf.reshape(outputs, [shape[0], shape[1], shape[2], cout])
