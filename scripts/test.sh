#!/usr/bin/env bash
# Set up and run every test: unit tests of each crate, native tests of the
# plugins, and the end-to-end suite (real components, real files, live
# scikit-learn parity). Needs network access to crates.io and PyPI once.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh --test
# Every plugin under plugins/ and tests/plugins/ (the bench's guest-loop is
# built by bench/run.sh).
packages=()
for dir in plugins/*/ tests/plugins/*/; do packages+=(-p "$(basename "$dir")"); done
cargo build --release --target wasm32-wasip2 "${packages[@]}"
cargo test --workspace --exclude hostile --exclude guest-loop "$@"
