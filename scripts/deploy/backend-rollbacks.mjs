#!/usr/bin/env node
// What rolling the backends back means after a failed orchestrator rollout: each backend job leaves
// a record {worker, previous, new} (upload-version.sh RECORD); every backend that had a previous
// version returns to it. A backend created by this run has none: it stays, unbound by the previous
// orchestrator (prune-plan.mjs lists it). Records are checked: only a Worker name and version ids
// reach the command line.
//
//   node scripts/deploy/backend-rollbacks.mjs DIR     prints "WORKER VERSION" per line
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { isVersionId } from "./version-id.mjs";
import { isMain } from "./is-main.mjs";

const WORKER_NAME = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** The {worker, version} pairs to deploy at 100 % for the given records; throws on a bad record. */
export function backendRollbacks(records) {
  return records.flatMap((r) => {
    if (!WORKER_NAME.test(r?.worker ?? "")) throw new Error(`a record names no Worker: ${JSON.stringify(r?.worker ?? null)}`);
    if (!isVersionId(r.new)) throw new Error(`${r.worker}: the new version is not a version id`);
    if (r.previous === "" || r.previous === undefined) return [];
    if (!isVersionId(r.previous)) throw new Error(`${r.worker}: the previous version is not a version id`);
    return r.previous === r.new ? [] : [{ worker: r.worker, version: r.previous }];
  });
}

async function main([dir]) {
  if (!dir) {
    process.stderr.write("usage: node scripts/deploy/backend-rollbacks.mjs DIR\n");
    return 2;
  }
  try {
    const files = (await readdir(dir, { recursive: true })).filter((f) => f.endsWith(".json")).sort();
    const records = await Promise.all(files.map(async (f) => JSON.parse(await readFile(path.join(dir, f), "utf8"))));
    for (const { worker, version } of backendRollbacks(records)) process.stdout.write(`${worker} ${version}\n`);
    return 0;
  } catch (e) {
    process.stderr.write(`${e.message}\n`);
    return 1;
  }
}

if (isMain(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
