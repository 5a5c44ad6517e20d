"""Files fetched into the Keras cache: an offline-safe, md5-checked download.

A file is looked for in the Keras cache (`$KERAS_HOME/models`, default
`~/.keras/models`) first; only when it is missing is it downloaded, with a
short connection timeout, so an offline machine fails within seconds with a
message saying which file to put where. Keras is imported only to download.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import threading
import urllib.parse
from typing import Optional

CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 60.0


@dataclasses.dataclass(frozen=True)
class RemoteFile:
    """A file that can be fetched into the Keras cache: name, URL and md5."""

    fname: str
    origin: str
    md5: str


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
    import keras

    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(READ_TIMEOUT_S)  # a stalled transfer fails instead of hanging
    try:
        return keras.utils.get_file(remote.fname, remote.origin, cache_subdir="models",
                                    file_hash=remote.md5, cache_dir=root)
    except Exception as e:  # URL errors, timeouts, md5 mismatch
        raise offline(str(e)) from e
    finally:
        socket.setdefaulttimeout(previous)
