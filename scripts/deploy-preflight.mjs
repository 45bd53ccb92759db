#!/usr/bin/env node
// The checks a deploy makes before uploading anything (docs/deployment.md, "Checks before a
// deploy"): orchestrator.routerConfig through the Wasm core, access against ROUTER_API_KEYS, key
// secret names, and the account's documented limits. Exit 0: deployable; 1: refused, one line per
// problem; 2: bad command line. The workflow runs it first; the rehearsal runs the same checks.
//
//   node scripts/deploy-preflight.mjs [--manifest backends.json | --count N --pattern name-{i}]
//        [--workers-plan free|paid] [--router-api-keys set|empty] [--no-core]
// ROUTER_API_KEYS in the environment (even empty) is what the check knows of that secret.
import { pathToFileURL } from "node:url";
import { ManifestError } from "./lib/backends-manifest.mjs";
import { describePreflight, preflight } from "./lib/deploy-preflight.mjs";
import { takePreflightOptions } from "./lib/preflight-options.mjs";
import { resolveCli } from "./render-configs.mjs";

const USAGE = "usage: node scripts/deploy-preflight.mjs [--manifest FILE | --count N --pattern NAME-{i}] [--workers-plan free|paid] [--router-api-keys set|empty] [--no-core]";

/** A line as GitHub Actions shows it (an annotation) when run there, else as it is. */
function annotate(line, env) {
  if (env.GITHUB_ACTIONS !== "true") return line;
  if (line.startsWith("warning: ")) return `::warning::${line.slice(9)}`;
  if (line.startsWith("  - ")) return `::error::${line.slice(4)}`;
  return line;
}

export async function main(argv, env = process.env, out = process.stdout, err = process.stderr) {
  let options, cli;
  try {
    const taken = takePreflightOptions(argv, env);
    options = taken.options;
    cli = await resolveCli(taken.rest);
  } catch (e) {
    err.write(`${e.message}\n${e instanceof ManifestError ? "" : `${USAGE}\n`}`);
    return e instanceof ManifestError ? 1 : 2;
  }
  if (cli.help) {
    out.write(`${USAGE}\n`);
    return 0;
  }
  try {
    const result = await preflight(cli.manifest, { ...options, source: cli.source });
    const lines = describePreflight(result).map((l) => (l.startsWith("warning: ") ? annotate(l, env) : `  ${l}`));
    out.write(`Deploy checks for ${cli.source}: passed\n${lines.join("\n")}\n`);
    return 0;
  } catch (e) {
    if (!(e instanceof ManifestError)) throw e;
    err.write(`${e.message.split("\n").map((l) => annotate(l, env)).join("\n")}\n`);
    return 1;
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  process.exitCode = await main(process.argv.slice(2));
}
