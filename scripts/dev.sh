#!/usr/bin/env bash
# The local stack: the orchestrator and every backend of backends.json in one `wrangler dev`
# process on http://127.0.0.1:8787 (the backends are reached only through service bindings).
# Installs and builds whatever is missing first (scripts/setup.sh), then renders the wrangler
# configs from the same template the deploy uses.
set -euo pipefail
cd "$(dirname "$0")/.."
export WRANGLER_SEND_METRICS=false

if [ -x scripts/setup.sh ]; then
  scripts/setup.sh
fi

node scripts/render-configs.mjs

configs=(-c build/config/orchestrator/wrangler.toml)
for config in build/config/backends/*/wrangler.toml; do
  configs+=(-c "$config")
done

# Local secrets (ROUTER_API_KEYS, ROUTER_ADMIN_KEY, UPSTREAM_API_KEY ...) live in the gitignored
# .dev.vars at the repository root; wrangler reads a .dev.vars next to each config, so every
# local Worker gets a link to it (each reads only the names it knows).
for config_dir in build/config/orchestrator build/config/backends/*; do
  if [ -f .dev.vars ]; then
    ln -sfn "$(pwd)/.dev.vars" "$config_dir/.dev.vars"
  else
    rm -f "$config_dir/.dev.vars"
  fi
done

workers=$(( ${#configs[@]} / 2 ))
echo "dev: starting the orchestrator and $(( workers - 1 )) backends on http://127.0.0.1:${PORT:-8787}"
exec npx wrangler dev "${configs[@]}" --ip 127.0.0.1 --port "${PORT:-8787}" "$@"
