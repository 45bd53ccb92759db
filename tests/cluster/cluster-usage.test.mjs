// Usage across the cluster (contract sections 3 and 4; docs/control-plane.md): two orchestrators
// share one control plane; the answers each serves (every one reports 1 prompt, 2 completion, 3
// total tokens: tests/fixture-workers/controlled-backend.js) add up in `cluster` of either one's
// /status exactly: tokens per backend, model and key, latency samples per backend. The answering
// isolate's own figures stay its own.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { startCluster } from "../support/cluster.mjs";
import { sleep } from "../support/fault-cases.mjs";

const BINDINGS = ["BACKEND_A", "BACKEND_B"];
const ROUTER_CONFIG = { controlPlane: { firstSyncWaitMs: 1000 } };
const BY_A = 6, BY_B = 4;

/** @type {Awaited<ReturnType<typeof startCluster>>} */
let h;
before(async () => { h = await startCluster({ bindings: BINDINGS, routerConfig: ROUTER_CONFIG }); });
after(() => h?.stop());

/**
 * Polls /status of both orchestrators (an isolate syncs only after a request it serves) until both
 * cluster views have `answers` answers of echo-1; returns both. @param {number} answers
 */
async function clusterWith(answers, timeoutMs = 8000) {
  for (const deadline = Date.now() + timeoutMs; ; await sleep(200)) {
    const views = { a: await h.status("a"), b: await h.status("b") };
    const seen = (/** @type {any} */ s) => s.cluster.usage?.models?.["echo-1"]?.answers ?? 0;
    if (seen(views.a) >= answers && seen(views.b) >= answers) return views;
    assert.ok(Date.now() < deadline, `the cluster views never reached ${answers} answers: ${JSON.stringify(views.a.cluster)} ${JSON.stringify(views.b.cluster)}`);
  }
}

/** The sum of `pick` over a list of backend entries. @param {any[]} backends @param {(b: any) => number} pick */
const sum = (backends, pick) => backends.reduce((n, b) => n + pick(b), 0);

test("answers served by both orchestrators show exactly in the cluster view of either", async () => {
  for (let i = 0; i < Math.max(BY_A, BY_B); i++) {
    if (i < BY_A) assert.equal((await h.ask("a", { label: "usage-a" })).status, 200);
    if (i < BY_B) assert.equal((await h.ask("b", { label: "usage-b" })).status, 200);
  }
  const n = BY_A + BY_B;
  await clusterWith(n);
  await sleep(1100); // more syncs: a report counted twice would show now
  await h.status("a");
  await h.status("b");
  await sleep(1100);
  const views = { a: await h.status("a"), b: await h.status("b") };
  for (const [which, s] of Object.entries(views)) {
    const c = s.cluster;
    assert.deepEqual(c.usage.models["echo-1"], { prompt: n, completion: 2 * n, total: 3 * n, answers: n }, `${which}: ${JSON.stringify(c.usage)}`);
    assert.deepEqual(c.usage.keys, { none: { prompt: n, completion: 2 * n, total: 3 * n, answers: n } });
    assert.equal(sum(c.backends, (b) => b.tokens.total), 3 * n, JSON.stringify(c.backends));
    assert.equal(sum(c.backends, (b) => b.tokens.answers), n);
    assert.equal(sum(c.backends, (b) => b.successes), n);
    for (const b of c.backends) {
      assert.equal(b.tokens.answers, b.successes, `${b.binding}: one reported usage per answer`);
      assert.equal(b.latency.firstByteMs.samples, b.successes);
      assert.equal(b.latency.totalMs.samples, b.successes);
      assert.deepEqual(Object.keys(b.latency.totalMs), ["samples", "ewma", "p50", "p95", "p99"], "the isolate level's shape");
      assert.ok(b.latency.totalMs.p99 >= b.latency.totalMs.p50 && b.latency.totalMs.p50 > 0, JSON.stringify(b.latency));
    }
    assert.deepEqual(c.fallbacks, {});
  }
  assert.equal(views.a.usage.models["echo-1"].answers, BY_A, "A's own figures are A's");
  assert.equal(views.b.usage.models["echo-1"].answers, BY_B, "B's own figures are B's");
});
