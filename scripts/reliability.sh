#!/usr/bin/env bash
# The reliability figures of BENCHMARKS.md: runs the attack tests (hostile
# plugins, wide and broken inputs, abusive serve requests, killed runs) one
# at a time and prints the figure each one measures (time, peak RSS, exit
# code, what is left on disk). The tests drive the debug `weft` binary, as
# the suite does; each asserts its bound, this script only shows the numbers.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test -p weft-tests \
  --test sandbox --test inputs --test serve_abuse --test crash --test states \
  -- --nocapture --test-threads 1 2>&1 \
  | grep -E "peak RSS|took|statuses|killed at|lines logged|^test result" \
  | grep -v "^running"
