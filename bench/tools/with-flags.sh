#!/usr/bin/env bash
# CMake compiler/linker launcher for bench/tools/build-wasm-variant.sh: runs the command with
# -Oz replaced by line 1 of FLAGS_FILE (when not empty) and line 2 appended.
flags_file="$1"; shift
opt="$(sed -n 1p "$flags_file")"; extra="$(sed -n 2p "$flags_file")"
args=()
for a in "$@"; do
  if [ -n "$opt" ] && [ "$a" = "-Oz" ]; then args+=("$opt"); else args+=("$a"); fi
done
# shellcheck disable=SC2086
exec "${args[@]}" $extra
