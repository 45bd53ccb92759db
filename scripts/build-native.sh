#!/usr/bin/env bash
# Builds the routing core natively (g++) into build/native and runs its GoogleTest suite via CTest.
# Extra arguments go to ctest (e.g. -R Balancer).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="$root/build/native"

for tool in cmake g++; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "build-native: '$tool' not found. Install it first (Debian: apt-get install cmake g++ libgtest-dev nlohmann-json3-dev), e.g. with the project's setup script." >&2
    exit 1
  fi
done

if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$build" -j "${JOBS:-2}"
ctest --test-dir "$build" --output-on-failure -j "${JOBS:-2}" "$@"
