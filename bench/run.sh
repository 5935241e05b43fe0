#!/usr/bin/env bash
# Build what the benchmarks need in release and run them once; the table is
# printed and written to bench/results.md. Extra arguments go to weft-bench
# (e.g. --quick). Generated data is kept in target/bench-data/.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p weft -p weft-bench
cargo build --release --target wasm32-wasip2 -p scale -p hostile -p guest-loop
# The Python `scale` of the "python step" section (componentize-py from the
# test venv).
./scripts/setup.sh --test >/dev/null
mkdir -p target/bench-python
.venv/bin/componentize-py -d wit -w plugin componentize scale \
  -p plugins-py/scale -p sdk/python -o target/bench-python/scale.wasm >/dev/null
target/release/weft-bench --out bench/results.md "$@"
