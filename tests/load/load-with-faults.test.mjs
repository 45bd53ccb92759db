// Load with faults: 5 000 requests at concurrency 16 through the deployed orchestrator bundle
// (loopback only) over three real backend Workers: one failing 30% of its calls at random, one
// hanging now and then (1%), one healthy. Random faults are seeded, so every run draws the same
// sequence per backend. Asserts that the only client errors are the retry budget's refusals the
// contract allows, attempts within maxAttempts, and that passive health ejects the failing
// backend for longer each time (the gaps between its calls grow) and keeps its share low. Prints
// the figures; how fast it runs is the benchmarks' business (BENCHMARKS.md), not an assertion.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { randomFaults, startControlledStack } from "../support/backend-control.mjs";
import { chat } from "../support/http.mjs";

const REQUESTS = 5000;
const CONCURRENCY = 16;
const WINDOW = 1000; // requests compared at the start and at the end of the run
const MAX_ATTEMPTS = 3;
// The control server's clock reads a call a little after the router made it.
const CLOCK_SLACK_MS = 100;
const PER_TRY_MS = 1000;
const ROUTER_CONFIG = {
  // The contract's retry budget (20% of requests in flight, at least 3): see the budget assertions.
  retry: { maxAttempts: MAX_ATTEMPTS },
  // Short enough that a hang costs little, long enough that a healthy call on two busy cores
  // (p99 about 250 ms here) does not time out.
  timeouts: { perTryMs: PER_TRY_MS, requestMs: 10000 },
  // 3 failures in a row eject, for 500 ms × times ejected: a 30% failure rate is ejected a few
  // times a second at first, then for longer and longer.
  health: { consecutiveFailures: 3, baseEjectionMs: 500, maxEjectionMs: 60000 },
};
const FLAKY = "BACKEND_FLAKY";
const HANGS = "BACKEND_HANGS";
const HEALTHY = "BACKEND_HEALTHY";

/** @type {Awaited<ReturnType<typeof startControlledStack>>} */
let h;
before(async () => {
  h = await startControlledStack({ bindings: [FLAKY, HANGS, HEALTHY], routerConfig: ROUTER_CONFIG });
  // Warm up first (discovery, each backend Worker's first start, the first concurrent burst):
  // the load measures a running router, not cold starts slower than a per-try timeout.
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    for (let i = 0; i < 3; i++) {
      const res = await h.stack.fetch("/v1/chat/completions", {
        method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(chat()) });
      await res.arrayBuffer();
    }
  }));
  h.control.reset();
  h.control.set(FLAKY, randomFaults({ seed: 0x5eed1, fail: 0.3 }));
  h.control.set(HANGS, randomFaults({ seed: 0x5eed2, hang: 0.01 }));
});
after(() => h?.stop());

/** Share of `binding` among `items` (by `key`), as a fraction. */
const share = (/** @type {any[]} */ items, /** @type {string} */ binding, key = "binding") =>
  items.length ? items.filter((x) => x[key] === binding).length / items.length : 0;
const pct = (/** @type {number} */ x) => `${(100 * x).toFixed(1)}%`;

test(`${REQUESTS} requests at concurrency ${CONCURRENCY} with a 30%-failing and a sometimes-hanging backend`, { timeout: 300_000 }, async () => {
  /** @type {{i: number, status: number, attempts: number, backend: string | null, ms: number, error?: string}[]} */
  const results = new Array(REQUESTS);
  const body = JSON.stringify(chat());
  let next = 0;
  const started = Date.now();
  async function worker() {
    for (let i = next++; i < REQUESTS; i = next++) {
      const t = Date.now();
      const res = await h.stack.fetch("/v1/chat/completions", {
        method: "POST", headers: { "content-type": "application/json", "x-request-id": `load-${i}` }, body,
      });
      const text = await res.text();
      results[i] = { i, status: res.status, attempts: Number(res.headers.get("x-router-attempts")),
        backend: res.headers.get("x-router-backend"), ms: Date.now() - t,
        ...(res.status === 200 ? {} : { error: text }) };
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const elapsed = Date.now() - started;
  h.control.releaseHangs();

  const errors = results.filter((r) => r.status !== 200);
  /** @type {Record<number, number>} */
  const attempts = {};
  for (const r of results) attempts[r.attempts] = (attempts[r.attempts] ?? 0) + 1;
  const calls = h.control.calls.map((c) => ({ ...c, index: Number(c.requestId.slice("load-".length)) }));
  const first = calls.filter((c) => c.index < WINDOW);
  const last = calls.filter((c) => c.index >= REQUESTS - WINDOW);
  const s = await h.status();
  const latencies = results.map((r) => r.ms).sort((a, b) => a - b);

  console.log([
    `load with faults: ${REQUESTS} requests, concurrency ${CONCURRENCY}, ${elapsed} ms (${Math.round(REQUESTS / (elapsed / 1000))} req/s), `
      + `latency p50 ${latencies[Math.floor(REQUESTS / 2)]} ms, p99 ${latencies[Math.floor(REQUESTS * 0.99)]} ms`,
    `budget refusals (502): ${errors.length}; attempts per request: ${JSON.stringify(attempts)}; backend calls: ${calls.length}`,
    `share of backend calls  first ${WINDOW}: ${[FLAKY, HANGS, HEALTHY].map((b) => `${b} ${pct(share(first, b))}`).join(", ")}`,
    `share of backend calls  last ${WINDOW}:  ${[FLAKY, HANGS, HEALTHY].map((b) => `${b} ${pct(share(last, b))}`).join(", ")}`,
    `share of answers (all): ${[FLAKY, HANGS, HEALTHY].map((b) => `${b} ${pct(share(results, b, "backend"))}`).join(", ")}`,
    `faults injected: ${calls.filter((c) => c.instruction.do === "status").length} failures, `
      + `${calls.filter((c) => c.instruction.do === "hang").length} hangs; /status: `
      + s.backends.map((/** @type {any} */ b) => `${b.binding} attempts ${b.attempts} failures ${b.failures} ejected ${b.timesEjected}x`).join(", "),
  ].join("\n"));

  // The only error the contract allows here is the retry budget refusing a retry (section 4:
  // retries in flight at most 20% of requests in flight, at least 3). At concurrency 16 that limit
  // is 3, and a loaded machine does reach it now and then (measured: 0 to 3 refusals per run, the
  // most when retries are slower or one of them hangs for perTryMs). So: each refusal is a 502
  // retry_budget_exhausted after a failed attempt, at least 3 retries were started within the
  // perTryMs before it (the most a retry can run), and refusals stay rare.
  for (const r of errors) {
    const error = JSON.parse(r.error ?? "{}").error;
    assert.equal(r.status, 502, r.error);
    assert.equal(error?.code, "retry_budget_exhausted", r.error);
    const own = h.control.callsFor(`load-${r.i}`);
    assert.ok(own.length >= 1 && own.every((c) => c.instruction.do !== "ok"), `request ${r.i} refused after a success`);
    const last = own[own.length - 1];
    const refusedAt = last.at + (last.instruction.do === "hang" ? PER_TRY_MS : 0);
    const retriesBefore = calls.filter((c) => c.attempt >= 2 && c.at <= refusedAt + CLOCK_SLACK_MS
      && c.at >= refusedAt - PER_TRY_MS - CLOCK_SLACK_MS);
    assert.ok(retriesBefore.length >= 3, `request ${r.i} refused with only ${retriesBefore.length} retries started before it`);
  }
  assert.ok(errors.length <= REQUESTS / 100, `${errors.length} budget refusals in ${REQUESTS} requests`);
  assert.ok(results.every((r) => r.attempts >= 1 && r.attempts <= MAX_ATTEMPTS), "attempts within maxAttempts");
  for (const r of results.filter((x) => x.i % 97 === 0)) {
    assert.equal(h.control.callsFor(`load-${r.i}`).length, r.attempts, "x-router-attempts counts the backend calls");
  }
  assert.ok(calls.some((c) => c.binding === FLAKY && c.instruction.do === "status"), "the flaky backend failed");
  assert.ok(calls.some((c) => c.binding === HANGS && c.instruction.do === "hang"), "the hanging backend hung");
  // Ejected for longer each time: the failing backend's calls stop for baseEjectionMs × times
  // ejected, so the gaps between its calls grow. Measured as gaps rather than as its share of the
  // first and last requests, which depends on how fast the machine runs (on a fast one the last
  // window may fall just after an ejection ended).
  const flakyAt = calls.filter((c) => c.binding === FLAKY).map((c) => c.at).sort((a, b) => a - b);
  const gaps = flakyAt.slice(1).map((t, i) => t - flakyAt[i]);
  const base = ROUTER_CONFIG.health.baseEjectionMs;
  const ejections = gaps.filter((g) => g >= base - CLOCK_SLACK_MS);
  console.log(`gaps between the failing backend's calls longer than ${base - CLOCK_SLACK_MS} ms: ${ejections.join(", ")}`);
  assert.ok(ejections.length >= 2, "the failing backend was left alone at least twice");
  assert.ok(Math.max(...ejections) >= 2 * base - CLOCK_SLACK_MS, "a later ejection lasts at least twice the first");
  // Round-robin alone would give each backend a third of the calls.
  assert.ok(share(calls, FLAKY) < 1 / 3 * 0.75, `its share of all calls is well below its round-robin share: ${pct(share(calls, FLAKY))}`);
  assert.ok(share(last, FLAKY) < 1 / 3 * 0.75, `its share at the end is well below its round-robin share: ${pct(share(last, FLAKY))}`);
  assert.ok(s.byBinding[FLAKY].timesEjected >= 1);
  assert.equal(s.retriesInFlight, 0);
  assert.ok(s.backends.every((/** @type {any} */ b) => b.inFlight === 0), "nothing left in flight");
});
