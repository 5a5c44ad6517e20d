#!/usr/bin/env bash
# Set up with the test extras and run the whole test suite (slow tests included) in two
# phases: every test but those marked whole_machine on both cores (pytest-xdist; the users
# of a costly shared fixture on one worker), then the whole_machine ones (several training
# processes, time limits) alone, in one process. Arguments go to both phases (a file, -k,
# -m "not slow", ...). Both phases always run; the exit code is the first failing phase's,
# 0 when both pass (a phase that selects no test counts as passing, unless both select none).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
NO_TESTS=5  # pytest's exit code when nothing was selected

# One compute thread per worker: two workers on two cores, not two pools of two fighting.
TF_NUM_INTRAOP_THREADS=1 OMP_NUM_THREADS=1 \
    .venv/bin/python -m pytest -n 2 --dist loadgroup "$@" --phase parallel && parallel=0 || parallel=$?
.venv/bin/python -m pytest "$@" -n 0 --phase serial && serial=0 || serial=$?

for code in "$parallel" "$serial"; do
    if [ "$code" -ne 0 ] && [ "$code" -ne "$NO_TESTS" ]; then
        exit "$code"
    fi
done
if [ "$parallel" -eq "$NO_TESTS" ] && [ "$serial" -eq "$NO_TESTS" ]; then
    exit "$NO_TESTS"
fi
exit 0
