#!/usr/bin/env bash
# Installs whatever is missing for building, running and testing the router, then builds the Wasm core.
# Safe to run again: each step is skipped when already satisfied. Used by scripts/dev.sh and scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages: the C++ toolchain, Emscripten (3.1.6 on Debian 12), nlohmann/json, GoogleTest,
# Google Benchmark, binaryen (wasm-opt), clang (fuzzing), wrk (benchmarks) and chromium (the
# status page's browser test, tests/e2e/dashboard.test.mjs).
apt_packages=(cmake g++ make emscripten binaryen nlohmann-json3-dev libgtest-dev libbenchmark-dev clang-14 libclang-rt-14-dev wrk chromium)
missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Node dependencies, pinned by package-lock.json; reinstalled only when the lock file changed.
stamp=node_modules/.package-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
fi

# The routing core as Wasm (incremental: fast when nothing changed).
scripts/build-wasm.sh
