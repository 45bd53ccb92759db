// Loads build/wasm/router.wasm in plain Node through shims/wasm-core.js and drives requests
// through the ABI: a failover, a discovery, and recovery from a real trap inside the instance.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { RouterCore } from "../../shims/wasm-core.js";

const wasmPath = fileURLToPath(new URL("../../build/wasm/router.wasm", import.meta.url));
const T0 = 1_700_000_000_000;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

function freshCore() {
  const core = RouterCore.fromModule(new WebAssembly.Module(readFileSync(wasmPath)));
  const configured = core.configure({ envNames: ["BACKEND_A", "BACKEND_B", "AI", "ROUTER_CONFIG"] }, T0);
  assert.deepEqual(configured.backends, ["BACKEND_A", "BACKEND_B"]);
  core.describe(answers({ BACKEND_A: { name: "alpha", models: ["m"] }, BACKEND_B: { name: "beta", models: ["*"] } }), T0);
  return core;
}

function chatHead() {
  return { method: "POST", path: "/v1/chat/completions", contentType: "application/json", requestId: "req-1" };
}
const chatBody = encoder.encode(JSON.stringify({ model: "m", messages: [{ role: "user", content: "hello" }] }));
const header = (action, name) => action.headers[name];
/** describe() answers as the driver feeds them: binding -> JSON text. */
const answers = (byBinding) => new Map(Object.entries(byBinding).map(([b, a]) => [b, JSON.stringify(a)]));

test("a request fails over from a throwing backend to one that answers 200", () => {
  const core = freshCore();
  const { exchange, action: first } = core.begin(chatHead(), T0, [7, 0, 0, 7]);
  assert.equal(first.kind, "read_body");
  assert.equal(first.limit, 1 << 20);

  const call1 = core.body(exchange, chatBody, 0, T0 + 1);
  assert.equal(call1.kind, "call");
  assert.equal(call1.attempt, 1);
  assert.equal(call1.requestId, "req-1");
  assert.equal(call1.model, "m");
  assert.equal(call1.path, "/v1/chat/completions");
  assert.equal(call1.stream, false);
  assert.equal(call1.deadline, T0 + 120_000);
  assert.ok(call1.timeoutMs > 0 && call1.timeoutMs <= 60_000);

  const call2 = core.outcome(exchange, { outcome: 1 }, T0 + 20); // the RPC threw
  assert.equal(call2.kind, "call");
  assert.equal(call2.attempt, 2);
  assert.notEqual(call2.backend, call1.backend, "the retry goes to the untried backend");
  assert.equal(call2.binding, core.backends[call2.backend]);

  const forward = core.outcome(exchange, { outcome: 0, status: 200 }, T0 + 40);
  assert.equal(forward.kind, "forward");
  assert.equal(forward.status, 200);
  assert.equal(forward.backend, call2.backend);
  assert.equal(header(forward, "content-type"), "application/json");
  assert.equal(header(forward, "x-request-id"), "req-1");
  assert.equal(header(forward, "x-router-backend"), call2.binding);
  assert.equal(header(forward, "x-router-attempts"), "2");
  assert.equal(core.end(exchange, 0, null, T0 + 41), null);

  const status = core.begin({ method: "GET", path: "/status" }, T0 + 50, [8, 0, 0, 8]);
  assert.equal(status.action.kind, "reply");
  const state = JSON.parse(decoder.decode(status.action.body));
  const failed = state.backends.find((b) => b.binding === call1.binding);
  const answered = state.backends.find((b) => b.binding === call2.binding);
  assert.deepEqual([failed.attempts, failed.failures, failed.consecutiveFailures, failed.inFlight], [1, 1, 1, 0]);
  assert.deepEqual([answered.attempts, answered.successes, answered.inFlight], [1, 1, 0]);
  core.end(status.exchange, 0, null, T0 + 51);
});

test("discovery is requested when the describe cache is empty", () => {
  const core = RouterCore.fromModule(new WebAssembly.Module(readFileSync(wasmPath)));
  core.configure({ envNames: ["BACKEND_X"] }, T0);
  const { exchange } = core.begin(chatHead(), T0, [1, 0, 0, 1]);
  const discover = core.body(exchange, chatBody, 0, T0);
  assert.equal(discover.kind, "discover");
  assert.ok(discover.timeoutMs > 0, "the describe() timeout");
  core.describe(answers({ BACKEND_X: { name: "x", models: ["other"] } }), T0);
  const reply = core.resume(exchange, T0);
  assert.equal(reply.kind, "reply");
  assert.equal(reply.status, 404);
  assert.equal(JSON.parse(decoder.decode(reply.body)).error.code, "model_not_found");
  core.end(exchange, 0, null, T0);
});

test("a streaming failure after the first byte yields an SSE error event without [DONE]", () => {
  const core = freshCore();
  const { exchange } = core.begin(chatHead(), T0, [3, 0, 0, 3]);
  const streamBody = encoder.encode(JSON.stringify({ model: "m", stream: true, messages: [{ role: "user", content: "hi" }] }));
  const call = core.body(exchange, streamBody, 0, T0);
  assert.equal(call.kind, "call");
  assert.equal(call.stream, true);
  const forward = core.outcome(exchange, { outcome: 3, status: 200 }, T0 + 5); // answered with a stream
  assert.equal(header(forward, "content-type"), "text/event-stream");
  const tail = decoder.decode(core.end(exchange, 1, null, T0 + 9));
  assert.match(tail, /^data: \{"error":\{.*\}\}\n\n$/s);
  assert.ok(!tail.includes("[DONE]"));
});

test("a trap inside the instance answers 500 and a fresh instance keeps serving", () => {
  const core = freshCore();
  const { exchange } = core.begin(chatHead(), T0, [5, 0, 0, 5]);
  // Make the real export read far outside linear memory: a genuine WebAssembly trap.
  const realBody = core.exports.rt_exchange_body;
  core.exports = { ...core.exports, rt_exchange_body: (h, _ptr, _len, over, now) => realBody(h, 0xfffffff0, 64, over, now) };
  const trapped = core.body(exchange, chatBody, 0, T0);
  assert.equal(trapped.kind, "reply");
  assert.equal(trapped.status, 500);
  assert.equal(JSON.parse(decoder.decode(trapped.body)).error.code, "core_trapped");
  assert.ok(core.logs().some((line) => JSON.parse(line).event === "core_trapped"));
  assert.equal(core.resume(exchange, T0).status, 500, "the old exchange stays answered with 500");

  // The replacement instance has the configuration and the discovery replayed: no DISCOVER.
  const next = core.begin(chatHead(), T0 + 1, [6, 0, 0, 6]);
  assert.equal(next.action.kind, "read_body");
  assert.equal(core.body(next.exchange, chatBody, 0, T0 + 1).kind, "call");
  core.end(next.exchange, 2, null, T0 + 2);
});

test("bad handles and arguments return error codes instead of trapping", () => {
  const core = freshCore();
  const x = core.exports;
  assert.equal(x.rt_exchange_resume(999, T0), -1, "no such exchange (0xFFFFFFFF)");
  assert.equal(x.rt_exchange_end(999, 0, 0, 0, T0), -2);
  assert.equal(x.rt_router_configure(12345, 0, 0, T0), -2);
  assert.equal(x.rt_router_describe(core.router, 0, 0, T0), -1, "empty answers are not JSON");
  assert.equal(x.rt_exchange_begin(0, 0, 0, T0, 1, 0, 0, 1), 0);
  const { exchange } = core.begin(chatHead(), T0, [1, 0, 0, 1]);
  assert.equal(core.resume(exchange, T0)?.kind, "error", "resume is not valid while a body is expected");
  core.end(exchange, 2, null, T0);
});
