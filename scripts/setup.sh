#!/usr/bin/env bash
# Set up keras_resnet on a fresh Debian machine: graphviz's `dot` (for diagrams),
# a virtual environment in .venv, and the package with the given extras.
# Usage: scripts/setup.sh [EXTRAS]   (e.g. "test"); safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"

if ! command -v dot >/dev/null 2>&1; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing graphviz (for plot_model)"
  $sudo apt-get update -qq && $sudo apt-get install -y -qq graphviz >/dev/null
fi

python="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$python" -m venv .venv
stamp=".venv/.installed-$(cat setup.cfg pyproject.toml | sha1sum | cut -c1-12)-${extras:-none}"
if [ ! -f "$stamp" ]; then
  echo "setup: installing keras_resnet${extras:+[$extras]} into .venv"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".${extras:+[$extras]}"
  touch "$stamp"
fi
