#!/usr/bin/env node
// Which Workers a prune would delete: those of the account whose name starts with the given prefix
// and that the deploy plan neither deploys nor binds (a backend removed from the manifest). Never the
// orchestrator, never a Worker outside the prefix: the prefix is required, so a prune cannot reach
// the account's other Workers. The list of the account's Workers is the Cloudflare API's answer to
// GET /accounts/{id}/workers/scripts ({"success": true, "result": [{"id": "<name>"}, ...]}) or a
// plain JSON array of names, so the decision is testable offline.
//
//   node scripts/deploy/prune-plan.mjs --workers workers.json --plan build/config/plan.json
//        --prefix echo- [--github-output FILE]
// Prints what it would delete; output `names` (one a line) and `count`.
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { appendGithubOutputs } from "./github-output.mjs";
import { isMain } from "./is-main.mjs";

const WORKER_NAME = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** The Worker names of an API answer or a list; throws when it is neither. */
export function workerNames(listing) {
  if (listing && !Array.isArray(listing) && listing.success !== true) throw new Error("the Workers listing is an unsuccessful API answer");
  const items = Array.isArray(listing) ? listing : listing?.result;
  if (!Array.isArray(items)) throw new Error("the Workers listing has no result list");
  return items.map((item) => {
    const name = typeof item === "string" ? item : item?.id;
    if (typeof name !== "string" || !WORKER_NAME.test(name)) throw new Error(`not a Worker name in the listing: ${JSON.stringify(name ?? null)}`);
    return name;
  });
}

/** @returns {{remove: string[], keep: string[]}} the prefixed Workers the plan no longer has, and those it has */
export function pruneCandidates({ listing, plan, prefix }) {
  if (typeof prefix !== "string" || !/^[a-z0-9][a-z0-9-]*$/.test(prefix)) {
    throw new Error(`a prune needs a name prefix of lowercase letters, digits and dashes (got ${JSON.stringify(prefix ?? null)})`);
  }
  if (!Array.isArray(plan?.backends) || typeof plan?.orchestrator?.name !== "string") throw new Error("the plan has no backends or orchestrator");
  const planned = new Set([plan.orchestrator.name, ...plan.backends.map((b) => b?.name)]);
  const bound = new Set((plan.orchestrator.bindings ?? []).map((b) => b?.service));
  const remove = [];
  const keep = [];
  for (const name of [...new Set(workerNames(listing))].sort()) {
    if (!name.startsWith(prefix)) continue;
    (planned.has(name) || bound.has(name) ? keep : remove).push(name);
  }
  return { remove, keep };
}

async function main(argv) {
  const { values } = parseArgs({
    args: argv,
    options: { workers: { type: "string" }, plan: { type: "string" }, prefix: { type: "string" }, "github-output": { type: "string" } },
  });
  if (!values.workers || !values.plan) {
    process.stderr.write("usage: node scripts/deploy/prune-plan.mjs --workers workers.json --plan plan.json --prefix PREFIX [--github-output FILE]\n");
    return 2;
  }
  try {
    const [listing, plan] = await Promise.all([values.workers, values.plan].map(async (f) => JSON.parse(await readFile(f, "utf8"))));
    const { remove, keep } = pruneCandidates({ listing, plan, prefix: values.prefix });
    process.stdout.write(`Workers named ${values.prefix}*: ${keep.length} deployed by the plan, ${remove.length} not:\n`);
    for (const name of remove) process.stdout.write(`  would delete ${name}\n`);
    if (remove.length === 0) process.stdout.write("  nothing to delete\n");
    await appendGithubOutputs(values["github-output"], { names: remove.join("\n"), count: String(remove.length) });
    return 0;
  } catch (e) {
    process.stderr.write(`${e.message}\n`);
    return 1;
  }
}

if (isMain(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
