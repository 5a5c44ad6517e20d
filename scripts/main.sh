#!/usr/bin/env bash
# The main job: set up, build every registered model and print its parameters
# and MACs next to the paper's and the peers' figures, and write the diagrams.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
.venv/bin/keras-resnet params
.venv/bin/keras-resnet plot --all --out plots --level both
