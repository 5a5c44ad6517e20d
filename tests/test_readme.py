"""README.md's generated pretrained-weights table is the library's table, up to date."""

import contextlib
import importlib.util
import io
import os

import pytest

from keras_resnet import cli
from keras_resnet.pretrained import find_pretrained, list_pretrained
from keras_resnet.report import pretrained_markdown

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_spec = importlib.util.spec_from_file_location(
    "update_readme_tables", os.path.join(ROOT, "scripts", "update_readme_tables.py"))
update = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(update)


def _readme() -> str:
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        return f.read()


def test_readme_pretrained_table_is_fresh():
    text = _readme()
    assert update.replace_section(text, pretrained_markdown()) == text, \
        "README.md's pretrained table is stale: run " \
        "`.venv/bin/python scripts/update_readme_tables.py`"
    section = text.split(update.START, 1)[1].split(update.END, 1)[0]
    assert section.strip() == pretrained_markdown().strip()


def test_the_table_lists_every_checkpoint_once_with_its_figures():
    lines = [line for line in pretrained_markdown().splitlines() if line.startswith("| ")][1:]
    seen, model = [], None
    for line in lines:
        cells = [c.strip() for c in line.strip("|").split("|")]
        model = cells[0].strip("`") or model  # the architecture is named on its first row
        row = find_pretrained(model, cells[1].strip("`"))
        assert cells[2:5] == [str(row.top1), str(row.top5), str(row.eval_size)]
        assert row.source in cells[8] or row.hub_repo in cells[8]
        assert (row.license or "-") == cells[9]
        seen.append(row)
    assert sorted(seen, key=lambda r: r.name) == sorted(list_pretrained(), key=lambda r: r.name)


def test_cli_prints_the_same_markdown():
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cli.main(["list", "--pretrained", "--markdown"]) == 0
    assert out.getvalue() == pretrained_markdown()


def test_replace_section_needs_both_markers_in_order():
    text = f"a\n{update.START}\nold\n{update.END}\nb\n"
    assert update.replace_section(text, "new\n") == f"a\n{update.START}\nnew\n{update.END}\nb\n"
    for broken in ("no markers", f"{update.END}\n{update.START}\n", text + update.END):
        with pytest.raises(ValueError, match="markers"):
            update.replace_section(broken, "x")
