"""`cifar10:DIR` and `cifar100:DIR`: the official python-format CIFAR directories.

The files are pickles (written by Python 2's cPickle). They are read with
`SafeUnpickler`, which resolves only the few globals a numpy uint8 array needs,
so a foreign or malicious pickle is refused before anything in it runs.
"""

from __future__ import annotations

import io
import os
import pickle
from typing import Dict, List, Tuple

import numpy as np

from keras_resnet.data.base import ImageData, Split, channel_stats, check_labels

IMAGE_SIZE = 32
PIXELS = 3 * IMAGE_SIZE * IMAGE_SIZE

# Published channel statistics are recomputed from the training split instead,
# so a subset or a re-packed directory is normalised by its own numbers.
FORMATS = {
    # name: (directory name, train files, test files, meta file, label key, names key, classes)
    "cifar10": ("cifar-10-batches-py", [f"data_batch_{i}" for i in range(1, 6)], ["test_batch"],
                "batches.meta", "labels", "label_names", 10),
    "cifar100": ("cifar-100-python", ["train"], ["test"], "meta", "fine_labels",
                 "fine_label_names", 100),
}


class Refused(pickle.UnpicklingError):
    """A pickle asked for something outside the CIFAR format."""


def _reconstruct(subtype, shape, dtype):
    if subtype is not np.ndarray:
        raise Refused("array subclass is not allowed")
    return np.ndarray.__new__(np.ndarray, shape, dtype)


def _dtype(spec, align=False, copy=True):
    dtype = np.dtype(spec, align=bool(align), copy=bool(copy))
    if dtype.hasobject:
        raise Refused("object arrays are not allowed")
    return dtype


def _frombuffer(buf, dtype, shape, order):
    if not isinstance(dtype, np.dtype) or dtype.hasobject:
        raise Refused("object arrays are not allowed")
    return np.frombuffer(buf, dtype=dtype).reshape(shape, order=order).copy()


def _latin1_encode(text, encoding="utf-8", errors="strict"):
    # Python 3 spells `bytes` as _codecs.encode(str, "latin1") in protocol 2.
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise Refused("only latin1 byte strings are allowed")
    return text.encode("latin1")


class SafeUnpickler(pickle.Unpickler):
    """Loads dicts, lists, strings, numbers and plain numpy arrays; nothing else.

    Every other global (any class or function a pickle names, e.g. `os.system`)
    raises `Refused` (an `UnpicklingError`) before it can be called.
    """

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"): _reconstruct,  # numpy 1.x writers
        ("numpy._core.multiarray", "_reconstruct"): _reconstruct,  # numpy 2.x writers
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): _dtype,
        ("numpy.core.numeric", "_frombuffer"): _frombuffer,
        ("numpy._core.numeric", "_frombuffer"): _frombuffer,
        ("_codecs", "encode"): _latin1_encode,
    }

    def find_class(self, module: str, name: str):
        try:
            return self.ALLOWED[(module, name)]
        except KeyError:
            raise Refused(f"refusing to load {module}.{name}") from None

    def persistent_load(self, pid):
        raise Refused("persistent ids are not allowed")


def safe_load(path: str) -> object:
    """Unpickle `path` with `SafeUnpickler`; a ValueError for anything unexpected."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise ValueError(f"cannot read {path}: {e.strerror}") from None
    try:
        return SafeUnpickler(io.BytesIO(data), encoding="bytes").load()
    except Refused as e:
        raise ValueError(f"{path} is not a CIFAR python-format file ({e})") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError, KeyError,
            AttributeError, OverflowError, MemoryError, UnicodeDecodeError) as e:
        # What the pickle machinery raises on a truncated or garbled stream.
        why = "truncated" if isinstance(e, EOFError) or "truncated" in str(e) else \
            f"{type(e).__name__}: {e}"
        raise ValueError(f"{path} is not a valid CIFAR pickle ({why})") from None


def _get(d: Dict, key: str, path: str):
    for k in (key.encode(), key):
        if k in d:
            return d[k]
    raise ValueError(f"{path} is not a CIFAR batch: it has no {key!r} entry")


def _read_batch(path: str, label_key: str, num_classes: int) -> Tuple[np.ndarray, np.ndarray]:
    d = safe_load(path)
    if not isinstance(d, dict):
        raise ValueError(f"{path} is not a CIFAR batch: expected a dict, got "
                         f"{type(d).__name__}")
    data = _get(d, "data", path)
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 \
            or data.shape[1] != PIXELS:
        shape = getattr(data, "shape", None)
        raise ValueError(f"{path}: 'data' must be a uint8 array of shape (N, {PIXELS}); "
                         f"got {type(data).__name__} {shape}")
    labels = _get(d, label_key, path)
    if not isinstance(labels, (list, np.ndarray)) or len(labels) != len(data):
        raise ValueError(f"{path}: {label_key!r} must list one label per image "
                         f"({len(data)} images)")
    labels = check_labels(np.asarray(labels, dtype=np.int64) if len(labels) else
                          np.zeros(0, np.int64), num_classes, path)
    images = data.reshape(-1, 3, IMAGE_SIZE, IMAGE_SIZE).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), labels


def _names(meta_path: str, key: str, num_classes: int) -> List[str]:
    if not os.path.isfile(meta_path):
        return [str(i) for i in range(num_classes)]
    meta = safe_load(meta_path)
    names = meta.get(key.encode(), meta.get(key)) if isinstance(meta, dict) else None
    if not isinstance(names, list) or len(names) != num_classes:
        raise ValueError(f"{meta_path}: {key!r} must list {num_classes} class names")
    return [n.decode("utf-8", "replace") if isinstance(n, bytes) else str(n) for n in names]


def find_dir(kind: str, directory: str) -> str:
    """The official directory: `directory` itself or its official-named child."""
    dirname = FORMATS[kind][0]
    if not os.path.isdir(directory):
        raise ValueError(f"{kind} data directory does not exist: {directory!r}")
    child = os.path.join(directory, dirname)
    return child if os.path.isdir(child) else directory


def load_cifar(kind: str, directory: str) -> ImageData:
    """Read `cifar10` or `cifar100` from `directory` (or `directory/<official name>`).

    The official test set is the held-out split. Raises a ValueError for a
    missing or incomplete directory, a foreign or truncated pickle, malformed
    arrays or labels out of range.
    """
    dirname, train_files, test_files, meta, label_key, names_key, n = FORMATS[kind]
    root = find_dir(kind, directory)
    missing = [f for f in train_files + test_files if not os.path.isfile(os.path.join(root, f))]
    if missing:
        raise ValueError(f"{root} is not a {kind} python-format directory ({dirname}): "
                         f"missing {', '.join(missing)}")
    splits = []
    for files in (train_files, test_files):
        parts = [_read_batch(os.path.join(root, f), label_key, n) for f in files]
        images = np.concatenate([p[0] for p in parts])
        labels = np.concatenate([p[1] for p in parts])
        if not len(labels):
            raise ValueError(f"{root}: {', '.join(files)} hold no images")
        splits.append(Split(labels, images=images))
    class_names = _names(os.path.join(root, meta), names_key, n)
    mean, std = channel_stats(splits[0].images)
    return ImageData(f"{kind}:{directory}", class_names, splits[0], splits[1],
                     native_size=(IMAGE_SIZE, IMAGE_SIZE), hflip=True, mean=mean, std=std)
