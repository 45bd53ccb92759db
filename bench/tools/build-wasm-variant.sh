#!/usr/bin/env bash
# Builds router.wasm exactly as scripts/build-wasm.sh does (same CMakeLists.txt), except for
# compiler flags: every compile and link command gets -Oz replaced by OPT (when given) and
# EXTRA appended last (so it wins). For comparing speed and size of flag choices.
#   bench/tools/build-wasm-variant.sh NAME "EXTRA" [OPT] [--keep-names]
#   e.g. bench/tools/build-wasm-variant.sh inline "-sINLINING_LIMIT=0 -D_LIBCPP_DISABLE_EXTERN_TEMPLATE"
# Output: build/bench-variants/NAME/router.wasm (--keep-names: a name section, for profiles).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
name="$1"; extra="${2:-}"; opt="${3:-}"; keep="${4:-}"
build="$root/build/bench-variants/$name"
mkdir -p "$build"
printf '%s\n%s\n' "$opt" "$extra" >"$build/flags"
launcher="$root/bench/tools/with-flags.sh;$build/flags"
wasm_opt=wasm-opt
extra_link=""
if [ "$keep" = "--keep-names" ]; then wasm_opt=/bin/true; extra_link="--profiling-funcs"; fi
if [ ! -f "$build/CMakeCache.txt" ]; then
  emcmake cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=MinSizeRel -DCMAKE_CROSSCOMPILING_EMULATOR=node \
    "-DCMAKE_CXX_COMPILER_LAUNCHER=$launcher" "-DCMAKE_CXX_LINKER_LAUNCHER=$launcher" \
    "-DWASM_OPT=$(command -v $wasm_opt)" "-DCMAKE_EXE_LINKER_FLAGS=$extra_link" >/dev/null
fi
cmake --build "$build" --target router_wasm -j "${JOBS:-2}" >/dev/null
echo "$name: $(wc -c <"$build/router.wasm") bytes, $(gzip -9 -c "$build/router.wasm" | wc -c) gzipped"
