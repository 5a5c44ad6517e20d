"""Build the documentation site: generate its pages, then run Sphinx with warnings as errors.

Usage: python scripts/build_docs.py [--out docs/_build]  (what `bash scripts/docs.sh` runs)

The guides are the markdown pages of docs/ (their source, written by hand; the landing page is
docs/index.md). They are copied into OUT/src (ignored, rewritten each build) with each
`<!-- generated: NAME -->` line replaced by the table NAME names (`GENERATED`: the model table,
the pretrained checkpoints), and the rest is generated there: one page per registered model and
the model index (from `keras_resnet.registry` and `list_pretrained`), the API reference (autodoc
over `keras_resnet.__all__`), the CLI reference (`keras_resnet.cli.build_parser()`) and the four
notebooks with their committed outputs (never executed). Sphinx then renders OUT/src with
docs/conf.py into OUT/html. Why Sphinx (+ MyST, myst-nb, autodoc, furo): see docs/README.md.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import shutil
import sys
import time
from contextlib import redirect_stdout
from pathlib import Path
from typing import Callable, Dict, List

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from keras_resnet.pretrained import list_pretrained  # noqa: E402
from keras_resnet.registry import list_models, model_info  # noqa: E402
from keras_resnet.report import (NOT_STATED, checkpoints_summary, license_counts,  # noqa: E402
                                 preprocessing_text)

DOCS = ROOT / "docs"
# The guide pages (docs/*.md, docs/README.md excepted: it describes this folder); index is the
# landing page. Sphinx (-W) fails on a page that no toctree lists and on a link to a missing page.
GUIDES = sorted(p.stem for p in DOCS.glob("*.md") if p.name != "README.md")
PLACEHOLDER = re.compile(r"^<!-- generated: ([\w-]+) -->$", re.M)
# Repository files the guides show as ../PATH (a path that works on GitHub too): copied to
# src/PATH, and the link made /PATH (Sphinx's path from the source root).
REPO_FILES = ["benchmarks/results/speed.png"]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))

# The `reference` keys of the registry (see `ModelInfo`): column title and format.
REFERENCE = {
    "paper_gmacs": ("paper GMACs (Table 1)", "{:.1f}"),
    "keras_applications_params": ("keras.applications params", "{:,}"),
    "torchvision_params": ("torchvision params (v1.5, trainable)", "{:,}"),
    "timm_params": ("timm params (trainable)", "{:,}"),
    "paper_params": ("paper params (4.2)", "{:,}"),
    "paper_cifar10_error": ("paper CIFAR-10 error %", "{}"),
}
FAMILIES = ["ResNet", "ResNet V2 (pre-activation)", "ResNet-D", "ResNeXt", "Wide ResNet",
            "ResNet V2 (timm)", "BiT (ResNet V2, GroupNorm + WS)", "CIFAR ResNet (paper, 4.2)"]


# ----------------------------------------------------------------------------- models

def family(name: str) -> str:
    """The model's family, from its registry row."""
    info = model_info(name)
    spec = info.spec
    if spec.stem.name == "cifar":
        return FAMILIES[7]
    if spec.conv == "ws":
        return FAMILIES[6]
    if info.variant == "v2.timm":
        return FAMILIES[5]
    if info.variant == "v2":
        return FAMILIES[1]
    if spec.avg_down:
        return FAMILIES[2]
    if spec.groups > 1:
        return FAMILIES[3]
    if spec.width_per_group > 64:
        return FAMILIES[4]
    return FAMILIES[0]


def depth(name: str) -> int:
    """Weighted layers: 2 per basic block, 3 per bottleneck, plus stem and classifier."""
    from keras_resnet.specs import paper_depth
    return paper_depth(model_info(name).spec)


def ordered_models() -> List[str]:
    """Every registered model, by family, then depth (then width)."""
    return sorted(list_models(), key=lambda n: (FAMILIES.index(family(n)), depth(n),
                                                model_info(n).params))


def _table(header, rows) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _reference_cells(info) -> List[str]:
    return [fmt.format(info.reference[k]) if k in info.reference else "-"
            for k, (_, fmt) in REFERENCE.items()]


def _figure_rows(info) -> List[str]:
    return [f"{info.params:,}", f"{info.trainable_params:,}", f"{info.macs / 1e9:.3f}"]


def _model_link(name: str, prefix: str = "") -> str:
    return f"[{model_info(name).builder_name}]({prefix}{name}.md)"


def model_table(prefix: str = "") -> str:
    """Every registered model, by family and depth: its figures and checkpoints (fits the page)."""
    rows = []
    for name in ordered_models():
        info = model_info(name)
        checkpoints = list_pretrained(name)
        best = max((r.top1 for r in checkpoints if r.top1 is not None), default=None)
        rows.append([_model_link(name, prefix), family(name), depth(name), f"`{info.variant}`",
                     f"{info.params / 1e6:.1f}M", f"{info.macs / 1e9:.2f}",
                     len(checkpoints) or "-", best or "-"])
    return _table(["model", "family", "depth", "variant", "params", "GMACs", "checkpoints",
                   "best top-1 %"], rows)


def index_page() -> str:
    """The model index: one row per model, by family and depth, then the published figures."""
    header = ["model", "input", "params", "trainable", "GMACs"]
    rows = [[_model_link(n), "x".join(map(str, model_info(n).input_shape)),
             *_figure_rows(model_info(n))] for n in ordered_models()]
    # The paper's and the peers' figures in one table; timm's counts (most models) in a
    # narrow one of their own, so neither is wider than the page.
    published = [n for n in ordered_models() if set(model_info(n).reference) - {"timm_params"}]
    keys = [k for k in REFERENCE if k != "timm_params"
            and any(k in model_info(n).reference for n in published)]
    figures = [[model_info(n).builder_name]
               + [REFERENCE[k][1].format(model_info(n).reference[k])
                  if k in model_info(n).reference else "-" for k in keys] for n in published]
    timm = [[model_info(n).builder_name, REFERENCE["timm_params"][1].format(
                model_info(n).reference["timm_params"])]
            for n in ordered_models() if "timm_params" in model_info(n).reference]
    toc = "\n".join(ordered_models())
    return (f"# Models\n\nEvery registered model ({len(rows)}), by family and depth, with its "
            "default convention, size (parameters in millions, multiply-accumulates at the "
            "default input), pretrained checkpoints and the best top-1 among them.\n\n"
            + model_table() + "\n\n## Figures\n\nParameters (`count_params()`, "
            "BatchNormalization statistics included), trainable parameters and GMACs at the "
            "default input and variant.\n\n" + _table(header, rows)
            + "\n\n## Published figures\n\nWhat the test suite checks those figures against "
            "(see [Faithfulness](../faithfulness.md)); `-`: not published for that model.\n\n"
            + _table(["model"] + [REFERENCE[k][0] for k in keys], figures)
            + "\n\ntimm's trainable parameter counts of the same architectures (timm 1.0.31, "
            "`v1.5` / `v2.timm` conventions):\n\n"
            + _table(["model", REFERENCE["timm_params"][0]], timm)
            + f"\n\n```{{toctree}}\n:hidden:\n\n{toc}\n```\n")


def _tag_link(row) -> str:
    tag = f'`"{row.tag}"`'
    return f"[{tag}](https://huggingface.co/{row.hub_repo})" if row.hub_repo else tag


def _or_dash(value) -> object:
    return "-" if value is None else value


def checkpoint_tables(rows) -> List[str]:
    """A model's checkpoints: accuracy first; evaluation and preprocessing on demand."""
    main = _table(["weights=", "top-1 %", "top-5 %", "eval size", "classes", "license"],
                  [[_tag_link(r), _or_dash(r.top1), _or_dash(r.top5), r.eval_size,
                    r.num_classes or "none (headless)", r.license or NOT_STATED] for r in rows])
    details = _table(["weights=", "crop", "interpolation", "preprocessing", "variant"],
                     [[f'`"{r.tag}"`', r.crop_pct or "-", r.interpolation or "-",
                       preprocessing_text(r), f"`{r.variant}`"] for r in rows])
    return [main, "", "<details>",
            "<summary>Evaluation crop, interpolation, preprocessing and convention of each "
            "checkpoint</summary>", "", details, "", "</details>"]


def pretrained_tables() -> str:
    """The pretrained page's tables: one per architecture, with a link to its model page."""
    rows = list_pretrained()
    models = [n for n in ordered_models() if any(r.model == n for r in rows)]
    counts = license_counts(rows)
    out = [checkpoints_summary(rows, licenses=False) + " Their licenses (`cc-by-nc-4.0`: "
           "non-commercial use only):", "",
           _table(["license", "checkpoints"], [[lic, n] for lic, n in counts.items()])]
    for name in models:
        out += ["", f"### {model_info(name).builder_name}", "",
                f"`{name}`; its page: {_model_link(name, 'models/')}.", "",
                *checkpoint_tables([r for r in rows if r.model == name])]
    return "\n".join(out)


def model_page(name: str) -> str:
    """One model's page: diagram, figures, conventions, checkpoints and code."""
    from keras_resnet.specs import SHORTCUTS, VARIANTS
    info = model_info(name)
    spec, b = info.spec, info.builder_name
    stages = spec.stage_names
    lines = [f"# {b}", ""]
    lines.append(f"`keras_resnet.{b}` (registry name `{name}`"
                 + (f", {info.description}" if info.description else "") + f"): {family(name)}, "
                 f"{depth(name)} layers, {spec.block_type} blocks {spec.blocks_per_stage} in "
                 f"stages {', '.join(stages)}, widths {spec.widths}, `{spec.stem.name}` stem"
                 + (f", {spec.groups} groups of width {spec.width_per_group // 64 * spec.widths[0]}"
                    f" in conv2" if spec.groups > 1 else "")
                 + (", average-pool shortcuts (ResNet-D)" if spec.avg_down else "")
                 + (f", `{spec.attention}` channel attention" if spec.attention else "")
                 + (f", `{spec.anti_alias}` anti-aliased downsampling" if spec.anti_alias else "")
                 + (", a conv stem pool (ResNet-RS)" if spec.stem_pool == "conv" else "")
                 + (", pruned per-block widths" if spec.block_widths else "")
                 + f". Default input {'x'.join(map(str, info.input_shape))}, "
                 f"{info.num_classes} classes.")
    lines += ["", "## Figures", "",
              _table(["", "keras_resnet"], [
                  ["parameters (`count_params()`)", f"{info.params:,}"],
                  ["trainable parameters", f"{info.trainable_params:,}"],
                  [f"GMACs at {'x'.join(map(str, info.input_shape))}", f"{info.macs / 1e9:.3f}"]])]
    if info.reference:
        lines += ["", "Published figures it is checked against (see [Faithfulness]"
                  "(../faithfulness.md)):", "",
                  _table(["published", "value"],
                         [[REFERENCE.get(k, (k, ""))[0], REFERENCE.get(k, (k, "{}"))[1].format(v)]
                          for k, v in info.reference.items()])]
    lines += ["", "## Conventions", "",
              f"Default `variant=\"{info.variant}\"`, `shortcut=\"{spec.default_shortcut}\"`; "
              f"every builder takes `variant=` {', '.join(f'`{v!r}`' for v in VARIANTS)} and "
              f"`shortcut=` {', '.join(f'`{s!r}`' for s in SHORTCUTS)} (see [the conventions]"
              "(../conventions.md)).", "",
              _table(["variant", "stride in a bottleneck", "conv bias", "BN epsilon / momentum",
                      "pre-activation"],
                     [[f"`{v.name}`" + (" (default)" if v.name == info.variant else ""),
                       "3x3 conv" if v.stride_in_3x3 else "first 1x1 conv", v.conv_bias,
                       f"{v.bn_epsilon} / {v.bn_momentum}", "yes" if v.preactivation else "no"]
                      for v in VARIANTS.values()])]
    rows = list_pretrained(name)
    lines += ["", "## Pretrained checkpoints", ""]
    if rows:
        lines += checkpoint_tables(rows)
        lines += ["", "Preprocess images as a checkpoint expects with its full name, e.g. "
                  f'`keras_resnet.preprocess_input(images, "{name}.{rows[0].tag}")`, or build '
                  "the model with `include_preprocessing=True` (see "
                  "[Preprocessing](../preprocessing.md)). Every checkpoint: "
                  "[Pretrained weights](../pretrained.md)."]
    else:
        lines.append("None published in `list_pretrained`; `weights=` takes a file "
                     "(see [Weights](../weights.md)).")
    lines += ["", "## Diagram", "",
              f"Block level: one node per stem, residual block and head (`plots/{name}.png`; "
              f"the layer-level `plots/{name}.svg` is in the repository).", "",
              f"![{b} block diagram]({name}.png)", ""]
    lines += ["## Code", "", *_code(info, rows)]
    return "\n".join(lines) + "\n"


def _code(info, rows) -> List[str]:
    b, spec, name = info.builder_name, info.spec, info.name
    size = info.input_shape[0]
    if rows:
        row = rows[0]
        load = [f'model = keras_resnet.{b}(weights="{row.tag}")  # {row.source}, '
                f"top-1 {row.top1}%",
                f'images = keras_resnet.preprocess_input(images, "{name}.{row.tag}")  '
                "# RGB in [0, 255]",
                "probs = model.predict(images)"]
        finetune_weights = f'weights="{row.tag}"'
    elif spec.stem.name == "cifar":
        load = [f'model = keras_resnet.{b}(weights="{name}.weights.h5")  '
                "# a file saved from this model (.weights.h5 or .keras)"]
        finetune_weights = f'weights="{name}.weights.h5"'
    else:
        variant = "" if info.variant == "v1.5" else ', variant="v1.5"'
        load = [f'model = keras_resnet.{b}(weights="{name}.safetensors"{variant})  '
                "# torchvision / timm file (.safetensors or .pth)"]
        finetune_weights = f'weights="{name}.safetensors"{variant}'
    frozen = spec.stage_names[-2]
    return [
        "Build it (random weights):", "", "```python", "import keras_resnet", "",
        f"model = keras_resnet.{b}()  # input {info.input_shape}, {info.num_classes} classes",
        f"model = keras_resnet.get_model(\"{name}\", input_shape=({size}, {size}, 3), "
        "num_classes=10)", "```", "",
        "Load weights:", "", "```python", *load, "```", "",
        f"Fine-tune on 10 classes with the stem and stages up to `{frozen}` frozen:", "",
        "```python", "import keras", "",
        f"model = keras_resnet.{b}(({size}, {size}, 3), 10, {finetune_weights})",
        f'keras_resnet.freeze(model, up_to="{frozen}")',
        'model.compile(keras.optimizers.SGD(1e-3, momentum=0.9), '
        '"sparse_categorical_crossentropy", metrics=["accuracy"])',
        "model.fit(train_ds, validation_data=val_ds, epochs=5)", "```", "",
        "Stage feature maps (a dict, one entry per stage):", "", "```python",
        f'features = keras_resnet.backbone("{name}", ({size}, {size}, 3))',
        f"maps = features(images)  # {', '.join(spec.stage_names)}", "```"]


# ----------------------------------------------------------------------------- references

def api_page() -> str:
    """The API reference: autodoc of every name in `keras_resnet.__all__`, by module."""
    import keras_resnet
    groups: Dict[str, List[str]] = {}
    for name in keras_resnet.__all__:
        obj = getattr(keras_resnet, name)
        groups.setdefault(obj.__module__, []).append(name)
    out = ["API reference", "=============", "",
           "Every public name of ``keras_resnet`` (``keras_resnet.__all__``), from its "
           "docstring, grouped by the module that defines it.", ""]
    for module, names in groups.items():
        doc = (sys.modules[module].__doc__ or module).strip().splitlines()[0]
        out += [f"``{module}``", "-" * (len(module) + 4), "", doc, ""]
        for name in names:
            kind = "autoclass" if isinstance(getattr(keras_resnet, name), type) else "autofunction"
            out += [f".. {kind}:: keras_resnet.{name}", ""]
    return "\n".join(out) + "\n"


def cli_page() -> str:
    """The CLI reference: each subcommand's help, from `build_parser()`."""
    from keras_resnet.cli import build_parser
    os.environ["COLUMNS"] = "100"
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    helps = {a.dest: a.help for a in sub._choices_actions}
    out = ["# Command line", "", "`keras-resnet` (also `python -m keras_resnet`), generated "
           "from its argument parser.", "", "```text", parser.format_help().rstrip(), "```", ""]
    for command, sub_parser in sub.choices.items():
        out += [f"## keras-resnet {command}", "", (helps.get(command) or "").rstrip(".") + ".",
                "", "```text", sub_parser.format_help().rstrip(), "```", ""]
    return "\n".join(out)


# ----------------------------------------------------------------------------- the site

GENERATED: Dict[str, Callable[[], str]] = {
    "model-table": lambda: model_table("models/"),
    "pretrained-tables": pretrained_tables,
}


def guide_page(text: str, page: str) -> str:
    """A docs/ page with each `<!-- generated: NAME -->` line replaced by its table."""
    def fill(match):
        name = match.group(1)
        if name not in GENERATED:
            raise SystemExit(f"build_docs: docs/{page}.md asks for an unknown table {name!r}; "
                             f"known: {', '.join(GENERATED)}")
        return GENERATED[name]()
    for name in REPO_FILES:
        text = text.replace(f"](../{name})", f"](/{name})")
    return PLACEHOLDER.sub(fill, text)


def notebooks_page() -> str:
    toc = "\n".join(p.stem for p in NOTEBOOKS)
    return ("# Notebooks\n\nThe repository's notebooks, shown with the outputs they were "
            "committed with (the docs build does not run them; `notebooks/build.py` does).\n\n"
            f"```{{toctree}}\n:maxdepth: 1\n\n{toc}\n```\n")


def generate(src: Path) -> None:
    """Write every page of the site into `src`, and the repository files they show beside it."""
    if src.exists():
        shutil.rmtree(src)
    (src / "models").mkdir(parents=True)
    (src / "notebooks").mkdir()
    asked = set()
    for page in GUIDES:
        text = (DOCS / f"{page}.md").read_text(encoding="utf-8")
        asked.update(PLACEHOLDER.findall(text))
        (src / f"{page}.md").write_text(guide_page(text, page), encoding="utf-8")
    if set(GENERATED) - asked:
        raise SystemExit(f"build_docs: no page of docs/ shows {sorted(set(GENERATED) - asked)}")
    for name in REPO_FILES:
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, src / name)
    (src / "models" / "index.md").write_text(index_page())
    for name in list_models():
        diagram = ROOT / "plots" / f"{name}.png"
        if not diagram.is_file():
            raise SystemExit(f"build_docs: {name} has no diagram {diagram}")
        shutil.copy2(diagram, src / "models" / f"{name}.png")
        (src / "models" / f"{name}.md").write_text(model_page(name))
    (src / "api.rst").write_text(api_page())
    (src / "cli.md").write_text(cli_page())
    (src / "notebooks" / "index.md").write_text(notebooks_page())
    for notebook in NOTEBOOKS:
        shutil.copy2(notebook, src / "notebooks" / notebook.name)


def build(out: Path) -> Path:
    """Generate the pages into OUT/src and render them into OUT/html; returns the html dir."""
    out = out.resolve()
    for stale in ("html", "doctrees"):  # a clean build: no page of a removed model survives
        shutil.rmtree(out / stale, ignore_errors=True)
    generate(out / "src")
    html = out / "html"
    code = sphinx(out / "src", html, out / "doctrees")
    if code:
        raise SystemExit(f"build_docs: sphinx-build failed (exit {code}); see the warnings above")
    return html


def sphinx(src: Path, html: Path, doctrees: Path) -> int:
    """Run Sphinx on `src` with docs/conf.py, warnings as errors; its exit code."""
    from sphinx.cmd.build import build_main
    with redirect_stdout(io.StringIO()):  # progress lines; warnings go to stderr
        return build_main(["-W", "--keep-going", "-q", "-b", "html", "-c", str(ROOT / "docs"),
                           "-d", str(doctrees), str(src), str(html)])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "_build"),
                        help="build directory: OUT/src (generated pages), OUT/html (the site)")
    args = parser.parse_args(argv)
    start = time.time()
    from keras_resnet.cli import _without_tensorflow_log_lines
    with _without_tensorflow_log_lines():  # TensorFlow's start-up lines, as the CLI does
        html = build(Path(args.out))
    print(f"build_docs: site in {html} ({time.time() - start:.0f} s); "
          f"open {html / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
