#!/usr/bin/env node
// Reads the two things the rollout needs from wrangler, checked, never trusted:
//   stable   the version serving the most traffic in `wrangler deployments status --json` (the
//            version a rollback returns to; a 50/50 split has none and is refused);
//   uploaded the version id `wrangler versions upload` (or, on a first deploy, `wrangler deploy`)
//            reported in its output file (WRANGLER_OUTPUT_FILE_PATH: one JSON object per line,
//            {"type":"version-upload"|"deploy","worker_name":...,"version_id":...}).
//
//   node scripts/deploy/wrangler-output.mjs stable status.json
//   node scripts/deploy/wrangler-output.mjs uploaded wrangler-output.ndjson [--worker NAME]
// Prints the version id; exit 1 with the reason when there is none.
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { isVersionId } from "./version-id.mjs";
import { isMain } from "./is-main.mjs";

/** The JSON object in a text that may carry a line of noise before or after it. */
function parseObject(text) {
  const start = text.indexOf("{");
  const end = text.lastIndexOf("}");
  if (start < 0 || end < start) throw new Error("no JSON object in wrangler's output");
  return JSON.parse(text.slice(start, end + 1));
}

/** The version id serving the largest share of a deployment (`deployments status --json`). */
export function stableVersion(text) {
  const deployment = parseObject(text);
  if (!Array.isArray(deployment?.versions) || deployment.versions.length === 0) throw new Error("the deployment lists no versions");
  const versions = deployment.versions.map((v) => ({ id: v?.version_id, percentage: v?.percentage }));
  for (const v of versions) {
    if (!isVersionId(v.id)) throw new Error(`not a version id: ${JSON.stringify(v.id ?? null)}`);
    if (!(typeof v.percentage === "number" && v.percentage >= 0 && v.percentage <= 100)) throw new Error(`version ${v.id} has no percentage`);
  }
  versions.sort((a, b) => b.percentage - a.percentage);
  if (versions.length > 1 && versions[0].percentage === versions[1].percentage) {
    throw new Error(`the deployment is split evenly (${versions.map((v) => `${v.id}@${v.percentage}%`).join(" ")}): no stable version to return to`);
  }
  return versions[0].id;
}

/** The version id of the last `version-upload` / `deploy` entry of wrangler's output file (of `worker`). */
export function uploadedVersion(text, worker) {
  const entries = text.split("\n").flatMap((line) => {
    try {
      const entry = JSON.parse(line);
      return entry?.type === "version-upload" || entry?.type === "deploy" ? [entry] : [];
    } catch {
      return [];
    }
  });
  const mine = worker ? entries.filter((e) => e.worker_name === worker) : entries;
  const last = mine.at(-1);
  if (!last) throw new Error(`wrangler's output has no version upload${worker ? ` of ${worker}` : ""}`);
  if (!isVersionId(last.version_id)) throw new Error(`the uploaded version id is not one: ${JSON.stringify(last.version_id ?? null)}`);
  return last.version_id;
}

async function main(argv) {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { worker: { type: "string" } } });
  const [what, file] = positionals;
  if (!["stable", "uploaded"].includes(what) || !file) {
    process.stderr.write("usage: node scripts/deploy/wrangler-output.mjs stable FILE | uploaded FILE [--worker NAME]\n");
    return 2;
  }
  try {
    const text = await readFile(file, "utf8");
    process.stdout.write(`${what === "stable" ? stableVersion(text) : uploadedVersion(text, values.worker)}\n`);
    return 0;
  } catch (e) {
    process.stderr.write(`${file}: ${e.message}\n`);
    return 1;
  }
}

if (isMain(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
