#!/usr/bin/env bash
# Build weft and the reference plugins, then run the churn example pipeline
# on its bundled data. Output lands in examples/churn/out/.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
cargo build -p weft
packages=()
for dir in plugins/*/; do packages+=(-p "$(basename "$dir")"); done
cargo build --release --target wasm32-wasip2 "${packages[@]}"
./target/debug/weft validate examples/churn/pipeline.yaml
./target/debug/weft run examples/churn/pipeline.yaml
echo
echo "first rows of examples/churn/out/data.parquet:"
./target/debug/weft head examples/churn/out/data.parquet -n 5
echo
./target/debug/weft report examples/churn/out --html examples/churn/out/report.html
