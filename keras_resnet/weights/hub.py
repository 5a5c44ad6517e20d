"""Files from the Hugging Face Hub: a repo and file name -> a local path in the Hub cache.

Downloads go through `huggingface_hub.hf_hub_download`, into the cache timm and
keras-hub share. The environment is read when a file is asked for, not when
huggingface_hub is imported: `HF_HUB_CACHE` (else `HUGGINGFACE_HUB_CACHE`, else
`$HF_HOME/hub`, default `~/.cache/huggingface/hub`), `HF_ENDPOINT` and
`HF_HUB_OFFLINE=1` (or `TRANSFORMERS_OFFLINE`). A cached file is used without
touching the network (delete it, or run `hf download --force-download`, to
refresh it). A file that is not cached is fetched only after one metadata
request has answered within `PROBE_TIMEOUT_S` (run in a daemon thread, so a
hanging DNS lookup cannot block either); otherwise, and offline, the call fails
at once with a `ValueError` saying which command fetches the file elsewhere.
Only safetensors files are fetched, never pickles.
"""

from __future__ import annotations

import os
import threading
from typing import Optional

PROBE_TIMEOUT_S = 5.0
DEFAULT_ENDPOINT = "https://huggingface.co"
HUB_EXTRA = 'pip install "huggingface_hub>=2.4,<3"'

_TRUE = {"1", "ON", "YES", "TRUE"}


def cache_dir() -> str:
    """The Hub cache root, from the environment at call time (huggingface_hub's rule)."""
    env = os.environ
    root = env.get("HF_HUB_CACHE") or env.get("HUGGINGFACE_HUB_CACHE")
    if not root:
        home = env.get("HF_HOME") or os.path.join(
            env.get("XDG_CACHE_HOME") or os.path.join("~", ".cache"), "huggingface")
        root = os.path.join(home, "hub")
    return os.path.expanduser(os.path.expandvars(root))


def is_offline() -> bool:
    """Whether `HF_HUB_OFFLINE` (or `TRANSFORMERS_OFFLINE`) is set to a true value."""
    value = os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE") or ""
    return value.upper() in _TRUE


def endpoint() -> str:
    """The Hub address: `HF_ENDPOINT`, default https://huggingface.co."""
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def fetch_command(repo: str, filename: str) -> str:
    """The shell command that puts `filename` of `repo` into the Hub cache."""
    return (f"`hf download {repo} {filename}` (or `python -c \"from huggingface_hub import "
            f"hf_hub_download; hf_hub_download('{repo}', '{filename}')\"`)")


def _hub():
    try:
        import huggingface_hub
    except ImportError:
        raise ValueError(f"Hub weights need huggingface_hub: {HUB_EXTRA}.") from None
    return huggingface_hub


def _short(error: BaseException) -> str:
    """One line naming the error: no traceback, no multi-line server text."""
    text = str(error).strip().splitlines()
    line = f"{type(error).__name__}: {text[0]}" if text else type(error).__name__
    return line if len(line) <= 240 else line[:237] + "..."


def _missing(repo: str, filename: str, root: str, reason: str) -> ValueError:
    return ValueError(
        f"Could not get {filename} of the Hugging Face Hub repo {repo!r} ({reason}); it is "
        f"not in the Hub cache {root}. On a machine with network access run "
        f"{fetch_command(repo, filename)}, then copy that machine's Hub cache here, or point "
        "HF_HUB_CACHE (or HF_HOME) at a copy.")


def _probe(repo: str, filename: str, address: str) -> Optional[BaseException]:
    """One metadata request for the file, bounded in time: None when it answered."""
    hub = _hub()
    url = hub.hf_hub_url(repo, filename, endpoint=address)
    result = {}

    def ask():
        try:
            hub.get_hf_file_metadata(url, timeout=PROBE_TIMEOUT_S, endpoint=address)
            result["ok"] = True
        except BaseException as e:  # every failure is reported, none escapes the thread
            result["error"] = e

    thread = threading.Thread(target=ask, daemon=True)
    thread.start()
    thread.join(PROBE_TIMEOUT_S + 1)
    if result.get("ok"):
        return None
    return result.get("error", TimeoutError(f"no answer from {address} within "
                                            f"{PROBE_TIMEOUT_S:.0f} s"))


def fetch(repo: str, filename: str, *, optional: bool = False) -> Optional[str]:
    """The local path of `filename` of Hub repo `repo`, from the cache or downloaded.

    With `optional=True` a file that the repo lacks, or that cannot be had
    (offline, unreachable), gives None instead of an error.

    Raises:
        ValueError: the file is not cached and cannot be downloaded (naming the
            repo, the file and the command that fetches it), the repo does not
            exist or is private, or the repo has no such file.
    """
    hub = _hub()
    root = cache_dir()
    cached = hub.try_to_load_from_cache(repo, filename, cache_dir=root)
    if isinstance(cached, str):
        return cached
    if cached is not None and optional:  # cached "the repo has no such file"
        return None
    if is_offline():
        if optional:
            return None
        raise _missing(repo, filename, root, "HF_HUB_OFFLINE is set")
    address = endpoint()
    error = _probe(repo, filename, address)
    from huggingface_hub.errors import EntryNotFoundError, RepositoryNotFoundError
    if isinstance(error, RepositoryNotFoundError):
        raise ValueError(f"The Hugging Face Hub repo {repo!r} does not exist at {address}, or "
                         "is private or gated (log in with `hf auth login` or set HF_TOKEN).")
    if error is not None and optional:
        return None
    if isinstance(error, EntryNotFoundError):
        raise ValueError(f"The Hugging Face Hub repo {repo!r} has no {filename}: only "
                         "safetensors files are loaded, never pickled .bin/.pth files.")
    if error is not None:
        raise _missing(repo, filename, root, _short(error))
    try:
        return hub.hf_hub_download(repo, filename, cache_dir=root, endpoint=address,
                                   etag_timeout=PROBE_TIMEOUT_S)
    except Exception as e:  # the network went away between the probe and the download
        if optional:
            return None
        raise _missing(repo, filename, root, _short(e)) from None


def read_config(path: str) -> dict:
    """A repo's `config.json` as a dict (ValueError for anything else)."""
    from keras_resnet.pretrained import read_config as read
    return read(path)


def check_config(config: dict, *, repo: str, arch: str, num_classes: Optional[int]) -> None:
    """Check a timm-style `config.json` ("architecture", "num_classes") against the model.

    Args:
        config: The repo's config.
        repo: The repo, for messages.
        arch: The architecture being built ("resnet50", ...).
        num_classes: The model's classifier width, None without one.

    Raises:
        ValueError: for another architecture, or another class count than a
            model with a classifier has.
    """
    architecture = config.get("architecture")
    if isinstance(architecture, str) and architecture.split(".", 1)[0] != arch:
        raise ValueError(
            f"weights='hf://{repo}' holds a {architecture!r} (its config.json's "
            f"architecture), not a {arch}: build that architecture, e.g. "
            f"keras_resnet.get_model({architecture.split('.', 1)[0]!r}, "
            f"weights='hf://{repo}'), if this zoo has it.")
    classes = config.get("num_classes")
    if (num_classes is not None and isinstance(classes, int) and not isinstance(classes, bool)
            and classes > 0 and classes != num_classes):
        raise ValueError(
            f"weights='hf://{repo}' has a {classes}-class classifier (its config.json's "
            f"num_classes) but the model has num_classes={num_classes}: pass "
            f"num_classes={classes}, or include_top=False for its features.")
