"""The published ImageNet files: one table with their hashes, and an offline-safe fetch.

The files are keras.applications' (the table and hashes are those of
keras/src/applications/resnet.py and resnet_v2.py). A file is looked for in
the Keras cache (`$KERAS_HOME/models`, default `~/.keras/models`) first; only
when it is missing is it downloaded, with a short connection timeout, so an
offline machine fails within seconds with a message saying which file to put
where.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import threading
import urllib.parse
from typing import Dict, Optional, Tuple

import keras

KERAS_APPLICATIONS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/resnet/"
CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 60.0


@dataclasses.dataclass(frozen=True)
class RemoteFile:
    """A file that can be fetched into the Keras cache: name, URL and md5."""

    fname: str
    origin: str
    md5: str


def _keras_applications(stem: str, md5_top: str, md5_notop: str) -> Dict[bool, RemoteFile]:
    top = f"{stem}_weights_tf_dim_ordering_tf_kernels.h5"
    notop = f"{stem}_weights_tf_dim_ordering_tf_kernels_notop.h5"
    return {True: RemoteFile(top, KERAS_APPLICATIONS_URL + top, md5_top),
            False: RemoteFile(notop, KERAS_APPLICATIONS_URL + notop, md5_notop)}


# (arch, variant) -> {include_top: file}. Every entry is a keras.applications
# file with its 1000-class classifier (top) or without it (notop).
IMAGENET_WEIGHTS: Dict[Tuple[str, str], Dict[bool, RemoteFile]] = {
    ("resnet50", "v1"): _keras_applications(
        "resnet50", "2cb95161c43110f7111970584f804107", "4d473c1dd8becc155b73f8504c6f6626"),
    ("resnet101", "v1"): _keras_applications(
        "resnet101", "f1aeb4b969a6efcfb50fad2f0c20cfc5", "88cf7a10940856eca736dc7b7e228a21"),
    ("resnet152", "v1"): _keras_applications(
        "resnet152", "100835be76be38e30d865e96f2aaae62", "ee4c566cf9a93f14d82f913c2dc6dd0c"),
    ("resnet50", "v2"): _keras_applications(
        "resnet50v2", "3ef43a0b657b3be2300d5770ece849e0", "fac2f116257151a9d068a22e544a4917"),
    ("resnet101", "v2"): _keras_applications(
        "resnet101v2", "6343647c601c52e1368623803854d971", "c0ed64b8031c3730f411d2eb4eea35b5"),
    ("resnet152", "v2"): _keras_applications(
        "resnet152v2", "a49b44d1979771252814e80f8ec446f9", "ed17cf2e0169df9d443503ef94b23b33"),
}
IMAGENET_CLASSES = 1000

CLASS_INDEX = RemoteFile(
    "imagenet_class_index.json",
    "https://storage.googleapis.com/download.tensorflow.org/data/imagenet_class_index.json",
    "c2c37ea517e94d9795004a39431a14cb")


def imagenet_file(arch: str, variant: str, include_top: bool) -> RemoteFile:
    """The published file for a model, or a ValueError naming those that exist."""
    files = IMAGENET_WEIGHTS.get((arch, variant))
    if files is None:
        have = ", ".join(f"{a} (variant={v!r})" for a, v in IMAGENET_WEIGHTS)
        raise ValueError(
            f"No ImageNet weights are published for {arch} with variant={variant!r}. "
            f"weights='imagenet' exists for: {have}. For torchvision's ImageNet weights "
            "(every depth, variant='v1.5') pass the path of their .pth or .safetensors "
            "file as `weights`.")
    return files[bool(include_top)]


def cache_dir() -> str:
    """The Keras cache root: `$KERAS_HOME`, else `~/.keras` (read at call time)."""
    return os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")


def _md5(path: str) -> str:
    import hashlib
    h = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _check_reachable(origin: str, timeout: float) -> Optional[str]:
    """None when the origin's host accepts a connection within `timeout` s, else why not.

    Runs in a daemon thread so that even a hanging DNS lookup cannot block.
    """
    url = urllib.parse.urlsplit(origin)
    port = url.port or (443 if url.scheme == "https" else 80)
    result = {}

    def connect():
        try:
            socket.create_connection((url.hostname, port), timeout=timeout).close()
            result["ok"] = True
        except OSError as e:
            result["error"] = f"{type(e).__name__}: {e}"

    thread = threading.Thread(target=connect, daemon=True)
    thread.start()
    thread.join(timeout)
    if result.get("ok"):
        return None
    return result.get("error", f"no connection to {url.hostname}:{port} within {timeout:.0f} s")


def fetch(remote: RemoteFile, root: Optional[str] = None) -> str:
    """The local path of `remote`: from the Keras cache, else downloaded (md5-checked).

    Raises:
        ValueError: when the file is not cached (or fails its md5) and cannot be
            downloaded, saying which file to put where.
    """
    root = root or cache_dir()
    target = os.path.join(root, "models", remote.fname)
    stale = ""
    if os.path.isfile(target):
        if _md5(target) == remote.md5:
            return target
        stale = f"the cached {target} fails its md5 check; "

    def offline(reason: str) -> ValueError:
        return ValueError(
            f"Could not download {remote.fname} ({stale}{reason}). Without network access, get "
            f"it from {remote.origin} on another machine and put it at {target} "
            f"(md5 {remote.md5}), or set KERAS_HOME to a directory whose models/ "
            "folder holds it.")

    reason = _check_reachable(remote.origin, CONNECT_TIMEOUT_S)
    if reason:
        raise offline(reason)
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(READ_TIMEOUT_S)  # a stalled transfer fails instead of hanging
    try:
        return keras.utils.get_file(remote.fname, remote.origin, cache_subdir="models",
                                    file_hash=remote.md5, cache_dir=root)
    except Exception as e:  # URL errors, timeouts, md5 mismatch
        raise offline(str(e)) from e
    finally:
        socket.setdefaulttimeout(previous)
