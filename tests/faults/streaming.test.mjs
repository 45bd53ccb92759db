// Streaming faults through the deployed orchestrator bundle and real controlled backends: a stream
// that fails before its first chunk (clean failover, one stream), one that stalls past the
// first-byte timeout, one that breaks after chunks were sent (SSE error event, no [DONE], no
// retry), and a client that goes away mid-stream (no further attempt, nothing left in flight).
// (A client leaving before the answer starts: tests/faults/hardening.test.mjs.)
import assert from "node:assert/strict";
import { after, before, beforeEach, test } from "node:test";
import { byAttempt, startControlledStack } from "../support/backend-control.mjs";
import { ask, openAiError, settle, sleep, sseEvents } from "../support/fault-cases.mjs";
import { chat } from "../support/http.mjs";

const BINDINGS = ["BACKEND_A", "BACKEND_B", "BACKEND_C"];
const FIRST_BYTE_MS = 300;
const STREAM_IDLE_MS = 600;
const ROUTER_CONFIG = {
  timeouts: { perTryMs: 300, firstByteMs: FIRST_BYTE_MS, requestMs: 4000, streamIdleMs: STREAM_IDLE_MS },
  health: { consecutiveFailures: 1000 },
};
// workerd starts timers from its clock, which stands still while code runs: a timer may fire a
// little early in real time, so lower bounds on it get this much slack.
const TIMER_SLACK_MS = 50;

/** @type {Awaited<ReturnType<typeof startControlledStack>>} */
let h;
before(async () => { h = await startControlledStack({ bindings: BINDINGS, routerConfig: ROUTER_CONFIG }); });
after(() => h?.stop());
beforeEach(() => settle(h));

/** The parsed chunk events of an SSE body, its [DONE] marker and error events. */
function parseStream(/** @type {string} */ text) {
  const events = sseEvents(text);
  return {
    events,
    chunks: events.filter((e) => e !== "[DONE]").map((e) => JSON.parse(e)).filter((e) => e.object === "chat.completion.chunk"),
    errors: events.filter((e) => e !== "[DONE]").map((e) => JSON.parse(e)).filter((e) => e.error),
    done: events.filter((e) => e === "[DONE]").length,
  };
}

/** Asserts a clean stream of `chunks` chunks from `binding`, [DONE] last. */
function assertOneCleanStream(/** @type {Awaited<ReturnType<typeof ask>>} */ r, /** @type {string} */ binding, chunks = 3) {
  assert.equal(r.status, 200);
  assert.match(r.contentType, /^text\/event-stream/);
  const s = parseStream(r.text);
  assert.equal(s.events.at(-1), "[DONE]", "[DONE] comes last");
  assert.equal(s.done, 1, "exactly one [DONE]");
  assert.equal(s.errors.length, 0);
  assert.equal(s.chunks.length, chunks, "one stream: no chunk of the failed attempt, none repeated");
  assert.ok(s.chunks.every((c) => c.id === `chatcmpl-${binding}`), "every chunk is from the backend that answered");
}

test("a stream that errors before its first chunk fails over cleanly: the client sees one stream", async () => {
  h.control.setAll(byAttempt({ 1: { do: "stream", errorAfter: 0 } }, { do: "stream", chunks: 3 }));
  const r = await ask(h.stack, { label: "stream-before", stream: true });
  const calls = h.control.callsFor(r.requestId);
  assert.deepEqual(calls.map((c) => c.attempt), [1, 2]);
  assert.notEqual(calls[0].binding, calls[1].binding);
  assert.ok(calls.every((c) => c.stream === true));
  assert.equal(r.attempts, 2);
  assert.equal(r.backend, calls[1].binding);
  assertOneCleanStream(r, calls[1].binding);
  const s = await h.status();
  assert.equal(s.byBinding[calls[0].binding].consecutiveFailures, 1, "a stream failing before its first byte is a failure");
});

test("a success in the wrong shape is a failed attempt: JSON for a stream, a stream for JSON", async () => {
  // A backend that answers a streaming request with a JSON completion (or the reverse) breaks the
  // RPC contract; the client could not read that answer, another backend can answer properly.
  h.control.setAll(byAttempt({ 1: { do: "status", status: 200, body: { object: "chat.completion" } } }, { do: "stream", chunks: 3 }));
  const streamed = await ask(h.stack, { label: "shape-json", stream: true });
  const calls = h.control.callsFor(streamed.requestId);
  assert.equal(calls.length, 2);
  assert.notEqual(calls[0].binding, calls[1].binding);
  assert.equal(streamed.attempts, 2);
  assertOneCleanStream(streamed, calls[1].binding);

  h.control.setAll(byAttempt({ 1: { do: "stream", chunks: 3 } }, { do: "ok" }));
  const plain = await ask(h.stack, { label: "shape-stream" });
  const plainCalls = h.control.callsFor(plain.requestId);
  assert.equal(plainCalls.length, 2);
  assert.equal(plain.status, 200);
  assert.match(plain.contentType, /^application\/json/);
  assert.equal(plain.json?.object, "chat.completion");
  assert.equal(plain.backend, plainCalls[1].binding);
  assert.equal(plain.attempts, 2);
  const s = await h.status();
  assert.equal(s.byBinding[plainCalls[0].binding].consecutiveFailures, 1, "held against the backend's health");
});

test("a stream whose first chunk comes after the first-byte timeout fails over after firstByteMs", async () => {
  h.control.setAll(byAttempt({ 1: { do: "stream", firstChunkDelayMs: 2000 } }, { do: "stream", chunks: 3 }));
  const r = await ask(h.stack, { label: "stream-stall", stream: true });
  const calls = h.control.callsFor(r.requestId);
  assert.equal(calls.length, 2);
  const gap = calls[1].at - calls[0].at;
  assert.ok(calls[1].at - r.started >= FIRST_BYTE_MS - TIMER_SLACK_MS && gap < 1500,
    `failed over ${gap} ms after the stalled call, ${calls[1].at - r.started} ms into the request`);
  assert.equal(r.attempts, 2);
  assert.equal(r.backend, calls[1].binding);
  assertOneCleanStream(r, calls[1].binding);
});

test("a stream that breaks after chunks were sent ends with an SSE error event, no [DONE], no retry", async () => {
  h.control.setAll({ do: "stream", chunks: 5, errorAfter: 2 });
  const r = await ask(h.stack, { label: "stream-after", stream: true });
  assert.equal(r.status, 200);
  assert.match(r.contentType, /^text\/event-stream/);
  assert.equal(r.attempts, 1);
  const calls = h.control.callsFor(r.requestId);
  assert.equal(calls.length, 1);
  assert.equal(r.backend, calls[0].binding);
  const s = parseStream(r.text);
  assert.equal(s.chunks.length, 2, "the two chunks sent before the break reach the client");
  assert.equal(s.done, 0, "no [DONE]: the answer is incomplete");
  assert.equal(s.errors.length, 1);
  assert.equal(JSON.stringify(s.errors[0]), s.events.at(-1), "the error event is the last one");
  const error = openAiError(s.errors[0]);
  assert.ok(error, s.events.at(-1));
  assert.equal(error.type, "upstream_error");
  assert.doesNotMatch(r.text, /private detail/, "the backend's error text stays private");
  await sleep(200);
  assert.equal(h.control.calls.length, 1, "the backend was called once: no retry after the first byte");
  const st = await h.status();
  assert.equal(st.byBinding[calls[0].binding].consecutiveFailures, 1, "a broken stream counts as a failure");
  assert.equal(st.byBinding[calls[0].binding].inFlight, 0);
});

test("a stream that stalls after its first chunk ends with the SSE error event after streamIdleMs; a slow steady one does not", async () => {
  h.control.setAll({ do: "stream", chunks: 3, intervalMs: 5000 });
  const r = await ask(h.stack, { label: "stream-stall-after", stream: true });
  assert.equal(r.status, 200);
  assert.equal(r.attempts, 1);
  const calls = h.control.callsFor(r.requestId);
  assert.equal(calls.length, 1, "no retry after the first byte");
  const s = parseStream(r.text);
  assert.equal(s.chunks.length, 1, "the chunk sent before the stall reaches the client");
  assert.equal(s.done, 0);
  assert.equal(s.errors.length, 1);
  assert.equal(JSON.stringify(s.errors[0]), s.events.at(-1), "the error event is the last one");
  assert.ok(r.elapsed >= STREAM_IDLE_MS - TIMER_SLACK_MS && r.elapsed < 3000, `ended after ${r.elapsed} ms`);
  const st = await h.status();
  assert.equal(st.byBinding[calls[0].binding].consecutiveFailures, 1, "a stalled stream counts as a failure");
  assert.equal(st.byBinding[calls[0].binding].inFlight, 0);

  // Gaps shorter than streamIdleMs, adding up to much more than it: a clean stream.
  h.control.setAll({ do: "stream", chunks: 4, intervalMs: STREAM_IDLE_MS / 3 });
  const slow = await ask(h.stack, { label: "stream-slow", stream: true });
  assert.ok(slow.elapsed > STREAM_IDLE_MS, `${slow.elapsed} ms`);
  assertOneCleanStream(slow, slow.backend ?? "", 4);
});

test("a client that disconnects mid-stream: no further attempt, nothing left in flight, the upstream is not drained", async () => {
  const CHUNKS = 20;
  const INTERVAL_MS = 50;
  h.control.setAll({ do: "stream", chunks: CHUNKS, intervalMs: INTERVAL_MS });
  const abort = new AbortController();
  const res = await h.stack.fetch("/v1/chat/completions", {
    method: "POST", signal: abort.signal,
    headers: { "content-type": "application/json", "x-request-id": "disconnect-stream" },
    body: JSON.stringify(chat("echo-1", { stream: true })),
  });
  assert.equal(res.status, 200);
  const reader = /** @type {ReadableStream<Uint8Array>} */ (res.body).getReader();
  const first = await reader.read();
  assert.match(new TextDecoder().decode(first.value), /chat\.completion\.chunk/);
  const during = await h.status();
  assert.equal(during.byBinding[res.headers.get("x-router-backend") ?? ""].inFlight, 1, "the stream is in flight");
  abort.abort();
  const gone = Date.now();

  // The router notices and releases the attempt.
  let s = await h.status();
  for (let i = 0; i < 50 && (s.requestsInFlight > 1 || s.backends.some((/** @type {any} */ b) => b.inFlight)); i++) {
    await sleep(20);
    s = await h.status();
  }
  assert.ok(s.backends.every((/** @type {any} */ b) => b.inFlight === 0), "in-flight back to 0");
  assert.equal(s.requestsInFlight, 1, "only this /status request");
  assert.equal(s.retriesInFlight, 0);
  // Long enough for the whole upstream stream had anyone kept reading it.
  await sleep(Math.max(0, CHUNKS * INTERVAL_MS + 300 - (Date.now() - gone)));
  assert.equal(h.control.calls.length, 1, "no further attempt after the client left");
  assert.equal(h.control.events.filter((e) => e.event === "stream-done").length, 0,
    "the router stopped reading the upstream stream");
});
