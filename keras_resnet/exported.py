"""Exported files (`keras_resnet.export`): their metadata, running them, predicting image files.

A .onnx file runs in onnxruntime, a .tflite file in TensorFlow's TFLite
interpreter, a SavedModel directory through `tf.saved_model.load`. The
metadata `export` wrote (class names, input, preprocessing, output) says how
image files are prepared: a file that takes images gets uint8 RGB, resized
and center-cropped here unless the file does it itself.
"""

from __future__ import annotations

import json
import os
from typing import Callable, List, Sequence, Tuple

import numpy as np

from keras_resnet.deploy import METADATA_KEYS, METADATA_NAME, ONNX_EXTRA

EXPORTED_SUFFIXES = (".onnx", ".tflite")


def is_exported(path: str) -> bool:
    """Whether `path` names an exported file: .onnx, .tflite or a SavedModel directory."""
    path = os.fspath(path)
    return path.endswith(EXPORTED_SUFFIXES) or os.path.isfile(
        os.path.join(path, "saved_model.pb"))


def read_metadata(path: str) -> dict:
    """The metadata `keras_resnet.export` wrote into `path`; a ValueError naming the
    file when it has none (a file another tool wrote)."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ValueError(f"exported file does not exist: {path!r}")
    found = None
    if path.endswith(".onnx"):
        _need("onnx", path)
        import onnx
        props = {p.key: p.value for p in onnx.load(path, load_external_data=False)
                 .metadata_props}
        if all(k in props for k in METADATA_KEYS):
            found = {k: json.loads(props[k]) for k in METADATA_KEYS}
    elif path.endswith(".tflite"):
        from tensorflow.lite.tools import flatbuffer_utils
        with open(path, "rb") as f:
            model = flatbuffer_utils.convert_bytearray_to_object(bytearray(f.read()))
        for entry in model.metadata or []:
            name = entry.name.decode() if isinstance(entry.name, bytes) else entry.name
            if name == METADATA_NAME:
                found = json.loads(bytes(model.buffers[entry.buffer].data).decode())
    else:
        meta = os.path.join(path, "assets.extra", METADATA_NAME + ".json")
        if os.path.isfile(meta):
            with open(meta) as f:
                found = json.load(f)
    if not isinstance(found, dict):
        raise ValueError(f"{path!r} carries no keras_resnet metadata (export it with "
                         "`keras-resnet export`)")
    return found


def load_exported(path: str) -> Tuple[Callable[[np.ndarray], np.ndarray], dict]:
    """(a function from an input batch to the file's output, the file's metadata)."""
    path = os.fspath(path)
    metadata = read_metadata(path)
    if path.endswith(".onnx"):
        _need("onnxruntime", path)
        import onnxruntime as ort
        session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        return (lambda x: session.run(None, {name: x})[0]), metadata
    import tensorflow as tf
    if path.endswith(".tflite"):
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tf.lite.Interpreter's deprecation notice
            interpreter = tf.lite.Interpreter(model_path=path)

        def run(x):
            inp = interpreter.get_input_details()[0]
            interpreter.resize_tensor_input(inp["index"], x.shape)
            interpreter.allocate_tensors()
            interpreter.set_tensor(inp["index"], x)
            interpreter.invoke()
            return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
        return run, metadata
    loaded = tf.saved_model.load(path)
    return (lambda x: loaded.serve(x).numpy()), metadata


def _need(module: str, path: str) -> None:
    import importlib.util
    if importlib.util.find_spec(module) is None:
        raise ValueError(f"reading {os.path.basename(path)} needs {module}, not installed: "
                         f"{ONNX_EXTRA}")


def prepare_images(metadata: dict, images: Sequence[str]) -> List[np.ndarray]:
    """Image files as the file's input takes them: one array per file (a batch of one)."""
    import tensorflow as tf

    from keras_resnet.image_files import check_image, decode_file
    from keras_resnet.preprocessing import eval_transform

    pre = metadata["preprocessing"]
    transform = pre.get("eval_transform") or {}
    size = transform.get("size") or metadata["input"]["shape"][1]
    crop = {"crop_pct": transform.get("crop_pct", 0.875),
            "interpolation": transform.get("interpolation", "bilinear")}
    out = []
    for path in images:
        if not os.path.isfile(path):
            raise ValueError(f"image file does not exist: {path!r}")
        check_image(path)
        image = decode_file(tf.constant(path)).numpy()
        if pre["resize"]:  # the file resizes and crops
            out.append(image[None])
            continue
        image = eval_transform(image, size, **crop)
        if metadata["input"]["dtype"] == "uint8":
            out.append(np.clip(np.round(image), 0, 255).astype("uint8")[None])
        else:
            norm = pre["normalization"] or {}
            if norm.get("mode") != "mean_std":
                raise ValueError("the file takes normalised input but its metadata names no "
                                 "mean and std")
            x = (image / 255.0 - np.asarray(norm["mean"])) / np.asarray(norm["std"])
            out.append(x.astype("float32")[None])
    return out


def predict_exported(path: str, images: Sequence[str], *,
                     top_k: int = 5) -> List[Tuple[str, List[Tuple[str, float]]]]:
    """Top-k (label, probability) for each image file, from an exported file; the class
    names are the file's (class indices where it names none)."""
    if not isinstance(top_k, int) or isinstance(top_k, bool) or top_k < 1:
        raise ValueError(f"`top_k` must be a positive integer. Received: top_k={top_k!r}")
    if not images:
        raise ValueError("`images` must list at least one image file")
    run, metadata = load_exported(path)
    if metadata["output"] == "features":
        raise ValueError(f"{path!r} outputs features, not classes")
    batches = prepare_images(metadata, images)
    out = []
    for file, x in zip(images, batches):
        p = np.asarray(run(x), np.float64)[0]
        if metadata["output"] == "logits":
            p = np.exp(p - p.max())
            p /= p.sum()
        names = metadata["class_names"] or [str(i) for i in range(len(p))]
        order = np.argsort(-p)[:min(top_k, len(p))]
        out.append((file, [(names[i], float(p[i])) for i in order]))
    return out
