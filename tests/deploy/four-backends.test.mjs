// End to end through the deployment path: render a 4-backend manifest, dry-run the orchestrator and
// the four backends, run those exact bundles in Miniflare wired as the rendered configs wire them
// (service binding BACKEND_X -> Worker x), and see all four answer through the orchestrator.
// Nothing in the Workers' code names these backends: the generated bindings are discovered.
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, test } from "node:test";
import { Log, LogLevel, Miniflare } from "miniflare";
import { normalizeManifest } from "../../scripts/lib/backends-manifest.mjs";
import { rehearse } from "../../scripts/deploy-rehearsal.mjs";
import { smokeCheck } from "../../scripts/smoke-check.mjs";
import { readToml, scratchDir } from "./helpers.mjs";

const NAMES = ["north", "south", "east", "west"];
const MODULE_RULES = [{ type: "CompiledWasm", include: ["**/*.wasm"] }];

let scratch, mf, url, plan;

/** Miniflare's options for one dry-run bundle, from its rendered wrangler config. */
function workerOptions(config, bundleDir) {
  return {
    name: config.name,
    modules: true,
    scriptPath: path.join(bundleDir, "index.js"),
    modulesRules: MODULE_RULES,
    compatibilityDate: config.compatibility_date,
    compatibilityFlags: config.compatibility_flags ?? [],
    bindings: config.vars ?? {},
    serviceBindings: Object.fromEntries((config.services ?? []).map((s) => [s.binding, s.service])),
  };
}

before(async () => {
  scratch = await scratchDir("four-backends");
  const manifest = normalizeManifest({
    orchestrator: { routerConfig: { retry: { maxAttempts: 2 } } },
    backends: NAMES.map((name, i) => ({ name, provider: "echo", weight: i === 0 ? 2 : 1 })),
  });
  const configDir = path.join(scratch.dir, "config");
  const report = await rehearse(manifest, { outDir: configDir, bundleDir: path.join(scratch.dir, "bundle") });
  plan = { backends: report.backends };

  const workers = [];
  const orchestrator = await readToml(path.join(configDir, report.orchestrator.config));
  workers.push(workerOptions(orchestrator, report.orchestrator.bundle.dir));
  for (const b of report.backends) workers.push(workerOptions(await readToml(path.join(configDir, b.config)), b.bundle.dir));

  mf = new Miniflare({
    host: "127.0.0.1", port: 0, cf: false, workers,
    log: new Log(LogLevel.WARN),
    // The Workers' own log lines (e.g. "no API keys configured") are expected here: keep them quiet.
    structuredWorkerdLogs: true, handleStructuredLogs: () => {},
  });
  url = (await mf.ready).origin;
});

after(async () => {
  await mf?.dispose();
  await scratch?.remove();
});

test("all four generated backends answer chat completions through the orchestrator", async () => {
  const answeredBy = new Map();
  for (let i = 0; i < 12; i++) {
    const response = await fetch(`${url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "any-model", messages: [{ role: "user", content: `hello ${i}` }] }),
    });
    const body = await response.json();
    assert.equal(response.status, 200, JSON.stringify(body));
    assert.equal(body.object, "chat.completion");
    assert.equal(typeof body.choices?.[0]?.message?.content, "string");
    const binding = response.headers.get("x-router-backend");
    answeredBy.set(binding, (answeredBy.get(binding) ?? 0) + 1);
  }
  assert.deepEqual([...answeredBy.keys()].sort(), NAMES.map((n) => `BACKEND_${n.toUpperCase()}`).sort(),
    `answers per binding: ${JSON.stringify(Object.fromEntries(answeredBy))}`);
});

test("the smoke check passes on this router and names a backend it cannot reach", async () => {
  const status = await smokeCheck({ url, plan, attempts: 3, intervalMs: 200 });
  // The manifest's weights and routerConfig reached the running Workers through the rendered vars.
  assert.deepEqual(Object.fromEntries(status.backends.map((b) => [b.name, b.weight])), { north: 2, south: 1, east: 1, west: 1 });
  assert.equal(status.policy.retry.maxAttempts, 2);

  const ghost = { name: "ghost", binding: "BACKEND_GHOST" };
  await assert.rejects(smokeCheck({ url, plan: { backends: [...plan.backends, ghost] }, attempts: 2, intervalMs: 50 }),
    /smoke check of http:\/\/127\.0\.0\.1:\d+ failed:\n {2}BACKEND_GHOST: not bound/);
  await assert.rejects(smokeCheck({ url, plan: { backends: plan.backends.slice(1) }, attempts: 1 }),
    new RegExp(`${plan.backends[0].binding}: bound but not in the plan`));
});
