"""Rewrite the committed generated section of the docs: the benchmark results on docs/speed.md.

docs/speed.md holds the results between the speed-table markers of `benchmarks.summary`
(`README_START` / `README_END`): `benchmarks.summary.render_table()` of the committed
`benchmarks/results/results.json`. `python -m benchmarks.run` writes them after a run; this script
renders them again from results.json without a rerun (after a change to how results are shown),
writing docs/speed.md through a temporary file and a rename. `tests/test_docs.py` fails when the
section is stale.

The other generated tables (the model table, the pretrained checkpoints, the model pages) are made
when the site is built (`scripts/build_docs.py`), so they have no committed copy to go stale;
README.md holds none.

Usage, from the repository root:
    .venv/bin/python scripts/update_readme_tables.py           # rewrite docs/speed.md
    .venv/bin/python scripts/update_readme_tables.py --check   # exit 1 if it is stale
"""

from __future__ import annotations

import argparse
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from benchmarks import summary  # noqa: E402
from keras_resnet.atomic import write_text  # noqa: E402

SPEED_PAGE = os.path.join(ROOT, "docs", "speed.md")
START, END = summary.README_START, summary.README_END


def replace_section(text: str, body: str, start: str = START, end: str = END) -> str:
    """`text` with what lies between the lines `start` and `end` replaced by `body`."""
    if text.count(start) != 1 or text.count(end) != 1 or text.index(start) > text.index(end):
        raise ValueError(f"the page must hold the markers {start!r} and {end!r} once each, "
                         "in that order")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{start}\n{body.rstrip()}\n{end}{tail}"


def speed_section(results_json=summary.RESULTS_JSON) -> str:
    """The results as the Speed page shows them, from the committed results.json."""
    with open(results_json, encoding="utf-8") as f:
        return summary.render_table(json.load(f))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="only check: exit 1 (and say so) if docs/speed.md is stale")
    args = parser.parse_args(argv)
    with open(SPEED_PAGE, encoding="utf-8") as f:
        text = f.read()
    new = replace_section(text, speed_section())
    if new == text:
        print("docs/speed.md is up to date")
        return 0
    if args.check:
        print("docs/speed.md's results are stale: run "
              "`.venv/bin/python scripts/update_readme_tables.py`", file=sys.stderr)
        return 1
    write_text(SPEED_PAGE, new)
    print("rewrote the results on docs/speed.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
