"""Dataset sources for training (`digits`, `cifar10:DIR`, `cifar100:DIR`, `folder:DIR`).

`parse_source` checks a SOURCE string, `load_source` reads it into an
`ImageData` (images or files, labels, class names, a fixed held-out split);
`keras_resnet.data.pipeline` turns that into tf.data batches.
"""

from __future__ import annotations

import os
from typing import Optional, Tuple

from keras_resnet.data.base import ImageData, Split

SOURCES = ("digits", "cifar10:DIR", "cifar100:DIR", "folder:DIR")


def parse_source(source: str) -> Tuple[str, Optional[str]]:
    """Split a SOURCE string into (kind, directory); ValueError if malformed.

    Examples: "digits" -> ("digits", None); "cifar10:/data" -> ("cifar10", "/data").
    """
    if not isinstance(source, str) or not source.strip():
        raise ValueError(f"`data` must be one of {', '.join(SOURCES)}. Received: {source!r}")
    kind, sep, path = source.partition(":")
    if kind == "digits" and not sep:
        return "digits", None
    if kind in ("cifar10", "cifar100", "folder") and sep:
        if not path:
            raise ValueError(f"`data` {source!r} needs a directory after '{kind}:'")
        return kind, os.path.expanduser(path)
    raise ValueError(f"`data` must be one of {', '.join(SOURCES)}. Received: {source!r}")


def load_source(source: str) -> ImageData:
    """Load a SOURCE (see `parse_source`); every problem is a one-line ValueError."""
    kind, path = parse_source(source)
    if kind == "digits":
        from keras_resnet.data.digits import load_digits
        return load_digits()
    if kind == "folder":
        from keras_resnet.data.folder import load_folder
        return load_folder(path)
    from keras_resnet.data.cifar import load_cifar
    return load_cifar(kind, path)


__all__ = ["ImageData", "Split", "SOURCES", "load_source", "parse_source"]
