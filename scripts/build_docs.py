"""Build the documentation site: generate its pages, then run Sphinx with warnings as errors.

Usage: python scripts/build_docs.py [--out docs/_build]  (what `bash scripts/docs.sh` runs)

Every page is generated here, at build time, into OUT/src (ignored, rewritten each build):
one page per registered model and the model index (from `keras_resnet.registry` and
`list_pretrained`), the API reference (autodoc over `keras_resnet.__all__`), the CLI reference
(`keras_resnet.cli.build_parser()`), the guides and the Speed page (sections of README.md, by
heading), and the four notebooks with their committed outputs (never executed). Sphinx then
renders OUT/src with docs/conf.py into OUT/html. Why Sphinx (+ MyST, myst-nb, autodoc): see
docs/README.md.
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
from typing import Dict, List, Tuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from keras_resnet.pretrained import list_pretrained  # noqa: E402
from keras_resnet.registry import list_models, model_info  # noqa: E402

# Guide pages: (file, README headings); the first heading titles the page, the others
# become its sections. Each README section is taken up to the next heading of any level.
GUIDES = [
    ("quickstart", ["Quickstart"]),
    ("api-overview", ["API", "Conventions (`variant=`) and shortcuts (`shortcut=`)"]),
    ("weights", ["Weights", "Pretrained weights", "Fine-tuning a pretrained checkpoint",
                 "Preprocessing per source", "How the loaders are verified"]),
    ("export", ["Converting and exporting", "Deployment"]),
    ("training", ["Training, evaluation and prediction", "Results"]),
    ("multi-worker", ["Several machines (multi-worker)"]),
    ("command-line", ["Command line, diagrams and notebooks"]),
    ("faithfulness", ["Faithfulness"]),
    ("backends", ["Backends"]),
    ("speed", ["Speed"]),
]
# Repository paths the README links to, and the page of the site that shows them.
REPO_LINKS = {"plots/": "models/index.md", "notebooks/": "notebooks/index.md"}
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))

# The `reference` keys of the registry (see `ModelInfo`): column title and format.
REFERENCE = {
    "paper_gmacs": ("paper GMACs (Table 1)", "{:.1f}"),
    "keras_applications_params": ("keras.applications params", "{:,}"),
    "torchvision_params": ("torchvision params (v1.5, trainable)", "{:,}"),
    "timm_params": ("timm params (v1.5, trainable)", "{:,}"),
    "paper_params": ("paper params (4.2)", "{:,}"),
    "paper_cifar10_error": ("paper CIFAR-10 error %", "{}"),
}
FAMILIES = ["ResNet", "ResNet V2 (pre-activation)", "ResNet-D", "ResNeXt", "Wide ResNet",
            "CIFAR ResNet (paper, 4.2)"]


# ----------------------------------------------------------------------------- README sections

def readme_sections(text: str) -> Dict[str, Tuple[int, str]]:
    """Heading -> (level, body up to the next heading of any level); fenced code is skipped."""
    sections: Dict[str, Tuple[int, str]] = {}
    heading, level, body, fenced = None, 0, [], False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        match = None if fenced else re.match(r"(#{1,6}) (.+)$", line)
        if match:
            if heading is not None:
                sections[heading] = (level, "\n".join(body).strip("\n"))
            heading, level, body = match.group(2).strip(), len(match.group(1)), []
        else:
            body.append(line)
    if heading is not None:
        sections[heading] = (level, "\n".join(body).strip("\n"))
    return sections


def slug(heading: str) -> str:
    """GitHub's (and MyST's) anchor of a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.lower())
    return text.replace(" ", "-")


def _find(sections: Dict[str, Tuple[int, str]], prefix: str) -> str:
    names = [h for h in sections if h.startswith(prefix)]
    if len(names) != 1:
        raise SystemExit(f"build_docs: README has {len(names)} headings starting {prefix!r}")
    return names[0]


def guide_pages(readme: str) -> Dict[str, str]:
    """Guide file name -> its markdown, README sections with their links made site links."""
    sections = readme_sections(readme)
    anchors = {}  # README anchor -> the site's link target
    chosen = {}
    for page, prefixes in GUIDES:
        headings = [_find(sections, p) for p in prefixes]
        chosen[page] = headings
        for i, heading in enumerate(headings):
            anchors[slug(heading)] = f"{page}.md" + ("" if i == 0 else f"#{slug(heading)}")
    pages = {}
    for page, headings in chosen.items():
        parts = []
        for i, heading in enumerate(headings):
            parts.append(("# " if i == 0 else "## ") + heading)
            parts.append(_site_links(sections[heading][1], anchors, page))
        pages[page] = "\n\n".join(parts) + "\n"
    return pages


def _site_links(body: str, anchors: Dict[str, str], page: str) -> str:
    def link(match):
        bang, text, target = match.groups()
        if bang:  # an image: served from the source tree's copy of the repository file
            return f"![{text}](/{target})" if not target.startswith("http") else match.group(0)
        if target.startswith(("http://", "https://")):
            return match.group(0)
        if target.startswith("#"):
            site = anchors.get(target[1:])
            if site is None:
                raise SystemExit(f"build_docs: README link {target} to a heading not in a guide")
            if site.startswith(page + ".md"):
                site = site[len(page) + 3:] or f"{page}.md"
            return f"[{text}]({site})"
        if target in REPO_LINKS:
            return f"[{text}]({REPO_LINKS[target]})"
        return text  # another repository file: its name, without a link
    return re.sub(r"(!?)\[([^\]]*)\]\(([^)\s]+)\)", link, body)


# ----------------------------------------------------------------------------- models

def family(name: str) -> str:
    """The model's family, from its registry row."""
    info = model_info(name)
    spec = info.spec
    if spec.stem.name == "cifar":
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
    spec = model_info(name).spec
    per_block = 2 if spec.block_type == "basic" else 3
    return per_block * sum(spec.blocks_per_stage) + 2


def ordered_models() -> List[str]:
    """Every registered model, by family, then depth."""
    return sorted(list_models(), key=lambda n: (FAMILIES.index(family(n)), depth(n)))


def _table(header, rows) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _reference_cells(info) -> List[str]:
    return [fmt.format(info.reference[k]) if k in info.reference else "-"
            for k, (_, fmt) in REFERENCE.items()]


def _figure_rows(info) -> List[str]:
    return [f"{info.params:,}", f"{info.trainable_params:,}", f"{info.macs / 1e9:.3f}"]


def index_page() -> str:
    """The model index: one row per model, by family and depth, with its figures."""
    header = ["model", "family", "depth", "variant", "input", "params", "trainable",
              "GMACs"] + [title for title, _ in REFERENCE.values()] + ["pretrained"]
    rows = []
    for name in ordered_models():
        info = model_info(name)
        rows.append([f"[{info.builder_name}]({name}.md)", family(name), depth(name),
                     info.variant, "x".join(map(str, info.input_shape)), *_figure_rows(info),
                     *_reference_cells(info), len(list_pretrained(name))])
    toc = "\n".join(ordered_models())
    return (f"# Models\n\nEvery registered model ({len(rows)}), by family and depth: parameters "
            "(`count_params()`, BatchNormalization statistics included), trainable parameters and "
            "multiply-accumulates at the default input and variant, next to the published "
            "figures the test suite checks them against, and the number of pretrained "
            "checkpoints.\n\n" + _table(header, rows)
            + f"\n\n```{{toctree}}\n:hidden:\n\n{toc}\n```\n")


def _preprocess_call(row) -> str:
    if row.source == "keras.applications":
        return ("keras_resnet.preprocess_input(images)" if row.variant == "v1"
                else f'keras_resnet.preprocess_input(images, variant="{row.variant}")')
    return f'keras_resnet.preprocess_input(images, "{row.source}")'


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
              "(../api-overview.md#conventions-variant-and-shortcuts-shortcut)).", "",
              _table(["variant", "stride in a bottleneck", "conv bias", "BN epsilon / momentum",
                      "pre-activation"],
                     [[f"`{v.name}`" + (" (default)" if v.name == info.variant else ""),
                       "3x3 conv" if v.stride_in_3x3 else "first 1x1 conv", v.conv_bias,
                       f"{v.bn_epsilon} / {v.bn_momentum}", "yes" if v.preactivation else "no"]
                      for v in VARIANTS.values()])]
    rows = list_pretrained(name)
    lines += ["", "## Pretrained checkpoints", ""]
    if rows:
        lines.append(_table(
            ["weights=", "source", "variant", "top-1 %", "top-5 %", "eval size", "crop",
             "interpolation", "preprocessing", "license"],
            [[f'`"{r.tag}"`', r.source, r.variant, r.top1, r.top5, r.eval_size,
              r.crop_pct or "-", r.interpolation or "-",
              r.preprocessing + (f" (mean {r.mean}, std {r.std})" if r.mean else ""),
              r.license or "not stated"] for r in rows]))
        lines += ["", "Preprocess the images as the checkpoint expects: "
                  + "; ".join(f'`{_preprocess_call(r)}` for `"{r.tag}"`' for r in rows) + "."]
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
                f"images = {_preprocess_call(row)}  # RGB in [0, 255]",
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

def home_page(readme: str) -> str:
    """The home page: the README's introduction and the table of contents."""
    intro = readme.split("\n## ", 1)[0].split("\n", 1)[1].strip()
    intro = re.sub(r"\[([^\]]*)\]\((?!https?:)[^)]*\)", r"\1", intro)
    guides = "\n".join(page for page, _ in GUIDES if page != "speed")
    return (f"# keras_resnet\n\n{intro}\n\n"
            f"```{{toctree}}\n:caption: Guides\n:maxdepth: 1\n\n{guides}\n```\n\n"
            "```{toctree}\n:caption: Models\n:maxdepth: 1\n\nmodels/index\n```\n\n"
            "```{toctree}\n:caption: Reference\n:maxdepth: 1\n\napi\ncli\n```\n\n"
            "```{toctree}\n:caption: Notebooks and speed\n:maxdepth: 1\n\nnotebooks/index\nspeed\n"
            "```\n")


def notebooks_page() -> str:
    toc = "\n".join(p.stem for p in NOTEBOOKS)
    return ("# Notebooks\n\nThe repository's notebooks, shown with the outputs they were "
            "committed with (the docs build does not run them; `notebooks/build.py` does).\n\n"
            f"```{{toctree}}\n:maxdepth: 1\n\n{toc}\n```\n")


def generate(src: Path) -> None:
    """Write every page of the site, and the files they show, into `src`."""
    if src.exists():
        shutil.rmtree(src)
    (src / "models").mkdir(parents=True)
    (src / "notebooks").mkdir()
    (src / "benchmarks" / "results").mkdir(parents=True)
    readme = (ROOT / "README.md").read_text()
    (src / "index.md").write_text(home_page(readme))
    for page, text in guide_pages(readme).items():
        (src / f"{page}.md").write_text(text)
    shutil.copy2(ROOT / "benchmarks" / "results" / "speed.png", src / "benchmarks" / "results")
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
