#!/usr/bin/env bash
# Runs every test: installs what is missing, then the native C++ suite (CTest), the type check,
# and the node:test suites (core ABI, backend template, end-to-end through Miniflare, deployment).
set -euo pipefail
cd "$(dirname "$0")/.."
export WRANGLER_SEND_METRICS=false

scripts/setup.sh

echo "== C++ core: native build and CTest"
scripts/build-native.sh

echo "== TypeScript: tsc --noEmit"
npx tsc --noEmit -p .

echo "== node:test suites"
mapfile -t suites < <(find tests -name '*.test.mjs' -not -path '*/node_modules/*' | sort)
node --test --test-concurrency=2 "${suites[@]}"
