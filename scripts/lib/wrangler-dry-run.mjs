// `wrangler deploy --dry-run --outdir`: builds exactly the bundle a deploy would upload, offline.
import { execFile } from "node:child_process";
import { readdir, rm, stat } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);
const ROOT = path.resolve(fileURLToPath(new URL("../..", import.meta.url)));
const WRANGLER = path.join(ROOT, "node_modules/wrangler/bin/wrangler.js");

/**
 * Dry-runs the Worker of wrangler config `config` into folder `outdir` (emptied first).
 * Resolves to {outdir, files: [{name, bytes}], output}; rejects with wrangler's own output.
 */
export async function dryRun(config, outdir) {
  await rm(outdir, { recursive: true, force: true });
  let output;
  try {
    const { stdout, stderr } = await run(process.execPath, [WRANGLER, "deploy", "--dry-run", "--outdir", outdir, "-c", config], {
      cwd: ROOT,
      env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "1", NO_COLOR: "1" },
      maxBuffer: 16 << 20,
    });
    output = `${stdout}${stderr}`;
  } catch (e) {
    throw new Error(`wrangler deploy --dry-run -c ${path.relative(ROOT, config)} failed:\n${e.stdout ?? ""}${e.stderr ?? e.message}`);
  }
  const files = [];
  for (const name of (await readdir(outdir)).sort()) {
    const info = await stat(path.join(outdir, name));
    if (info.isFile()) files.push({ name, bytes: info.size });
  }
  return { outdir, files, output };
}

/** Runs `tasks` (functions returning promises) at most `limit` at a time, keeping their order. */
export async function inPool(tasks, limit) {
  const results = new Array(tasks.length);
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const i = next++;
      results[i] = await tasks[i]();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  return results;
}
