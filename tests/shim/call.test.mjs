// The shim's backend calls (shims/driver.js callBackend(), readAnswer() and the action loop), with
// the real router.wasm and a hand-moved clock: what a backend receives, how each kind of answer is
// reported to the core, and that every attempt leaves nothing behind: its per-try timer cleared,
// a late answer's stream cancelled, a stream nobody asked for cancelled.
// POLICY: perTryMs 1000, firstByteMs 500, requestMs 10000, no backoff.
import assert from "node:assert/strict";
import { test } from "node:test";
import { POLICY, START, chat, completion, deferred, harness, post, readAll, sse } from "./harness.mjs";

const POLICY_WITH_BACKOFF = {
  timeouts: { perTryMs: 1000, firstByteMs: 500, requestMs: 10_000, streamIdleMs: 300 },
  retry: { backoffBaseMs: 100, backoffCapMs: 100 },
  discovery: { describeTimeoutMs: 200 },
};

const json = () => post("/v1/chat/completions", chat());
const streaming = () => post("/v1/chat/completions", chat({ stream: true }));

test("a JSON answer: the client gets the backend's status and body, every timer (body, discovery, per-try) was cleared, none fired", async (t) => {
  const h = await harness(t);
  const a = h.backend("BACKEND_A", { infer: () => ({ status: 200, body: completion("hello there") }) });
  const res = await h.fetch(json());
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "application/json");
  assert.equal(res.headers.get("x-router-backend"), "BACKEND_A");
  assert.equal(res.headers.get("x-router-attempts"), "1");
  assert.deepEqual(await res.json(), completion("hello there"));
  assert.equal(a.calls.length, 1);
  assert.ok(h.clock.count("armed") >= 3, "the body read, the discovery and the attempt each had a timer");
  assert.equal(h.clock.count("fired"), 0);
  const status = await h.assertClean();
  assert.deepEqual([status.backends[0].successes, status.backends[0].failures], [1, 0]);
});

test("the backend receives the InferenceRequest: the client's exact body text, the request id, and the deadlines of the request and of this attempt", async (t) => {
  const h = await harness(t);
  const a = h.backend("BACKEND_A");
  const body = '{"model":"m","messages":[{"role":"user","content":"héllo"}],"seed":12345678901234567890}';
  const res = await h.fetch(post("/v1/chat/completions", body, { headers: { "x-request-id": "req-42" } }));
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("x-request-id"), "req-42");
  await res.arrayBuffer();
  assert.deepEqual(a.calls[0].req, {
    requestId: "req-42",
    path: "/v1/chat/completions",
    model: "m",
    stream: false,
    body,
    deadline: START + 10_000,
    attemptDeadline: START + 1000,
    attempt: 1,
  });
  await h.assertClean();
});

test("a streaming request tells the backend so, and its attempt is bounded by firstByteMs", async (t) => {
  const h = await harness(t);
  const s = h.stream(sse(1));
  const a = h.backend("BACKEND_A", { infer: () => ({ status: 200, stream: s.stream }) });
  const res = await h.fetch(streaming());
  await readAll(res);
  assert.equal(a.calls[0].req.stream, true);
  assert.equal(a.calls[0].req.attemptDeadline, START + 500);
  await h.assertClean();
});

test("the per-try timer is cleared when the backend answers in time: nothing is pending once the answer is out", async (t) => {
  const h = await harness(t);
  const answer = deferred();
  h.backend("BACKEND_A", { infer: () => answer.promise });
  let res = /** @type {Response | undefined} */ (undefined);
  const done = h.fetch(json()).then((r) => (res = r));
  await h.clock.advance(999);
  assert.equal(res, undefined, "still waiting for the backend");
  // One timer for the request: armed for the first-byte timeout (500 ms; the body came before it
  // was known whether it asks for a stream), then re-armed for the rest of the per-try timeout.
  assert.deepEqual(h.clock.pending().map((p) => p.dueIn), [1]);
  answer.resolve({ status: 200, body: completion() });
  await done;
  assert.equal(res?.status, 200);
  await res?.arrayBuffer();
  await h.assertClean();
});

test("one timer serves the body read and the attempt: armed once and cleared once for a request that succeeds", async (t) => {
  const h = await harness(t, { config: { ...POLICY, timeouts: { ...POLICY.timeouts, firstByteMs: 1000 } } });
  const answer = deferred();
  h.backend("BACKEND_A", { infer: (/** @type {unknown} */ _req, /** @type {number} */ n) => (n === 1 ? { status: 200, body: completion() } : answer.promise) });
  await (await h.fetch(json())).arrayBuffer(); // the first request also runs discovery, with timers of its own
  const [armed, cleared] = [h.clock.count("armed"), h.clock.count("cleared")];
  const done = h.fetch(json());
  await h.clock.advance(999);
  assert.deepEqual(h.clock.pending().map((p) => p.dueIn), [1], "the attempt's timer is the body's");
  answer.resolve({ status: 200, body: completion() });
  const res = await done;
  assert.equal(res.status, 200);
  await res.arrayBuffer();
  assert.deepEqual([h.clock.count("armed") - armed, h.clock.count("cleared") - cleared, h.clock.count("fired")], [1, 1, 0]);
  await h.assertClean();
});

test("a per-try timeout: the attempt is abandoned at perTryMs and the next one starts then; the late JSON answer is ignored", async (t) => {
  const h = await harness(t);
  const late = deferred();
  const backends = h.pool(["BACKEND_A", "BACKEND_B"], (_req, n) => (n === 1 ? late.promise : { status: 200, body: completion("second") }));
  const answer = h.fetch(json());
  await h.clock.advance(999);
  assert.equal(backends[0].calls.length + backends[1].calls.length, 1);
  await h.clock.advance(1);
  const res = await answer;
  assert.deepEqual(await res.json(), completion("second"));
  assert.equal(res.headers.get("x-router-attempts"), "2");
  assert.deepEqual(backends.flatMap((b) => b.calls.map((c) => c.at)).sort((x, y) => x - y), [0, 1000]);
  late.resolve({ status: 200, body: completion("late") });
  assert.deepEqual(h.events("backend_answer_shape"), [], "a timeout is not a malformed answer");
  const status = await h.assertClean();
  assert.equal(status.backends.reduce((sum, b) => sum + b.failures, 0), 1, "the timed-out attempt failed");
});

test("every attempt timing out: 502 whose trace says each attempt timed out, at maxAttempts x perTryMs", async (t) => {
  const h = await harness(t);
  h.pool(["BACKEND_A", "BACKEND_B", "BACKEND_C"], () => new Promise(() => {}));
  const answer = h.fetch(json());
  await h.clock.advance(3000);
  const res = await answer;
  assert.equal(res.status, 502);
  const { message } = (await res.json()).error;
  assert.equal(message.match(/timed out/g)?.length, 3, message);
  assert.deepEqual(h.events("backend_answer_shape"), []);
  await h.assertClean();
});

test("a stream that arrives after the per-try timeout is cancelled, not left generating (streaming request)", async (t) => {
  const h = await harness(t);
  const late = deferred();
  const lateStream = h.stream(sse(3), { label: "late stream" });
  const good = h.stream(sse(1), { label: "good stream" });
  h.pool(["BACKEND_A", "BACKEND_B"], (_req, n) => (n === 1 ? late.promise : { status: 200, stream: good.stream }));
  const answer = h.fetch(streaming());
  await h.clock.advance(500);
  const res = await answer;
  assert.equal(await readAll(res), sse(1).join(""));
  late.resolve({ status: 200, stream: lateStream.stream });
  await h.clock.advance(10);
  assert.ok(lateStream.cancelled, "the late stream is cancelled");
  assert.equal(lateStream.reads, 0);
  await h.assertClean();
});

test("a stream that arrives after the per-try timeout of a JSON request is cancelled too", async (t) => {
  const h = await harness(t);
  const late = deferred();
  const lateStream = h.stream(sse(3), { label: "late stream" });
  h.pool(["BACKEND_A", "BACKEND_B"], (_req, n) => (n === 1 ? late.promise : { status: 200, body: completion() }));
  const answer = h.fetch(json());
  await h.clock.advance(1000);
  assert.equal((await answer).status, 200);
  late.resolve({ status: 200, stream: lateStream.stream });
  await h.clock.advance(10);
  assert.ok(lateStream.cancelled);
  await h.assertClean();
});

test("an answer that fails after the per-try timeout is ignored: no unhandled rejection", async (t) => {
  const h = await harness(t);
  const late = deferred();
  h.pool(["BACKEND_A", "BACKEND_B"], (_req, n) => (n === 1 ? late.promise : { status: 200, body: completion() }));
  const answer = h.fetch(json());
  await h.clock.advance(1000);
  assert.equal((await answer).status, 200);
  late.reject(new Error("the backend failed late"));
  await h.clock.advance(10);
  await h.assertClean();
});

test("a late answer that is not an object or has no stream is ignored", async (t) => {
  const h = await harness(t);
  const late = [deferred(), deferred()];
  h.pool(["BACKEND_A", "BACKEND_B", "BACKEND_C"], (_req, n) => (n <= 2 ? late[n - 1].promise : { status: 200, body: completion() }));
  const answer = h.fetch(json());
  await h.clock.advance(2000);
  assert.equal((await answer).status, 200);
  late[0].resolve(null);
  late[1].resolve({ status: 200, stream: "not a stream" });
  await h.clock.advance(10);
  await h.assertClean();
});

test("a stream answered to a JSON request is cancelled at once and the attempt retried", async (t) => {
  const h = await harness(t);
  const unwanted = h.stream(sse(3), { label: "unwanted stream" });
  h.pool(["BACKEND_A", "BACKEND_B"], (_req, n) => (n === 1 ? { status: 200, stream: unwanted.stream } : { status: 200, body: completion("json") }));
  const res = await h.fetch(json());
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), completion("json"));
  assert.ok(unwanted.cancelled);
  assert.equal(unwanted.reads, 0, "nothing of it was read");
  assert.deepEqual(h.events("backend_answer_shape").map((l) => l.detail), ["a stream for a JSON request"]);
  await h.assertClean();
});

test("a stream with an error status to a JSON request is cancelled as well; the core answers the error", async (t) => {
  const h = await harness(t);
  const unwanted = h.stream(sse(3));
  h.backend("BACKEND_A", { infer: () => ({ status: 404, stream: unwanted.stream }) });
  const res = await h.fetch(json());
  assert.equal(res.status, 404);
  assert.equal((await res.json()).error.code, "backend_error");
  assert.ok(unwanted.cancelled);
  await h.assertClean();
});

test("a backend's error answer with a JSON body is passed to the client as it is, Retry-After included", async (t) => {
  const h = await harness(t);
  const body = { error: { message: "bad", type: "invalid_request_error", param: null, code: "x" } };
  h.backend("BACKEND_A", { infer: () => ({ status: 422, headers: { "retry-after": "7" }, body }) });
  const res = await h.fetch(json());
  assert.equal(res.status, 422);
  assert.equal(res.headers.get("retry-after"), "7");
  assert.deepEqual(await res.json(), body);
  await h.assertClean();
});

/**
 * A first answer that breaks the contract, then a good one: the client gets the good one, the
 * bad one is logged with `detail` (null: not logged, it is an outcome of its own).
 * @param {string} what @param {() => unknown} bad @param {string | null} detail
 */
function badAnswer(what, bad, detail) {
  test(`a JSON request's attempt that ${what} is retried`, async (t) => {
    const h = await harness(t);
    h.pool(["BACKEND_A", "BACKEND_B"], (_req, n) => (n === 1 ? bad() : { status: 200, body: completion("good") }));
    const res = await h.fetch(json());
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), completion("good"));
    assert.equal(res.headers.get("x-router-attempts"), "2");
    assert.deepEqual(h.events("backend_answer_shape").map((l) => l.detail), detail === null ? [] : [detail]);
    const status = await h.assertClean();
    assert.equal(status.backends.reduce((sum, b) => sum + b.failures, 0), 1);
  });
}

const cyclic = /** @type {Record<string, unknown>} */ ({});
cyclic.self = cyclic;
badAnswer("throws", () => { throw new Error("boom"); }, null);
badAnswer("rejects", () => Promise.reject(new TypeError("boom")), null);
badAnswer("answers 503", () => ({ status: 503, body: { error: { message: "busy" } } }), null);
badAnswer("answers nothing (undefined)", () => undefined, "status 0 is not a final HTTP status");
badAnswer("answers null", () => null, "status 0 is not a final HTTP status");
badAnswer("answers an array", () => [200, {}], "status 0 is not a final HTTP status");
badAnswer("answers a status as text", () => ({ status: "200", body: completion() }), "status 0 is not a final HTTP status");
badAnswer("answers a fractional status", () => ({ status: 200.5, body: completion() }), "status 0 is not a final HTTP status");
badAnswer("answers a negative status", () => ({ status: -200, body: completion() }), "status 0 is not a final HTTP status");
badAnswer("answers a status of 1000", () => ({ status: 1000, body: completion() }), "status 0 is not a final HTTP status");
badAnswer("answers status 999", () => ({ status: 999, body: completion() }), "status 999 is not a final HTTP status");
badAnswer("answers status 0", () => ({ status: 0, body: completion() }), "status 0 is not a final HTTP status");
badAnswer("answers 200 without a body", () => ({ status: 200 }), "no JSON object body for a JSON request");
badAnswer("answers 200 with an array body", () => ({ status: 200, body: [completion()] }), "no JSON object body for a JSON request");
badAnswer("answers 200 with a text body", () => ({ status: 200, body: "ok" }), "no JSON object body for a JSON request");
badAnswer("answers 200 with a body that cannot be serialized", () => ({ status: 200, body: cyclic }), "no JSON object body for a JSON request");
badAnswer("answers 200 with a null body", () => ({ status: 200, body: null }), "no JSON object body for a JSON request");
badAnswer("answers 204", () => ({ status: 204, body: completion() }), "status 204 carries no body");

test("a backend binding that is not callable is a failed attempt, not a crash", async (t) => {
  const h = await harness(t);
  h.pool(["BACKEND_A", "BACKEND_B"], (_req, n) => (n === 1 ? { status: 200, body: completion() } : { status: 200, body: completion() }));
  /** @type {any} */ (h.env.BACKEND_A).infer = undefined;
  /** @type {any} */ (h.env.BACKEND_B).infer = undefined;
  const res = await h.fetch(json());
  assert.equal(res.status, 502);
  assert.equal((await res.json()).error.code, "all_attempts_failed");
  await h.assertClean();
});

test("every attempt failing: 502 with the attempt trace, every dropped stream cancelled", async (t) => {
  const h = await harness(t);
  const streams = [h.stream(sse(2)), h.stream(sse(2)), h.stream(sse(2))];
  h.pool(["BACKEND_A", "BACKEND_B", "BACKEND_C"], (_req, n) => ({ status: 502, stream: streams[n - 1].stream }));
  const res = await h.fetch(streaming());
  assert.equal(res.status, 502);
  const error = (await res.json()).error;
  assert.match(error.message, /after 3 attempts/);
  for (const s of streams) assert.ok(s.cancelled);
  await h.assertClean();
});

test("a 429 with retry-after-ms is waited for (a wait action) before the same backend is tried again", async (t) => {
  const h = await harness(t);
  const a = h.backend("BACKEND_A", {
    infer: (_req, n) => (n === 1 ? { status: 429, headers: { "retry-after-ms": "150" }, body: { error: { message: "slow down" } } } : { status: 200, body: completion() }),
  });
  const answer = h.fetch(json());
  await h.clock.advance(149);
  assert.equal(a.calls.length, 1, "not before the Retry-After");
  await h.clock.advance(1);
  const res = await answer;
  assert.equal(res.status, 200);
  assert.deepEqual(a.calls.map((c) => c.at), [0, 150]);
  await h.assertClean();
});

/** @param {string} what @param {Record<string, unknown>} headers @param {number} waited */
function retryAfterCase(what, headers, waited) {
  test(`a 429's ${what} sets the wait before the retry (${waited} ms)`, async (t) => {
    const h = await harness(t);
    const a = h.backend("BACKEND_A", {
      infer: (_req, n) => (n === 1 ? { status: 429, headers, body: { error: { message: "slow down" } } } : { status: 200, body: completion() }),
    });
    const answer = h.fetch(json());
    if (waited > 0) {
      await h.clock.advance(waited - 1);
      assert.equal(a.calls.length, 1);
      await h.clock.advance(1);
    }
    assert.equal((await answer).status, 200);
    assert.deepEqual(a.calls.map((c) => c.at), [0, waited]);
    await h.assertClean();
  });
}

retryAfterCase("Retry-After in seconds, as text", { "retry-after": "2" }, 2000);
retryAfterCase("Retry-After in seconds, as a number", { "retry-after": 3 }, 3000);
retryAfterCase("Retry-After in seconds, as a bigint", { "retry-after": 4n }, 4000);
retryAfterCase("retry-after-ms as a number", { "retry-after-ms": 250 }, 250);
retryAfterCase("retry-after-ms with a line break (not a number: ignored)", { "retry-after-ms": "250\r\nx: y" }, 0);
retryAfterCase("Retry-After that is neither text nor a number (ignored)", { "retry-after": { seconds: 5 } }, 0);
retryAfterCase("headers that are not an object (ignored)", /** @type {any} */ (["retry-after", "5"]), 0);

test("a wait that is already over when it starts is not a negative timer", async (t) => {
  const h = await harness(t, { config: { ...POLICY_WITH_BACKOFF } });
  const a = h.backend("BACKEND_A", {
    infer: (_req, n) => (n === 1 ? { status: 500, body: { error: { message: "oops" } } } : { status: 200, body: completion() }),
  });
  const answer = h.fetch(json());
  await h.clock.advance(100);
  assert.equal((await answer).status, 200);
  assert.equal(a.calls.length, 2);
  assert.ok(a.calls[1].at <= 100);
  for (const e of h.clock.events) if (e.type === "armed") assert.ok(/** @type {number} */ (e.ms) >= 0);
  await h.assertClean();
});

test("the request deadline passes during an attempt: 504, the attempt's timer and stream are gone", async (t) => {
  const h = await harness(t, { config: { timeouts: { perTryMs: 1000, firstByteMs: 500, requestMs: 800, streamIdleMs: 300 }, discovery: { describeTimeoutMs: 200 } } });
  const late = deferred();
  const lateStream = h.stream(sse(1));
  const a = h.backend("BACKEND_A", { infer: () => late.promise });
  const answer = h.fetch(streaming());
  await h.clock.advance(800);
  const res = await answer;
  assert.equal(res.status, 504);
  assert.equal(a.calls[0].req.attemptDeadline, START + 500);
  late.resolve({ status: 200, stream: lateStream.stream });
  await h.clock.advance(1);
  assert.ok(lateStream.cancelled);
  await h.assertClean();
});

test("a 400 with code context_length_exceeded: the shim reports the code, the core moves to the next model of the chain and the backend gets the edited body (the client's text otherwise)", async (t) => {
  const h = await harness(t, { config: { ...POLICY, fallbacks: { small: ["large"] } } });
  const tooLong = { status: 400, body: { error: { message: "too long", type: "invalid_request_error", param: "messages", code: "context_length_exceeded" } } };
  const a = h.backend("BACKEND_A", { models: ["small"], infer: () => tooLong });
  const b = h.backend("BACKEND_B", { models: ["large"] });
  const body = '{"model":"small","seed":12345678901234567890,"models":["large"],"messages":[{"role":"user","content":"long"}]}';
  const res = await h.fetch(post("/v1/chat/completions", body));
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("x-router-model"), "large");
  assert.equal(res.headers.get("x-router-backend"), "BACKEND_B");
  await res.arrayBuffer();
  assert.equal(a.calls[0].req.model, "small");
  assert.equal(a.calls[0].req.body, '{"model":"small","seed":12345678901234567890,"messages":[{"role":"user","content":"long"}]}');
  assert.equal(b.calls[0].req.model, "large");
  assert.equal(b.calls[0].req.body, '{"model":"large","seed":12345678901234567890,"messages":[{"role":"user","content":"long"}]}');
  assert.ok(h.logs.some((l) => l.event === "fallback" && l.from === "small" && l.to === "large" && l.reason === "context_length_exceeded"));
  await h.assertClean();
});
