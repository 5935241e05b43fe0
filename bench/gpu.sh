#!/usr/bin/env bash
# GPU benchmark: one Markdown table of matmul GFLOP/s (1024/4096/8192) and
# column-stats GB/s of weft's compute backend on the GPU, against its CPU
# fallback, torch fp32 on the same GPU (when python3 has torch with CUDA) and
# the device's host->device->host copy bandwidth. Bounded to under 5 minutes.
#
#   bench/gpu.sh [--quick] [--build] [--out FILE]
#
#   --quick     small sizes, on whatever Vulkan adapter exists (lavapipe too)
#   --build     run `cargo build --release -p weft-gpu-bench` first
#   --out FILE  also write the table to FILE
#
# Builds nothing when target/release/weft-gpu-bench exists (it may be stale:
# --build rebuilds). To run on a GPU machine without a toolchain, build here
# and copy the repository with that one file (it needs only glibc and, at run
# time, the Vulkan loader). A missing binary is built when cargo is present.
#
# The Vulkan driver is found like this, each step overridable:
#   - loader: libvulkan.so.1 from WEFT_VULKAN_LOADER (a file, whose folder is
#     put on LD_LIBRARY_PATH), else `ldconfig -p`, else the usual lib folders;
#   - driver: VK_DRIVER_FILES or VK_ICD_FILENAMES as set by the caller; else
#     the NVIDIA ICD manifest (nvidia_icd*.json in the Vulkan icd.d folders),
#     exported as VK_DRIVER_FILES (and VK_ICD_FILENAMES, for older loaders);
#     else, when the driver's libGLX_nvidia.so.0 is installed without a
#     manifest, one written to a temporary folder; else whatever the loader
#     finds (fine for --quick; the full run refuses a software adapter).
# WEFT_GPU_BENCH_BIN runs another build of the binary (the tests use it).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="${WEFT_GPU_BENCH_BIN:-$root/target/release/weft-gpu-bench}"
budget=290 # seconds for everything after argument parsing

say() { echo "gpu.sh: $*" >&2; }
die() {
  say "$*"
  exit 1
}

quick=0
build=0
args=()
while (($#)); do
  case "$1" in
    --quick)
      quick=1
      args+=(--quick)
      ;;
    --build) build=1 ;;
    --out)
      (($# >= 2)) || die "--out needs a file"
      args+=(--out "$2")
      shift
      ;;
    -h | --help)
      sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
      exit 0
      ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
  shift
done
SECONDS=0

# The benchmark binary: prebuilt, or built when asked for or missing.
ensure_binary() {
  local command=(cargo build --release -p weft-gpu-bench)
  if ((build == 0)) && [[ -x $bin ]]; then
    return
  fi
  [[ -z ${WEFT_GPU_BENCH_BIN:-} ]] || die "WEFT_GPU_BENCH_BIN=$bin is not an executable"
  command -v cargo >/dev/null ||
    die "no $bin and no cargo here: run \`${command[*]}\` on a machine with Rust and copy target/release/weft-gpu-bench here"
  say "building: ${command[*]}"
  (cd "$root" && "${command[@]}")
}

# Lines of `ldconfig -p` naming the library $1: its paths.
ldconfig_paths() {
  local ldconfig
  ldconfig="$(command -v ldconfig || echo /sbin/ldconfig)"
  [[ -x $ldconfig ]] || return 0
  "$ldconfig" -p 2>/dev/null | awk -v lib="$1" '$1 == lib { print $NF }'
}

# Where the Vulkan loader is; puts a non-standard one on LD_LIBRARY_PATH.
find_loader() {
  if [[ -n ${WEFT_VULKAN_LOADER:-} ]]; then
    [[ -f $WEFT_VULKAN_LOADER ]] || die "WEFT_VULKAN_LOADER=$WEFT_VULKAN_LOADER is not a file"
    export LD_LIBRARY_PATH="$(dirname "$WEFT_VULKAN_LOADER")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    say "Vulkan loader: $WEFT_VULKAN_LOADER (WEFT_VULKAN_LOADER)"
    return
  fi
  local found dir
  found="$(ldconfig_paths libvulkan.so.1 | head -n 1)"
  for dir in /usr/lib/x86_64-linux-gnu /usr/lib/aarch64-linux-gnu /usr/lib64 /usr/lib /usr/local/lib /lib/x86_64-linux-gnu; do
    [[ -n $found ]] && break
    [[ -e $dir/libvulkan.so.1 ]] && found="$dir/libvulkan.so.1"
  done
  [[ -n $found ]] || die "no Vulkan loader (libvulkan.so.1): install it (Debian/Ubuntu: apt-get install libvulkan1) or set WEFT_VULKAN_LOADER=/path/to/libvulkan.so.1"
  say "Vulkan loader: $found"
}

# The NVIDIA ICD manifests in the folders the loader searches.
nvidia_manifests() {
  local dirs=() dir
  IFS=: read -r -a dirs <<<"${XDG_CONFIG_DIRS:-/etc/xdg}:/etc:${XDG_DATA_DIRS:-/usr/local/share:/usr/share}"
  for dir in "${dirs[@]}" /usr/share /usr/local/share /etc; do
    compgen -G "$dir/vulkan/icd.d/nvidia_icd*.json" || true
  done | awk '!seen[$0]++'
}

# Warn when the library the manifest $1 names cannot be loaded.
check_manifest_library() {
  local library
  library="$(sed -n 's/.*"library_path"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' "$1" | head -n 1)"
  if [[ $library == /* ]]; then
    [[ -e $library ]] && return
  elif [[ -n $library ]]; then
    [[ -n "$(ldconfig_paths "$library")" ]] && return
  fi
  say "warning: $1 names ${library:-no library_path}, which is not installed; in a container, expose the driver's graphics libraries (NVIDIA_DRIVER_CAPABILITIES=all)"
}

# Point the loader at the NVIDIA driver unless the caller already chose.
choose_driver() {
  if [[ -n ${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-} ]]; then
    say "Vulkan driver as set: VK_DRIVER_FILES=${VK_DRIVER_FILES:-} VK_ICD_FILENAMES=${VK_ICD_FILENAMES:-}"
    return
  fi
  local manifest
  manifest="$(nvidia_manifests | head -n 1)"
  if [[ -z $manifest && -n "$(ldconfig_paths libGLX_nvidia.so.0)" ]]; then
    scratch="$(mktemp -d)"
    trap 'rm -rf "$scratch"' EXIT
    manifest="$scratch/nvidia_icd.json"
    printf '{"file_format_version": "1.0.0", "ICD": {"library_path": "libGLX_nvidia.so.0", "api_version": "1.3.0"}}\n' >"$manifest"
    say "no NVIDIA ICD manifest, but libGLX_nvidia.so.0 is installed: wrote $manifest"
  fi
  if [[ -z $manifest ]]; then
    local what="no NVIDIA Vulkan driver (nvidia_icd.json or libGLX_nvidia.so.0) found"
    if ((quick == 0)); then
      what="warning: $what"
    fi
    say "$what; using whatever adapter the Vulkan loader finds"
    return
  fi
  check_manifest_library "$manifest"
  export VK_DRIVER_FILES="$manifest" VK_ICD_FILENAMES="$manifest"
  say "Vulkan driver: VK_DRIVER_FILES=$manifest"
}

# torch fp32 matmul GFLOP/s at the sizes $@ on CUDA, as N=RESIDENT:WITH_COPIES,...
torch_gflops() {
  timeout 90 python3 - "$@" <<'PY'
import statistics, sys, time
import torch

torch.backends.cuda.matmul.allow_tf32 = False
torch.set_float32_matmul_precision("highest")
print(f"gpu.sh: torch {torch.__version__} on {torch.cuda.get_device_name(0)}", file=sys.stderr)

def seconds(f, reps=3):
    f()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        f()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)

rates = []
for n in map(int, sys.argv[1:]):
    a, b = torch.rand(n, n), torch.rand(n, n)
    da, db = a.cuda(), b.cuda()
    flop = 2 * n**3
    resident = seconds(lambda: da @ db)
    copies = seconds(lambda: (a.cuda() @ b.cuda()).cpu())
    rates.append(f"{n}={flop / resident / 1e9:.1f}:{flop / copies / 1e9:.1f}")
print(",".join(rates))
PY
}

# Add --torch-gflops when python3 has torch with CUDA.
add_torch() {
  local sizes=(1024 4096 8192) figures
  if ((quick)); then
    sizes=(64 256 512)
  fi
  if ! command -v python3 >/dev/null ||
    ! timeout 60 python3 -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
    say "no python3 with torch and CUDA: the torch column says n/a"
    return
  fi
  if figures="$(torch_gflops "${sizes[@]}")"; then
    args+=(--torch-gflops "$figures")
  else
    say "warning: timing torch failed; the torch column says n/a"
  fi
}

ensure_binary
SECONDS=0
find_loader
choose_driver
add_torch
left=$((budget - SECONDS))
((left > 30)) || die "no time left for the benchmark after the torch timings"
timeout "$left" "$bin" "${args[@]}"
