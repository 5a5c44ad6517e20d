#!/usr/bin/env bash
# Set up keras_resnet on a fresh Debian machine: graphviz's `dot` (for diagrams),
# chromium and chromium-driver when the extras include test or docs (the docs site's
# browser test), a virtual environment in .venv, and the package with the given extras.
# Usage: scripts/setup.sh [EXTRAS]   (e.g. "test", "docs"); safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"

missing=()
command -v dot >/dev/null 2>&1 || missing+=(graphviz)  # for plot_model
case ",$extras," in
  *,test,*|*,docs,*)  # the docs site's browser test: headless chromium driven by chromedriver
    [ -x /usr/bin/chromium ] || missing+=(chromium)
    [ -x /usr/bin/chromedriver ] || missing+=(chromium-driver) ;;
esac
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing ${missing[*]} with apt-get"
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

python="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$python" -m venv .venv
stamp=".venv/.installed-$(cat setup.cfg pyproject.toml scripts/constraints.txt | sha1sum | cut -c1-12)-${extras:-none}"
if [ ! -f "$stamp" ]; then
  echo "setup: installing keras_resnet${extras:+[$extras]} into .venv"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -c scripts/constraints.txt -e ".${extras:+[$extras]}"
  touch "$stamp"
fi
