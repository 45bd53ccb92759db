// Failures of real backend Workers (tests/fixture-workers/fault-backend.js) through the deployed bundle:
// failover, all backends down, no backend at all, streams failing before and after their first byte,
// non-retriable answers passed through.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { startStack } from "../support/stack.mjs";
import { chat, errorOf, post, readSse } from "../support/http.mjs";

const fault = (binding, vars) => ({ binding, script: "fault-backend.js", vars: { BACKEND_NAME: binding, ...vars } });
const template = (binding) => ({ binding, vars: { BACKEND_NAME: binding } });

let stack;
before(async () => {
  stack = await startStack({ backends: [
    fault("BACKEND_THROWS", { INFER_MODE: "throw" }),
    fault("BACKEND_503", { INFER_MODE: "status", INFER_STATUS: "503" }),
    template("BACKEND_OK"),
  ] });
});
after(() => stack?.stop());

test("requests fail over from a throwing and a 503 backend to the healthy one", async () => {
  const attempts = [];
  for (let i = 0; i < 6; i++) {
    const res = await post(stack, "/v1/chat/completions", chat());
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("x-router-backend"), "BACKEND_OK");
    attempts.push(Number(res.headers.get("x-router-attempts")));
    assert.equal((await res.json()).object, "chat.completion");
  }
  assert.ok(attempts.every((n) => n >= 1 && n <= 3), `attempts ${attempts}`);
  assert.ok(attempts.some((n) => n > 1), `some request must have failed over: ${attempts}`);
  const thrower = await stack.calls("BACKEND_THROWS");
  const unavailable = await stack.calls("BACKEND_503");
  assert.ok(thrower.infer >= 1 && unavailable.infer >= 1, "both faulty backends were tried");
  const retried = [...thrower.requests, ...unavailable.requests];
  assert.ok(retried.every((r) => r.path === "/v1/chat/completions" && r.model === "echo-1"));
  // The body arrives as the client's exact JSON text (contract section 1).
  const bodies = retried.map((r) => JSON.parse(r.body));
  assert.ok(bodies.every((b) => b.messages[0].content === "Hello, router" && !("authorization" in b)));
});

test("/status counts the failures of the faulty backends", async () => {
  const body = await (await stack.fetch("/status")).json();
  const byBinding = Object.fromEntries(body.backends.map((b) => [b.binding, b]));
  assert.ok(byBinding.BACKEND_THROWS.failures >= 1);
  assert.ok(byBinding.BACKEND_503.failures >= 1);
  assert.equal(byBinding.BACKEND_OK.failures, 0);
  assert.ok(byBinding.BACKEND_OK.successes >= 6);
});

test("streaming fails over while no byte has reached the client", async () => {
  await stack.reconfigure({ backends: [
    fault("BACKEND_EMPTY", { INFER_MODE: "stream-empty" }),
    fault("BACKEND_THROWS", { INFER_MODE: "throw" }),
    template("BACKEND_OK"),
  ] });
  for (let i = 0; i < 3; i++) {
    const res = await post(stack, "/v1/chat/completions", chat("echo-1", { stream: true }));
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("x-router-backend"), "BACKEND_OK");
    const events = await readSse(res);
    assert.equal(events.at(-1), "[DONE]");
  }
});

test("a stream that breaks after its first byte ends with an SSE error event and no [DONE]", async () => {
  await stack.reconfigure({ backends: [fault("BACKEND_BREAKS", { INFER_MODE: "stream-break" })] });
  const res = await post(stack, "/v1/chat/completions", chat("echo-1", { stream: true }));
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type"), /^text\/event-stream/);
  const events = await readSse(res);
  assert.ok(events.length >= 2, `events ${events}`);
  assert.equal(JSON.parse(events[0]).object, "chat.completion.chunk");
  const last = JSON.parse(events.at(-1));
  assert.equal(typeof last.error?.message, "string");
  assert.ok(!events.includes("[DONE]"));
  assert.ok(!events.join("").includes("backend stream broke"), "the backend's error text stays private");
});

test("a backend that does not answer within the per-try timeout is abandoned for another", async () => {
  await stack.reconfigure({
    vars: { ROUTER_CONFIG: JSON.stringify({ timeouts: { perTryMs: 300, firstByteMs: 300 } }) },
    backends: [fault("BACKEND_HANGS", { INFER_MODE: "hang", HANG_MS: "5000" }),
      fault("BACKEND_STALLS", { INFER_MODE: "stream-stall", HANG_MS: "5000" }), template("BACKEND_OK")],
  });
  for (const stream of [false, true, false, true]) {
    const started = Date.now();
    const res = await post(stack, "/v1/chat/completions", chat("echo-1", { stream }));
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("x-router-backend"), "BACKEND_OK");
    if (stream) assert.equal((await readSse(res)).at(-1), "[DONE]");
    else await res.json();
    assert.ok(Date.now() - started < 4000, "timeouts cut the hanging attempts short");
  }
});

test("a lone backend that failed once is retried after a backoff", async () => {
  await stack.reconfigure({ backends: [fault("BACKEND_FLAKY", { INFER_MODE: "status", INFER_STATUS: "503", INFER_FAULTS: "1" })] });
  const res = await post(stack, "/v1/chat/completions", chat());
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("x-router-attempts"), "2");
  assert.equal((await stack.calls("BACKEND_FLAKY")).infer, 2);
});

test("a 429 with retry-after-ms is honoured before the retry", async () => {
  await stack.reconfigure({ backends: [fault("BACKEND_BUSY", { INFER_MODE: "status", INFER_STATUS: "429",
    INFER_HEADERS: JSON.stringify({ "retry-after-ms": "400" }), INFER_FAULTS: "1" })] });
  const started = Date.now();
  const res = await post(stack, "/v1/chat/completions", chat());
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("x-router-attempts"), "2");
  await res.arrayBuffer();
  assert.ok(Date.now() - started >= 350, `retried after ${Date.now() - started} ms`);
});

test("when every backend fails the client gets 502 with an attempt trace", async () => {
  await stack.reconfigure({ backends: [
    fault("BACKEND_A", { INFER_MODE: "throw" }),
    fault("BACKEND_B", { INFER_MODE: "status", INFER_STATUS: "503" }),
    fault("BACKEND_C", { INFER_MODE: "status", INFER_STATUS: "502" }),
  ] });
  const res = await post(stack, "/v1/chat/completions", chat());
  assert.equal(res.status, 502);
  assert.equal(res.headers.get("x-router-attempts"), "3");
  const error = await errorOf(res);
  assert.equal(error.type, "upstream_error");
  for (const binding of ["BACKEND_A", "BACKEND_B", "BACKEND_C"]) assert.match(error.message, new RegExp(binding));
  assert.doesNotMatch(error.message, /secret internal failure detail/, "exception texts never reach the client");
});

test("a non-retriable backend answer is passed through as it is", async () => {
  await stack.reconfigure({ backends: [
    fault("BACKEND_A", { INFER_MODE: "status", INFER_STATUS: "422" }),
    fault("BACKEND_B", { INFER_MODE: "status", INFER_STATUS: "422" }),
  ] });
  const res = await post(stack, "/v1/chat/completions", chat());
  assert.equal(res.status, 422);
  assert.equal(res.headers.get("x-router-attempts"), "1");
  const error = await errorOf(res);
  assert.match(error.message, /says 422/);
});

test("with no backend bound the router answers 503 with Retry-After", async () => {
  await stack.reconfigure({ backends: [] });
  const res = await post(stack, "/v1/chat/completions", chat());
  assert.equal(res.status, 503);
  assert.ok(res.headers.get("retry-after"));
  assert.equal((await errorOf(res)).type, "service_unavailable");
});
