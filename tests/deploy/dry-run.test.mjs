// `wrangler deploy --dry-run` accepts every generated config, and wrangler's own reading of each
// dry run binds exactly what the plan says (the rehearsal checks that and fails otherwise).
// 1 and 3 backends are dry-run in full; for 12, the orchestrator (all 12 bindings) and one backend,
// since the other eleven are the same template with other vars.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readdir } from "node:fs/promises";
import path from "node:path";
import { after, before, test } from "node:test";
import { promisify } from "node:util";
import { normalizeManifest } from "../../scripts/lib/backends-manifest.mjs";
import { rehearse } from "../../scripts/deploy-rehearsal.mjs";
import { ROOT, listManifest, scratchDir } from "./helpers.mjs";

const run = promisify(execFile);
let scratch;
before(async () => { scratch = await scratchDir("dry-run"); });
after(() => scratch.remove());

/** Asserts a dry-run folder holds a bundled Worker (and the router's Wasm module when `wasm`). */
async function assertBundle(dir, { wasm }) {
  const files = await readdir(dir);
  assert.ok(files.includes("index.js"), `${dir}: ${files}`);
  assert.equal(files.some((f) => f.endsWith("router.wasm")), wasm, `${dir}: ${files}`);
}

test("1 backend: the rehearsal CLI dry-runs the backend and the orchestrator", async () => {
  const out = path.join(scratch.dir, "one/config");
  const bundles = path.join(scratch.dir, "one/bundle");
  const { ROUTER_API_KEYS: _unknown, ...env } = process.env;
  const { stdout } = await run(process.execPath, ["scripts/deploy-rehearsal.mjs", "--count", "1", "--pattern", "solo-{i}",
    "--out", out, "--bundles", bundles, "--json"], { cwd: ROOT, env, maxBuffer: 8 << 20 });
  const report = JSON.parse(stdout);
  // The deploy's checks ran first (access keys by default; nothing known of ROUTER_API_KEYS here).
  assert.deepEqual([report.checks.access, report.checks.plan, report.checks.workers, report.checks.routerConfig], ["keys", "free", 2, "not set"]);
  assert.deepEqual(report.orchestrator.bindings, [{ binding: "BACKEND_SOLO_1", service: "solo-1" }]);
  assert.deepEqual(report.backends.map((b) => b.name), ["solo-1"]);
  await assertBundle(path.join(bundles, "backends/solo-1"), { wasm: false });
  await assertBundle(path.join(bundles, "orchestrator"), { wasm: true });
});

test("3 backends, one per provider: every config is accepted", async () => {
  const manifest = normalizeManifest(listManifest(3, { providers: ["echo", "workers-ai", "openai-compatible"] }));
  const bundles = path.join(scratch.dir, "three/bundle");
  const report = await rehearse(manifest, { outDir: path.join(scratch.dir, "three/config"), bundleDir: bundles });
  assert.deepEqual(report.backends.map((b) => [b.name, b.provider, b.ai]),
    [["be-1", "echo", false], ["be-2", "workers-ai", true], ["be-3", "openai-compatible", false]]);
  assert.deepEqual(report.skipped, []);
  for (const b of report.backends) await assertBundle(path.join(bundles, "backends", b.name), { wasm: false });
  await assertBundle(path.join(bundles, "orchestrator"), { wasm: true });
});

test("12 backends: the orchestrator with all 12 bindings, and one backend", async () => {
  const manifest = normalizeManifest({ backends: { count: 12, pattern: "be-{i}" } });
  const bundles = path.join(scratch.dir, "twelve/bundle");
  const report = await rehearse(manifest, { outDir: path.join(scratch.dir, "twelve/config"), bundleDir: bundles, backends: ["be-7"] });
  assert.equal(report.orchestrator.bindings.length, 12);
  assert.deepEqual(report.backends.map((b) => b.name), ["be-7"]);
  assert.equal(report.skipped.length, 11);
  await assertBundle(path.join(bundles, "backends/be-7"), { wasm: false });
  await assertBundle(path.join(bundles, "orchestrator"), { wasm: true });
});
