#!/usr/bin/env bash
# Set up and run every test: unit tests of each crate, native tests of the
# plugins, and the end-to-end suite (real components, real files, live
# scikit-learn parity, a real single-node Kubernetes cluster). Needs network
# access to crates.io, PyPI, npm and Debian once.
#
# The cluster tests (tests/tests/cluster) need root to start the node
# (scripts/kube-node.sh); elsewhere, or with WEFT_E2E_NODE=0, they say why
# they were skipped. WEFT_E2E_KUBECONFIG set beforehand uses that cluster.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh --test
# Every plugin under plugins/ and tests/plugins/ (the bench's guest-loop is
# built by bench/run.sh).
packages=()
for dir in plugins/*/ tests/plugins/*/; do packages+=(-p "$(basename "$dir")"); done
cargo build --release --target wasm32-wasip2 "${packages[@]}"
# The binary the tests drive, which the node's image carries too.
cargo build -p weft

if [ -z "${WEFT_E2E_KUBECONFIG:-}" ]; then
  if [ "${WEFT_E2E_NODE:-1}" = 0 ]; then
    export WEFT_E2E_SKIP="WEFT_E2E_NODE=0 asked not to start a node"
  elif [ "$(id -u)" -ne 0 ]; then
    export WEFT_E2E_SKIP="starting a node needs root (containerd, kubelet, iptables): run as root, or set WEFT_E2E_KUBECONFIG"
  else
    node_dir="${TMPDIR:-/tmp}/weft-node"
    if kubeconfig="$(WEFT_BINARY=target/debug/weft ./scripts/kube-node.sh up "$node_dir" | tail -n 1)" \
        && [ -f "$kubeconfig" ]; then
      export WEFT_E2E_KUBECONFIG="$kubeconfig"
      trap './scripts/kube-node.sh down "$node_dir"' EXIT
    else
      export WEFT_E2E_SKIP="scripts/kube-node.sh up could not start the node (its message is above)"
      ./scripts/kube-node.sh down "$node_dir" || true
    fi
  fi
fi
[ -n "${WEFT_E2E_SKIP:-}" ] && echo "test: the cluster tests will be skipped: $WEFT_E2E_SKIP" >&2
cargo test --workspace --exclude hostile --exclude guest-loop "$@"
