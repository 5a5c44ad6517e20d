"""Build the notebooks from their sources and run them top to bottom.

Each notebook is written as a percent-format script in `notebooks/src/`
(`# %%` starts a code cell, `# %% [markdown]` a markdown cell whose lines start
with `# `; `tags=["stable"]` marks a cell whose output must not change between
runs). This turns each into `notebooks/NAME.ipynb`, executes it in a fresh
kernel with nbclient (in a temporary working directory, so nothing is left
behind) and writes it with its outputs.

Usage, from the repository root:
    .venv/bin/python notebooks/build.py            # every notebook
    .venv/bin/python notebooks/build.py 03_fine_tuning
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from typing import List, Optional

import nbformat

from keras_resnet.atomic import write_text

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCES = os.path.join(HERE, "src")
TIMEOUT_S = 600
# TensorFlow's C++ start-up chatter, written to stderr before logging is set up.
_NOISE = re.compile(r"^(WARNING: All log messages before absl::InitializeLog\(\)|"
                    r"[IWE]\d{4} [\d:. ]+\d+ \S+:\d+\]).*\n?", re.M)
_HEADER = re.compile(r"^# %%(?P<rest>.*)$")


def names() -> List[str]:
    """Notebook names (source files without `.py`), in order."""
    return sorted(f[:-3] for f in os.listdir(SOURCES) if f.endswith(".py"))


def load(name: str) -> nbformat.NotebookNode:
    """The unexecuted notebook built from `src/NAME.py`."""
    with open(os.path.join(SOURCES, name + ".py")) as f:
        text = f.read()
    cells, kind, tags, lines = [], None, [], []

    def flush():
        body = "\n".join(lines).strip("\n")
        if kind == "markdown":
            body = "\n".join(re.sub(r"^# ?", "", line) for line in body.splitlines())
            cells.append(nbformat.v4.new_markdown_cell(body))
        elif kind == "code":
            cell = nbformat.v4.new_code_cell(body)
            if tags:
                cell.metadata["tags"] = tags
            cells.append(cell)

    for line in text.splitlines():
        header = _HEADER.match(line)
        if header:
            flush()
            rest = header.group("rest")
            kind = "markdown" if "[markdown]" in rest else "code"
            match = re.search(r"tags=(\[.*?\])", rest)
            tags, lines = (json.loads(match.group(1)) if match else []), []
        elif kind is not None:
            lines.append(line)
    flush()
    for i, cell in enumerate(cells):
        cell.id = f"cell-{i}"  # stable ids keep the regenerated files' diffs small
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def _clean(nb: nbformat.NotebookNode) -> None:
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        outputs = []
        for out in cell.outputs:
            if out.output_type == "stream" and out.name == "stderr":
                out.text = _NOISE.sub("", out.text)
                if not out.text.strip():
                    continue
            outputs.append(out)
        cell.outputs = outputs


def execute(nb: nbformat.NotebookNode, timeout: int = TIMEOUT_S) -> nbformat.NotebookNode:
    """Run `nb` top to bottom in a fresh kernel; raises on the first failing cell."""
    from nbclient import NotebookClient

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # inherited by the kernel
    with tempfile.TemporaryDirectory() as workdir:
        NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                       resources={"metadata": {"path": workdir}}).execute()
    _clean(nb)
    return nb


def write(nb: nbformat.NotebookNode, name: str) -> str:
    """Write `nb` to `notebooks/NAME.ipynb` through a temporary file."""
    path = os.path.join(HERE, name + ".ipynb")
    write_text(path, nbformat.writes(nb) + "\n")
    return path


def main(argv: Optional[List[str]] = None) -> int:
    """Build, run and write the notebooks named in `argv` (default: all)."""
    import time

    wanted = argv if argv else names()
    unknown = sorted(set(wanted) - set(names()))
    if unknown:
        print(f"notebooks/build.py: error: unknown notebook(s) {unknown}; "
              f"choose from {names()}", file=sys.stderr)
        return 2
    for name in wanted:
        start = time.time()
        path = write(execute(load(name)), name)
        print(f"{path}  ({time.time() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
