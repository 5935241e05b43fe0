# syntax=docker/dockerfile:1
# The weft image: the `weft` binary and the reference plugins, on Debian with
# the Vulkan loader so wgpu finds a GPU. Build from the repository root:
#
#   docker build -t weft:0.1.0 .
#
# On NVIDIA nodes the NVIDIA container runtime injects the driver and its
# Vulkan ICD, because NVIDIA_DRIVER_CAPABILITIES below asks for `graphics`.
# `--build-arg LAVAPIPE=1` adds Mesa's CPU Vulkan driver (for trying the GPU
# path without a GPU; about 100 MB more). ONNX Runtime (the `onnx-model`
# step's runtime, docs/models.md) comes from the PyPI wheel, into
# /usr/local/lib (the binary's ../lib, where weft looks for it) linked as
# libonnxruntime.so; `--build-arg ONNXRUNTIME=` leaves it out (33 MiB less).

ARG RUST_VERSION=1.95
ARG ONNXRUNTIME=1.32.0

FROM python:3.11-slim-bookworm AS onnxruntime
ARG ONNXRUNTIME
RUN mkdir -p /out \
 && if [ -n "$ONNXRUNTIME" ]; then \
      pip download --quiet --no-deps --only-binary :all: --dest /wheel "onnxruntime==$ONNXRUNTIME" \
      && python -m zipfile -e /wheel/*.whl /unpacked \
      && cp /unpacked/onnxruntime/capi/libonnxruntime.so.* /out/ \
      && ln -s "$(basename /out/libonnxruntime.so.*)" /out/libonnxruntime.so; \
    fi

FROM rust:${RUST_VERSION}-bookworm AS build
RUN rustup target add wasm32-wasip2
WORKDIR /src
COPY . .
RUN cargo build --locked --release -p weft \
 && packages="$(for dir in plugins/*/; do printf -- '-p %s ' "$(basename "$dir")"; done)" \
 && cargo build --locked --release --target wasm32-wasip2 $packages \
 && mkdir -p /out/plugins \
 && cp target/release/weft /out/weft \
 && for dir in plugins/*/; do \
      cp "target/wasm32-wasip2/release/$(basename "$dir" | tr - _).wasm" /out/plugins/; \
    done

FROM debian:bookworm-slim
ARG LAVAPIPE=0
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libvulkan1 \
 && if [ "$LAVAPIPE" = 1 ]; then apt-get install -y --no-install-recommends mesa-vulkan-drivers; fi \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 65532 weft \
 && useradd --uid 65532 --gid 65532 --no-create-home --home-dir /tmp --shell /usr/sbin/nologin weft
COPY --from=build /out/weft /usr/local/bin/weft
COPY --from=build /out/plugins/ /opt/weft/plugins/
COPY --from=onnxruntime /out/ /usr/local/lib/
# The compile cache goes to /tmp: the root filesystem is read-only in the chart.
ENV WEFT_CACHE_DIR=/tmp/weft-cache \
    HOME=/tmp \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility,graphics
USER 65532:65532
WORKDIR /tmp
ENTRYPOINT ["/usr/local/bin/weft"]
CMD ["--help"]
