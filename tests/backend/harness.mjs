// Runs the backend template as it deploys: the bundle `wrangler deploy --dry-run` produces, loaded
// into Miniflare next to a caller Worker that reaches it through a service binding and RPC.
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, realpath, rename, rm, stat, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { promisify } from "node:util";
import { Miniflare } from "miniflare";

const ROOT = resolve(import.meta.dirname, "../..");
export const COMPATIBILITY_DATE = "2026-04-20";
const CALLER_SCRIPT = join(import.meta.dirname, "workers/caller.js");

/**
 * Mutation testing (scripts/mutation/template.stryker.config.mjs): Stryker compiles every mutant
 * into the sources and activates one through this variable, which the instrumented code reads from
 * globalThis.process.env. workerd does not see this process's environment, so while the variable
 * is set each backend Worker gets it as a plain-text binding, and the flags that put text bindings
 * in process.env. Ordinary runs leave the Workers exactly as they deploy.
 */
const STRYKER_ACTIVE_MUTANT = process.env.__STRYKER_ACTIVE_MUTANT__;

function withActiveMutant(bindings) {
  if (STRYKER_ACTIVE_MUTANT === undefined) return { bindings };
  return {
    bindings: { ...bindings, __STRYKER_ACTIVE_MUTANT__: STRYKER_ACTIVE_MUTANT },
    compatibilityFlags: ["nodejs_compat", "nodejs_compat_populate_process_env"],
  };
}

/**
 * Bundles made by wrangler, by the hash of what goes into them (the sources, the wrangler config,
 * wrangler's version): the same sources give the same bundle, so each test file (and, in mutation
 * testing, each mutant's run) does not pay for wrangler again. Entries unused for a day are pruned.
 */
const BUNDLE_CACHE_IN_NODE_MODULES = ".cache/backend-template-bundle";
const BUNDLE_SOURCES = ["backend-worker-template/src", "shims"];
const DAY_MS = 24 * 60 * 60 * 1000;

/** Bundles backend-worker-template with wrangler (`deploy --dry-run`); returns the bundle's path and a cleanup. */
export async function bundleBackend() {
  const config = [
    `name = "backend"`,
    `main = ${JSON.stringify(join(ROOT, "backend-worker-template/src/index.ts"))}`,
    `compatibility_date = "${COMPATIBILITY_DATE}"`,
    `workers_dev = false`,
    `preview_urls = false`,
  ].join("\n");
  // The real path: wrangler mis-resolves an --outdir reached through a symlinked node_modules
  // (as in mutation testing's sandbox).
  const cache = join(await realpath(join(ROOT, "node_modules")), BUNDLE_CACHE_IN_NODE_MODULES);
  const cached = join(cache, await bundleKey(config));
  const scriptPath = join(cached, "index.js");
  const done = { scriptPath, cleanup: async () => {} };
  if (await isFile(scriptPath)) return done;

  await mkdir(cache, { recursive: true });
  await pruneBundles(cache);
  // Built aside and renamed into place (same file system): a concurrent run sees all or nothing.
  const dir = await mkdtemp(join(cache, "building-"));
  try {
    await writeFile(join(dir, "wrangler.toml"), `${config}\n`);
    await promisify(execFile)(
      join(ROOT, "node_modules/.bin/wrangler"),
      ["deploy", "--dry-run", "--outdir", join(dir, "out"), "-c", join(dir, "wrangler.toml")],
      { cwd: dir, env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "1" } },
    );
    await rename(join(dir, "out"), cached).catch(async (err) => {
      if (!(await isFile(scriptPath))) throw err;
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return done;
}

async function bundleKey(config) {
  const hash = createHash("sha256").update(config).update(`\0wrangler ${createRequire(import.meta.url)("wrangler/package.json").version}`);
  for (const source of BUNDLE_SOURCES) {
    const dir = join(ROOT, source);
    for (const file of (await readdir(dir, { recursive: true })).sort()) {
      const path = join(dir, file);
      if ((await stat(path)).isFile()) hash.update(`\0${source}/${file}\0`).update(await readFile(path));
    }
  }
  return hash.digest("hex").slice(0, 32);
}

async function isFile(path) {
  return stat(path).then((s) => s.isFile(), () => false);
}

async function pruneBundles(cache) {
  for (const entry of await readdir(cache)) {
    const path = join(cache, entry);
    const { mtimeMs } = await stat(path).catch(() => ({ mtimeMs: Date.now() }));
    if (Date.now() - mtimeMs > DAY_MS) await rm(path, { recursive: true, force: true });
  }
}

/**
 * Starts Miniflare with the caller Worker (first, so dispatchFetch reaches it) and one backend
 * Worker per entry of `backends`: binding name -> {bindings, serviceBindings}. `extraWorkers` are
 * more Miniflare worker options (e.g. a stand-in AI binding). The Workers' log lines are kept in
 * `logs` ({level, message}) instead of printed.
 */
export async function startBackends(scriptPath, backends, extraWorkers = []) {
  const names = Object.keys(backends);
  /** Every line the Workers logged, so tests can check what logs hold. */
  const logs = [];
  const mf = new Miniflare({
    handleStructuredLogs: ({ level, message }) => {
      logs.push({ level, message });
    },
    workers: [
      {
        name: "caller",
        modules: true,
        scriptPath: CALLER_SCRIPT,
        modulesRoot: dirname(CALLER_SCRIPT),
        compatibilityDate: COMPATIBILITY_DATE,
        serviceBindings: Object.fromEntries(names.map((binding) => [binding, workerName(binding)])),
      },
      ...names.map((binding) => ({
        name: workerName(binding),
        modules: true,
        scriptPath,
        // Module names are paths relative to this root; the bundle lives outside the checkout.
        modulesRoot: dirname(scriptPath),
        compatibilityDate: COMPATIBILITY_DATE,
        ...withActiveMutant(backends[binding].bindings ?? {}),
        serviceBindings: backends[binding].serviceBindings ?? {},
      })),
      ...extraWorkers,
    ],
  });
  try {
    await mf.ready;
  } catch (err) {
    await mf.dispose();
    throw err;
  }

  /** Calls `method` of the backend behind `binding` over RPC; answers what the caller saw. */
  async function call(binding, method, arg) {
    const response = await mf.dispatchFetch(`http://caller/${binding}/${method}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(arg === undefined ? null : arg),
    });
    return response.json();
  }
  return { mf, call, logs, dispose: () => mf.dispose() };
}

function workerName(binding) {
  return `backend-${binding.toLowerCase().replaceAll("_", "-")}`;
}

export { inferenceRequest } from "./inference-request.mjs";

/** The JSON payloads of an SSE text, "[DONE]" kept as the string. */
export function sseData(text) {
  return text
    .split("\n\n")
    .filter((event) => event.startsWith("data: "))
    .map((event) => event.slice(6))
    .map((data) => (data === "[DONE]" ? data : JSON.parse(data)));
}
