#!/usr/bin/env bash
# Builds the libFuzzer targets of cpp/fuzz into build/fuzz (incremental) and runs each one for a
# while, one after another with a single worker (the machine has 2 cores).
#   scripts/fuzz.sh [seconds-per-target] [target...] [--merge]
#   scripts/fuzz.sh            # 60 s per target, every target
#   scripts/fuzz.sh 3600       # a long campaign
#   scripts/fuzz.sh 30 fuzz_router_config
# Each run fuzzes a scratch copy of cpp/fuzz/corpus/<target> (build/fuzz/work/<target>); with
# --merge the inputs that add coverage are merged back into the repo's corpus afterwards.
# Prints per target: executions, exec/s, crashes. A crashing input is kept in build/fuzz/crashes/
# (and printed in base64, for CI logs) and the script exits non-zero. Full libFuzzer output: build/fuzz/logs/<target>.log.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="$root/build/fuzz"
all_targets=(fuzz_request_validator fuzz_router_config fuzz_exchange_events fuzz_control_plane)

seconds=60
merge=0
targets=()
for arg in "$@"; do
  case "$arg" in
    --merge) merge=1 ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *[!0-9]*)
      if [[ " ${all_targets[*]} " != *" $arg "* ]]; then
        echo "fuzz.sh: unknown target '$arg' (targets: ${all_targets[*]})" >&2
        exit 2
      fi
      targets+=("$arg") ;;
    *) seconds="$arg" ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")
if [ "$seconds" -lt 1 ]; then
  echo "fuzz.sh: seconds per target must be at least 1" >&2
  exit 2
fi

cxx="${FUZZ_CXX:-clang++-14}"
if ! command -v "$cxx" >/dev/null 2>&1; then
  echo "fuzz.sh: '$cxx' not found. Install clang (Debian: apt-get install clang-14 libclang-rt-14-dev, as scripts/setup.sh does) or set FUZZ_CXX." >&2
  exit 1
fi

echo "== fuzz: building ${targets[*]} with $cxx into build/fuzz"
build_start=$SECONDS
# Configured every time (cheap): a target added since build/fuzz was made must be known to make.
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$root/cpp/fuzz" -B "$build" -DCMAKE_CXX_COMPILER="$cxx" >/dev/null
else
  cmake "$build" >/dev/null
fi
cmake --build "$build" -j "${JOBS:-2}" --target "${targets[@]}" >"$build/build.log" 2>&1 || {
  cat "$build/build.log" >&2
  echo "fuzz.sh: build failed" >&2
  exit 1
}
echo "build: $((SECONDS - build_start)) s"

mkdir -p "$build/crashes" "$build/logs" "$build/work"
# Sanitizer reports must stop the run and say where; leaks count as crashes.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:symbolize=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

failed=0
for target in "${targets[@]}"; do
  seeds="$root/cpp/fuzz/corpus/$target"
  work="$build/work/$target"
  log="$build/logs/$target.log"
  rm -rf "$work"
  mkdir -p "$work"
  [ -d "$seeds" ] && cp -R "$seeds/." "$work/"
  options=(-max_total_time="$seconds" -timeout=25 -rss_limit_mb=2048 -max_len=4096 -print_final_stats=1
           -artifact_prefix="$build/crashes/$target-")
  dict="$root/cpp/fuzz/dict/$target.dict"
  [ -f "$dict" ] && options+=(-dict="$dict")

  before=$(find "$build/crashes" -name "$target-*" -type f | wc -l)
  status=0
  "$build/$target" "${options[@]}" "$work" >"$log" 2>&1 || status=$?
  after=$(find "$build/crashes" -name "$target-*" -type f | wc -l)
  crashes=$((after - before))
  [ "$status" -ne 0 ] && [ "$crashes" -eq 0 ] && crashes=1  # died without writing an input

  executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  corpus=$(find "$work" -type f | wc -l)
  echo "$target: ${executions:-0} executions, ${rate:-0} exec/s, $crashes crashes, corpus $corpus inputs (${seconds} s)"

  if [ "$crashes" -ne 0 ]; then
    failed=1
    echo "---- $target crashed (exit $status)" >&2
    # The input and the violated invariant first: CI logs may be cut short.
    input=$(sed -n 's/.*Test unit written to //p' "$log" | tail -1)
    if [ -n "$input" ] && [ -f "$input" ]; then
      echo "crashing input: $input ($(wc -c <"$input") bytes), base64: $(base64 -w0 "$input")" >&2
    fi
    grep -A3 -m1 '^==== invariant violated' "$log" >&2 || true
    echo "---- the end of $log:" >&2
    grep -v -E '^#[0-9]+|^\s+NEW_FUNC|^"' "$log" | tail -40 >&2
    echo "reproduce: $build/$target <crashing input>   (FUZZ_TRACE=1 prints the events of fuzz_exchange_events)" >&2
  elif [ "$merge" -eq 1 ]; then
    mkdir -p "$seeds"
    "$build/$target" -merge=1 -max_len=4096 "$seeds" "$work" >>"$log" 2>&1
    echo "$target: merged into cpp/fuzz/corpus/$target ($(find "$seeds" -type f | wc -l) inputs)"
  fi
done
exit "$failed"
