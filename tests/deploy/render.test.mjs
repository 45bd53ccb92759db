// Rendering: the orchestrator binds exactly the manifest's backends, every backend is private,
// paths are right relative to each rendered file, and a removed backend leaves nothing behind.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { normalizeManifest } from "../../scripts/lib/backends-manifest.mjs";
import { loadManifest, renderDeployment } from "../../scripts/render-configs.mjs";
import { ROOT, listManifest, readToml, scratchDir } from "./helpers.mjs";

const run = promisify(execFile);
let scratch;
before(async () => { scratch = await scratchDir("render"); });
after(() => scratch.remove());

/**
 * Renders `manifest` (raw, or normalized when `normalized`) into a new folder and returns
 * {out, plan, orchestrator, backends: {name: config}}.
 */
async function render(manifest, label, { normalized = false } = {}) {
  const out = path.join(scratch.dir, label);
  const plan = await renderDeployment(normalized ? manifest : normalizeManifest(manifest), { outDir: out });
  const orchestrator = await readToml(path.join(out, "orchestrator/wrangler.toml"));
  const backends = {};
  for (const name of await readdir(path.join(out, "backends")).catch(() => [])) {
    backends[name] = await readToml(path.join(out, "backends", name, "wrangler.toml"));
  }
  return { out, plan, orchestrator, backends };
}

function checkRendering({ out, plan, orchestrator, backends }, manifest) {
  const expected = manifest.backends.map((b) => ({ binding: `BACKEND_${b.name.toUpperCase().replaceAll("-", "_")}`, service: b.name }));
  assert.deepEqual(orchestrator.services, expected, "one [[services]] per backend, nothing else");
  assert.deepEqual(plan.orchestrator.bindings, expected);
  assert.equal(orchestrator.name, "ai-router");
  assert.equal(orchestrator.workers_dev, true, "the orchestrator is the public Worker");
  assert.equal(path.resolve(out, "orchestrator", orchestrator.main), path.join(ROOT, "orchestrator-worker/src/index.ts"));
  assert.ok(orchestrator.rules.some((r) => r.type === "CompiledWasm" && r.globs.includes("**/*.wasm")));
  assert.equal(orchestrator.compatibility_date, "2026-04-20");

  assert.deepEqual(Object.keys(backends).sort(), manifest.backends.map((b) => b.name).sort(), "one config folder per backend");
  for (const b of manifest.backends) {
    const config = backends[b.name];
    assert.equal(config.name, b.name);
    assert.equal(config.workers_dev, false, `${b.name}: no workers.dev URL`);
    assert.equal(config.preview_urls, false, `${b.name}: no preview URLs`);
    for (const key of ["route", "routes"]) assert.equal(config[key], undefined, `${b.name}: no ${key}`);
    assert.equal(path.resolve(out, "backends", b.name, config.main), path.join(ROOT, "backend-worker-template/src/index.ts"));
    assert.equal(config.compatibility_date, orchestrator.compatibility_date);
    assert.equal(config.vars.BACKEND_NAME, b.name);
    assert.equal(config.vars.PROVIDER, b.provider ?? "echo");
    if ((b.provider ?? "echo") === "workers-ai") assert.deepEqual(config.ai, { binding: "AI" });
    else assert.equal(config.ai, undefined, `${b.name}: [ai] only for workers-ai`);
  }
}

describe("rendered configs", () => {
  for (const [n, providers] of [[1, ["echo"]], [3, ["echo", "workers-ai", "openai-compatible"]], [12, ["echo", "workers-ai"]]]) {
    test(`${n} backend(s): bindings match the manifest exactly, every backend private`, async () => {
      const manifest = listManifest(n, { providers });
      const rendered = await render(manifest, `list-${n}`);
      checkRendering(rendered, manifest);
      assert.equal(rendered.plan.backends.length, n);
    });
  }

  test("the count form renders the same backends as the equivalent list", async () => {
    const counted = await render({ backends: { count: 12, pattern: "be-{i}" } }, "count-12");
    const listed = await render(listManifest(12), "list-12-echo");
    assert.deepEqual(counted.orchestrator.services, listed.orchestrator.services);
    assert.deepEqual(counted.backends, listed.backends);
    checkRendering(counted, listManifest(12));
  });

  test("removing a backend from the manifest removes its binding and its config", async () => {
    const three = listManifest(3);
    await render(three, "removal");
    const two = { backends: [three.backends[0], three.backends[2]] };
    const rendered = await render(two, "removal");
    checkRendering(rendered, two);
    assert.ok(!rendered.orchestrator.services.some((s) => s.binding === "BACKEND_BE_2"));
    assert.ok(!rendered.plan.backends.some((b) => b.name === "be-2"));
  });

  test("vars, weights, models, router config and the upstream key secret reach the right places", async () => {
    const manifest = {
      orchestrator: { name: "my-router", routerConfig: { strategy: "least-inflight" } },
      backends: [
        { name: "fast", weight: 3, models: ["gpt-4o", "gpt-4o-mini"], vars: { ECHO_LATENCY_MS: 5 } },
        { name: "ai", provider: "workers-ai", vars: { MODEL_MAP: { "gpt-4o": "@cf/meta/llama-3.1-8b-instruct" } } },
        { name: "up", provider: "openai-compatible", binding: "BACKEND_UPSTREAM", upstreamApiKeySecret: "UPSTREAM_OPENAI_KEY",
          vars: { UPSTREAM_BASE_URL: "https://api.openai.com/v1" } },
      ],
    };
    const { plan, orchestrator, backends } = await render(manifest, "fields");
    assert.equal(orchestrator.name, "my-router");
    assert.deepEqual(JSON.parse(orchestrator.vars.ROUTER_CONFIG), { strategy: "least-inflight" });
    assert.deepEqual(orchestrator.services.map((s) => s.binding), ["BACKEND_FAST", "BACKEND_AI", "BACKEND_UPSTREAM"]);
    assert.deepEqual(backends.fast.vars, { BACKEND_NAME: "fast", PROVIDER: "echo", MODELS: "gpt-4o,gpt-4o-mini", WEIGHT: "3", ECHO_LATENCY_MS: "5" });
    assert.deepEqual(JSON.parse(backends.ai.vars.MODEL_MAP), { "gpt-4o": "@cf/meta/llama-3.1-8b-instruct" });
    assert.equal(backends.up.vars.UPSTREAM_BASE_URL, "https://api.openai.com/v1");
    assert.equal(backends.up.vars.UPSTREAM_API_KEY, undefined, "a secret is never a var");
    assert.equal(plan.backends.find((b) => b.name === "up").upstreamApiKeySecret, "UPSTREAM_OPENAI_KEY");
  });

  test("without routerConfig the orchestrator has no ROUTER_CONFIG var", async () => {
    const { orchestrator } = await render(listManifest(1), "no-policy");
    assert.equal(orchestrator.vars, undefined);
  });

  test("--only writes one side and leaves the other alone", async () => {
    const out = path.join(scratch.dir, "only");
    await renderDeployment(normalizeManifest(listManifest(2)), { outDir: out, only: "backends" });
    await assert.rejects(readFile(path.join(out, "orchestrator/wrangler.toml")));
    assert.deepEqual((await readdir(path.join(out, "backends"))).sort(), ["be-1", "be-2"]);
    await renderDeployment(normalizeManifest(listManifest(3)), { outDir: out, only: "orchestrator" });
    assert.equal((await readToml(path.join(out, "orchestrator/wrangler.toml"))).services.length, 3);
    assert.deepEqual((await readdir(path.join(out, "backends"))).sort(), ["be-1", "be-2"], "backends untouched");
  });

  test("the normalized manifest.json renders the same configs again", async () => {
    const first = await render(listManifest(3, { providers: ["echo", "workers-ai", "openai-compatible"] }), "again");
    const again = await loadManifest(path.join(first.out, "manifest.json"));
    const second = await render(again, "again-2", { normalized: true });
    assert.deepEqual(second.orchestrator, first.orchestrator);
    assert.deepEqual(second.backends, first.backends);
  });

  test("the default backends.json is the local stack: three echo backends", async () => {
    const manifest = await loadManifest(path.join(ROOT, "backends.json"));
    assert.equal(manifest.backends.length, 3);
    assert.ok(manifest.backends.every((b) => b.provider === "echo"));
    checkRendering(await render(manifest, "default", { normalized: true }), manifest);
  });
});

describe("render-configs CLI", () => {
  test("--count/--pattern with --json and --github-output", async () => {
    const out = path.join(scratch.dir, "cli");
    const githubOutput = path.join(scratch.dir, "github-output.txt");
    await writeFile(githubOutput, "");
    const { stdout } = await run(process.execPath, ["scripts/render-configs.mjs", "--count", "2", "--pattern", "w-{i}",
      "--out", out, "--json", "--github-output", githubOutput], { cwd: ROOT });
    const plan = JSON.parse(stdout);
    assert.deepEqual(plan.orchestrator.bindings, [{ binding: "BACKEND_W_1", service: "w-1" }, { binding: "BACKEND_W_2", service: "w-2" }]);
    // Never the production orchestrator (ai-router): its real backends would be unbound and orphaned.
    assert.equal(plan.orchestrator.name, "ai-router-echo");
    assert.deepEqual(JSON.parse(await readFile(path.join(out, "plan.json"), "utf8")), plan);

    const lines = Object.fromEntries((await readFile(githubOutput, "utf8")).trim().split("\n").map((l) => l.split(/=(.*)/s).slice(0, 2)));
    const matrix = JSON.parse(lines.backends);
    assert.deepEqual(matrix.map((m) => [m.name, m.binding]), [["w-1", "BACKEND_W_1"], ["w-2", "BACKEND_W_2"]]);
    for (const m of matrix) assert.equal(path.resolve(ROOT, m.dir), path.join(out, "backends", m.name));
    assert.equal(path.resolve(ROOT, lines["orchestrator-dir"]), path.join(out, "orchestrator"));
  });
});
