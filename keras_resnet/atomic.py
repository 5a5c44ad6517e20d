"""Writing files all at once: a temporary name beside the target, then a rename.

Every file the package writes (weights, models, checkpoints, diagrams, logs,
notebooks) goes through `atomic_path`, so a crash or an error never leaves a
half-written file under the final name.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from typing import Iterator, Union

PathLike = Union[str, os.PathLike]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: PathLike) -> Iterator[str]:
    """Yield a temporary path beside `path` to write to.

    The temporary name (`.tmp-XXXX<suffix>`) keeps `path`'s suffix from its
    first dot on (".weights.h5", ".keras", ".png"), since Keras and graphviz
    choose the format from it. When the block succeeds the file is flushed to
    disk, given the usual permissions and renamed to `path`; when it fails the
    file is removed. Raises OSError when the directory cannot be written.
    """
    path = os.fspath(path)
    name = os.path.basename(path)
    suffix = name[name.index("."):] if "." in name else ""
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=suffix,
                               dir=os.path.dirname(os.path.abspath(path)))
    os.close(fd)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600 files
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


@contextlib.contextmanager
def atomic_directory(path: PathLike) -> Iterator[str]:
    """Yield a new empty temporary directory beside `path` to fill.

    When the block succeeds it is renamed to `path` (which must not exist, or
    be an empty directory); when it fails it is removed with its contents.
    Raises OSError when the parent directory cannot be written.
    """
    import shutil

    path = os.path.abspath(os.fspath(path))
    tmp = tempfile.mkdtemp(prefix=".tmp-", dir=os.path.dirname(path))
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp creates 0700 directories
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            shutil.rmtree(tmp, ignore_errors=True)


def write_text(path: PathLike, text: str) -> None:
    """Write `text` to `path` atomically."""
    with atomic_path(path) as tmp, open(tmp, "w") as f:
        f.write(text)
