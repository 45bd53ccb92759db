// orchestrator.routerConfig is checked by the Wasm core (build/wasm/router.wasm through
// shims/wasm-core.js) as the live router checks ROUTER_CONFIG: a config it refuses never ships,
// and the refusal names the field.
import assert from "node:assert/strict";
import path from "node:path";
import { test } from "node:test";
import { normalizeManifest } from "../../scripts/lib/backends-manifest.mjs";
import { DeployCheckError, preflight } from "../../scripts/lib/deploy-preflight.mjs";
import { routerConfigCheck } from "../../scripts/lib/router-config-check.mjs";
import { ROOT } from "./helpers.mjs";

const manifest = (routerConfig) => normalizeManifest({ orchestrator: { routerConfig }, backends: [{ name: "a" }, { name: "b" }] });

test("an invalid routerConfig is refused, naming the field as the core does", async () => {
  const cases = [
    [{ strategy: "nonsense" }, /^orchestrator\.routerConfig\.strategy: strategy must be "round-robin", "least-inflight" or "peak-ewma" \(the core's invalid_router_config/],
    [{ retry: { maxAttempts: 99 } }, /^orchestrator\.routerConfig\.retry\.maxAttempts: retry\.maxAttempts must be an integer in \[1, 10\]/],
    [{ retries: 3 }, /^orchestrator\.routerConfig\.retries: retries is not a known setting/],
    [{ backends: { BACKEND_A: { weight: 0 } } }, /^orchestrator\.routerConfig\.backends\.BACKEND_A\.weight: /],
    [{ retry: { backoffBaseMs: 500, backoffCapMs: 100 } }, /^orchestrator\.routerConfig\.retry\.backoffBaseMs: /],
  ];
  for (const [config, expected] of cases) {
    const { problems } = await routerConfigCheck(manifest(config));
    assert.equal(problems.length, 1, JSON.stringify(config));
    assert.match(problems[0], expected);
  }
});

test("a valid routerConfig, or none, passes; an override of an unbound binding is a warning", async () => {
  assert.deepEqual(await routerConfigCheck(manifest({ strategy: "least-inflight", retry: { maxAttempts: 2 } })), { problems: [], warnings: [] });
  assert.deepEqual(await routerConfigCheck(manifest(null)), { problems: [], warnings: [] });
  const { problems, warnings } = await routerConfigCheck(manifest({ backends: { BACKEND_GONE: { weight: 2 } } }));
  assert.deepEqual(problems, []);
  assert.deepEqual(warnings, ["orchestrator.routerConfig: backends.BACKEND_GONE names no BACKEND_ binding"]);
});

test("preflight refuses the manifest with a DeployCheckError; a missing Wasm build is named with its fix", async () => {
  await assert.rejects(preflight(manifest({ strategy: "nonsense" }), { source: "x.json" }), (e) => {
    assert.ok(e instanceof DeployCheckError);
    assert.match(e.message, /^x\.json: refused before deploying anything:\n {2}- orchestrator\.routerConfig\.strategy: /);
    return true;
  });
  const wasmPath = path.join(ROOT, "build/tmp/no-such-router.wasm");
  await assert.rejects(routerConfigCheck(manifest({ strategy: "round-robin" }), { wasmPath }), /cannot be read \(ENOENT\): build it with scripts\/build-wasm\.sh/);
  const checked = await preflight(manifest({ strategy: "nonsense" }), { core: false });
  assert.equal(checked.routerConfig, "not checked");
  assert.match(checked.notes.join("\n"), /not checked by the Wasm core here \(--no-core\)/);
});
