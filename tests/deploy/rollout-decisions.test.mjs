// The rollout's decisions as pure functions (scripts/deploy/): rollback after a smoke check, the
// canary's verdict from two /status samples, the versions read from wrangler's output, the canary
// manifest and the prune list. Hostile inputs (broken bodies, counters that go backwards, odd ids)
// must never turn into a promotion or a deletion.
import assert from "node:assert/strict";
import { test } from "node:test";
import { rollbackDecision } from "../../scripts/deploy/rollback-decision.mjs";
import { canaryDecision } from "../../scripts/deploy/canary-decision.mjs";
import { stableVersion, uploadedVersion } from "../../scripts/deploy/wrangler-output.mjs";
import { canaryManifest } from "../../scripts/deploy/canary-manifest.mjs";
import { pruneCandidates } from "../../scripts/deploy/prune-plan.mjs";

const NEW = "11111111-2222-4333-8444-555555555555";
const OLD = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee";

test("rollback decision: promote exactly when the smoke check passed", () => {
  assert.deepEqual(rollbackDecision({ smoke: { ok: true, problems: [] }, newVersion: NEW, previousVersion: OLD }),
    { action: "promote", target: NEW, reason: `version ${NEW} passed the smoke check` });
  const failed = rollbackDecision({ smoke: { ok: false, problems: ["/healthz answered 500 x"] }, newVersion: NEW, previousVersion: OLD });
  assert.equal(failed.action, "rollback");
  assert.equal(failed.target, OLD);
  assert.match(failed.reason, /failed the smoke check: \/healthz answered 500 x; rolled back to aaaaaaaa-/);
});

test("rollback decision: an unreadable or contradictory smoke result is a failure, never a pass", () => {
  for (const smoke of [undefined, null, "ok", { ok: "true", problems: [] }, { ok: true, problems: ["x"] }, { ok: true }, { ok: false }]) {
    const d = rollbackDecision({ smoke, newVersion: NEW, previousVersion: OLD });
    assert.equal(d.action, "rollback", JSON.stringify(smoke));
    assert.equal(d.target, OLD);
  }
});

test("rollback decision: no previous version (first deploy), the same one, or a bad id fail without deploying", () => {
  assert.equal(rollbackDecision({ smoke: { ok: false, problems: ["p"] }, newVersion: NEW }).action, "fail");
  assert.match(rollbackDecision({ smoke: { ok: false, problems: ["p"] }, newVersion: NEW, previousVersion: "latest" }).reason, /no previous version/);
  assert.match(rollbackDecision({ smoke: { ok: false, problems: ["p"] }, newVersion: NEW, previousVersion: NEW }).reason, /same one/);
  const bad = rollbackDecision({ smoke: { ok: true, problems: [] }, newVersion: "$(rm -rf /)", previousVersion: OLD });
  assert.deepEqual([bad.action, bad.target], ["fail", null]);
});

/** A /status body with counters per binding; `cluster` adds a synced control plane's view. */
function status(counts, cluster) {
  const entry = ([binding, [attempts, failures, serverErrors = 0, state = "healthy"]]) => ({ binding, state, attempts, successes: attempts - failures - serverErrors, failures, serverErrors });
  const body = { backends: Object.entries(counts).map(entry), cluster: { controlPlane: "absent", backends: [] } };
  if (cluster) body.cluster = { controlPlane: "synced", backends: Object.entries(cluster).map(entry) };
  return body;
}
const pair = { canary: "BACKEND_X_CANARY", incumbent: "BACKEND_X", minAttempts: 20, tolerance: 0.05 };

test("canary decision: promoted when no worse than the incumbent over the window (deltas, not totals)", () => {
  // The incumbent's 1000 earlier failures are before the window: they do not count.
  const before = status({ BACKEND_X: [5000, 1000], BACKEND_X_CANARY: [0, 0] });
  const after = status({ BACKEND_X: [5400, 1008], BACKEND_X_CANARY: [40, 2] });
  const d = canaryDecision({ before, after, ...pair });
  assert.equal(d.action, "promote", d.reason);
  assert.match(d.reason, /canary 2\/40 bad \(5\.0 %\) vs incumbent 8\/400 bad \(2\.0 %\), tolerance 5\.0 %, isolate counters/);
});

test("canary decision: rolled back when it fails more, counting 500 answers as bad", () => {
  const before = status({ BACKEND_X: [100, 0], BACKEND_X_CANARY: [0, 0] });
  const after = status({ BACKEND_X: [500, 4], BACKEND_X_CANARY: [40, 0, 10] });
  const d = canaryDecision({ before, after, ...pair });
  assert.equal(d.action, "rollback");
  assert.match(d.reason, /fails more: canary 10\/40 bad \(25\.0 %\) vs incumbent 4\/400 bad \(1\.0 %\)/);
});

test("canary decision: too little traffic, a missing binding, counters going backwards or ejection roll back", () => {
  const before = status({ BACKEND_X: [100, 0], BACKEND_X_CANARY: [0, 0] });
  const cases = [
    [status({ BACKEND_X: [500, 0], BACKEND_X_CANARY: [19, 0] }), /made 19 attempt\(s\) in the window, fewer than 20/],
    [status({ BACKEND_X: [500, 0] }), /BACKEND_X_CANARY is not listed/],
    [status({ BACKEND_X: [50, 0], BACKEND_X_CANARY: [40, 0] }), /went backwards/],
    [status({ BACKEND_X: [500, 0], BACKEND_X_CANARY: [40, 1, 0, "ejected"] }), /is ejected/],
    [{ backends: [{ binding: "BACKEND_X_CANARY", attempts: "40", failures: 0, serverErrors: 0 }] }, /attempts is not a count/],
    [{ nothing: true }, /no backends list/],
  ];
  for (const [after, reason] of cases) {
    const d = canaryDecision({ before, after, ...pair });
    assert.equal(d.action, "rollback", d.reason);
    assert.match(d.reason, reason);
  }
});

test("canary decision: the control plane's cluster-wide counters win over one isolate's", () => {
  const before = status({ BACKEND_X: [0, 0], BACKEND_X_CANARY: [0, 0] }, { BACKEND_X: [100, 0], BACKEND_X_CANARY: [0, 0] });
  // This isolate saw a clean canary; the cluster saw it fail.
  const after = status({ BACKEND_X: [10, 0], BACKEND_X_CANARY: [30, 0] }, { BACKEND_X: [900, 8], BACKEND_X_CANARY: [100, 30] });
  const d = canaryDecision({ before, after, ...pair });
  assert.equal(d.source, "cluster");
  assert.equal(d.action, "rollback");
  assert.match(d.reason, /30\/100 bad/);
});

test("canary decision: an incumbent without traffic is no baseline, the canary must then be nearly clean", () => {
  const before = status({ BACKEND_X: [0, 0], BACKEND_X_CANARY: [0, 0] });
  assert.equal(canaryDecision({ before, after: status({ BACKEND_X: [0, 0], BACKEND_X_CANARY: [40, 1] }), ...pair }).action, "promote");
  const d = canaryDecision({ before, after: status({ BACKEND_X: [5, 5], BACKEND_X_CANARY: [40, 4] }), ...pair });
  assert.equal(d.action, "rollback");
  assert.match(d.reason, /no baseline \(incumbent 5 attempt\(s\) < 20\)/);
});

test("wrangler output: the stable version of a deployment, and the version an upload reported", () => {
  const status = JSON.stringify({ id: "d", versions: [{ version_id: NEW, percentage: 10 }, { version_id: OLD, percentage: 90 }] });
  assert.equal(stableVersion(`warning: something\n${status}\n`), OLD);
  assert.throws(() => stableVersion(JSON.stringify({ versions: [{ version_id: NEW, percentage: 50 }, { version_id: OLD, percentage: 50 }] })), /split evenly/);
  assert.throws(() => stableVersion(JSON.stringify({ versions: [{ version_id: "../x", percentage: 100 }] })), /not a version id/);
  assert.throws(() => stableVersion("The Worker has no deployments."), /no JSON object/);
  const ndjson = [
    JSON.stringify({ type: "wrangler-session", version: 1 }),
    "not json",
    JSON.stringify({ type: "version-upload", version: 1, worker_name: "ai-router", version_id: NEW }),
  ].join("\n");
  assert.equal(uploadedVersion(ndjson, "ai-router"), NEW);
  assert.throws(() => uploadedVersion(ndjson, "echo-a"), /no version upload of echo-a/);
  assert.throws(() => uploadedVersion(JSON.stringify({ type: "version-upload", version_id: "x y" })), /not one/);
});

test("canary manifest: the incumbent's twin, bound as BACKEND_<NAME>_CANARY at a share of its weight", () => {
  const manifest = {
    orchestrator: { name: "ai-router", routerConfig: { retry: { maxAttempts: 2 }, backends: { BACKEND_LLAMA: { weight: 3 } } } },
    backends: [{ name: "llama", binding: "BACKEND_LLAMA", provider: "workers-ai", models: ["llama"], weight: 4, vars: {} }],
  };
  const { manifest: next, canary, incumbent } = canaryManifest(manifest, "llama", 0.1);
  assert.deepEqual(canary, { name: "llama-canary", binding: "BACKEND_LLAMA_CANARY", weight: 0.4 });
  assert.equal(incumbent.binding, "BACKEND_LLAMA");
  assert.deepEqual(next.orchestrator.routerConfig, { retry: { maxAttempts: 2 }, backends: { BACKEND_LLAMA: { weight: 3 }, BACKEND_LLAMA_CANARY: { weight: 0.4 } } });
  assert.deepEqual(next.backends[1], { ...manifest.backends[0], name: "llama-canary", binding: "BACKEND_LLAMA_CANARY", weight: 0.4 });
  assert.equal(manifest.backends.length, 1, "the input is left alone");
  assert.throws(() => canaryManifest(manifest, "nope"), /no backend "nope"/);
  assert.throws(() => canaryManifest(next, "llama"), /already has llama-canary/);
  assert.throws(() => canaryManifest(manifest, "llama", 0), /share/);
  assert.throws(() => canaryManifest({ ...manifest, backends: [{ ...manifest.backends[0], name: "x".repeat(60) }] }, "x".repeat(60)), /longer than 63/);
});

test("prune plan: only prefixed Workers the plan no longer deploys, never the orchestrator or another prefix", () => {
  const plan = { orchestrator: { name: "echo-router", bindings: [{ binding: "BACKEND_ECHO_A", service: "echo-a" }] }, backends: [{ name: "echo-a" }] };
  const listing = { success: true, result: [{ id: "echo-a" }, { id: "echo-b" }, { id: "echo-router" }, { id: "billing" }, { id: "echo-c" }] };
  assert.deepEqual(pruneCandidates({ listing, plan, prefix: "echo-" }), { remove: ["echo-b", "echo-c"], keep: ["echo-a", "echo-router"] });
  assert.deepEqual(pruneCandidates({ listing: ["echo-b", "other"], plan, prefix: "echo-" }).remove, ["echo-b"]);
  assert.throws(() => pruneCandidates({ listing, plan, prefix: "" }), /needs a name prefix/);
  assert.throws(() => pruneCandidates({ listing, plan }), /needs a name prefix/);
  assert.throws(() => pruneCandidates({ listing: { success: false, errors: [] }, plan, prefix: "echo-" }), /unsuccessful/);
  assert.throws(() => pruneCandidates({ listing: ["echo-b; rm -rf /"], plan, prefix: "echo-" }), /not a Worker name/);
});
