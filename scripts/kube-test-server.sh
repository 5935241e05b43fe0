#!/usr/bin/env bash
# A real Kubernetes API server for the cluster tests, built from Debian's
# `kubernetes` source package (1.20.2) with Debian's Go. The build also makes
# the node binaries (kubelet, kube-scheduler, kube-proxy) that
# scripts/kube-node.sh runs. Cached under ${XDG_CACHE_HOME:-~/.cache}/weft/kube (never in the
# repository). Idempotent.
#
#   scripts/kube-test-server.sh build        # fetch sources, build binaries
#   scripts/kube-test-server.sh start DIR    # run etcd + apiserver + controller-manager
#                                            # on loopback; writes DIR/kubeconfig,
#                                            # DIR/admin.token, DIR/pids
#   scripts/kube-test-server.sh stop DIR
#
# `start` honours, for scripts/kube-node.sh: KUBE_ADVERTISE (an address pods
# can reach: the apiserver then listens on every interface, advertises it
# and its certificate covers it and the `kubernetes` Service), and
# KUBE_APISERVER_ARGS / KUBE_CONTROLLERS / KUBE_CONTROLLER_MANAGER_ARGS.
set -euo pipefail

cache="${XDG_CACHE_HOME:-$HOME/.cache}/weft/kube"
bin="$cache/bin"
binaries=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy)
say() { echo "kube-test-server: $*" >&2; }

sudo_() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

build() {
  local b ready=1
  for b in "${binaries[@]}"; do [ -x "$bin/$b" ] || ready=0; done
  [ "$ready" = 0 ] || return 0
  local missing=()
  command -v go >/dev/null || missing+=(golang-go)
  command -v rsync >/dev/null || missing+=(rsync)
  command -v jq >/dev/null || missing+=(jq)
  command -v etcd >/dev/null || missing+=(etcd-server)
  command -v openssl >/dev/null || missing+=(openssl)
  [ -d /usr/share/gocode/src/github.com/modern-go/reflect2 ] || missing+=(golang-github-modern-go-reflect2-dev)
  if [ "${#missing[@]}" -gt 0 ]; then
    say "installing ${missing[*]}"
    sudo_ apt-get update -qq
    sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
  local src="$cache/src"
  mkdir -p "$src/apt/sources.list.d" "$src/apt/lists/partial" "$src/apt/cache/archives/partial"
  # A private apt configuration that knows only the deb-src twin of the
  # machine's Debian sources: the system's apt state stays untouched.
  sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources \
    > "$src/apt/sources.list.d/src.sources"
  local apt=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$src/apt/sources.list.d"
             -o "Dir::State::Lists=$src/apt/lists" -o "Dir::Cache=$src/apt/cache")
  (cd "$src" && apt-get "${apt[@]}" update -qq 2>/dev/null \
     && apt-get "${apt[@]}" source --download-only kubernetes >/dev/null 2>&1)
  local tree="$src/tree"
  rm -rf "$tree" && mkdir -p "$tree"
  tar xzf "$src"/kubernetes_*.orig.tar.gz -C "$tree" --strip-components=1
  # The vendored reflect2 1.0.1 crashes under Go >= 1.18 on the first
  # custom-resource request; Debian's 1.0.2 does not.
  local vendored="$tree/vendor/github.com/modern-go/reflect2"
  rm -f "$vendored"/*.go "$vendored"/*.s
  cp /usr/share/gocode/src/github.com/modern-go/reflect2/*.go \
     /usr/share/gocode/src/github.com/modern-go/reflect2/*.s "$vendored/"
  mkdir -p "$src/.go/src/k8s.io"
  ln -sfn "$tree" "$src/.go/src/k8s.io/kubernetes"
  say "building ${binaries[*]} (10-20 minutes the first time; log: $src/build.log)"
  (cd "$src/.go/src/k8s.io/kubernetes" \
     && GOPATH="$src/.go" GOPROXY=off CGO_ENABLED=0 GOFLAGS=-mod=vendor \
        make WHAT="${binaries[*]/#/cmd/}" >"$src/build.log" 2>&1) \
    || { tail -20 "$src/build.log" >&2; exit 1; }
  mkdir -p "$bin"
  for b in "${binaries[@]}"; do cp "$tree/_output/local/bin/linux/amd64/$b" "$bin/"; done
  rm -rf "$tree" "$src/.go"
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start() {
  local dir="$1"
  build
  mkdir -p "$dir"
  dir="$(cd "$dir" && pwd)"
  local etcd_port peer_port api_port
  etcd_port="$(free_port)" peer_port="$(free_port)" api_port="$(free_port)"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=weft-test-ca" \
    -keyout "$dir/ca.key" -out "$dir/ca.crt" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=kube-apiserver" \
    -keyout "$dir/api.key" -out "$dir/api.csr" 2>/dev/null
  local san="IP:127.0.0.1,DNS:localhost" bind=127.0.0.1 advertise=()
  if [ -n "${KUBE_ADVERTISE:-}" ]; then
    san="$san,IP:$KUBE_ADVERTISE,IP:10.96.0.1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc"
    bind=0.0.0.0 advertise=(--advertise-address "$KUBE_ADVERTISE")
  fi
  printf 'subjectAltName=%s\n' "$san" > "$dir/san.ext"
  openssl x509 -req -in "$dir/api.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial \
    -days 2 -extfile "$dir/san.ext" -out "$dir/api.crt" 2>/dev/null
  openssl genrsa -out "$dir/sa.key" 2048 2>/dev/null
  openssl rsa -in "$dir/sa.key" -pubout -out "$dir/sa.pub" 2>/dev/null
  local token
  token="$(openssl rand -hex 24)"
  echo "$token" > "$dir/admin.token"
  echo "$token,admin,admin,system:masters" > "$dir/tokens.csv"
  etcd --data-dir "$dir/etcd" --listen-client-urls "http://127.0.0.1:$etcd_port" \
    --advertise-client-urls "http://127.0.0.1:$etcd_port" \
    --listen-peer-urls "http://127.0.0.1:$peer_port" >"$dir/etcd.log" 2>&1 &
  echo $! > "$dir/pids"
  "$bin/kube-apiserver" --etcd-servers "http://127.0.0.1:$etcd_port" \
    --bind-address "$bind" "${advertise[@]}" --secure-port "$api_port" \
    --tls-cert-file "$dir/api.crt" --tls-private-key-file "$dir/api.key" \
    --client-ca-file "$dir/ca.crt" --token-auth-file "$dir/tokens.csv" \
    --authorization-mode RBAC --service-account-key-file "$dir/sa.pub" \
    --service-account-signing-key-file "$dir/sa.key" \
    --service-account-issuer https://kubernetes.default.svc \
    --service-cluster-ip-range 10.96.0.0/16 --allow-privileged=false \
    ${KUBE_APISERVER_ARGS:-} >"$dir/apiserver.log" 2>&1 &
  echo $! >> "$dir/pids"
  local server="https://127.0.0.1:$api_port"
  cat > "$dir/kubeconfig" <<YAML
apiVersion: v1
kind: Config
clusters: [{ name: test, cluster: { server: "$server", certificate-authority: "$dir/ca.crt" } }]
users: [{ name: admin, user: { token: "$token" } }]
contexts: [{ name: test, context: { cluster: test, user: admin, namespace: default } }]
current-context: test
YAML
  for _ in $(seq 1 120); do
    if curl -sf --cacert "$dir/ca.crt" -H "Authorization: Bearer $token" "$server/readyz" >/dev/null; then
      break
    fi
    sleep 0.25
  done
  curl -sf --cacert "$dir/ca.crt" -H "Authorization: Bearer $token" "$server/readyz" >/dev/null \
    || { tail -20 "$dir/apiserver.log" >&2; stop "$dir"; exit 1; }
  "$bin/kube-controller-manager" --kubeconfig "$dir/kubeconfig" \
    --controllers "${KUBE_CONTROLLERS:-garbagecollector,serviceaccount,serviceaccount-token,namespace}" \
    --service-account-private-key-file "$dir/sa.key" --root-ca-file "$dir/ca.crt" \
    --use-service-account-credentials=false --leader-elect=false \
    --bind-address 127.0.0.1 --secure-port 0 --port 0 ${KUBE_CONTROLLER_MANAGER_ARGS:-} \
    >"$dir/controller-manager.log" 2>&1 &
  echo $! >> "$dir/pids"
  echo "$server"
}

stop() {
  local dir="$1"
  [ -f "$dir/pids" ] || return 0
  tac "$dir/pids" | while read -r pid; do kill "$pid" 2>/dev/null || true; done
  rm -f "$dir/pids"
}

case "${1:-}" in
  build) build ;;
  start) start "${2:?usage: $0 start DIR}" ;;
  stop) stop "${2:?usage: $0 stop DIR}" ;;
  *) echo "usage: $0 build | start DIR | stop DIR" >&2; exit 2 ;;
esac
