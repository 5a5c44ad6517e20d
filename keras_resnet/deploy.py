"""Deployment files: SavedModel, TFLite and ONNX, float32 or full-integer int8.

`export` folds BatchNormalization into the convolutions first (an inference
model needs neither the layer nor its work), then writes:

- "savedmodel": Keras' `model.export(format="tf_saved_model")`, a directory
  with a `serve` signature (TensorFlow Serving, `tf.saved_model.load`);
- "tflite": `tf.lite.TFLiteConverter` from that SavedModel (LiteRT, phones);
- "onnx": Keras' `model.export(format="onnx")` (tf2onnx), dynamic batch.

Files that take images: when the model normalises its own input
(`include_preprocessing=True`) or `normalization` is given (what a
`keras-resnet train` run from pretrained weights records), the file's input
is "images", uint8 RGB (N, H, W, 3) at any batch size, and its output class
probabilities (a softmax is added after a linear classifier). `resize` also
puts the checkpoint's evaluation resize and center crop in (SavedModel only:
TFLite and ONNX have no antialiased resize). Every file carries its metadata
(`file_metadata`): class names, input, preprocessing, output; in ONNX
`metadata_props`, in TFLite the model's `metadata` entry "keras_resnet"
(a JSON buffer), in a SavedModel `assets.extra/keras_resnet.json`.

int8 is post-training full-integer quantization calibrated on images the
caller gives (as the file's input takes them: raw images for a file that
takes images, else preprocessed as the model expects): TFLite's converter
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

import json
import os
import tempfile
from typing import Iterable, Iterator, List, Optional, Sequence, Union

import numpy as np

FORMATS = ("savedmodel", "tflite", "onnx")
ONNX_EXTRA = 'pip install "keras-resnet-zoo[onnx]"'
SUFFIXES = {"tflite": ".tflite", "onnx": ".onnx"}
DEFAULT_CALIBRATION_IMAGES = 256
_CALIBRATION_BATCH = 32
METADATA_NAME = "keras_resnet"  # TFLite metadata entry; SavedModel assets.extra/NAME.json
METADATA_KEYS = ("format", "model", "class_names", "input", "preprocessing", "output",
                 "quantization")
IMAGES_INPUT = "images"


def export(model, path: str, format: str = "savedmodel", *, fold_batchnorm: bool = True,
           quantize: Optional[str] = None,
           calibration: Union[np.ndarray, Iterable, None] = None,
           calibration_images: int = DEFAULT_CALIBRATION_IMAGES,
           label_names: Optional[Sequence[str]] = None, normalization=None,
           eval_transform=None, resize: bool = False) -> str:
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
        label_names: Class names written into the file's metadata (default:
            ImageNet's for a 1000-class model, where they can be read).
        normalization: A `keras_resnet.pretrained.InputNormalization` to put
            in front of a model that takes normalised input: the file then
            takes uint8 images, as it does for a model built with
            `include_preprocessing=True`.
        eval_transform: The `keras_resnet.pretrained.EvalTransform` that
            image files need (default: the model's input size, crop_pct
            0.875, bilinear); recorded in the metadata.
        resize: For a file that takes images: put `eval_transform` inside,
            so the file takes images of any size ("savedmodel" only).

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
    images = normalization is not None or includes_preprocessing(model)
    transform = _check_resize(eval_transform, resize, images, format, model)
    resize = transform if resize else None
    metadata = file_metadata(model, label_names=label_names, normalization=normalization,
                             eval_transform=transform, resize=bool(resize), quantize=quantize)
    batches = (_calibration_batches(calibration, model.input_shape, calibration_images,
                                    images=images) if quantize else None)
    model = _prepared(model, fold_batchnorm)
    if images:
        model = _image_model(model, normalization, resize)
    if format == "savedmodel":
        from keras_resnet.atomic import atomic_directory
        with atomic_directory(path) as tmp:
            model.export(tmp, format="tf_saved_model", verbose=False)
            os.makedirs(os.path.join(tmp, "assets.extra"), exist_ok=True)
            with open(os.path.join(tmp, "assets.extra", METADATA_NAME + ".json"), "w") as f:
                json.dump(metadata, f, indent=1)
    elif format == "tflite":
        _write_bytes(path, _with_tflite_metadata(_tflite_bytes(model, batches), metadata))
    else:
        from keras_resnet.atomic import atomic_path
        with atomic_path(path) as tmp:
            if batches is None:
                _export_onnx(model, tmp)
            else:
                _write_onnx_int8(model, tmp, batches)
            _add_onnx_metadata(tmp, metadata)
    return path


def includes_preprocessing(model) -> bool:
    """Whether `model` normalises its own input (`include_preprocessing=True`: the
    `preprocessing_*` layers `keras_resnet.preprocessing.normalize_input` adds)."""
    return any(layer.name.startswith("preprocessing_") for layer in model.layers)


def _check_resize(transform, resize: bool, images: bool, format: str, model):
    """`transform` as an EvalTransform with its size; a ValueError where `resize` cannot be."""
    from keras_resnet.pretrained import EvalTransform

    if transform is None:
        transform = EvalTransform()
    if not isinstance(transform, EvalTransform):
        raise ValueError("`eval_transform` must be None or a keras_resnet.pretrained."
                         f"EvalTransform. Received: eval_transform={transform!r}")
    if not isinstance(resize, bool):
        raise ValueError(f"`resize` must be True or False. Received: resize={resize!r}")
    height, width = model.input_shape[1:3]
    size = transform.size or height
    if not resize:
        return EvalTransform(size, transform.crop_pct, transform.interpolation)
    if not images:
        raise ValueError("`resize` needs a file that takes images: a model built with "
                         "include_preprocessing=True, or `normalization`")
    if format != "savedmodel":
        raise ValueError(f"`resize` cannot go into a {format} file: the evaluation resize is "
                         "antialiased (TensorFlow's ScaleAndTranslate), which TFLite's "
                         "builtin ops and ONNX (tf2onnx) lack; export a SavedModel, or "
                         "resize before the file")
    if size is None or (height is not None and (height, width) != (size, size)):
        raise ValueError(f"`resize` size {size} does not fit the model's input "
                         f"{model.input_shape[1:3]}")
    from keras_resnet.preprocessing import _check_eval_arguments
    _check_eval_arguments(size, transform.crop_pct, transform.interpolation)
    return EvalTransform(size, transform.crop_pct, transform.interpolation)


def _output_kind(model) -> str:
    """"probabilities" (a softmax classifier), "logits" (a linear one) or "features"."""
    import keras

    last = model.layers[-1]
    if isinstance(last, keras.layers.Softmax):
        return "probabilities"
    activation = getattr(getattr(last, "activation", None), "__name__", None)
    if isinstance(last, (keras.layers.Dense, keras.layers.Activation)):
        if activation == "softmax":
            return "probabilities"
        if activation == "linear" and isinstance(last, keras.layers.Dense):
            return "logits"
    return "features"


def file_metadata(model, *, label_names: Optional[Sequence[str]] = None,
                  normalization=None, eval_transform=None, resize: bool = False,
                  quantize: Optional[str] = None) -> dict:
    """What an exported file of `model` holds: class names, input, preprocessing, output.

    A file that takes images ("input": uint8 "images") returns probabilities
    ("output"); "preprocessing" says what it does inside ("normalization",
    "resize") and what the caller does first ("eval_transform" of image files).
    """
    from keras_resnet import __version__

    images = normalization is not None or includes_preprocessing(model)
    kind = _output_kind(model)
    if images and kind == "logits":
        kind = "probabilities"  # the file adds the softmax
    classes = model.output_shape[-1] if kind != "features" else None
    names = _class_names(label_names, classes)
    norm = normalization
    if norm is None and images:
        norm = _built_in_normalization(model)
    height, width = model.input_shape[1:3]
    return {
        "format": f"keras_resnet {__version__}",
        "model": model.name,
        "class_names": names,
        "input": {"name": IMAGES_INPUT if images else model.inputs[0].name,
                  "dtype": "uint8" if images else "float32",
                  "shape": ([None, None, None, 3] if resize
                            else [None, height, width, model.input_shape[-1]]),
                  "values": "RGB 0-255" if images else "normalized"},
        "preprocessing": {"inside": images,
                          "normalization": None if norm is None else {
                              "mode": norm.mode, "mean": _floats(norm.mean),
                              "std": _floats(norm.std)},
                          "resize": bool(resize),
                          "eval_transform": None if eval_transform is None else {
                              "size": eval_transform.size, "crop_pct": eval_transform.crop_pct,
                              "interpolation": eval_transform.interpolation}},
        "output": kind,
        "quantization": quantize,
    }


def _floats(values):
    return None if values is None else [float(f"{float(v):.7g}") for v in values]


def _class_names(label_names, classes) -> Optional[List[str]]:
    if label_names is not None:
        names = [str(n) for n in label_names]
        if classes is not None and len(names) != classes:
            raise ValueError(f"`label_names` has {len(names)} names but the model has "
                             f"{classes} classes")
        return names
    if classes == 1000:  # ImageNet-1k's, when the class index can be read
        try:
            from keras_resnet.imagenet_labels import imagenet_class_index
            index = imagenet_class_index()
            return [index[str(i)][1] for i in range(1000)]
        except Exception:  # offline: the file then names no classes
            return None
    return None


def _built_in_normalization(model):
    """The InputNormalization of the model's `preprocessing_*` layers."""
    from keras_resnet.pretrained import InputNormalization

    layers = {layer.name: layer for layer in model.layers}
    if "preprocessing_rgb_to_bgr" in layers:
        return InputNormalization("caffe")
    if "preprocessing_normalization" not in layers:
        return InputNormalization("tf")
    layer = layers["preprocessing_normalization"]
    mean = np.ravel(np.asarray(layer.mean, "float64"))
    std = np.sqrt(np.ravel(np.asarray(layer.variance, "float64")))
    return InputNormalization("mean_std", tuple(mean.tolist()), tuple(std.tolist()))


def _image_model(model, normalization, resize):
    """`model` behind a uint8 "images" input: cast, resize (optional), normalisation
    (when `normalization` is given) and a softmax after a linear classifier."""
    import keras

    from keras_resnet.preprocessing import eval_transform

    shape = (None, None, 3) if resize else tuple(model.input_shape[1:])
    inputs = keras.Input(shape, dtype="uint8", name=IMAGES_INPUT)
    if resize:  # on the uint8 images, as `keras-resnet predict` (bicubic's overshoot clipped)
        x = keras.layers.Lambda(
            lambda t: eval_transform(t, resize.size, resize.crop_pct, resize.interpolation),
            output_shape=(resize.size, resize.size, 3), name="eval_transform")(inputs)
    else:
        x = keras.layers.Lambda(lambda t: keras.ops.cast(t, "float32"), name="to_float")(inputs)
    if normalization is not None:
        x = _normalizing_layer(normalization, "normalize")(x)

    def operation(layer):  # Normalization's mean and variance as graph constants
        if isinstance(layer, keras.layers.Normalization):
            mean = np.ravel(np.asarray(layer.mean, "float64"))
            std = np.sqrt(np.ravel(np.asarray(layer.variance, "float64")))
            return _mean_std_layer(mean, std, layer.name)
        return layer

    # The model's own layers called on `x`, one flat graph. tf2onnx turns the eager
    # tensors a layer holds (Normalization's mean and variance) into graph inputs, so
    # Normalization is replaced by the same arithmetic on numpy constants.
    x = model._run_through_graph(x, operation_fn=operation)
    if _output_kind(model) == "logits":
        x = keras.layers.Softmax(name="probabilities")(x)
    wrapped = keras.Model(inputs, x, name=model.name)
    size = [1] + [32 if d is None else d for d in shape]
    wrapped(np.zeros(size, "uint8"), training=False)
    return wrapped


def _normalizing_layer(norm, name: str):
    """A Lambda layer normalising [0, 255] RGB as `norm` says, its numbers constants."""
    import keras

    if norm.mode == "tf":
        return keras.layers.Lambda(lambda t: t / 127.5 - 1.0, name=name)
    if norm.mode == "caffe":
        from keras_resnet.preprocessing import CAFFE_MEAN_BGR
        mean = np.asarray(CAFFE_MEAN_BGR, "float32")
        return keras.layers.Lambda(lambda t: keras.ops.flip(t, axis=-1) - mean, name=name)
    return _mean_std_layer(np.asarray(norm.mean) * 255, np.asarray(norm.std) * 255, name)


def _mean_std_layer(mean, std, name: str):
    """(x - mean) / std per channel, as a Lambda with numpy constants."""
    import keras

    mean, std = np.asarray(mean, "float32"), np.asarray(std, "float32")
    return keras.layers.Lambda(lambda t: (t - mean) / std, name=name)


def _with_tflite_metadata(data: bytes, metadata: dict) -> bytes:
    """The .tflite flatbuffer with a "keras_resnet" metadata entry (a JSON buffer),
    through TensorFlow's own schema (tensorflow.lite.tools.flatbuffer_utils)."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    tflite = flatbuffer_utils.convert_bytearray_to_object(bytearray(data))
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(json.dumps(metadata).encode(), np.uint8)
    tflite.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name = METADATA_NAME
    entry.buffer = len(tflite.buffers) - 1
    tflite.metadata = list(tflite.metadata or []) + [entry]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(tflite))


def _add_onnx_metadata(path: str, metadata: dict) -> None:
    """Each key of `metadata` as an ONNX `metadata_props` entry (its value as JSON)."""
    import onnx

    proto = onnx.load(path)
    for key in METADATA_KEYS:
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, json.dumps(metadata[key])
    onnx.save(proto, path)


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
    if format == "onnx":  # one line naming the extra, not tf2onnx's traceback
        needed = ("onnx", "tf2onnx") + (("onnxruntime",) if quantize else ())
        missing = [m for m in needed if not _installed(m)]
        if missing:
            raise ValueError(f"format='onnx'{' with int8' if quantize else ''} needs "
                             f"{', '.join(missing)}, not installed: {ONNX_EXTRA}")
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


def _installed(module: str) -> bool:
    import importlib.util
    return importlib.util.find_spec(module) is not None


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


def _calibration_batches(calibration, input_shape, limit: int, *,
                         images: bool = False) -> List[np.ndarray]:
    """At most `limit` calibration images as batches of the model's input shape:
    float32, or uint8 for a file that takes images (raw [0, 255] images)."""
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
        batch = np.asarray(batch)
        if images:
            if batch.dtype != np.uint8 and batch.size and (batch.min() < 0 or batch.max() > 255):
                raise ValueError("`calibration` of a file that takes images must be raw RGB "
                                 "images in [0, 255] (uint8), not normalised ones")
            batch = np.clip(np.round(batch), 0, 255).astype("uint8")
        else:
            batch = batch.astype("float32")
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
