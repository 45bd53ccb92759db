// Issue 9's findings at the orchestrator's edges, end to end through the deployed bundle and real
// controlled backends: odd backend answers, streams without [DONE], clients that leave, exact body
// values, slow uploads. Each test failed on the code before the fix (see the closing note).
import assert from "node:assert/strict";
import http from "node:http";
import { after, before, beforeEach, test } from "node:test";
import { byAttempt, startControlledStack, status } from "../support/backend-control.mjs";
import { ask, openAiError, settle, sleep, sseEvents } from "../support/fault-cases.mjs";
import { loggedEvents } from "../support/stack.mjs";

// Clock slack between Node and workerd, whose Date.now() moves on I/O only.
const SLACK_MS = 15;
const BINDINGS = ["BACKEND_A", "BACKEND_B", "BACKEND_C"];
const REQUEST_MS = 1500;
const STREAM_IDLE_MS = 500;
const ROUTER_CONFIG = {
  timeouts: { perTryMs: 400, firstByteMs: 1000, requestMs: REQUEST_MS, streamIdleMs: STREAM_IDLE_MS },
  health: { consecutiveFailures: 1000 },
};

/** @type {Awaited<ReturnType<typeof startControlledStack>>} */
let h;
before(async () => { h = await startControlledStack({ bindings: BINDINGS, routerConfig: ROUTER_CONFIG }); });
after(() => h?.stop());
beforeEach(() => settle(h));

/** Log lines (parsed) of one event since `from`. */
const logged = (/** @type {string} */ event, from = 0) => loggedEvents(h.stack.logs, event, from);

const ODD_ANSWERS = [
  { label: "204", instruction: status(204), detail: "status 204 carries no body" },
  { label: "304", instruction: status(304), detail: "status 304 carries no body" },
  { label: "101", instruction: status(101), detail: "status 101 is not a final HTTP status" },
  { label: "150", instruction: status(150), detail: "status 150 is not a final HTTP status" },
  { label: "200 with a body that is no JSON object", instruction: { do: "status", status: 200, body: "ok" }, detail: "no JSON object body" },
];

for (const { label, instruction, detail } of ODD_ANSWERS) {
  test(`a backend answering ${label} is a failed attempt, logged with its name; the client gets another's answer`, async () => {
    const from = h.stack.logs.length;
    const before = await h.status();
    h.control.setAll(byAttempt({ 1: instruction }));
    const r = await ask(h.stack, { label: `odd-${label.replaceAll(" ", "-")}` });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.attempts, 2);
    const [first] = h.control.callsFor(r.requestId);
    const lines = logged("backend_answer_shape", from);
    assert.ok(lines.some((l) => l.backend === first.binding && l.detail.includes(detail)), JSON.stringify(lines));
    const failures = (await h.status()).byBinding[first.binding].failures;
    assert.equal(failures, before.byBinding[first.binding].failures + 1);
  });
}

test("a Retry-After sent as a number is taken as its text, not a crash", async () => {
  h.control.setAll(byAttempt({ 1: { do: "status", status: 429, headers: { "retry-after": 5 } } }));
  const r = await ask(h.stack, { label: "retry-after-number" });
  assert.equal(r.status, 200, r.text);
  const [first] = h.control.callsFor(r.requestId);
  const s = (await h.status()).byBinding[first.binding];
  assert.equal(s.state, "cooldown");
  assert.ok(s.until >= first.at + 5000 - SLACK_MS && s.until <= Date.now() + 5000, `cooldown of 5 s, until ${s.until - first.at} ms after the 429`);
});

test("a backend stream that ends without data: [DONE] ends with the SSE error event and counts as a failure", async () => {
  h.control.setAll({ do: "stream", chunks: 2, noDone: true });
  const from = h.stack.logs.length;
  const before = await h.status();
  const r = await ask(h.stack, { label: "no-done", stream: true });
  assert.equal(r.status, 200);
  const events = sseEvents(r.text);
  assert.ok(!events.includes("[DONE]"), "never a silent clean end");
  assert.equal(openAiError(JSON.parse(events.at(-1)))?.code, "stream_interrupted");
  assert.equal((await h.status()).byBinding[r.backend].failures, before.byBinding[r.backend].failures + 1);
  assert.ok(logged("backend_stream_unterminated", from).some((l) => l.backend === r.backend));
});

test("a client that leaves before a streamed answer starts holds no slot once the stream idles, and the upstream is not drained", async () => {
  const FIRST_CHUNK_MS = 300;
  const CHUNKS = 20;
  const INTERVAL_MS = 100;
  h.control.setAll({ do: "stream", firstChunkDelayMs: FIRST_CHUNK_MS, chunks: CHUNKS, intervalMs: INTERVAL_MS });
  const abort = new AbortController();
  const started = Date.now();
  const pending = h.stack.fetch("/v1/chat/completions", {
    method: "POST", signal: abort.signal, headers: { "content-type": "application/json", "x-request-id": "left-early" },
    body: JSON.stringify({ model: "echo-1", stream: true, messages: [{ role: "user", content: "bye" }] }),
  }).catch(() => "aborted");
  await sleep(100);
  abort.abort();
  assert.equal(await pending, "aborted");
  await sleep(FIRST_CHUNK_MS + STREAM_IDLE_MS + 400 - (Date.now() - started));
  const s = await h.status();
  assert.equal(s.requestsInFlight, 1, "only this /status request");
  assert.ok(s.backends.every((/** @type {any} */ b) => b.inFlight === 0), JSON.stringify(s.backends.map((/** @type {any} */ b) => b.inFlight)));
  // Long enough for the whole upstream stream had anyone kept reading it.
  await sleep(FIRST_CHUNK_MS + CHUNKS * INTERVAL_MS + 300 - (Date.now() - started));
  const [call] = h.control.callsFor("left-early");
  assert.equal(h.control.callsFor("left-early").length, 1, "no further attempt");
  assert.equal(h.control.events.filter((e) => e.id === call.id && e.event === "stream-done").length, 0,
    "the backend's stream was cancelled, not read to its end");
});

test("the backend gets the client's exact body text: an integer beyond 2^53 is not rounded", async () => {
  const text = '{"model":"echo-1","seed":12345678901234567890,"messages":[{"role":"user","content":"exact"}]}';
  const res = await h.stack.fetch("/v1/chat/completions", { method: "POST", headers: { "content-type": "application/json", "x-request-id": "exact-1" }, body: text });
  assert.equal(res.status, 200);
  await res.arrayBuffer();
  const [call] = h.control.callsFor("exact-1");
  assert.equal(call.body, text);
});

test("a slow upload gets 504 at the request deadline, not when its body finally arrives", async () => {
  const url = new URL(h.stack.url);
  const started = Date.now();
  const answer = await new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, path: "/v1/chat/completions", method: "POST",
      headers: { "content-type": "application/json", "content-length": "200" } }, (res) => {
      let body = "";
      res.on("data", (c) => { body += c; });
      res.on("end", () => resolve({ status: res.statusCode, body, id: res.headers["x-request-id"] }));
    });
    req.on("error", reject);
    req.write('{"model":"echo-1",');
    const trickle = setInterval(() => req.write(" "), 100); // never completes within the deadline
    setTimeout(() => { clearInterval(trickle); req.destroy(); }, REQUEST_MS + 2500);
  });
  const elapsed = Date.now() - started;
  assert.equal(answer.status, 504, answer.body);
  assert.equal(JSON.parse(answer.body).error.code, "deadline_exceeded");
  assert.ok(answer.id, "x-request-id");
  assert.ok(elapsed < REQUEST_MS + 1500, `answered after ${elapsed} ms`);
});
