#!/usr/bin/env bash
# Install what building weft needs (the wasm32-wasip2 target); with --test,
# also the Python environment the parity tests compare against. Re-runnable.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! rustup target list --installed | grep -qx wasm32-wasip2; then
  echo "setup: adding the wasm32-wasip2 Rust target"
  rustup target add wasm32-wasip2
fi

if [ "${1:-}" = "--test" ]; then
  if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv for the scikit-learn parity tests"
    python3 -m venv .venv
  fi
  if ! .venv/bin/python -c 'import sklearn, scipy, pandas, pyarrow' 2>/dev/null; then
    echo "setup: installing tests/python/requirements.txt into .venv"
    .venv/bin/pip install --quiet -r tests/python/requirements.txt
  fi
fi
