"""The published ImageNet files: one table with their hashes, and an offline-safe fetch.

The files are keras.applications' (the table and hashes are those of
keras/src/applications/resnet.py and resnet_v2.py); `fetch`
(`keras_resnet.downloads`) takes them from the Keras cache or downloads them.
"""

from __future__ import annotations

from typing import Dict, Tuple

from keras_resnet.downloads import RemoteFile, _md5, cache_dir, fetch  # noqa: F401

KERAS_APPLICATIONS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/resnet/"


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
