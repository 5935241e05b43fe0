#!/usr/bin/env bash
# End-to-end benchmark: `weft run` against polars, DuckDB and scikit-learn on
# the same generated data (bench/e2e.py). Builds weft and the plugins it runs
# in release (skip with --no-build), installs bench/e2e/requirements.txt into
# .venv, and passes the other arguments on:
#   ./bench/e2e.sh                       # 1M, 5M, 20M rows, 3 rounds; prints the table
#   ./bench/e2e.sh --write               # ... and writes it into BENCHMARKS.md
#   ./bench/e2e.sh --no-build --weft target/debug/weft --rows 50k --repeats 1
# Data is cached in target/bench-data/; outputs go to target/bench-e2e/ and
# are removed after each run.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/args.sh "$@"
if [ "$build" = 1 ]; then
  cargo build --release -p weft
  cargo build --release --target wasm32-wasip2 -p impute -p scale -p one-hot
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check -r bench/e2e/requirements.txt
# No bench/__pycache__ in the work tree.
export PYTHONDONTWRITEBYTECODE=1
exec .venv/bin/python bench/e2e.py "${args[@]}"
