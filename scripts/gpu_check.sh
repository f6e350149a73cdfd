#!/usr/bin/env bash
# The GPU check in one command (README, "Performance"): equivalence tests on the device, `hanrock bench`,
# one epoch at the paper's shape with the projected paper_study time, and a small study whose kept model
# must reproduce its stored predictions.  Figures go to one folder (JSON + report.txt).
#
#   scripts/gpu_check.sh [--out DIR]                     on a GPU machine (about 8 minutes)
#   scripts/gpu_check.sh --device cpu --tiny [--out DIR]  the dry run CI does (a minute or two)
#
# A bare GPU machine has PyTorch, numpy, pandas, scikit-learn, pyarrow, matplotlib, pyyaml and pytest;
# what else the core library needs (gpu/requirements.txt) is installed from gpu/wheels/ (`make gpu-wheels`
# fills it; it travels with the working tree) into a private folder, never into the system.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] && [ -z "${GPU_CHECK_SYSTEM_PYTHON:-}" ] && PYTHON=.venv/bin/python
if ! "$PYTHON" -c "import optuna, duckdb, tabulate" 2>/dev/null; then
    if ! ls gpu/wheels/*.whl >/dev/null 2>&1; then
        echo "gpu_check: error: optuna/duckdb/tabulate are missing and gpu/wheels/ has no wheels" >&2
        echo "  -> run 'make gpu-wheels' on a machine with the package registries, then copy the tree" >&2
        exit 2
    fi
    SITE="${TMPDIR:-/tmp}/hanrock-gpu-site"
    "$PYTHON" -m pip install -q --no-index --no-deps --find-links gpu/wheels --target "$SITE" -r gpu/requirements.txt
    export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export HANROCK_TRIAL_WORKERS=${HANROCK_TRIAL_WORKERS:-1}  # the small study's trials one after another
exec "$PYTHON" -m hanrock_core.checks.gpu_check "$@"
