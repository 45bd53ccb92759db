#!/usr/bin/env bash
# Uploads a Worker's new version from a prebuilt bundle and deploys it at PERCENT % beside the
# version serving now (or at 100 %), with its secrets in the same version. A Worker that does not
# exist yet is created with `wrangler deploy` instead (a first deploy also applies the orchestrator's
# Durable Object migration, which a version upload cannot do; there is nothing to split with).
#
#   scripts/deploy/upload-version.sh WORKER CONFIG BUNDLE PERCENT
# Environment: TAG and MESSAGE (the version's annotations), SECRETS_FILE (optional, JSON from
# secrets-file.mjs), RECORD (optional: a JSON file {worker, previous, new} is written there),
# GITHUB_OUTPUT (optional: previous, new and split are written there). Needs `wrangler` on PATH.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
worker="$1" config="$2" bundle="$3" percent="$4"
if ! [[ "$worker" =~ ^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$ ]]; then echo "not a Worker name: $worker" >&2; exit 2; fi
if ! [[ "$percent" =~ ^[0-9]+$ ]] || [ "$percent" -lt 1 ] || [ "$percent" -gt 100 ]; then echo "PERCENT must be 1-100: $percent" >&2; exit 2; fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export WRANGLER_OUTPUT_FILE_PATH="$work/wrangler-output.ndjson"
annotations=(--tag "${TAG:?TAG is required}" --message "${MESSAGE:?MESSAGE is required}")
secrets=()
if [ -n "${SECRETS_FILE:-}" ]; then secrets=(--secrets-file "$SECRETS_FILE"); fi

# The version serving now: the one a rollback returns to.
previous=""
if wrangler deployments status --json --name "$worker" >"$work/status.json" 2>"$work/status.err"; then
  previous="$(node "$here/wrangler-output.mjs" stable "$work/status.json")"
  if [ -z "$previous" ]; then echo "no serving version of $worker could be read" >&2; exit 1; fi
elif grep -qiE "does not exist|has no deployments|10007" "$work/status.err"; then
  echo "$worker has no deployment yet: first deploy"
else
  cat "$work/status.err" >&2
  exit 1
fi

split=false
if [ -z "$previous" ]; then
  wrangler deploy "$bundle" --no-bundle -c "$config" "${annotations[@]}" "${secrets[@]}"
  new="$(node "$here/wrangler-output.mjs" uploaded "$WRANGLER_OUTPUT_FILE_PATH" --worker "$worker")"
else
  wrangler versions upload "$bundle" --no-bundle -c "$config" "${annotations[@]}" "${secrets[@]}"
  new="$(node "$here/wrangler-output.mjs" uploaded "$WRANGLER_OUTPUT_FILE_PATH" --worker "$worker")"
  if [ "$percent" -eq 100 ]; then
    wrangler versions deploy "$new@100%" --name "$worker" --message "$MESSAGE" --yes
  else
    wrangler versions deploy "$new@$percent%" "$previous@$((100 - percent))%" --name "$worker" --message "$MESSAGE ($percent %)" --yes
    split=true
  fi
fi
# Never report success without a version id (wrangler-output.mjs checked its shape).
if [ -z "$new" ]; then echo "wrangler reported no version id for $worker" >&2; exit 1; fi
echo "$worker: version $new deployed at $([ "$split" = true ] && echo "$percent" || echo 100) %${previous:+ (previous $previous)}"
if [ -n "${RECORD:-}" ]; then
  printf '{"worker":"%s","previous":"%s","new":"%s"}\n' "$worker" "$previous" "$new" >"$RECORD"
fi
if [ -n "${GITHUB_OUTPUT:-}" ]; then
  printf 'previous=%s\nnew=%s\nsplit=%s\n' "$previous" "$new" "$split" >>"$GITHUB_OUTPUT"
fi
