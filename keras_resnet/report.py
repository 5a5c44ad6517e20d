"""Tables of the registry: parameters and MACs next to the paper's and the peers'."""

from __future__ import annotations

from typing import List, Sequence

import keras

from keras_resnet.macs import count_macs
from keras_resnet.registry import list_models, model_info


def _trainable(model: keras.Model) -> int:
    return sum(int(w.numpy().size) for w in model.trainable_weights)


def format_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Plain-text table with right-aligned numeric columns."""
    cells = [[str(c) for c in header]] + [["-" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = []
    for n, row in enumerate(cells):
        lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                               for i, (c, w) in enumerate(zip(row, widths))))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def list_table() -> str:
    """The registry as a table (recorded metadata; builds nothing)."""
    rows = []
    for name in list_models():
        info = model_info(name)
        rows.append((name, info.variant, "x".join(map(str, info.input_shape)),
                     f"{info.params:,}", f"{info.macs / 1e9:.3f}"))
    return format_table(("model", "variant", "input", "params", "GMACs"), rows)


def params_rows(names: Sequence[str] | None = None) -> List[tuple]:
    """Build each model (and its v1.5 twin where torchvision has one) and
    measure parameters and MACs next to the published figures."""
    rows = []
    for name in names or list_models():
        info = model_info(name)
        ref = info.reference
        model = info.builder()
        params, trainable, macs = model.count_params(), _trainable(model), count_macs(model)
        keras.backend.clear_session()
        torch_reference = ref.get("torchvision_params", ref.get("timm_params"))
        torch_trainable = None
        if torch_reference is not None:
            torch_trainable = trainable
            if info.variant != "v1.5":  # the torch peers use the v1.5 convention
                torch_trainable = _trainable(info.builder(variant="v1.5"))
                keras.backend.clear_session()
        paper_gmacs = ref.get("paper_gmacs")
        rows.append((
            name, info.variant, f"{params:,}", _ref(ref.get("keras_applications_params")),
            f"{trainable:,}", _ref(ref.get("paper_params")),
            _ref(torch_trainable), _ref(torch_reference),
            f"{macs / 1e9:.3f}", paper_gmacs,
            None if paper_gmacs is None else f"{(macs / 1e9 / paper_gmacs - 1) * 100:+.1f}%",
        ))
    return rows


PARAMS_HEADER = ("model", "variant", "params", "keras.apps", "trainable", "paper",
                 "v1.5 trainable", "torchvision/timm", "GMACs", "paper GMACs", "vs paper")


def _ref(value) -> str | None:
    return None if value is None else f"{value:,}"


def params_table(names: Sequence[str] | None = None) -> str:
    """The full comparison table printed by `keras-resnet params`."""
    return format_table(PARAMS_HEADER, params_rows(names))
