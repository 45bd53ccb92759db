// Passive health through the deployed orchestrator bundle and four real controlled backends:
// consecutive failures eject a backend (round-robin skips it, it returns by itself after the
// ejection time), panic routing when no eligible backend is healthy, and the 50% ejection cap
// when more than half the backends fail. Ejection times are short (baseEjectionMs 1500) so the
// return is observed.
import assert from "node:assert/strict";
import { after, before, beforeEach, test } from "node:test";
import { OK, startControlledStack, status } from "../support/backend-control.mjs";
import { ask, openAiError, settle, sleep } from "../support/fault-cases.mjs";

const BINDINGS = ["BACKEND_A", "BACKEND_B", "BACKEND_C", "BACKEND_D"];
const FAILURES_TO_EJECT = 5;
const BASE_EJECTION_MS = 1500;
const ROUTER_CONFIG = {
  timeouts: { perTryMs: 300, firstByteMs: 300, requestMs: 4000 },
  health: { consecutiveFailures: FAILURES_TO_EJECT, baseEjectionMs: BASE_EJECTION_MS, maxEjectionMs: 20000,
    maxEjectionPercent: 50 },
  // "solo-1" is served by BACKEND_D alone: the panic case needs a model whose every backend is ejected.
  backends: { BACKEND_A: { models: ["echo-1"] }, BACKEND_B: { models: ["echo-1"] }, BACKEND_C: { models: ["echo-1"] },
    BACKEND_D: { models: ["echo-1", "solo-1"] } },
};
const SLACK_MS = 15;

/** @type {Awaited<ReturnType<typeof startControlledStack>>} */
let h;
before(async () => { h = await startControlledStack({ bindings: BINDINGS, routerConfig: ROUTER_CONFIG }); });
after(() => h?.stop());
beforeEach(() => settle(h));

test(`${FAILURES_TO_EJECT} consecutive failures eject a backend; round-robin skips it; it returns after the ejection time`, async () => {
  h.control.set("BACKEND_A", status(503));
  // Every request still succeeds (failover) while BACKEND_A collects its failures.
  for (let i = 0; i < 40 && h.control.calls.filter((c) => c.binding === "BACKEND_A").length < FAILURES_TO_EJECT; i++) {
    const r = await ask(h.stack, { label: "eject" });
    assert.equal(r.status, 200);
    assert.notEqual(r.backend, "BACKEND_A");
    if (h.control.calls.filter((c) => c.binding === "BACKEND_A").length < FAILURES_TO_EJECT) {
      assert.equal((await h.status()).byBinding.BACKEND_A.state, "healthy", "not ejected before the 5th failure");
    }
  }
  const failed = h.control.calls.filter((c) => c.binding === "BACKEND_A");
  assert.equal(failed.length, FAILURES_TO_EJECT);
  const fifth = failed[FAILURES_TO_EJECT - 1];
  const ejected = (await h.status()).byBinding.BACKEND_A;
  assert.equal(ejected.state, "ejected");
  assert.equal(ejected.timesEjected, 1);
  assert.equal(ejected.consecutiveFailures, FAILURES_TO_EJECT);
  assert.ok(ejected.until >= fifth.at + BASE_EJECTION_MS - SLACK_MS && ejected.until <= Date.now() + BASE_EJECTION_MS,
    `ejected until ${ejected.until - fifth.at} ms after its 5th failure, expected ${BASE_EJECTION_MS}`);

  // While ejected it gets no traffic, although it would now answer. (Requests stop short of the
  // ejection's end, whatever the machine's speed.)
  h.control.set("BACKEND_A", OK);
  h.control.reset();
  let sent = 0;
  for (; sent < 9 && Date.now() < ejected.until - 250; sent++) {
    const r = await ask(h.stack, { label: "ejected" });
    assert.equal(r.status, 200);
    assert.equal(r.attempts, 1);
  }
  assert.ok(sent >= 3, `only ${sent} requests fitted in the ejection`);
  const during = h.control.countByBinding();
  assert.equal(during.BACKEND_A, undefined, "no call while ejected");
  // Smooth round-robin over the three others: an equal share, give or take one while it re-balances.
  for (const b of ["BACKEND_B", "BACKEND_C", "BACKEND_D"]) {
    const n = during[b] ?? 0;
    assert.ok(n >= Math.floor(sent / 3) - 1 && n <= Math.ceil(sent / 3) + 1, `round-robin over the others: ${JSON.stringify(during)}`);
  }

  // It comes back by itself once the ejection time has passed.
  await sleep(ejected.until - Date.now() + 50);
  h.control.reset();
  for (let i = 0; i < 8; i++) assert.equal((await ask(h.stack, { label: "returned" })).status, 200);
  const back = h.control.calls.filter((c) => c.binding === "BACKEND_A");
  assert.ok(back.length >= 1 && back.length <= 3, `its round-robin share again (2 of 8, give or take one): ${back.length}`);
  assert.ok(back[0].at >= ejected.until, "not before the ejection ended");
  const returned = (await h.status()).byBinding.BACKEND_A;
  assert.equal(returned.state, "healthy");
  assert.equal(returned.until, null);
  assert.equal(returned.consecutiveFailures, 0);
  assert.equal(returned.timesEjected, 1);
});

test("panic: a model whose only backend is ejected is still routed to it rather than refused", async () => {
  h.control.set("BACKEND_D", status(503));
  let last;
  for (let i = 0; i < 10 && (await h.status()).byBinding.BACKEND_D.state !== "ejected"; i++) {
    last = await ask(h.stack, { label: "panic-eject", model: "solo-1" });
    assert.equal(last.status, 502, "its only backend fails");
    assert.equal(openAiError(last.json)?.type, "upstream_error");
    assert.ok(h.control.callsFor(last.requestId).every((c) => c.binding === "BACKEND_D"));
  }
  const before = await h.status();
  assert.equal(before.byBinding.BACKEND_D.state, "ejected");

  h.control.set("BACKEND_D", OK);
  h.control.reset();
  const r = await ask(h.stack, { label: "panic", model: "solo-1" });
  assert.equal(r.status, 200, "routed to the ejected backend, not refused with 503");
  assert.equal(r.backend, "BACKEND_D");
  assert.equal(r.attempts, 1);
  assert.equal(h.control.calls.length, 1);
  assert.ok(r.finished < before.byBinding.BACKEND_D.until, "answered while BACKEND_D was ejected");
  assert.equal((await h.status()).byBinding.BACKEND_D.timesEjected, before.byBinding.BACKEND_D.timesEjected);
  // Other models keep avoiding it. Only answers given while it was still ejected prove that, and at
  // least one must be: a slow machine fails here loudly instead of skipping the check.
  let checked = 0;
  for (let i = 0; i < 3; i++) {
    const other = await ask(h.stack, { label: "panic-other" });
    if (other.finished >= before.byBinding.BACKEND_D.until) break;
    assert.notEqual(other.backend, "BACKEND_D");
    checked++;
  }
  assert.ok(checked >= 1, "no request was answered while BACKEND_D was still ejected");
});

test("more than half the backends failing: at most 50% are ejected and routing continues", async () => {
  h.control.setAll(status(503));
  let maxEjected = 0;
  const answers = [];
  let s;
  // Until two are ejected and the two others have failed at least 5 times in a row.
  for (let i = 0; i < 30; i++) {
    const r = await ask(h.stack, { label: "half" });
    answers.push(r);
    s = await h.status();
    const ejected = s.backends.filter((/** @type {any} */ b) => b.state === "ejected");
    maxEjected = Math.max(maxEjected, ejected.length);
    assert.ok(ejected.length <= BINDINGS.length / 2, `${ejected.length} of ${BINDINGS.length} ejected`);
    const streaks = s.backends.filter((/** @type {any} */ b) => b.state !== "ejected").map((/** @type {any} */ b) => b.consecutiveFailures);
    if (ejected.length === 2 && streaks.every((n) => n >= FAILURES_TO_EJECT)) break;
  }
  const healthy = s.backends.filter((/** @type {any} */ b) => b.state === "healthy");
  assert.equal(maxEjected, 2, "half of the four backends ejected");
  assert.equal(healthy.length, 2);
  assert.ok(healthy.every((/** @type {any} */ b) => b.consecutiveFailures >= FAILURES_TO_EJECT),
    `the others have failed often enough to be ejected, but the cap keeps them in: ${JSON.stringify(s.backends)}`);
  assert.ok(h.stack.logs.some((l) => l.includes("ejection_skipped_max_percent")), "the cap is logged");
  // Routing went on: every request got attempts and an upstream error, never a 503 refusal.
  assert.ok(answers.every((r) => r.status === 502 && r.attempts >= 1), `statuses ${answers.map((r) => r.status)}`);

  // And it goes on serving once the backends recover, through the backends still in.
  const ejectedUntil = Math.min(...s.backends.filter((/** @type {any} */ b) => b.state === "ejected").map((/** @type {any} */ b) => b.until));
  h.control.reset();
  for (let i = 0; i < 4; i++) {
    const r = await ask(h.stack, { label: "half-recovered" });
    assert.equal(r.status, 200);
    assert.equal(r.attempts, 1);
    if (r.finished < ejectedUntil) assert.ok(healthy.some((/** @type {any} */ b) => b.binding === r.backend), `answered by ${r.backend}`);
  }
});
