#!/usr/bin/env bash
# Builds the routing core to one standalone Wasm module: build/wasm/router.wasm.
# Idempotent: a second run with nothing changed only checks timestamps.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="$root/build/wasm"

for tool in emcmake emcc cmake wasm-opt; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "build-wasm: '$tool' not found. Install the toolchain first (Debian: apt-get install emscripten binaryen cmake nlohmann-json3-dev), e.g. with the project's setup script." >&2
    exit 1
  fi
done

if [ ! -f "$build/CMakeCache.txt" ]; then
  # emcmake adds an emulator flag Node 20 rejects unless one is given.
  emcmake cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=MinSizeRel -DCMAKE_CROSSCOMPILING_EMULATOR=node >/dev/null
fi
cmake --build "$build" --target router_wasm -j "${JOBS:-2}"
test -f "$build/router.wasm" || { echo "build-wasm: $build/router.wasm was not produced" >&2; exit 1; }
echo "build-wasm: $build/router.wasm ($(wc -c <"$build/router.wasm") bytes, $(gzip -9 -c "$build/router.wasm" | wc -c) gzipped)"
