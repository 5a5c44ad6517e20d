"""Tiny datasets on disk for the data and training tests.

`py2_pickle` writes a pickle the way Python 2's cPickle wrote the official CIFAR
files (protocol 2, `str` as BINSTRING, numpy arrays through
`numpy.core.multiarray._reconstruct`), with the standard library only.
"""

from __future__ import annotations

import os
import pickle
import struct

import numpy as np


def _global(module: str, name: str) -> bytes:
    return pickle.GLOBAL + f"{module}\n{name}\n".encode()


def _dump(obj) -> bytes:
    if obj is None:
        return pickle.NONE
    if isinstance(obj, bool):
        return pickle.NEWTRUE if obj else pickle.NEWFALSE
    if isinstance(obj, int):
        return pickle.BININT + struct.pack("<i", obj)
    if isinstance(obj, str):
        obj = obj.encode("latin1")
    if isinstance(obj, bytes):
        return pickle.BINSTRING + struct.pack("<i", len(obj)) + obj
    if isinstance(obj, tuple):
        return pickle.MARK + b"".join(_dump(o) for o in obj) + pickle.TUPLE
    if isinstance(obj, list):
        return pickle.EMPTY_LIST + pickle.MARK + b"".join(_dump(o) for o in obj) + pickle.APPENDS
    if isinstance(obj, dict):
        return (pickle.EMPTY_DICT + pickle.MARK
                + b"".join(_dump(k) + _dump(v) for k, v in obj.items()) + pickle.SETITEMS)
    if isinstance(obj, np.ndarray):
        assert obj.dtype == np.uint8
        dtype = (_global("numpy", "dtype") + _dump(("u1", 0, 1)) + pickle.REDUCE
                 + _dump((3, "|", None, None, None, -1, -1, 0)) + pickle.BUILD)
        state = (pickle.MARK + _dump(1) + _dump(obj.shape) + dtype + pickle.NEWFALSE
                 + _dump(obj.tobytes()) + pickle.TUPLE)
        return (_global("numpy.core.multiarray", "_reconstruct")
                + pickle.MARK + _global("numpy", "ndarray") + _dump((0,)) + _dump(b"b")
                + pickle.TUPLE + pickle.REDUCE + state + pickle.BUILD)
    raise TypeError(type(obj))


def py2_pickle(obj) -> bytes:
    """`obj` (dicts, lists, tuples, str/bytes, ints, uint8 arrays) as Python 2 wrote it."""
    return pickle.PROTO + b"\x02" + _dump(obj) + pickle.STOP


def cifar_images(n: int, seed: int) -> np.ndarray:
    """`n` random 32x32 RGB uint8 images whose mean colour encodes the label (i % 10)."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8)


def to_rows(images: np.ndarray) -> np.ndarray:
    """NHWC images as CIFAR rows: 1024 red, 1024 green, 1024 blue values each."""
    return np.ascontiguousarray(images.transpose(0, 3, 1, 2).reshape(len(images), -1))


def write_cifar10(root, per_batch: int = 6, test: int = 10, names=None):
    """A cifar-10-batches-py directory under `root`; returns (dir, train NHWC, train labels)."""
    d = os.path.join(root, "cifar-10-batches-py")
    os.makedirs(d, exist_ok=True)
    all_images, all_labels = [], []
    for i, fname in enumerate([f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]):
        n = test if fname == "test_batch" else per_batch
        images = cifar_images(n, seed=i)
        labels = [(j + i) % 10 for j in range(n)]
        batch = {"batch_label": f"batch {i}", "labels": labels, "data": to_rows(images),
                 "filenames": [f"img{j}.png" for j in range(n)]}
        with open(os.path.join(d, fname), "wb") as f:
            f.write(py2_pickle(batch))
        if fname != "test_batch":
            all_images.append(images)
            all_labels += labels
    meta = {"label_names": names or ["airplane", "automobile", "bird", "cat", "deer", "dog",
                                     "frog", "horse", "ship", "truck"],
            "num_cases_per_batch": per_batch, "num_vis": 3072}
    with open(os.path.join(d, "batches.meta"), "wb") as f:
        f.write(py2_pickle(meta))
    return d, np.concatenate(all_images), np.asarray(all_labels)


def write_cifar100(root, train: int = 12, test: int = 8):
    """A cifar-100-python directory under `root`; returns its path."""
    d = os.path.join(root, "cifar-100-python")
    os.makedirs(d, exist_ok=True)
    for i, (fname, n) in enumerate((("train", train), ("test", test))):
        images = cifar_images(n, seed=10 + i)
        batch = {"filenames": [f"x{j}.png" for j in range(n)], "batch_label": fname,
                 "fine_labels": [(7 * j) % 100 for j in range(n)],
                 "coarse_labels": [j % 20 for j in range(n)], "data": to_rows(images)}
        with open(os.path.join(d, fname), "wb") as f:
            f.write(py2_pickle(batch))
    with open(os.path.join(d, "meta"), "wb") as f:
        f.write(py2_pickle({"fine_label_names": [f"c{i}" for i in range(100)],
                            "coarse_label_names": [f"s{i}" for i in range(20)]}))
    return d


def write_folder(root, classes=("cat", "dog"), per_class: int = 5, size=(20, 24)):
    """An image folder with one sub-directory per class of PNG and JPEG files."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for c, name in enumerate(classes):
        os.makedirs(os.path.join(root, name), exist_ok=True)
        for i in range(per_class):
            pixels = rng.integers(0, 256, size=(*size, 3), dtype=np.uint8)
            pixels[..., c % 3] = 255  # class c is saturated in channel c: learnable
            ext = "png" if i % 2 else "jpg"
            Image.fromarray(pixels).save(os.path.join(root, name, f"{i}.{ext}"))
    return root


# How `write_photos` saves image i: JPEG/PNG/BMP/GIF in the modes photos come in.
PHOTO_MODES = (("RGB", "jpg"), ("CMYK", "jpg"), ("L", "jpg"), ("P", "png"), ("RGBA", "png"),
               ("LA", "png"), ("I;16", "png"), ("RGB", "png"), ("RGB", "bmp"), ("P", "gif"))


def photo(i: int, label: int, rng) -> "np.ndarray":
    """An RGB uint8 image of varied size and aspect ratio (portrait and landscape);
    class `label` is saturated in channel `label % 3`."""
    h, w = (24 + (i * 7) % 40, 24 + (i * 13) % 48)
    pixels = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
    pixels[..., label % 3] = 255
    return pixels


def save_photo(pixels: "np.ndarray", path: str, mode: str) -> None:
    """Save RGB `pixels` in Pillow `mode` ("I;16": a 16-bit grey PNG of the same image)."""
    from PIL import Image

    image = Image.fromarray(pixels)
    if mode == "I;16":
        grey = np.asarray(image.convert("L")).astype(np.uint16) * 257
        image = Image.fromarray(grey)
    elif mode != "RGB":
        image = image.convert(mode)
    image.save(path)


def write_photos(root, classes=("cat", "dog"), train: int = 50, val: int = 4,
                 corrupt: str = "train/cat/corrupt.jpg"):
    """An ImageNet-layout folder (root/train/CLASS, root/val/CLASS) of `train` and `val`
    files per class in every mode of `PHOTO_MODES`, plus one corrupt JPEG at `corrupt`."""
    rng = np.random.default_rng(0)
    for split, n in (("train", train), ("val", val)):
        for label, name in enumerate(classes):
            os.makedirs(os.path.join(root, split, name), exist_ok=True)
            for i in range(n):
                mode, ext = PHOTO_MODES[(i + label) % len(PHOTO_MODES)]
                save_photo(photo(i, label, rng), os.path.join(root, split, name, f"{i}.{ext}"),
                           mode)
    if corrupt:
        with open(os.path.join(root, corrupt), "wb") as f:
            f.write(b"\xff\xd8\xff\xe0 truncated JPEG")
    return root
