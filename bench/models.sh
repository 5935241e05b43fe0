#!/usr/bin/env bash
# Scoring trained models: weft's onnx-model step against ONNX Runtime and
# the libraries' own predict_proba (bench/models.py). Builds weft and the
# plugin in release (skip with --no-build) and passes the rest on:
#   ./bench/models.sh                          # 1M rows, 3 rounds
#   ./bench/models.sh --rows 100000 --repeats 1
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/args.sh "$@"
if [ "$build" = 1 ]; then
  cargo build --release -p weft
  cargo build --release --target wasm32-wasip2 -p onnx-model
fi
./scripts/setup.sh --test >/dev/null
export PYTHONDONTWRITEBYTECODE=1
.venv/bin/python bench/models.py "${args[@]}"
