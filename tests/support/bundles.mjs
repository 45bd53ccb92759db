// The exact artifacts a deploy uploads: wrangler configs rendered by scripts/render-configs.mjs and
// bundles from `wrangler deploy --dry-run --outdir`. Built once and reused while their inputs are
// unchanged; a lock directory keeps parallel test files from building the same thing twice.
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);
export const ROOT = path.resolve(fileURLToPath(new URL("../..", import.meta.url)));
export const CONFIG_DIR = path.join(ROOT, "build/config");
const BUNDLE_DIR = path.join(ROOT, "build/bundle");
const STALE_LOCK_MS = 5 * 60_000;

/** Every file under `paths` (files or folders, relative to ROOT), skipping node_modules. */
async function listFiles(paths) {
  const files = [];
  for (const p of paths) {
    const full = path.join(ROOT, p);
    const info = await stat(full).catch(() => null);
    if (!info) continue;
    if (info.isFile()) files.push(full);
    else {
      for (const entry of await readdir(full, { recursive: true, withFileTypes: true })) {
        const file = path.join(entry.parentPath ?? entry.path, entry.name);
        if (entry.isFile() && !file.includes(`${path.sep}node_modules${path.sep}`)) files.push(file);
      }
    }
  }
  return files.sort();
}

/** SHA-256 over the names and contents of the input files. */
async function hashInputs(paths) {
  const hash = createHash("sha256");
  for (const file of await listFiles(paths)) {
    hash.update(path.relative(ROOT, file)).update("\0").update(await readFile(file)).update("\0");
  }
  return hash.digest("hex");
}

/** Runs `produce()` under a lock unless `stampFile` already records `inputsHash`. */
async function cached(stampFile, inputsHash, produce) {
  const lock = `${stampFile}.lock`;
  await mkdir(path.dirname(stampFile), { recursive: true });
  for (;;) {
    if ((await readFile(stampFile, "utf8").catch(() => "")) === inputsHash) return;
    try {
      await mkdir(lock);
      break;
    } catch {
      const info = await stat(lock).catch(() => null);
      if (info && Date.now() - info.mtimeMs > STALE_LOCK_MS) await rm(lock, { recursive: true, force: true });
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  try {
    if ((await readFile(stampFile, "utf8").catch(() => "")) === inputsHash) return;
    await produce();
    await writeFile(stampFile, inputsHash);
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}

/** Renders build/config/ (orchestrator, one config per backend, plan.json) from backends.json. */
export async function renderConfigs() {
  const inputs = ["backends.json", "wrangler.toml.in", "scripts/render-configs.mjs"];
  await cached(path.join(CONFIG_DIR, ".inputs.sha256"), await hashInputs(inputs), async () => {
    await run(process.execPath, [path.join(ROOT, "scripts/render-configs.mjs")], { cwd: ROOT, timeout: 60_000 });
  });
  return JSON.parse(await readFile(path.join(CONFIG_DIR, "plan.json"), "utf8"));
}

/**
 * Bundles the Worker of wrangler config `configPath` into build/bundle/<name>/ exactly as
 * `wrangler deploy` would upload it; returns the folder.
 */
export async function buildBundle(name, configPath) {
  const outdir = path.join(BUNDLE_DIR, name);
  const inputs = ["shims", "orchestrator-worker", "backend-worker-template", "build/wasm/router.wasm",
    "tsconfig.json", path.relative(ROOT, configPath)];
  await cached(path.join(BUNDLE_DIR, `${name}.inputs.sha256`), await hashInputs(inputs), async () => {
    await rm(outdir, { recursive: true, force: true });
    await run("npx", ["wrangler", "deploy", "--dry-run", "--outdir", outdir, "-c", configPath], {
      cwd: ROOT,
      env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "1" },
      maxBuffer: 16 << 20,
      timeout: 180_000,
    });
  });
  return outdir;
}
