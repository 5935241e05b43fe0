#!/usr/bin/env python3
"""Write the weft image as a docker-archive tar without Docker or any base
image: the image the Dockerfile describes (same paths, user, entrypoint and
environment), made from what this checkout's build produced.

    scripts/weft-image.py OUT.tar [--tag weft:dev] [--binary target/release/weft]
                          [--plugins target/wasm32-wasip2/release]
                          [--onnxruntime .venv/.../libonnxruntime.so.1.32.0]
    scripts/weft-image.py OUT.tar --pause PROGRAM --tag registry.local/pause:3.2

Layer: the `weft` binary at /usr/local/bin, every plugin under plugins/ at
/opt/weft/plugins, the shared libraries the binary links (as `ldd` lists
them) and the Vulkan loader it opens at run time when the machine has one,
the CA bundle, /etc/passwd and /etc/group with the user 65532, and /tmp;
with --onnxruntime, that library (the onnx-model step's runtime) in
/usr/local/lib under its own name (which says its version), linked as
libonnxruntime.so, where weft finds it, with the libraries it links, as
the Dockerfile's image has it.
`ctr -n k8s.io images import OUT.tar` makes it `docker.io/library/<tag>`;
`skopeo copy docker-archive:OUT.tar docker://REGISTRY/<tag>` pushes it.
With --pause, the image is only the static PROGRAM at /pause: the sandbox
image of a node that pulls nothing from outside.
"""

import argparse
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
UID = 65532
ENV = [
    "PATH=/usr/local/bin:/usr/bin:/bin",
    "WEFT_CACHE_DIR=/tmp/weft-cache",
    "HOME=/tmp",
    "NVIDIA_DRIVER_CAPABILITIES=compute,utility,graphics",
]
OPTIONAL = ["/usr/lib/x86_64-linux-gnu/libvulkan.so.1", "/etc/ssl/certs/ca-certificates.crt"]


def fail(message):
    sys.exit(f"weft-image: {message}")


def libraries(binary, extra=()):
    """The absolute paths `ldd` resolves for `binary`, the optional run-time
    libraries present here and `extra`."""
    found = []
    optional = [p for p in OPTIONAL if p.endswith(".so.1") and os.path.exists(p)]
    for target in [binary, *optional, *extra]:
        out = subprocess.run(["ldd", target], capture_output=True, text=True)
        if out.returncode != 0:
            fail(f"ldd {target}: {out.stderr.strip() or out.stdout.strip()}")
        for line in out.stdout.splitlines():
            if "not found" in line:
                fail(f"{target} needs a library this machine lacks: {line.strip()}")
            match = re.search(r"(/\S+)", line.split("=>")[-1])
            if match and match.group(1) not in found:
                found.append(match.group(1))
    return found


def plugins(folder):
    names = sorted(d for d in os.listdir(os.path.join(ROOT, "plugins"))
                   if os.path.isdir(os.path.join(ROOT, "plugins", d)))
    files = []
    for name in names:
        wasm = os.path.join(folder, name.replace("-", "_") + ".wasm")
        if not os.path.exists(wasm):
            fail(f"plugin {name} is not built ({wasm} is missing): run "
                 "cargo build --release --target wasm32-wasip2 -p " + name)
        files.append(wasm)
    return files


class Layer:
    """An uncompressed tar of a root filesystem, written in memory."""

    def __init__(self):
        self.buffer = io.BytesIO()
        self.tar = tarfile.open(fileobj=self.buffer, mode="w", format=tarfile.PAX_FORMAT)
        self.dirs = set()

    def _info(self, path, kind, mode, size=0, owner=0):
        info = tarfile.TarInfo(path.lstrip("/"))
        info.type, info.mode, info.size = kind, mode, size
        info.uid = info.gid = owner
        info.mtime = 0
        return info

    def mkdir(self, path, mode=0o755):
        parts = [p for p in path.strip("/").split("/") if p]
        for i in range(1, len(parts) + 1):
            sub = "/".join(parts[:i])
            if sub not in self.dirs:
                self.dirs.add(sub)
                self.tar.addfile(self._info(sub, tarfile.DIRTYPE, mode if i == len(parts) else 0o755))

    def file(self, path, data, mode=0o644):
        self.mkdir(os.path.dirname(path))
        self.tar.addfile(self._info(path, tarfile.REGTYPE, mode, len(data)), io.BytesIO(data))

    def copy(self, source, path=None):
        """`source` at `path` (default: the same path); a link is followed
        and also kept as a link where its name differs."""
        path = path or source
        real = os.path.realpath(source)
        with open(real, "rb") as f:
            data = f.read()
        mode = os.stat(real).st_mode & 0o777
        if path == source and real != source:
            self.file(real, data, mode)
            self.link(path, os.path.relpath(real, os.path.dirname(path)))
        else:
            self.file(path, data, mode)

    def link(self, path, target):
        """A symbolic link at `path` to `target`."""
        self.mkdir(os.path.dirname(path))
        link = self._info(path, tarfile.SYMTYPE, 0o777)
        link.linkname = target
        self.tar.addfile(link)

    def bytes(self):
        self.tar.close()
        return self.buffer.getvalue()


def stripped(binary, scratch):
    """A copy of `binary` without debug sections (a debug build's are most
    of its size), where binutils' `strip` is installed; else `binary`."""
    copy = os.path.join(scratch, "weft")
    if not shutil.which("strip"):
        return binary
    done = subprocess.run(["strip", "--strip-debug", "-o", copy, binary], capture_output=True)
    return binary if done.returncode else copy


def build_layer(binary, plugin_dir, onnxruntime=None):
    layer = Layer()
    layer.mkdir("/tmp", 0o1777)
    with tempfile.TemporaryDirectory() as scratch:
        layer.copy(stripped(binary, scratch), "/usr/local/bin/weft")
    for wasm in plugins(plugin_dir):
        layer.copy(wasm, "/opt/weft/plugins/" + os.path.basename(wasm))
    extra = [onnxruntime] if onnxruntime else []
    for lib in libraries(binary, extra):
        layer.copy(lib)
    if onnxruntime:
        name = os.path.basename(onnxruntime)
        layer.copy(onnxruntime, "/usr/local/lib/" + name)
        layer.link("/usr/local/lib/libonnxruntime.so", name)
    for extra in OPTIONAL:
        if os.path.exists(extra):
            layer.copy(extra)
    layer.file("/etc/passwd", f"root:x:0:0:root:/root:/usr/sbin/nologin\n"
                              f"weft:x:{UID}:{UID}::/tmp:/usr/sbin/nologin\n".encode())
    layer.file("/etc/group", f"root:x:0:\nweft:x:{UID}:\n".encode())
    return layer.bytes()


def pause_layer(program):
    layer = Layer()
    layer.copy(program, "/pause")
    return layer.bytes()


def write_archive(out, tag, layer, entrypoint, user, env):
    diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
    config = {
        "architecture": "amd64",
        "os": "linux",
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "config": {
            "User": user,
            "Env": env,
            "Entrypoint": entrypoint[:1],
            "Cmd": entrypoint[1:],
            "WorkingDir": "/tmp",
            "Labels": {"org.opencontainers.image.source": "weft (scripts/weft-image.py)"},
        },
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created_by": "scripts/weft-image.py"}],
    }
    config_bytes = json.dumps(config, sort_keys=True).encode()
    config_name = hashlib.sha256(config_bytes).hexdigest() + ".json"
    manifest = [{"Config": config_name, "RepoTags": [tag], "Layers": ["layer.tar"]}]
    tmp = out + ".tmp"
    with tarfile.open(tmp, "w") as archive:
        for name, data in [("layer.tar", layer), (config_name, config_bytes),
                           ("manifest.json", json.dumps(manifest).encode())]:
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            archive.addfile(info, io.BytesIO(data))
    os.replace(tmp, out)
    return diff_id


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", help="the docker-archive tar to write")
    parser.add_argument("--tag", default="weft:dev")
    parser.add_argument("--binary", default=os.path.join(ROOT, "target/release/weft"))
    parser.add_argument("--plugins", default=os.path.join(ROOT, "target/wasm32-wasip2/release"))
    parser.add_argument("--onnxruntime", metavar="LIB", help="libonnxruntime.so to carry (from the onnxruntime wheel)")
    parser.add_argument("--pause", metavar="PROGRAM", help="write a pause image of PROGRAM instead")
    args = parser.parse_args()
    if args.pause:
        layer = pause_layer(args.pause)
        diff_id = write_archive(args.out, args.tag, layer, ["/pause"], "0:0", [])
    else:
        if not os.access(args.binary, os.X_OK):
            fail(f"no weft binary at {args.binary}: run cargo build --release -p weft")
        layer = build_layer(args.binary, args.plugins, args.onnxruntime)
        entrypoint = ["/usr/local/bin/weft", "--help"]
        diff_id = write_archive(args.out, args.tag, layer, entrypoint, f"{UID}:{UID}", ENV)
    print(f"weft-image: {args.tag} ({len(layer) >> 20} MiB, layer {diff_id[:19]}) -> {args.out}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
