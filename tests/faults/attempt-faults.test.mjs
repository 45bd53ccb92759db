// The fault matrix for single attempts, through the deployed orchestrator bundle and three real
// backend Workers (tests/fixture-workers/controlled-backend.js) steered call by call from this process:
// throws, 5xx, 429 + Retry-After, non-retriable 4xx, slow and hanging backends, all backends down,
// and a retry storm. Each case asserts the client's answer, which backends were called, how often
// and when, and what /status shows. Ejection is kept out of this file (consecutiveFailures 1000):
// tests/faults/health.test.mjs covers it.
import assert from "node:assert/strict";
import { after, before, beforeEach, test } from "node:test";
import { byAttempt, HANG, OK, startControlledStack, status, THROW } from "../support/backend-control.mjs";
import { ask, openAiError, settle, sleep } from "../support/fault-cases.mjs";

const BINDINGS = ["BACKEND_A", "BACKEND_B", "BACKEND_C"];
const PER_TRY_MS = 300;
const REQUEST_MS = 4000;
const ROUTER_CONFIG = {
  timeouts: { perTryMs: PER_TRY_MS, firstByteMs: PER_TRY_MS, requestMs: REQUEST_MS },
  // A long backoff (a random wait of up to 2 s before re-trying a backend already tried; never
  // needed here, as three attempts meet three backends) makes "no backoff before an untried
  // backend" visible in time: a gap under 1 s, where such a wait would mostly be longer.
  retry: { maxAttempts: 3, backoffBaseMs: 2000, backoffCapMs: 2000 },
  health: { consecutiveFailures: 1000 },
};
// Clock slack between Node and workerd, whose Date.now() moves on I/O only.
const SLACK_MS = 15;
// workerd starts a timer from that standing clock, so in real time it may fire a little early;
// and a call reaches this process after a variable delay. Lower bounds on per-try timeouts are
// therefore taken from the request's start (sound), with this much slack.
const TIMER_SLACK_MS = 50;

/** @type {Awaited<ReturnType<typeof startControlledStack>>} */
let h;
before(async () => { h = await startControlledStack({ bindings: BINDINGS, routerConfig: ROUTER_CONFIG }); });
after(() => h?.stop());
beforeEach(() => settle(h));

/**
 * Checks what holds for every routed request: the calls carry its request id and attempts
 * 1..n in order, no backend is tried twice while an untried one remains, and the headers agree.
 */
function callsOf(/** @type {Awaited<ReturnType<typeof ask>>} */ r) {
  const calls = h.control.callsFor(r.requestId);
  assert.equal(r.echoedRequestId, r.requestId);
  assert.deepEqual(calls.map((c) => c.attempt), calls.map((_, i) => i + 1), "attempts numbered 1..n in call order");
  assert.equal(r.attempts, calls.length, "x-router-attempts counts the backend calls");
  const distinct = new Set(calls.map((c) => c.binding));
  assert.equal(distinct.size, Math.min(calls.length, BINDINGS.length), "untried backends first");
  for (const c of calls) assert.equal(JSON.parse(c.body).messages[0].content, "Hello, router", "the client's body reaches the backend");
  // One overall deadline, the same for every attempt: requestMs after the request arrived.
  for (const c of calls) {
    assert.equal(c.deadline, calls[0].deadline);
    assert.ok(c.deadline >= r.started + REQUEST_MS - SLACK_MS && c.deadline <= r.finished + REQUEST_MS, "deadline = arrival + requestMs");
  }
  return calls;
}

/** Asserts a successful failover from the first call to the second; returns both calls. */
function assertFailedOverOnce(/** @type {Awaited<ReturnType<typeof ask>>} */ r) {
  assert.equal(r.status, 200, r.text);
  const calls = callsOf(r);
  assert.equal(calls.length, 2);
  assert.equal(r.backend, calls[1].binding, "x-router-backend names the backend that answered");
  assert.equal(r.json.id, `chatcmpl-${calls[1].binding}`, "the answer is the second backend's");
  assert.equal(h.control.calls.length, 2, "no other backend call");
  return calls;
}

test("a backend that throws: immediate failover to an untried backend, one counted failure", async () => {
  h.control.setAll(byAttempt({ 1: THROW }));
  const before = await h.status();
  const r = await ask(h.stack, { label: "throws" });
  const [first] = assertFailedOverOnce(r);
  const [, second] = h.control.callsFor(r.requestId);
  assert.ok(second.at - first.at < 1000, `no backoff before an untried backend (${second.at - first.at} ms)`);
  const after = await h.status();
  assert.equal(after.byBinding[first.binding].consecutiveFailures, before.byBinding[first.binding].consecutiveFailures + 1);
  assert.equal(after.byBinding[first.binding].failures, before.byBinding[first.binding].failures + 1);
  assert.equal(after.byBinding[second.binding].successes, before.byBinding[second.binding].successes + 1);
  assert.doesNotMatch(r.text, /private detail/);
});

for (const code of [500, 502, 503, 504]) {
  const counted = code !== 500; // the contract: "A 500 is retried but not counted"
  test(`a backend answering ${code}: failover to an untried backend, ${counted ? "counted" : "not counted"} against its health`, async () => {
    h.control.setAll(byAttempt({ 1: status(code) }));
    const before = await h.status();
    const r = await ask(h.stack, { label: `status-${code}` });
    const [first, second] = assertFailedOverOnce(r);
    assert.ok(second.at - first.at < 1000, `no backoff before an untried backend (${second.at - first.at} ms)`);
    const was = before.byBinding[first.binding];
    const is = (await h.status()).byBinding[first.binding];
    assert.equal(is.consecutiveFailures, was.consecutiveFailures + (counted ? 1 : 0));
    assert.equal(is.state, "healthy");
  });
}

test("a 429 with Retry-After: immediate failover, health-neutral, the backend cools down for Retry-After", async () => {
  h.control.setAll(byAttempt({ 1: status(429, { "retry-after": "2" }) }));
  const before = await h.status();
  const r = await ask(h.stack, { label: "429" });
  const [limited, second] = assertFailedOverOnce(r);
  assert.ok(second.at - limited.at < 1000, `the 429 is not waited on when an untried backend remains (${second.at - limited.at} ms)`);

  const during = await h.status();
  const x = during.byBinding[limited.binding];
  assert.equal(x.state, "cooldown");
  assert.ok(x.until >= limited.at + 2000 - SLACK_MS && x.until <= r.finished + 2000 + SLACK_MS,
    `cooldown until ${x.until - limited.at} ms after the 429, expected 2000`);
  assert.equal(x.consecutiveFailures, before.byBinding[limited.binding].consecutiveFailures, "a 429 is no health failure");

  // While it cools down, round-robin skips it.
  h.control.reset();
  let sent = 0;
  for (; sent < 6 && Date.now() < x.until - 250; sent++) {
    const ok = await ask(h.stack, { label: "429-cooldown" });
    assert.equal(ok.status, 200);
    assert.equal(ok.attempts, 1);
    assert.notEqual(ok.backend, limited.binding);
  }
  assert.ok(sent >= 3, `only ${sent} requests fitted in the cooldown`);
  assert.equal(h.control.countByBinding()[limited.binding], undefined, "no call during the cooldown");

  // Once Retry-After has passed it gets traffic again.
  await sleep(x.until - Date.now() + 50);
  h.control.reset();
  for (let i = 0; i < 6; i++) assert.equal((await ask(h.stack, { label: "429-after" })).status, 200);
  const back = h.control.calls.filter((c) => c.binding === limited.binding);
  assert.ok(back.length >= 1, "called again after the cooldown");
  assert.ok(back[0].at >= limited.at + 2000, "not before Retry-After passed");
  assert.equal((await h.status()).byBinding[limited.binding].state, "healthy");
});

test("the /status failures counter leaves 429 and 500 answers out (they are no failures in the contract)", async () => {
  for (const answer of [status(429, { "retry-after-ms": "1" }), status(500)]) {
    h.control.reset();
    h.control.setAll(byAttempt({ 1: answer }));
    const before = await h.status();
    const r = await ask(h.stack, { label: "failures-counter" });
    const [first] = assertFailedOverOnce(r);
    const after = await h.status();
    assert.equal(after.byBinding[first.binding].failures, before.byBinding[first.binding].failures,
      `a ${answer.status} answer counted in /status failures`);
    const counter = answer.status === 429 ? "rateLimited" : "serverErrors";
    assert.equal(after.byBinding[first.binding][counter], before.byBinding[first.binding][counter] + 1, counter);
  }
});

// 401 and 403 are the backend's own upstream credentials failing (contract section 3): a failed
// attempt of that backend, retried on another, and never a 401 the client would take for its own.
for (const code of [401, 403]) {
  test(`a backend answering ${code}: retried elsewhere and counted against it; the client never sees ${code}`, async () => {
    h.control.setAll(byAttempt({ 1: status(code, {}, { error: { message: "invalid upstream key", type: "auth", param: null, code: null } }) }));
    const before = await h.status();
    const r = await ask(h.stack, { label: `status-${code}-once` });
    const [first] = assertFailedOverOnce(r);
    assert.equal(r.status, 200);
    const is = (await h.status()).byBinding[first.binding];
    assert.equal(is.failures, before.byBinding[first.binding].failures + 1, "counted against the backend");
    assert.equal(is.consecutiveFailures, before.byBinding[first.binding].consecutiveFailures + 1);

    h.control.setAll(status(code));
    const all = await ask(h.stack, { label: `status-${code}-all` });
    assert.equal(all.status, 502, "every backend's credentials failed: an upstream error, not the client's key");
    assert.equal(all.json.error.type, "upstream_error");
    await settle(h);
  });
}

for (const code of [400, 404, 409, 413, 422]) {
  test(`a backend answering ${code}: no retry, status and body passed through as they are`, async () => {
    const body = { error: { message: `backend rejects with ${code}`, type: "invalid_request_error", param: "messages",
      code: `backend_${code}` } };
    h.control.setAll(status(code, {}, body));
    const r = await ask(h.stack, { label: `status-${code}` });
    assert.equal(r.status, code);
    assert.deepEqual(r.json, body);
    assert.match(r.contentType, /^application\/json/);
    await sleep(100);
    const calls = callsOf(r);
    assert.equal(calls.length, 1, "not retried");
    assert.equal(h.control.calls.length, 1);
    assert.equal(r.backend, calls[0].binding);
    const is = (await h.status()).byBinding[calls[0].binding];
    assert.equal(is.consecutiveFailures, 0, "a final answer is a healthy backend");
  });
}

test("a backend slower than the per-try timeout is abandoned after perTryMs for an untried one", async () => {
  h.control.setAll(byAttempt({ 1: { do: "ok", delayMs: 1500 } }));
  const before = await h.status();
  const r = await ask(h.stack, { label: "slow" });
  const [slow, second] = assertFailedOverOnce(r);
  const gap = second.at - slow.at;
  assert.ok(second.at - r.started >= PER_TRY_MS - TIMER_SLACK_MS && gap < 1500,
    `retried ${gap} ms after the slow call (${second.at - r.started} ms into the request), per-try timeout ${PER_TRY_MS}`);
  assert.ok(r.elapsed >= PER_TRY_MS - TIMER_SLACK_MS && r.elapsed < 1500, `answered in ${r.elapsed} ms`);
  const is = (await h.status()).byBinding[slow.binding];
  assert.equal(is.consecutiveFailures, before.byBinding[slow.binding].consecutiveFailures + 1, "a timeout is a failure");
});

test("a backend that hangs forever is abandoned after perTryMs; its call is left hanging", async () => {
  h.control.setAll(byAttempt({ 1: HANG }));
  const r = await ask(h.stack, { label: "hang" });
  const [hung, second] = assertFailedOverOnce(r);
  const gap = second.at - hung.at;
  assert.ok(second.at - r.started >= PER_TRY_MS - TIMER_SLACK_MS && gap < 1500,
    `retried ${gap} ms after the hanging call (${second.at - r.started} ms into the request)`);
  assert.equal(h.control.hanging, 1, "the router answered without waiting for the hanging backend");
  const s = await h.status();
  assert.equal(s.byBinding[hung.binding].inFlight, 0, "an abandoned attempt is no longer in flight");
});

test("every backend hangs: one timed-out attempt each, then 502 with the trace, within the deadline", async () => {
  h.control.setAll(HANG);
  const r = await ask(h.stack, { label: "all-hang" });
  assert.equal(r.status, 502);
  const error = openAiError(r.json);
  assert.ok(error, r.text);
  assert.equal(error.type, "upstream_error");
  assert.equal(error.code, "all_attempts_failed");
  const calls = callsOf(r);
  assert.equal(calls.length, 3);
  for (const c of calls) assert.match(error.message, new RegExp(`${c.binding} timed out`));
  for (let i = 1; i < calls.length; i++) {
    const gap = calls[i].at - calls[i - 1].at;
    assert.ok(calls[i].at - r.started >= i * PER_TRY_MS - TIMER_SLACK_MS && gap < 1500,
      `attempt ${i + 1} came ${gap} ms after attempt ${i}, ${calls[i].at - r.started} ms into the request`);
  }
  assert.ok(r.elapsed >= 3 * PER_TRY_MS - TIMER_SLACK_MS && r.elapsed < REQUEST_MS, `answered in ${r.elapsed} ms`);
  assert.equal(r.backend, null, "no backend produced the answer");
});

test("all backends down: one attempt each, then 502 with the attempt trace, and no loop", async () => {
  h.control.set("BACKEND_A", THROW);
  h.control.set("BACKEND_B", status(503));
  h.control.set("BACKEND_C", status(502));
  const r = await ask(h.stack, { label: "all-down" });
  assert.equal(r.status, 502);
  const error = openAiError(r.json);
  assert.ok(error, r.text);
  assert.equal(error.type, "upstream_error");
  assert.equal(error.code, "all_attempts_failed");
  assert.match(error.message, /BACKEND_A failed \(threw\)/);
  assert.match(error.message, /BACKEND_B answered 503/);
  assert.match(error.message, /BACKEND_C answered 502/);
  assert.doesNotMatch(r.text, /private detail/, "exception texts never reach the client");
  assert.equal(r.backend, null);
  const calls = callsOf(r);
  assert.deepEqual(calls.map((c) => c.binding).sort(), BINDINGS, "each backend exactly once");
  assert.ok(r.elapsed < 2000, `no waits between untried backends (${r.elapsed} ms)`);
  await sleep(300);
  assert.equal(h.control.calls.length, 3, "nothing is called after the answer");
});

test("retry storm: concurrent requests that all fail are capped by the retry budget", async () => {
  const REQUESTS = 40;
  const DELAY_MS = 200;
  // Defaults: retries in flight <= max(3, 20% of requests in flight).
  const budget = Math.max(3, Math.floor(0.2 * REQUESTS));
  h.control.setAll({ ...status(503), delayMs: DELAY_MS });
  const answers = await Promise.all(Array.from({ length: REQUESTS }, () => ask(h.stack, { label: "storm" })));
  const codes = answers.map((r) => openAiError(r.json)?.code);
  assert.ok(answers.every((r) => r.status === 502), `statuses ${answers.map((r) => r.status)}`);
  assert.ok(codes.every((c) => c === "retry_budget_exhausted" || c === "all_attempts_failed"), `codes ${codes}`);
  assert.ok(codes.includes("retry_budget_exhausted"), "some requests were refused a retry");

  const calls = h.control.calls;
  const retries = calls.filter((c) => c.attempt > 1);
  assert.ok(calls.length < REQUESTS * 3, `${calls.length} calls for ${REQUESTS} requests`);
  for (const r of answers) assert.equal(r.attempts, h.control.callsFor(r.requestId).length);
  // Each retry call is in flight for at least DELAY_MS after it arrived, and a retry holds the
  // budget all that time: retry calls overlapping in time never exceed the budget.
  const peak = Math.max(0, ...retries.map((c) => retries.filter((o) => o.at <= c.at && c.at < o.at + DELAY_MS).length));
  assert.ok(peak <= budget, `${peak} retries in flight at once, budget ${budget}`);

  const s = await h.status();
  assert.equal(s.retriesInFlight, 0);
  assert.equal(s.requestsInFlight, 1, "only this /status request");
  assert.ok(s.backends.every((/** @type {any} */ b) => b.inFlight === 0));
  console.log(`retry storm: ${REQUESTS} requests, ${calls.length} backend calls (${retries.length} retries, peak ${peak} in flight), `
    + `${codes.filter((c) => c === "retry_budget_exhausted").length} refused a retry by the budget`);
});

test("after the faults the router serves normally", async () => {
  h.control.setAll(OK);
  const r = await ask(h.stack, { label: "normal" });
  assert.equal(r.status, 200);
  assert.equal(r.attempts, 1);
});
