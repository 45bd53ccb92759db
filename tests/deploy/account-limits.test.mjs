// Cloudflare's documented Workers limits for the plan the manifest (or --workers-plan) states:
// Workers per account (free 100, paid 500), environment variables per Worker (64, 128) and 5 KB
// per variable; names are checked with the manifest.
import assert from "node:assert/strict";
import { test } from "node:test";
import { accountLimitProblems, workerCount } from "../../scripts/lib/account-limits.mjs";
import { ManifestError, normalizeManifest } from "../../scripts/lib/backends-manifest.mjs";
import { DeployCheckError, preflight } from "../../scripts/lib/deploy-preflight.mjs";

const counted = (count, account) => normalizeManifest({ ...(account ? { account } : {}), backends: { count, pattern: "be-{i}" } });

test("Workers per account: backends + the orchestrator (+ the account's others) against the plan", () => {
  assert.deepEqual(accountLimitProblems(counted(99)), [], "99 + 1 = 100 fits Workers Free");
  const over = accountLimitProblems(counted(100));
  assert.equal(over.length, 1);
  assert.match(over[0], /^account: 101 Workers \(100 backends \+ the orchestrator\) is over Workers Free's 100 Workers per account; if the account is on Workers Paid, say so with "account": \{"plan": "paid"\}/);
  assert.deepEqual(accountLimitProblems(counted(100, { plan: "paid" })), []);
  assert.deepEqual(accountLimitProblems(counted(100), "paid"), [], "--workers-plan paid overrides the manifest");
  assert.match(accountLimitProblems(counted(90, { otherWorkers: 10 })).join("\n"), /account: 101 Workers \(90 backends \+ the orchestrator \+ 10 other Workers in the account\) is over Workers Free's 100/);
  assert.match(accountLimitProblems(counted(200, { plan: "paid", otherWorkers: 300 })).join("\n"), /501 Workers .* is over Workers Paid's 500 Workers per account, or deploy fewer backends/);
  assert.equal(workerCount(counted(3, { otherWorkers: 2 })), 6);
});

test("the account field: plan free|paid (default free), otherWorkers a whole number", () => {
  assert.deepEqual(counted(1).account, { plan: "free", otherWorkers: 0 });
  for (const [account, pattern] of [[{ plan: "pro" }, /account\.plan must be "free" or "paid"/], [{ otherWorkers: -1 }, /account\.otherWorkers must be a whole number/], [{ seats: 1 }, /account: unknown field "seats"/], ["paid", /account must be an object/]]) {
    assert.throws(() => counted(1, account), (e) => e instanceof ManifestError && e.problems.some((p) => pattern.test(p)), JSON.stringify(account));
  }
});

test("environment variables per Worker and their size", () => {
  const vars = Object.fromEntries(Array.from({ length: 61 }, (_, i) => [`X_${i}`, "v"]));
  const many = normalizeManifest({ backends: [{ name: "wide", vars }] });
  assert.deepEqual(accountLimitProblems(many), ["backend wide: 65 environment variables (vars and secrets); Workers Free allows 64 per Worker"]);
  assert.deepEqual(accountLimitProblems(many, "paid"), []);
  const big = normalizeManifest({ backends: [{ name: "big", vars: { MODEL_MAP: { m: "x".repeat(5200) } } }] });
  assert.deepEqual(accountLimitProblems(big), [`backend big: var MODEL_MAP is ${5200 + 8} bytes; Cloudflare allows 5120 bytes (5 KB) per environment variable`]);
  const models = normalizeManifest({ backends: [{ name: "m", models: Array.from({ length: 600 }, (_, i) => `model-${i}`) }] });
  assert.match(accountLimitProblems(models).join("\n"), /^backend m: var MODELS is \d+ bytes; Cloudflare allows 5120 bytes/);
  const policy = normalizeManifest({ orchestrator: { routerConfig: { backends: Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`BACKEND_B${i}`, { weight: 1 }])) } }, backends: [{ name: "a" }] });
  assert.match(accountLimitProblems(policy).join("\n"), /^orchestrator ai-router: orchestrator\.routerConfig \(the ROUTER_CONFIG var\) is \d+ bytes; Cloudflare allows 5120 bytes/);
});

test("preflight refuses a manifest over the stated limit before anything else happens", async () => {
  await assert.rejects(preflight(counted(120), { source: "big.json" }), (e) => e instanceof DeployCheckError && /^big\.json: refused before deploying anything:\n {2}- account: 121 Workers/.test(e.message));
  const ok = await preflight(counted(120), { plan: "paid" });
  assert.deepEqual([ok.plan, ok.workers, ok.workerLimit], ["paid", 121, 500]);
});
