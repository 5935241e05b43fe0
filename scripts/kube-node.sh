#!/usr/bin/env bash
# A real single-node Kubernetes 1.20 cluster on this machine, from Debian's
# packages and Debian's `kubernetes` source package: etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, containerd + runc, kubelet,
# kube-proxy (iptables) and a CNI bridge. No image comes from outside: the
# pause image is a static C program and the weft image is written from this
# checkout's build by scripts/weft-image.py, imported into containerd as
# `weft:dev` and pushed to a local registry (Debian's docker-registry) as
# `127.0.0.1:PORT/weft:dev`, which containerd pulls like any registry image.
#
#   scripts/kube-node.sh up [DIR]     # start; prints the kubeconfig path last
#   scripts/kube-node.sh down [DIR]   # stop what `up` started, restore the host
#   scripts/kube-node.sh image [DIR]  # rebuild and reload the weft image
#   scripts/kube-node.sh kubelet stop|start [DIR]   # the node goes away, comes back
#
# DIR defaults to /tmp/weft-node. The image carries WEFT_BINARY (default
# target/release/weft) and the release plugins. Needs root (containerd, kubelet, iptables).
# Binaries are built once by scripts/kube-test-server.sh (cached in
# ${XDG_CACHE_HOME:-~/.cache}/weft/kube). Pods get 10.88.77.0/24 on the
# bridge weftnode0; the apiserver is reached on 127.0.0.1 from the host and
# through the `kubernetes` Service (10.96.0.1) from pods. A hostPath
# PersistentVolume `weft-data` (storage class `weft-local`) is DIR/volume.
# Idempotent: `up` on a running node prints its kubeconfig again.
set -euo pipefail
cd "$(dirname "$0")/.."

command="${1:-}"
[ "$command" = kubelet ] && { action="${2:-}"; shift; }
dir="$(realpath -m "${2:-/tmp/weft-node}")"
bin="${XDG_CACHE_HOME:-$HOME/.cache}/weft/kube/bin"
binary="${WEFT_BINARY:-target/release/weft}"
run=/run/weft-node
bridge=weftnode0 gateway=10.88.77.1 subnet=10.88.77.0/24
sysctls=(vm.overcommit_memory kernel.panic kernel.panic_on_oops net.ipv4.ip_forward
         net.ipv4.conf.all.route_localnet net.bridge.bridge-nf-call-iptables)
dirs=(/var/lib/kubelet /var/log/pods /var/log/containers /usr/libexec/kubernetes /var/lib/cni /run/netns)

say() { echo "kube-node: $*" >&2; }
trap 'say "failed: line $LINENO: $BASH_COMMAND"' ERR
die() { say "$*"; exit 1; }
alive() { [ -f "$dir/node.pids" ] && kill -0 "$(head -n1 "$dir/node.pids")" 2>/dev/null; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
kubectl_() { kubectl --kubeconfig "$dir/kubeconfig" "$@"; }

# Start "$@" in the background, logging to DIR/NAME.log, its pid recorded.
spawn() {
  local name="$1"; shift
  "$@" >"$dir/$name.log" 2>&1 &
  echo $! >> "$dir/node.pids"
}

wait_for() {
  local what="$1" log="$2" seconds="$3"; shift 3
  for _ in $(seq 1 $((seconds * 2))); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  [ -f "$log" ] && tail -n 15 "$log" >&2
  die "$what did not come up in ${seconds}s (log: $log)"
}

install_packages() {
  [ "$(id -u)" -eq 0 ] || die "needs root: containerd, kubelet and iptables change the host (run with sudo)"
  local missing=()
  command -v containerd >/dev/null || missing+=(containerd)
  command -v runc >/dev/null || missing+=(runc)
  [ -x /usr/lib/cni/bridge ] || missing+=(containernetworking-plugins)
  command -v iptables >/dev/null || missing+=(iptables)
  command -v conntrack >/dev/null || missing+=(conntrack)
  command -v docker-registry >/dev/null || missing+=(docker-registry)
  command -v skopeo >/dev/null || missing+=(skopeo)
  command -v gcc >/dev/null || missing+=(gcc libc6-dev)
  command -v kubectl >/dev/null || missing+=(kubernetes-client)
  command -v ip >/dev/null || missing+=(iproute2)
  command -v curl >/dev/null || missing+=(curl)
  command -v sysctl >/dev/null || missing+=(procps)
  if [ "${#missing[@]}" -gt 0 ]; then
    say "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
      || die "apt-get could not install ${missing[*]}"
  fi
  ./scripts/kube-test-server.sh build
}

# What `down` puts back: sysctls and which directories existed (the
# iptables chains the node adds are named KUBE-* and CNI-*).
record_host() {
  : > "$dir/host.sysctl"
  local key
  for key in "${sysctls[@]}"; do
    [ -e "/proc/sys/${key//.//}" ] && echo "$key=$(sysctl -n "$key")" >> "$dir/host.sysctl"
  done
  : > "$dir/host.dirs"
  for key in "${dirs[@]}"; do [ -e "$key" ] || echo "$key" >> "$dir/host.dirs"; done
}

pause_image() {
  local cache="${XDG_CACHE_HOME:-$HOME/.cache}/weft/node"
  if [ ! -f "$cache/pause.tar" ]; then
    mkdir -p "$cache"
    cat > "$cache/pause.c" <<'C'
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>
static void stop(int sig) { (void)sig; exit(0); }
int main(void) {
  signal(SIGTERM, stop);
  signal(SIGINT, stop);
  for (;;) pause();
}
C
    gcc -static -O2 -o "$cache/pause" "$cache/pause.c"
    python3 scripts/weft-image.py "$cache/pause.tar" --pause "$cache/pause" --tag registry.local/pause:3.2
  fi
  echo "$cache/pause.tar"
}

start_containerd() {
  mkdir -p "$dir/containerd/certs.d/127.0.0.1:$registry_port" "$dir/cni" "$run"
  cat > "$dir/containerd/certs.d/127.0.0.1:$registry_port/hosts.toml" <<TOML
server = "http://127.0.0.1:$registry_port"
[host."http://127.0.0.1:$registry_port"]
  capabilities = ["pull", "resolve"]
TOML
  cat > "$dir/containerd/config.toml" <<TOML
version = 2
root = "$dir/containerd/root"
state = "$run/containerd"
[grpc]
  address = "$run/containerd.sock"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "registry.local/pause:3.2"
  disable_apparmor = true
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "$dir/containerd/certs.d"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "$run/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$dir/cni"
TOML
  cat > "$dir/cni/10-weftnode.conflist" <<JSON
{"cniVersion": "0.4.0", "name": "weftnode", "plugins": [
  {"type": "bridge", "bridge": "$bridge", "isGateway": true, "ipMasq": true,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "$subnet"}]],
            "routes": [{"dst": "0.0.0.0/0"}], "dataDir": "$run/ipam"}},
  {"type": "portmap", "capabilities": {"portMappings": true}},
  {"type": "loopback"}]}
JSON
  spawn containerd containerd --config "$dir/containerd/config.toml"
  wait_for containerd "$dir/containerd.log" 30 ctr -a "$run/containerd.sock" version
  ctr -a "$run/containerd.sock" -n k8s.io images import "$(pause_image)" >/dev/null
}

# The bridge exists before the apiserver, which advertises its address.
make_bridge() {
  ip link show "$bridge" >/dev/null 2>&1 || ip link add "$bridge" type bridge
  ip addr show dev "$bridge" | grep -q "inet $gateway/" || ip addr add "$gateway/24" dev "$bridge"
  ip link set "$bridge" up
  sysctl -qw net.ipv4.ip_forward=1
}

start_registry() {
  mkdir -p "$dir/registry"
  cat > "$dir/registry/config.yml" <<YAML
version: 0.1
storage: { filesystem: { rootdirectory: $dir/registry/data }, delete: { enabled: true } }
http: { addr: 127.0.0.1:$registry_port }
YAML
  spawn registry docker-registry serve "$dir/registry/config.yml"
  wait_for "the registry" "$dir/registry.log" 20 curl -sf "http://127.0.0.1:$registry_port/v2/"
}

# The weft image from this checkout's release build: imported as weft:dev,
# pushed to the local registry as 127.0.0.1:PORT/weft:dev. It carries the
# test venv's ONNX Runtime (the onnx-model step's) when setup installed it.
load_image() {
  local port runtime
  port="$(cat "$dir/registry.port")"
  runtime=()
  for lib in .venv/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so.*; do
    [ -f "$lib" ] && runtime=(--onnxruntime "$lib")
  done
  python3 scripts/weft-image.py "$dir/weft-image.tar" --tag weft:dev --binary "$binary" "${runtime[@]}"
  ctr -a "$run/containerd.sock" -n k8s.io images import "$dir/weft-image.tar" >/dev/null
  skopeo copy --quiet --dest-tls-verify=false "docker-archive:$dir/weft-image.tar" \
    "docker://127.0.0.1:$port/weft:dev"
}

start_control_plane() {
  KUBE_ADVERTISE="$gateway" \
  KUBE_APISERVER_ARGS="--default-not-ready-toleration-seconds=20 --default-unreachable-toleration-seconds=20" \
  KUBE_CONTROLLERS='*' \
  KUBE_CONTROLLER_MANAGER_ARGS="--node-monitor-grace-period=20s --node-monitor-period=2s --cluster-name=weft-node" \
    ./scripts/kube-test-server.sh start "$dir/control" >/dev/null
  cp "$dir/control/kubeconfig" "$dir/kubeconfig"
  spawn scheduler "$bin/kube-scheduler" --kubeconfig "$dir/kubeconfig" --leader-elect=false \
    --port 0 --secure-port 0
}

start_kubelet() {
  local port healthz
  port="$(free_port)" healthz="$(free_port)"
  mkdir -p "$dir/kubelet"
  cat > "$dir/kubelet/config.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: cgroupfs
failSwapOn: false
address: 127.0.0.1
port: $port
healthzBindAddress: 127.0.0.1
healthzPort: $healthz
readOnlyPort: 0
authentication: { anonymous: { enabled: true }, webhook: { enabled: false } }
authorization: { mode: AlwaysAllow }
evictionHard: { memory.available: 100Mi, nodefs.available: 1%, imagefs.available: 1%, nodefs.inodesFree: 1% }
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
resolvConf: ""
clusterDomain: cluster.local
YAML
  echo "$healthz" > "$dir/kubelet.healthz"
  kubelet_start
  spawn kube-proxy "$bin/kube-proxy" --kubeconfig "$dir/kubeconfig" --hostname-override localhost \
    --proxy-mode iptables --cluster-cidr "$subnet" --conntrack-max-per-core 0 \
    --metrics-bind-address "127.0.0.1:$(free_port)" --healthz-bind-address "127.0.0.1:$(free_port)"
}

# The kubelet alone can stop and start again (a node that goes away).
kubelet_start() {
  "$bin/kubelet" --config "$dir/kubelet/config.yaml" --kubeconfig "$dir/kubeconfig" \
    --container-runtime=remote --container-runtime-endpoint="unix://$run/containerd.sock" \
    --root-dir "$dir/kubelet/root" --cert-dir "$dir/kubelet/pki" --hostname-override localhost \
    --pod-infra-container-image registry.local/pause:3.2 >>"$dir/kubelet.log" 2>&1 &
  echo $! > "$dir/kubelet.pid"
  echo $! >> "$dir/node.pids"
}

kubelet_stop() {
  [ -f "$dir/kubelet.pid" ] || return 0
  local pid
  pid="$(cat "$dir/kubelet.pid")"
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  rm -f "$dir/kubelet.pid"
}

# The node Ready, the default ServiceAccount made, a PersistentVolume for data.
settle() {
  wait_for "the node (kubelet)" "$dir/kubelet.log" 90 \
    sh -c "kubectl --kubeconfig '$dir/kubeconfig' get node localhost -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status}' | grep -qx True"
  wait_for "the default ServiceAccount" "$dir/control/controller-manager.log" 60 \
    kubectl --kubeconfig "$dir/kubeconfig" get serviceaccount default
  mkdir -p "$dir/volume"
  chmod 0777 "$dir/volume"
  kubectl_ apply -f - >/dev/null <<YAML
apiVersion: v1
kind: PersistentVolume
metadata: { name: weft-data, labels: { weft.dev/node-volume: "true" } }
spec:
  capacity: { storage: 10Gi }
  accessModes: [ReadWriteOnce, ReadWriteMany]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: weft-local
  hostPath: { path: $dir/volume, type: Directory }
YAML
}

up() {
  if alive; then
    say "already up"
    echo "$dir/kubeconfig"
    return
  fi
  install_packages
  [ -x "$binary" ] || die "no weft binary at $binary: build it first (cargo build --release -p weft), or name one in WEFT_BINARY"
  [ -d "$dir" ] && down_quietly
  mkdir -p "$dir"
  record_host
  registry_port="$(free_port)"
  echo "$registry_port" > "$dir/registry.port"
  make_bridge
  start_registry
  start_containerd
  load_image
  start_control_plane
  start_kubelet
  settle
  say "up: $(kubectl_ get node localhost --no-headers 2>/dev/null | tr -s ' '); images weft:dev and 127.0.0.1:$registry_port/weft:dev"
  echo "$dir/kubeconfig"
}

stop_pids() {
  [ -f "$dir/node.pids" ] || return 0
  tac "$dir/node.pids" | while read -r pid; do kill "$pid" 2>/dev/null || true; done
  for _ in $(seq 1 20); do
    local left=0
    while read -r pid; do kill -0 "$pid" 2>/dev/null && left=1; done < "$dir/node.pids"
    [ "$left" = 0 ] && break
    sleep 0.25
  done
  while read -r pid; do kill -9 "$pid" 2>/dev/null || true; done < "$dir/node.pids"
  rm -f "$dir/node.pids"
}

# Containers, shims, mounts and network namespaces the node left.
stop_containers() {
  local ns id
  for ns in "$run"/runc/*/; do
    [ -d "$ns" ] || continue
    for id in $(runc --root "$ns" list -q 2>/dev/null); do
      runc --root "$ns" kill -a "$id" KILL 2>/dev/null || true
      runc --root "$ns" delete -f "$id" 2>/dev/null || true
    done
  done
  pkill -KILL -f "containerd-shim-runc-v2 .*-address $run/containerd.sock" 2>/dev/null || true
  awk -v d="$dir/" -v r="$run/" '$2 ~ "^(" d "|" r "|/run/netns/cni-)" {print $2}' /proc/mounts \
    | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
  rm -f /run/netns/cni-*
}

restore_host() {
  local save
  for save in iptables-save ip6tables-save; do
    command -v "$save" >/dev/null || continue
    { "$save" | grep -v -E -- '(KUBE-|CNI-)' || true; } | "${save%-save}-restore"
  done
  ip link del "$bridge" 2>/dev/null || true
  if [ -f "$dir/host.sysctl" ]; then
    while IFS= read -r line; do sysctl -qw "$line" || say "could not restore $line"; done < "$dir/host.sysctl"
  fi
  if [ -f "$dir/host.dirs" ]; then
    while IFS= read -r made; do rm -rf "$made"; done < "$dir/host.dirs"
  fi
  local top
  for top in /sys/fs/cgroup/*/; do
    for group in kubepods k8s.io; do
      [ -d "$top$group" ] && find "$top$group" -depth -type d -exec rmdir {} + 2>/dev/null || true
    done
  done
  rm -rf "$run"
}

down_quietly() {
  stop_pids
  [ -f "$dir/control/pids" ] && cat "$dir/control/pids" >> "$dir/node.pids"
  ./scripts/kube-test-server.sh stop "$dir/control"
  stop_pids
  stop_containers
  restore_host
  rm -rf "$dir"
}

down() {
  if [ ! -d "$dir" ]; then
    say "nothing to stop in $dir"
    return
  fi
  [ "$(id -u)" -eq 0 ] || die "needs root to stop the node (run with sudo)"
  down_quietly
  say "down: processes stopped, sysctls, iptables and directories restored"
}

case "$command" in
  up) up ;;
  kubelet)
    alive || die "the node is not up: run $0 up"
    case "${action:-}" in
      stop) kubelet_stop; say "kubelet stopped" ;;
      start) [ -f "$dir/kubelet.pid" ] || kubelet_start; say "kubelet started" ;;
      *) die "usage: $0 kubelet stop|start [DIR]" ;;
    esac ;;
  down) down ;;
  image) alive || die "the node is not up: run $0 up"; load_image; say "reloaded weft:dev" ;;
  *) echo "usage: $0 up [DIR] | down [DIR] | image [DIR] | kubelet stop|start [DIR]" >&2; exit 2 ;;
esac
