#!/usr/bin/env bash
# Runs every test: installs what is missing, then the native C++ suite (CTest), the type check,
# the node:test suites (core ABI, backend template, end to end through Miniflare, faults, security,
# load, deployment) and a short fuzzing campaign (FUZZ_SECONDS per target, default 60).
set -euo pipefail
cd "$(dirname "$0")/.."
export WRANGLER_SEND_METRICS=false

scripts/setup.sh

echo "== C++ core: native build and CTest"
scripts/build-native.sh

echo "== TypeScript: tsc --noEmit"
npx tsc --noEmit -p .
npx tsc --noEmit -p bench

echo "== node:test suites: core ABI, backend template, end to end, faults, security, load, deployment"
mapfile -t suites < <(find tests -name '*.test.mjs' -not -path 'tests/fuzz/*' | sort)
node --test --test-concurrency=2 "${suites[@]}"

# The deploy gate (cf-deploy.yml) stops here: fuzzing stays in CI, out of the deploy path.
if [ "${SKIP_FUZZ:-0}" = 1 ]; then echo "== fuzzing skipped (SKIP_FUZZ=1)"; exit 0; fi

# Last and alone: the fuzzers take a core each, and timing-sensitive suites must not share with them.
echo "== fuzzing: every libFuzzer target for ${FUZZ_SECONDS:-60} s (scripts/fuzz.sh)"
node --test tests/fuzz/
