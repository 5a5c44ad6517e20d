"""What `weights=` names, and the convention it fixes; no file or network access.

`weights` is one of: None, "imagenet" (keras.applications' files), a pretrained
tag of the model ("a1_in1k", see `keras_resnet.pretrained`), "hf://ORG/REPO"
(any Hugging Face Hub repo holding a `model.safetensors` in the torchvision/timm
layout) or the path to a weights file. A checkpoint fixes the convention the
model must be built with: its row's variant for a tag or "imagenet", "v1.5" for
a Hub repo; a plain file fixes none.
"""

from __future__ import annotations

import dataclasses
import os
import re
from typing import Optional

from keras_resnet.pretrained import Pretrained, find_pretrained, list_pretrained
from keras_resnet.registry import REGISTRY

HF_PREFIX = "hf://"
HUB_FILENAME = "model.safetensors"
HUB_VARIANT = "v1.5"  # the torchvision/timm layout

_REPO = re.compile(r"[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*")
_TAG = re.compile(r"[\w-]+")  # no path separator, no file suffix


@dataclasses.dataclass(frozen=True)
class WeightsSource:
    """A checked `weights=` value.

    Attributes:
        kind: "imagenet", "tag" (a row of the pretrained table), "hub"
            ("hf://ORG/REPO") or "file".
        text: The value as given (a path as a string).
        row: The pretrained row ("imagenet" and "tag"; None when the model has no
            "imagenet" row).
        repo, filename: Where the file is on the Hub ("tag" and "hub").
    """

    kind: str
    text: str
    row: Optional[Pretrained] = None
    repo: Optional[str] = None
    filename: Optional[str] = None

    @property
    def variant(self) -> Optional[str]:
        """The convention the checkpoint needs, or None (a plain file)."""
        if self.kind == "hub":
            return HUB_VARIANT
        return self.row.variant if self.row is not None else None

    @property
    def label(self) -> str:
        """How messages name it, e.g. "weights='a1_in1k'"."""
        return f"weights={self.text!r}"


def _tags(model: Optional[str]) -> str:
    if model is None or model not in REGISTRY:
        return "none: a custom architecture has no pretrained tags"
    tags = [row.tag for row in list_pretrained(model)]
    return ", ".join(tags) if tags else f"none: {model} has no pretrained weights"


def parse_weights(weights, *, model: Optional[str]) -> Optional[WeightsSource]:
    """Classify `weights` for registered model `model` (None: a custom one).

    A tag of the model or "imagenet" wins over a file of that name (pass
    "./a1_in1k" for the file).

    Raises:
        ValueError: for a value of another type, an unknown tag (listing the
            model's tags), a malformed "hf://" address or a missing file.
    """
    if weights is None:
        return None
    allowed = (f"None, 'imagenet', a pretrained tag of the model ({_tags(model)}), "
               "'hf://ORG/REPO' or the path to a weights file")
    if not isinstance(weights, (str, os.PathLike)):
        raise ValueError(f"`weights` must be {allowed}. Received: weights={weights!r}")
    if not isinstance(weights, str):
        return _file(os.fspath(weights), allowed)
    if weights == "imagenet":
        row = find_pretrained(model, "imagenet") if model in REGISTRY else None
        return WeightsSource("imagenet", weights, row=row)
    if weights.startswith(HF_PREFIX):
        repo = weights[len(HF_PREFIX):]
        if not _REPO.fullmatch(repo):
            raise ValueError("`weights` must name a Hub repo as 'hf://ORG/REPO' (e.g. "
                             f"'hf://timm/resnet50.a1_in1k'). Received: weights={weights!r}")
        return WeightsSource("hub", weights, repo=repo, filename=HUB_FILENAME)
    row = find_pretrained(model, weights) if model in REGISTRY else None
    if row is not None and row.hub_repo is not None:
        return WeightsSource("tag", weights, row=row, repo=row.hub_repo, filename=row.filename)
    if not os.path.isfile(weights) and _TAG.fullmatch(weights):
        raise ValueError(f"Unknown pretrained tag {weights!r} for "
                         f"{model or 'this custom model'}. `weights` must be {allowed}. "
                         f"Received: weights={weights!r}")
    return _file(weights, allowed)


def _file(path: str, allowed: str) -> WeightsSource:
    if not os.path.isfile(path):
        raise ValueError(f"`weights` file does not exist: {path!r}. `weights` must be "
                         f"{allowed}.")
    return WeightsSource("file", path)


def resolve_variant(source: Optional[WeightsSource], variant: Optional[str],
                    default: str) -> str:
    """The variant to build: `variant`, else the checkpoint's, else `default`.

    Raises:
        ValueError: when an explicit `variant` differs from the checkpoint's,
            naming both.
    """
    needed = source.variant if source is not None else None
    if variant is None:
        return needed or default
    if needed is not None and variant != needed:
        what = (f"{source.row.name} ({source.row.source})" if source.row is not None
                else f"{source.repo}, a torchvision/timm layout")
        raise ValueError(f"{source.label} needs variant={needed!r}, the convention of "
                         f"{what}; pass variant=None (or {needed!r}). "
                         f"Received: variant={variant!r}")
    return variant


def model_for(spec, variant: Optional[str]) -> Optional[str]:
    """The registered model of architecture `spec` (a `keras_resnet.specs.ArchSpec`)
    built with `variant` (None: the model named like the spec), or None for a
    custom architecture."""
    same = [info for info in REGISTRY.values() if info.spec == spec]
    if variant is not None:
        same = [info for info in same if info.variant == variant] or same
    else:
        same = [info for info in same if info.name == spec.name] or same
    return same[0].name if same else None
