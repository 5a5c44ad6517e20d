#!/usr/bin/env bash
# Build the documentation site into docs/_build/html (warnings are errors).
# Sets up .venv with the docs extra first (see scripts/setup.sh); safe to run again.
# Usage: scripts/docs.sh [--out DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh docs
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
exec .venv/bin/python scripts/build_docs.py "$@"
