// With panic routing off (health.panicRouting false), a router whose every backend is cooling
// down or ejected refuses at once with 503 + Retry-After (until the first one returns) and calls
// no backend; it serves again by itself once one is back. Real controlled backends, deployed bundle.
import assert from "node:assert/strict";
import { after, before, beforeEach, test } from "node:test";
import { startControlledStack, status, THROW } from "../support/backend-control.mjs";
import { ask, openAiError, settle, sleep } from "../support/fault-cases.mjs";

const BINDINGS = ["BACKEND_A", "BACKEND_B"];
const ROUTER_CONFIG = {
  timeouts: { perTryMs: 300, firstByteMs: 300, requestMs: 4000 },
  health: { panicRouting: false, consecutiveFailures: 1, baseEjectionMs: 1500, maxEjectionMs: 10000, maxEjectionPercent: 100 },
};

/** @type {Awaited<ReturnType<typeof startControlledStack>>} */
let h;
before(async () => { h = await startControlledStack({ bindings: BINDINGS, routerConfig: ROUTER_CONFIG }); });
after(() => h?.stop());
beforeEach(() => settle(h));

/** Makes every backend unavailable with `fault`, then checks the 503 refusal and the recovery. */
async function refusesUntilOneReturns(/** @type {import("../support/backend-control.mjs").Instruction} */ fault, /** @type {string} */ state) {
  h.control.setAll(fault);
  const first = await ask(h.stack, { label: `${state}-first` });
  assert.equal(first.status, 502, "the request that made them unavailable got an upstream error");
  assert.equal(openAiError(first.json)?.type, "upstream_error");
  assert.equal(first.attempts, 2, "one attempt each, then no candidate is left (no panic)");
  assert.deepEqual(h.control.callsFor(first.requestId).map((c) => c.binding).sort(), BINDINGS);

  const s = await h.status();
  assert.ok(s.backends.every((/** @type {any} */ b) => b.state === state), JSON.stringify(s.backends));
  const back = Math.min(...s.backends.map((/** @type {any} */ b) => b.until));

  h.control.reset();
  const refused = await ask(h.stack, { label: `${state}-refused` });
  assert.equal(refused.status, 503);
  const error = openAiError(refused.json);
  assert.ok(error, refused.text);
  assert.equal(error.type, "service_unavailable");
  const retryAfter = Number(refused.retryAfter);
  assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= Math.ceil((back - refused.started) / 1000),
    `Retry-After ${refused.retryAfter} for a backend back in ${back - refused.started} ms`);
  assert.equal(refused.attempts, 0);
  assert.equal(refused.backend, null);
  assert.equal(h.control.calls.length, 0, "no backend is called");

  await sleep(back - Date.now() + 50);
  const served = await ask(h.stack, { label: `${state}-served` });
  assert.equal(served.status, 200, "it serves again by itself");
  assert.equal(served.attempts, 1);
}

test("every backend cooling down after a 429 and no panic routing: 503 + Retry-After, then served again", async () => {
  await refusesUntilOneReturns(status(429, { "retry-after": "2" }), "cooldown");
});

test("every backend ejected and no panic routing: 503 + Retry-After, then served again", async () => {
  await refusesUntilOneReturns(THROW, "ejected");
});
