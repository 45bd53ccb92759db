// The shim's relay of a backend's stream to the client (shims/driver.js relay()), with the real
// router.wasm and a hand-moved clock: the client gets every byte, a stream that stalls or breaks
// ends with the SSE error event, a client that cancels or reads nothing ends the exchange, and in
// every case the backend's stream is read to its end or cancelled and the watchdog is gone.
// POLICY: streamIdleMs 300, firstByteMs 500.
import assert from "node:assert/strict";
import { test } from "node:test";
import { chat, client, harness, post, readAll, sse } from "./harness.mjs";

const streaming = () => post("/v1/chat/completions", chat({ stream: true }));
const ERROR_EVENT = /^data: \{"error":\{.*"code":"stream_interrupted"\}\}\n\n$/;

/** @param {Awaited<ReturnType<typeof harness>>} h @param {import("./harness.mjs").Source} s */
function oneBackend(h, s) {
  return h.backend("BACKEND_A", { infer: () => ({ status: 200, headers: { "content-type": "text/event-stream" }, stream: s.stream }) });
}

test("a stream read to its end: every event reaches the client, the backend's stream is drained, not cancelled, and the watchdog is cleared", async (t) => {
  const h = await harness(t);
  const s = h.stream(sse(3));
  oneBackend(h, s);
  const res = await h.fetch(streaming());
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "text/event-stream");
  assert.equal(res.headers.get("x-router-backend"), "BACKEND_A");
  assert.equal(await readAll(res), sse(3).join(""));
  assert.ok(s.drained && !s.cancelled);
  assert.equal(h.clock.count("fired"), 0, "no timer had to fire");
  const status = await h.assertClean();
  assert.deepEqual([status.backends[0].successes, status.backends[0].failures], [1, 0]);
  assert.equal(h.events("backend_stream_unterminated").length, 0);
});

test("the answer is relayed as it comes: a chunk the backend has not sent yet is not waited for before the first one reaches the client", async (t) => {
  const h = await harness(t);
  const events = sse(2);
  const s = h.stream([events[0]], { end: "hang" });
  oneBackend(h, s);
  const res = await h.fetch(streaming());
  const c = client(res);
  assert.equal(await c.next(), events[0]);
  const next = c.next();
  await h.clock.advance(100);
  s.push(events[1], events[2]);
  s.finish("close");
  assert.equal(await next, events[1]);
  assert.equal(await c.rest(), events[2]);
  assert.ok(s.drained);
  await h.assertClean();
});

test("a client that reads slowly, but within streamIdleMs, gets the whole stream: the watchdog re-arms for what is left of the wait and is cleared at the end", async (t) => {
  const h = await harness(t);
  const events = sse(4);
  const s = h.stream(events);
  oneBackend(h, s);
  const res = await h.fetch(streaming());
  const c = client(res);
  let got = "";
  for (let chunk = await c.next(); chunk !== null; chunk = await c.next()) {
    got += chunk;
    await h.clock.advance(200);
  }
  assert.equal(got, events.join(""));
  assert.ok(h.clock.count("fired") >= 2, "the watchdog fired and re-armed on the way");
  assert.ok(s.drained && !s.cancelled);
  const status = await h.assertClean();
  assert.equal(status.backends[0].failures, 0);
});

test("a backend that sends each chunk just inside streamIdleMs is never cut off", async (t) => {
  const h = await harness(t);
  const events = sse(3);
  const s = h.stream([events[0]], { end: "hang" });
  oneBackend(h, s);
  const res = await h.fetch(streaming());
  const c = client(res);
  let got = await c.next();
  for (const event of events.slice(1)) {
    const next = c.next();
    await h.clock.advance(299);
    s.push(event);
    got += await next;
  }
  s.finish("close");
  assert.equal(await c.next(), null);
  assert.equal(got, events.join(""));
  const status = await h.assertClean();
  assert.deepEqual([status.backends[0].successes, status.backends[0].failures], [1, 0]);
});

test("the client cancels mid-stream: the backend's stream is cancelled, the exchange ends (not as a backend failure) and the watchdog is cleared", async (t) => {
  const h = await harness(t);
  const s = h.stream(sse(5));
  oneBackend(h, s);
  const res = await h.fetch(streaming());
  const c = client(res);
  await c.next();
  await c.next();
  await c.reader.cancel();
  assert.ok(s.cancelled, "the backend's stream is cancelled");
  const status = await h.assertClean();
  assert.deepEqual([status.backends[0].successes, status.backends[0].failures], [1, 0]);
  assert.equal(h.events("backend_stream_unterminated").length, 0, "a client that left is not a broken stream");
});

test("the client cancels while a read from the backend is pending: the exchange is ended once, the backend's stream cancelled", async (t) => {
  const h = await harness(t);
  const s = h.stream(sse(1, { done: false }), { end: "hang" });
  oneBackend(h, s);
  const res = await h.fetch(streaming());
  const c = client(res);
  await c.next();
  const pending = c.next();
  await h.clock.advance(50);
  await c.reader.cancel();
  assert.equal(await pending, null);
  assert.ok(s.cancelled);
  const status = await h.assertClean();
  assert.equal(status.backends[0].failures, 0);
});

test("the client cancels before reading anything: the backend's stream is cancelled and the exchange ended", async (t) => {
  const h = await harness(t);
  const s = h.stream(sse(3));
  oneBackend(h, s);
  const res = await h.fetch(streaming());
  await res.body?.cancel();
  assert.ok(s.cancelled);
  await h.assertClean();
});

test("a backend that stalls after its first chunk: after streamIdleMs the client gets the SSE error event and no [DONE], the backend's stream is cancelled, the attempt counts as failed", async (t) => {
  const h = await harness(t);
  const events = sse(2);
  const s = h.stream([events[0]], { end: "hang" });
  oneBackend(h, s);
  const res = await h.fetch(streaming());
  const c = client(res);
  assert.equal(await c.next(), events[0]);
  let last = /** @type {string | null | undefined} */ (undefined);
  const next = c.next().then((chunk) => (last = chunk));
  await h.clock.advance(299);
  assert.equal(last, undefined, "not before streamIdleMs");
  assert.ok(!s.cancelled);
  await h.clock.advance(1);
  await next;
  assert.match(String(last), ERROR_EVENT);
  assert.equal(await c.next(), null, "then the stream ends");
  assert.ok(s.cancelled, "the stalled stream is cancelled");
  const status = await h.assertClean();
  assert.deepEqual([status.backends[0].successes, status.backends[0].failures], [0, 1]);
});

test("a backend that sends data: [DONE] but never closes its stream has stalled too: error event, failure, stream cancelled", async (t) => {
  const h = await harness(t);
  const events = sse(1);
  const s = h.stream(events, { end: "hang" });
  oneBackend(h, s);
  const res = await h.fetch(streaming());
  const c = client(res);
  assert.equal(await c.next(), events[0]);
  assert.equal(await c.next(), events[1]);
  const next = c.next();
  await h.clock.advance(300);
  assert.match(String(await next), ERROR_EVENT);
  assert.equal(await c.next(), null);
  assert.ok(s.cancelled);
  const status = await h.assertClean();
  assert.deepEqual([status.backends[0].successes, status.backends[0].failures], [0, 1]);
});

test("a client that reads nothing for streamIdleMs is gone: its exchange ends, the backend's stream is cancelled, the client's stream errors", async (t) => {
  const h = await harness(t);
  const s = h.stream(sse(3));
  oneBackend(h, s);
  const res = await h.fetch(streaming());
  await h.clock.advance(299);
  assert.ok(!s.cancelled, "not before streamIdleMs");
  assert.equal((await h.status()).requestsInFlight, 2, "still in flight");
  await h.clock.advance(1);
  assert.ok(s.cancelled, "the backend's stream is cancelled");
  await assert.rejects(readAll(res), /the client read nothing/);
  const status = await h.assertClean();
  assert.equal(status.backends[0].failures, 0, "a client that left is not the backend's failure");
});

test("a client that stops reading after some chunks is gone streamIdleMs after its last read", async (t) => {
  const h = await harness(t);
  const s = h.stream(sse(4));
  oneBackend(h, s);
  const res = await h.fetch(streaming());
  const c = client(res);
  await c.next();
  await h.clock.advance(200);
  await c.next(); // asked at 200
  await h.clock.advance(299);
  assert.ok(!s.cancelled, "299 ms after its last read the client is not gone yet");
  await h.clock.advance(1);
  assert.ok(s.cancelled);
  await assert.rejects(c.next());
  await h.assertClean();
});

test("a backend stream that breaks mid-way: the error event ends the client's stream, the attempt counts as failed", async (t) => {
  const h = await harness(t);
  const events = sse(3);
  const s = h.stream(events.slice(0, 2), { end: new Error("connection reset") });
  oneBackend(h, s);
  const res = await h.fetch(streaming());
  const body = await readAll(res);
  assert.ok(body.startsWith(events[0] + events[1]));
  assert.match(body.slice((events[0] + events[1]).length), ERROR_EVENT);
  assert.ok(s.errored);
  const status = await h.assertClean();
  assert.equal(status.backends[0].failures, 1);
});

test("a backend stream that sends something other than bytes mid-way: error event, the stream is cancelled", async (t) => {
  const h = await harness(t);
  const events = sse(2);
  const s = h.stream([events[0], { not: "bytes" }, events[1]], { end: "hang" });
  oneBackend(h, s);
  const res = await h.fetch(streaming());
  const body = await readAll(res);
  assert.ok(body.startsWith(events[0]));
  assert.match(body.slice(events[0].length), ERROR_EVENT);
  assert.ok(s.cancelled);
  const status = await h.assertClean();
  assert.equal(status.backends[0].failures, 1);
});

test("a backend stream that sends an ArrayBuffer instead of a Uint8Array mid-way: its content is not relayed, the stream ends with the error event", async (t) => {
  const h = await harness(t);
  const events = sse(2);
  const buffer = new TextEncoder().encode("data: not relayed\n\n").buffer;
  const s = h.stream([events[0], buffer, events[1], events[2]], { end: "hang" });
  oneBackend(h, s);
  const res = await h.fetch(streaming());
  const body = await readAll(res);
  assert.ok(!body.includes("not relayed"));
  assert.match(body.slice(events[0].length), ERROR_EVENT);
  assert.ok(s.cancelled);
  await h.assertClean();
});

test("the relay reads from the backend only what the client asks for: nothing is read ahead", async (t) => {
  const h = await harness(t);
  const s = h.stream(sse(5));
  oneBackend(h, s);
  const res = await h.fetch(streaming());
  const c = client(res);
  await c.next();
  await h.clock.advance(100);
  assert.equal(s.reads, 1, "only the first chunk, which started the answer");
  await c.next();
  await h.clock.advance(100);
  assert.equal(s.reads, 2);
  await c.reader.cancel();
  await h.assertClean();
});

test("a client that stops reading while the backend has nothing to send is gone, not a stalled backend", async (t) => {
  const h = await harness(t);
  const s = h.stream([sse(1)[0]], { end: "hang" });
  oneBackend(h, s);
  const res = await h.fetch(streaming());
  const c = client(res);
  await c.next();
  await h.clock.advance(300);
  assert.ok(s.cancelled);
  await assert.rejects(c.next(), /the client read nothing/);
  const status = await h.assertClean();
  assert.deepEqual([status.backends[0].successes, status.backends[0].failures], [1, 0]);
});

test("a stream that ends without data: [DONE] has broken: error event, logged, counted as a failure", async (t) => {
  const h = await harness(t);
  const events = sse(2, { done: false });
  const s = h.stream(events);
  oneBackend(h, s);
  const res = await h.fetch(streaming());
  const body = await readAll(res);
  assert.ok(body.startsWith(events.join("")));
  assert.match(body.slice(events.join("").length), ERROR_EVENT);
  assert.ok(s.drained);
  const status = await h.assertClean();
  assert.equal(status.backends[0].failures, 1);
  assert.equal(h.events("backend_stream_unterminated").length, 1);
});

/** @param {string} what @param {unknown[]} items @param {boolean} complete */
function tailCase(what, items, complete) {
  test(`the stream's end is judged on its last bytes: ${what}`, async (t) => {
    const h = await harness(t);
    const s = h.stream(items);
    oneBackend(h, s);
    const res = await h.fetch(streaming());
    const body = await readAll(res);
    const sent = items.join("");
    if (complete) assert.equal(body, sent);
    else assert.match(body.slice(sent.length), ERROR_EVENT);
    const status = await h.assertClean();
    assert.equal(status.backends[0].failures, complete ? 0 : 1);
  });
}

const [e0, e1] = sse(2, { done: false });
tailCase("[DONE] as the first and only chunk", ["data: [DONE]\n\n"], true);
tailCase("[DONE] split over two chunks", [e0, "data: [DO", "NE]\n\n"], true);
tailCase("[DONE] sent one byte per chunk", [e0, ..."data: [DONE]\n\n"], true);
tailCase("[DONE] after a first chunk longer than the tail kept", [e0 + e1, ..."data: [DONE]\n\n"], true);
tailCase("[DONE] at the end of one long chunk", [e0, e1 + "data: [DONE]\n\n"], true);
tailCase("[DONE] followed by a few blank bytes", [e0, "data: [DONE]", "\n", "\n"], true);
tailCase("[DONE] in a first chunk followed by more data", ["data: [DONE]\n\n", e1], false);
tailCase("[DONE] followed by a long chunk of data", [e0, "data: [DONE]\n\n", e1], false);
tailCase("[DONE] followed by a short chunk of data", [e0, "data: [DONE]\n\n", "data: {}\n\n"], false);
tailCase("a [DONE] line cut short", [e0, "data: [DON", "\n\n"], false);

test("before its first chunk a backend's stream may be retried: one that sends no chunk within firstByteMs is cancelled and the next backend called then", async (t) => {
  const h = await harness(t);
  const late = h.stream([], { end: "hang", label: "silent stream" });
  const good = h.stream(sse(1), { label: "good stream" });
  const [a, b] = h.pool(["BACKEND_A", "BACKEND_B"], (_req, n) => ({ status: 200, stream: n === 1 ? late.stream : good.stream }));
  const answer = h.fetch(streaming());
  await h.clock.advance(499);
  assert.equal(a.calls.length + b.calls.length, 1, "one attempt until firstByteMs");
  await h.clock.advance(1);
  const res = await answer;
  assert.equal(await readAll(res), sse(1).join(""));
  assert.deepEqual([...a.calls, ...b.calls].map((c) => c.at).sort((x, y) => x - y), [0, 500]);
  assert.ok(late.cancelled, "the silent stream is cancelled");
  assert.ok(good.drained);
  assert.deepEqual(h.events("backend_answer_shape"), [], "a first-byte timeout is a timeout, not a malformed stream");
  await h.assertClean();
});

test("empty chunks before the first byte are skipped: the first chunk with bytes starts the answer", async (t) => {
  const h = await harness(t);
  const s = h.stream([new Uint8Array(0), new Uint8Array(0), ...sse(1)]);
  const [a] = h.pool(["BACKEND_A"], () => ({ status: 200, stream: s.stream }));
  const res = await h.fetch(streaming());
  assert.equal(await readAll(res), sse(1).join(""));
  assert.equal(a.calls.length, 1);
  await h.assertClean();
});

/**
 * A first answer that is not a usable stream, then a good one: the client gets the good stream,
 * the bad one is cancelled (or ended by itself), the bad answer is logged.
 * @param {string} what @param {(h: Awaited<ReturnType<typeof harness>>) => {answer: unknown, source?: import("./harness.mjs").Source}} bad
 * @param {string | null} detail the backend_answer_shape log detail, null when none is logged
 */
function retriedCase(what, bad, detail) {
  test(`a streaming attempt that fails before its first chunk is retried: ${what}`, async (t) => {
    const h = await harness(t);
    const first = bad(h);
    const good = h.stream(sse(1), { label: "good stream" });
    h.pool(["BACKEND_A", "BACKEND_B"], (_req, n) => (n === 1 ? first.answer : { status: 200, stream: good.stream }));
    const res = await h.fetch(streaming());
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("x-router-attempts"), "2");
    assert.equal(await readAll(res), sse(1).join(""));
    if (first.source) assert.ok(first.source.cancelled || first.source.drained || first.source.errored);
    const shapes = h.events("backend_answer_shape").map((l) => l.detail);
    assert.deepEqual(shapes, detail === null ? [] : [detail]);
    const status = await h.assertClean();
    assert.equal(status.backends.reduce((sum, b) => sum + b.failures, 0), 1);
  });
}

retriedCase("a stream that ends before its first chunk", (h) => {
  const source = h.stream([new Uint8Array(0)]);
  return { source, answer: { status: 200, stream: source.stream } };
}, "a stream that ended before its first chunk");
retriedCase("a stream whose first chunk is not bytes", (h) => {
  const source = h.stream(["data: x", "y"].map((x) => x.length), { end: "hang" });
  return { source, answer: { status: 200, stream: source.stream } };
}, "a stream whose chunks are not bytes");
retriedCase("a stream that breaks before its first chunk", (h) => {
  const source = h.stream([], { end: new Error("reset") });
  return { source, answer: { status: 200, stream: source.stream } };
}, null);
retriedCase("a JSON body for a streaming request", () => ({ answer: { status: 200, body: { object: "chat.completion" } } }), "a JSON body for a streaming request");
retriedCase("a 503 that came as a stream", (h) => {
  const source = h.stream(sse(2), { label: "503 stream" });
  return { source, answer: { status: 503, stream: source.stream } };
}, null);

test("a retried attempt's stream is dropped before the next attempt starts: it is cancelled, not left generating", async (t) => {
  const h = await harness(t);
  const dropped = h.stream(sse(3), { label: "503 stream" });
  const good = h.stream(sse(1), { label: "good stream" });
  /** @type {boolean | undefined} */
  let cancelledBeforeRetry;
  h.pool(["BACKEND_A", "BACKEND_B"], (_req, n) => {
    if (n === 1) return { status: 503, stream: dropped.stream };
    cancelledBeforeRetry = dropped.cancelled;
    return { status: 200, stream: good.stream };
  });
  const res = await h.fetch(streaming());
  assert.equal(await readAll(res), sse(1).join(""));
  assert.equal(cancelledBeforeRetry, true);
  assert.equal(dropped.reads, 1, "only its first chunk was read");
  await h.assertClean();
});

test("an error status with a stream is answered in the core's words; the stream nobody forwards is cancelled", async (t) => {
  const h = await harness(t);
  const s = h.stream(sse(3));
  h.backend("BACKEND_A", { infer: () => ({ status: 400, stream: s.stream }) });
  const res = await h.fetch(streaming());
  assert.equal(res.status, 400);
  const body = await res.json();
  assert.equal(body.error.code, "backend_error");
  assert.ok(s.cancelled);
  await h.assertClean();
});
