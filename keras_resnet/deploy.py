"""Deployment files: SavedModel, TFLite and ONNX, float32 or full-integer int8.

`export` folds BatchNormalization into the convolutions first (an inference
model needs neither the layer nor its work), then writes:

- "savedmodel": Keras' `model.export(format="tf_saved_model")`, a directory
  with a `serve` signature (TensorFlow Serving, `tf.saved_model.load`);
- "tflite": `tf.lite.TFLiteConverter` from that SavedModel (LiteRT, phones);
- "onnx": Keras' `model.export(format="onnx")` (tf2onnx), dynamic batch.

int8 is post-training full-integer quantization calibrated on images the
caller gives (already preprocessed as the model expects): TFLite's converter
with a representative dataset (int8 weights per channel and activations,
float32 input and output), or onnxruntime's static quantization (QDQ,
uint8 activations, int8 weights per channel, float32 input and output; the
final softmax stays float32). Dynamic-range quantization (float activations)
is not offered: without calibration data `quantize="int8"` is an error.

Every output is written to a temporary name beside the target and renamed.
Only the TensorFlow backend can export (TFLite and SavedModel are TensorFlow
formats, and the ONNX path goes through tf2onnx).
"""

from __future__ import annotations

import os
import tempfile
from typing import Iterable, Iterator, List, Optional, Union

import numpy as np

FORMATS = ("savedmodel", "tflite", "onnx")
SUFFIXES = {"tflite": ".tflite", "onnx": ".onnx"}
DEFAULT_CALIBRATION_IMAGES = 256
_CALIBRATION_BATCH = 32


def export(model, path: str, format: str = "savedmodel", *, fold_batchnorm: bool = True,
           quantize: Optional[str] = None,
           calibration: Union[np.ndarray, Iterable, None] = None,
           calibration_images: int = DEFAULT_CALIBRATION_IMAGES) -> str:
    """Write `model` as a SavedModel directory, a .tflite or a .onnx file.

    Args:
        model: A Keras model with one image input (functional or Sequential
            when `fold_batchnorm`).
        path: Output directory ("savedmodel", must not exist yet) or file
            (ending in .tflite / .onnx; replaced if it exists).
        format: "savedmodel", "tflite" or "onnx".
        fold_batchnorm: Fold BatchNormalization into the convolutions first
            (`keras_resnet.fold_batchnorm(model, allow_partial=True)`).
            Weight-standardised convolutions (BiT) are always exported as
            plain ones (`keras_resnet.with_plain_convs`).
        quantize: None (float32) or "int8" (full-integer, "tflite" or "onnx").
        calibration: For int8: preprocessed input images, as one array
            (N, H, W, C) or an iterable of batches (arrays, or (x, y) tuples
            such as a `tf.data` pipeline yields).
        calibration_images: Use at most this many calibration images.

    Returns:
        `path`.

    Raises:
        ValueError: Bad arguments (each named with what is allowed), a
            backend other than TensorFlow, or calibration data of the wrong
            shape.
    """
    check_arguments(path, format, fold_batchnorm=fold_batchnorm, quantize=quantize,
                    calibration_given=calibration is not None,
                    calibration_images=calibration_images)
    _check_model(model)
    batches = (_calibration_batches(calibration, model.input_shape, calibration_images)
               if quantize else None)
    model = _prepared(model, fold_batchnorm)
    if format == "savedmodel":
        from keras_resnet.atomic import atomic_directory
        with atomic_directory(path) as tmp:
            model.export(tmp, format="tf_saved_model", verbose=False)
    elif format == "tflite":
        _write_bytes(path, _tflite_bytes(model, batches))
    elif batches is None:
        from keras_resnet.atomic import atomic_path
        with atomic_path(path) as tmp:
            _export_onnx(model, tmp)
    else:
        _write_onnx_int8(model, path, batches)
    return path


def check_arguments(path, format: str, *, fold_batchnorm: bool = True,
                    quantize: Optional[str] = None, calibration_given: bool = False,
                    calibration_images: int = DEFAULT_CALIBRATION_IMAGES) -> None:
    """The checks of `export` that need no model: a ValueError naming the argument."""
    import keras

    if keras.backend.backend() != "tensorflow":
        raise ValueError("export needs the TensorFlow backend (SavedModel and TFLite are "
                         "TensorFlow formats; ONNX goes through tf2onnx); run with "
                         f"KERAS_BACKEND=tensorflow. Current backend: {keras.backend.backend()!r}")
    if format not in FORMATS:
        raise ValueError(f"`format` must be one of {', '.join(FORMATS)}. "
                         f"Received: format={format!r}")
    if not isinstance(fold_batchnorm, bool):
        raise ValueError(f"`fold_batchnorm` must be True or False. "
                         f"Received: fold_batchnorm={fold_batchnorm!r}")
    if quantize not in (None, "int8"):
        raise ValueError(f"`quantize` must be None or 'int8'. Received: quantize={quantize!r}")
    if quantize and format == "savedmodel":
        raise ValueError("`quantize='int8'` needs format 'tflite' or 'onnx' (a SavedModel "
                         "stays float32)")
    if quantize and not calibration_given:
        raise ValueError("`quantize='int8'` needs `calibration`: preprocessed images to set "
                         "the activation ranges of full-integer quantization (dynamic-range "
                         "quantization, with float activations, is not offered)")
    if calibration_given and not quantize:
        raise ValueError("`calibration` is only used with `quantize='int8'`")
    if (not isinstance(calibration_images, int) or isinstance(calibration_images, bool)
            or calibration_images < 1):
        raise ValueError(f"`calibration_images` must be a positive integer. "
                         f"Received: calibration_images={calibration_images!r}")
    if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
        raise ValueError(f"`path` must be a file or directory name. Received: path={path!r}")
    path = os.fspath(path)
    suffix = SUFFIXES.get(format)
    if suffix and not path.endswith(suffix):
        raise ValueError(f"`path` of a {format} export must end in {suffix}. "
                         f"Received: path={path!r}")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise ValueError(f"the directory of `path` does not exist: {parent!r}")
    if format == "savedmodel" and os.path.exists(path):
        raise ValueError(f"`path` {path!r} already exists; a SavedModel is written to a new "
                         "directory")
    if suffix and os.path.isdir(path):
        raise ValueError(f"`path` {path!r} is a directory; a {format} export is one file")


def _check_model(model) -> None:
    import keras

    if not isinstance(model, keras.Model):
        raise ValueError(f"`model` must be a keras.Model. Received: model={model!r}")
    inputs = getattr(model, "inputs", None) or ()  # None or missing: not built
    if len(inputs) != 1:
        raise ValueError(f"`model` must be built with one input; {model.name!r} has "
                         f"{len(inputs)}")


def _prepared(model, fold: bool):
    """The model to export: weight-standardised convolutions computed into plain ones
    (always: the same outputs, and a kernel int8 can quantize), BN folded when asked
    (and there is any), called once."""
    from keras_resnet.layers import StdConv2D
    if _has_layer(model, StdConv2D):
        from keras_resnet.inference import with_plain_convs
        model = with_plain_convs(model)
    if fold and _has_batchnorm(model):
        from keras_resnet.inference import fold_batchnorm
        model = fold_batchnorm(model, allow_partial=True)
    # Keras exports only a model that has been called on a batch.
    shape = [1] + [224 if d is None else d for d in model.input_shape[1:]]
    model(np.zeros(shape, "float32"), training=False)
    return model


def _has_batchnorm(model) -> bool:
    import keras

    return _has_layer(model, keras.layers.BatchNormalization)


def _has_layer(model, cls) -> bool:
    """Whether `model`, or a model nested in it, has a layer of class `cls`."""
    import keras

    for layer in model.layers:
        if isinstance(layer, cls):
            return True
        if isinstance(layer, keras.Model) and _has_layer(layer, cls):
            return True
    return False


def _calibration_batches(calibration, input_shape, limit: int) -> List[np.ndarray]:
    """At most `limit` calibration images as float32 batches of the model's input shape."""
    expected = tuple(input_shape[1:])
    if isinstance(calibration, np.ndarray) or hasattr(calibration, "numpy"):
        array = np.asarray(calibration)
        source: Iterator = iter([array[i:i + _CALIBRATION_BATCH]
                                 for i in range(0, len(array), _CALIBRATION_BATCH)])
    else:
        try:
            source = iter(calibration)
        except TypeError:
            raise ValueError("`calibration` must be an array of images (N, H, W, C) or an "
                             f"iterable of batches. Received: {type(calibration).__name__}") \
                from None
    batches, count = [], 0
    for batch in source:
        if isinstance(batch, (tuple, list)):
            batch = batch[0]  # (images, labels)
        batch = np.asarray(batch, dtype="float32")
        if batch.ndim != len(expected) + 1 or any(
                e is not None and e != s for e, s in zip(expected, batch.shape[1:])):
            raise ValueError(f"`calibration` batches must have shape (batch, "
                             f"{', '.join(str(e) for e in expected)}) like the model's input. "
                             f"Received a batch of shape {batch.shape}")
        batch = batch[:limit - count]
        batches.append(batch)
        count += len(batch)
        if count >= limit:
            break
    if count == 0:
        raise ValueError("`calibration` holds no images")
    return batches


def _write_bytes(path: str, data: bytes) -> None:
    from keras_resnet.atomic import atomic_path
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        f.write(data)


def _tflite_bytes(model, batches: Optional[List[np.ndarray]]) -> bytes:
    """The model as a .tflite flatbuffer; full-integer int8 when `batches` are given."""
    import tensorflow as tf

    from keras_resnet.keras_compat import plain_grouped_convolutions
    with tempfile.TemporaryDirectory(prefix="keras-resnet-export-") as tmp:
        with plain_grouped_convolutions():  # converted, never run by TensorFlow
            model.export(tmp, format="tf_saved_model", verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(tmp)
        if batches is not None:
            def representative():  # one image per call: the converter's batch is 1
                for batch in batches:
                    for image in batch:
                        yield [image[None]]
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.representative_dataset = representative
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        return converter.convert()


def _export_onnx(model, path: str) -> None:
    from keras_resnet.keras_compat import plain_grouped_convolutions
    with plain_grouped_convolutions():  # ResNeXt: an ONNX Conv with `group`
        model.export(path, format="onnx", verbose=False)


def _write_onnx_int8(model, path: str, batches: List[np.ndarray]) -> None:
    """onnxruntime static quantization of the float ONNX export (QDQ, u8 activations,
    s8 per-channel weights: the VNNI-friendly layout on x86 and what ARM runs too)."""
    import onnx
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat,
                                          QuantType, quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from keras_resnet.atomic import atomic_path

    with tempfile.TemporaryDirectory(prefix="keras-resnet-export-") as tmp:
        float_path = os.path.join(tmp, "float.onnx")
        _export_onnx(model, float_path)
        prepared = os.path.join(tmp, "prepared.onnx")
        quant_pre_process(float_path, prepared, skip_symbolic_shape=True)
        graph = onnx.load(prepared).graph
        input_name = graph.input[0].name
        softmax = [n.name for n in graph.node if n.op_type == "Softmax"]

        class Reader(CalibrationDataReader):
            def __init__(self):
                self._batches = iter(batches)

            def get_next(self):
                batch = next(self._batches, None)
                return None if batch is None else {input_name: batch}

        with atomic_path(path) as out:
            quantize_static(prepared, out, Reader(), quant_format=QuantFormat.QDQ,
                            per_channel=True, activation_type=QuantType.QUInt8,
                            weight_type=QuantType.QInt8, nodes_to_exclude=softmax,
                            calibrate_method=CalibrationMethod.MinMax)
