"""Tables of the registry: parameters and MACs next to the paper's and the peers'.

`list_table`, `pretrained_table` and `pretrained_markdown` read the registry and the
pretrained table alone; the `params` tables build every model (and import Keras
when called).
"""

from __future__ import annotations

import dataclasses
from typing import Dict, List, Optional, Sequence

from keras_resnet.registry import list_models, model_info


def _trainable(model) -> int:
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


NOT_STATED = "not stated"


def license_counts(rows) -> Dict[str, int]:
    """Checkpoints per license, most first, then `NOT_STATED` (the source states none)."""
    counts: Dict[str, int] = {}
    for p in rows:
        counts[p.license or NOT_STATED] = counts.get(p.license or NOT_STATED, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: (kv[0] == NOT_STATED, -kv[1], kv[0])))


def checkpoints_summary(rows, licenses: bool = True) -> str:
    """E.g. "81 checkpoints of 13 architectures; licenses: 60 apache-2.0, ...": how many,
    and which license each carries (cc-by-nc-4.0 is for non-commercial use only)."""
    models = {p.model for p in rows}
    heads = {}
    for p in rows:
        heads[p.num_classes] = heads.get(p.num_classes, 0) + 1
    other = ", ".join(f"{n} with {'no classifier' if c == 0 else f'a {c}-class head'}"
                      for c, n in sorted(heads.items()) if c != 1000)
    text = f"{len(rows)} checkpoints of {len(models)} architectures" \
        + (f" ({other})" if other else "")
    if not licenses:
        return text + "."
    return text + "; licenses: " + ", ".join(f"{n} {lic}" for lic, n
                                             in license_counts(rows).items()) + "."


def pretrained_table() -> str:
    """The pretrained-weights table (data; builds nothing), then how many and their licenses."""
    from keras_resnet.pretrained import list_pretrained
    rows = list_pretrained()
    cells = [(p.name, p.top1, p.top5, p.eval_size, p.crop_pct, p.num_classes, p.preprocessing,
              p.source, p.license) for p in rows]
    return format_table(("weights", "top-1", "top-5", "eval size", "crop_pct", "classes",
                         "preprocessing", "source", "license"), cells) \
        + "\n\n" + checkpoints_summary(rows)


def preprocessing_text(p) -> str:
    """How a pretrained row normalises its input, in a few words (for tables)."""
    if p.preprocessing == "caffe":
        return "caffe (BGR, minus the mean pixel)"
    if p.preprocessing == "tf":
        return "[-1, 1]"
    from keras_resnet.pretrained import IMAGENET_MEAN, IMAGENET_STD
    if (p.mean, p.std) == (IMAGENET_MEAN, IMAGENET_STD):
        return "ImageNet mean/std"
    return f"mean {_numbers(p.mean)}, std {_numbers(p.std)}"


def _numbers(values) -> str:
    return "/".join(f"{v:g}" for v in values) if len(set(values)) > 1 else f"{values[0]:g}"


def pretrained_markdown() -> str:
    """The pretrained-weights table as Markdown, grouped by architecture: what
    `keras-resnet list --pretrained --markdown` prints. Builds nothing."""
    from keras_resnet.pretrained import list_pretrained
    rows = list_pretrained()
    models = [name for name in list_models() if any(p.model == name for p in rows)]
    lines = [checkpoints_summary(rows) + " Top-1/top-5: ImageNet-1k "
             "validation accuracy (%) as the source publishes it, measured at `eval size` with "
             "the center crop `crop` (the shorter side resized to `eval size / crop`) and "
             "`interpolation`; `-`: not published (an ImageNet-12k/21k head, a headless "
             "checkpoint). `weights=` takes the tag; `get_model` the full name `model.tag`.",
             "",
             "| model | tag | top-1 | top-5 | eval size | crop | interpolation | classes "
             "| preprocessing | source | license |",
             "|---|---|--:|--:|--:|--:|---|--:|---|---|---|"]
    for model in models:
        for i, p in enumerate(r for r in rows if r.model == model):
            source = (f"[{p.hub_repo}](https://huggingface.co/{p.hub_repo})" if p.hub_repo
                      else p.source)
            cells = (f"`{model}`" if i == 0 else "", f"`{p.tag}`", p.top1, p.top5, p.eval_size,
                     p.crop_pct, p.interpolation, p.num_classes or "none",
                     preprocessing_text(p), source, p.license or NOT_STATED)
            lines.append("| " + " | ".join("-" if c is None else str(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


@dataclasses.dataclass(frozen=True)
class Measurement:
    """A registered model measured at its defaults, beside its published figures."""

    name: str
    params: int
    trainable: int
    macs: int
    torch_trainable: Optional[int]  # trainable of the v1.5 twin, where torch has the net
    reference: Dict[str, float]

    @property
    def torch_reference(self) -> Optional[int]:
        return self.reference.get("torchvision_params", self.reference.get("timm_params"))

    def agrees(self) -> Optional[bool]:
        """Whether every published parameter count is met (None: nothing to compare)."""
        ref = self.reference
        checks = [self.params == ref[k] for k in ("keras_applications_params",) if k in ref]
        checks += [self.trainable == ref[k] for k in ("paper_params",) if k in ref]
        if self.torch_reference is not None:
            checks.append(self.torch_trainable == self.torch_reference)
        return all(checks) if checks else None

    def vs_paper(self) -> Optional[str]:
        paper = self.reference.get("paper_gmacs")
        return None if paper is None else f"{(self.macs / 1e9 / paper - 1) * 100:+.1f}%"


def measure(name: str, model=None) -> Measurement:
    """Measure registered model `name` (built at its defaults unless `model` is
    given), building its v1.5 twin too where torchvision or timm has the net."""
    from keras_resnet.builders import get_model
    from keras_resnet.macs import count_macs
    info = model_info(name)
    model = model or get_model(name)
    trainable = _trainable(model)
    result = Measurement(name, model.count_params(), trainable, count_macs(model), None,
                         info.reference)
    if result.torch_reference is not None:
        twin_trainable = trainable
        if info.variant != "v1.5":  # the torch peers use the v1.5 convention
            twin_trainable = _trainable(get_model(name, variant="v1.5"))
        result = dataclasses.replace(result, torch_trainable=twin_trainable)
    return result


def params_rows(names: Sequence[str] | None = None) -> List[tuple]:
    """Build each model (and its v1.5 twin where torchvision has one) and
    measure parameters and MACs next to the published figures."""
    import keras
    rows = []
    for name in names or list_models():
        m = measure(name)
        keras.backend.clear_session()
        rows.append((
            name, model_info(name).variant, f"{m.params:,}",
            _ref(m.reference.get("keras_applications_params")), f"{m.trainable:,}",
            _ref(m.reference.get("paper_params")), _ref(m.torch_trainable),
            _ref(m.torch_reference), f"{m.macs / 1e9:.3f}", m.reference.get("paper_gmacs"),
            m.vs_paper(),
        ))
    return rows


PARAMS_HEADER = ("model", "variant", "params", "keras.apps", "trainable", "paper",
                 "v1.5 trainable", "torchvision/timm", "GMACs", "paper GMACs", "vs paper")


def _ref(value) -> str | None:
    return None if value is None else f"{value:,}"


def params_table(names: Sequence[str] | None = None) -> str:
    """The full comparison table printed by `keras-resnet params`."""
    return format_table(PARAMS_HEADER, params_rows(names))
