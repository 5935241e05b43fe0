#!/usr/bin/env bash
# The Python `scale` step (plugins-py/scale) against the Rust `scale` and
# scikit-learn, whole process (bench/python_steps.py). Builds weft and the
# Rust plugin in release (skip with --no-build) and passes the rest on:
#   ./bench/python_steps.sh                    # 10M rows x 8 f32, 3 rounds
#   ./bench/python_steps.sh --rows 1000000 --repeats 1
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/args.sh "$@"
if [ "$build" = 1 ]; then
  cargo build --release -p weft -p weft-bench
  cargo build --release --target wasm32-wasip2 -p scale
fi
./scripts/setup.sh --test >/dev/null
export PYTHONDONTWRITEBYTECODE=1
# Builds target/bench-python/scale.wasm, then times whole runs.
.venv/bin/python bench/python_steps.py "${args[@]}"
# Instantiation and the 1-row hop, Python step beside Rust step.
target/release/weft-bench --only "python step"
