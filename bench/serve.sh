#!/usr/bin/env bash
# Serving load benchmark: throughput and p50/p99 latency of `weft serve` for a
# 3-step transform pipeline (impute mean, standard scale, one-hot) at batches
# of 1, 100 and 10 000 rows, against the same transform fitted on the same
# rows in a minimal Python/scikit-learn HTTP service (weft also with Arrow IPC
# bodies, which the Python service does not take), both on loopback, under
# wrk (Debian package `wrk`) for a fixed duration each; then the latency of
# one connection's requests at 10 000 rows with the server pinned to one
# core (bench/serve_latency.py). Prints Markdown tables (and writes them to
# bench/serve-results.md).
#
#   bench/serve.sh [--seconds N] [--connections N]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
seconds=10
connections=8
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --connections) connections="$2"; shift 2 ;;
    *) echo "serve.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
command -v wrk >/dev/null || { echo "serve.sh: needs wrk (apt-get install wrk)" >&2; exit 1; }
python="$root/.venv/bin/python"
[ -x "$python" ] || { echo "serve.sh: needs .venv (./scripts/setup.sh --test)" >&2; exit 1; }
cargo build -q --release -p weft
cargo build -q --release --target wasm32-wasip2 -p impute -p scale -p one-hot
work="$root/target/bench-serve"
rm -rf "$work" && mkdir -p "$work"
"$python" bench/serve_ref.py data "$work"
plugins="$root/target/wasm32-wasip2/release"
cat > "$work/pipeline.yaml" <<YAML
apiVersion: weft.dev/v1alpha1
kind: Pipeline
metadata: { name: serve-bench }
spec:
  plugins:
    impute: { path: $plugins/impute.wasm }
    scale: { path: $plugins/scale.wasm }
    one-hot: { path: $plugins/one_hot.wasm }
  input: { path: train.csv }
  output: { path: out/ }
  steps:
    - { name: impute, plugin: impute, config: { columns: [x1, x2], strategy: mean } }
    - { name: scale, plugin: scale, needs: [impute], config: { columns: [x1, x2, x3, x4], method: standard } }
    - { name: encode, plugin: one-hot, needs: [scale], config: { columns: [plan], handle_unknown: ignore } }
YAML
target/release/weft run -q "$work/pipeline.yaml"

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
target/release/weft serve "$work/pipeline.yaml" --state "$work/out/state" \
  --listen 127.0.0.1:18181 --queue 1024 --max-body 64Mi >"$work/weft.log" 2>&1 &
pids+=($!)
"$python" bench/serve_ref.py serve "$work" 18182 >"$work/python.log" 2>&1 &
pids+=($!)
for port in 18181 18182; do
  for _ in $(seq 1 100); do
    curl -sf -o /dev/null -X POST -H 'Content-Type: application/json' \
      --data-binary @"$work/body-1.json" "http://127.0.0.1:$port/v1/transform" && break
    sleep 0.2
  done
done

for port in 18181 18182; do
  curl -sf -X POST -H 'Content-Type: application/json' --data-binary @"$work/body-100.json" \
    "http://127.0.0.1:$port/v1/transform" >"$work/answer-$port.json"
done
"$python" bench/serve_ref.py agree "$work/answer-18181.json" "$work/answer-18182.json"

cat > "$work/post.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = os.getenv("TYPE")
local f = io.open(os.getenv("BODY"), "rb")
wrk.body = f:read("*a")
f:close()
done = function(summary, latency, requests)
  io.write(string.format("RESULT %.1f %.3f %.3f %d %d\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.requests))
end
LUA

table="| rows per request | service | requests/s | rows/s | p50 ms | p99 ms | errors |
| ---: | --- | ---: | ---: | ---: | ---: | ---: |"
json=application/json arrow=application/vnd.apache.arrow.stream
for rows in 1 100 10000; do
  for service in "weft serve:18181:json" "weft serve, Arrow IPC:18181:arrows" "Python + scikit-learn:18182:json"; do
    IFS=: read -r name port format <<<"$service"
    type="$json"
    [ "$format" = arrows ] && type="$arrow"
    line="$(BODY="$work/body-$rows.$format" TYPE="$type" wrk -t2 -c"$connections" -d"${seconds}s" \
      --timeout 30s -s "$work/post.lua" "http://127.0.0.1:$port/v1/transform" | grep '^RESULT')"
    read -r _ rps p50 p99 errors total <<<"$line"
    rowsps="$(awk -v r="$rps" -v n="$rows" 'BEGIN { printf "%.0f", r * n }')"
    table+="
| $rows | $name | $rps | $rowsps | $p50 | $p99 | $errors of $total |"
  done
done
# One connection, the server pinned to one core (taskset), the client on
# the other: the time a request takes, without queueing.
kill "${pids[0]}" 2>/dev/null || true
taskset -c 0 target/release/weft serve "$work/pipeline.yaml" --state "$work/out/state" \
  --listen 127.0.0.1:18183 --max-body 64Mi >"$work/weft-one-core.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
  curl -sf -o /dev/null -X POST -H "Content-Type: $json" --data-binary @"$work/body-1.json" \
    "http://127.0.0.1:18183/v1/transform" && break
  sleep 0.2
done
table+="

One connection, requests one after another, \`weft serve\` pinned to one core:

| body | requests/s | p50 ms | p99 ms | MB in / out per request | MB/s in + out |
| --- | ---: | ---: | ---: | ---: | ---: |"
for body in "body-10000.json:$json" "body-10000.arrows:$arrow"; do
  IFS=: read -r file type <<<"$body"
  table+="
$(taskset -c 1 "$python" bench/serve_latency.py 18183 "$work/$file" "$type")"
done
echo "$table" | tee bench/serve-results.md
