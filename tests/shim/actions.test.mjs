// RouterCore's action records (shims/wasm-core.js), decoded from the real router.wasm: each kind
// carries exactly the fields its typedef documents for it, and every field that does not apply to
// the kind is neutral ("", 0, [], false, {}), so a driver can never act on a value left over from
// an earlier action. Also the 500 action the shim makes without the core (internalErrorAction).
import assert from "node:assert/strict";
import { test } from "node:test";
import { RouterCore, internalErrorAction } from "../../shims/wasm-core.js";
import { wasmModule } from "./harness.mjs";

const T0 = 1_750_000_000_000;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Every field of an Action at its neutral value, overridden by `fields`. @param {Record<string, unknown>} fields */
function action(fields) {
  return {
    kind: "error", status: 0, backend: 0, binding: "", attempt: 0, timeoutMs: 0, limit: 0, deadline: 0, attemptDeadline: 0, wakeBy: 0,
    until: 0, bindings: [], stream: false, requestId: "", model: "", path: "", key: "", headers: {}, body: new Uint8Array(0), backendBody: "", usageInjected: false,
    ...fields,
  };
}

function core() {
  const c = RouterCore.fromModule(wasmModule);
  const configured = c.configure({
    envNames: ["BACKEND_A", "BACKEND_B", "RATE_LIMITER"],
    routerConfig: JSON.stringify({ retry: { backoffBaseMs: 100, backoffCapMs: 100 } }),
    apiKeyHashes: [],
    apiKeysSet: false,
    adminKeyHash: null,
  }, T0);
  assert.deepEqual(configured.backends, ["BACKEND_A", "BACKEND_B"]);
  return c;
}

test("a streaming request's actions, field by field: rate_limit, read_body, discover, call, call (retry), wait, call, forward", () => {
  const c = core();
  const { exchange, action: rateLimit } = c.begin({
    method: "POST", path: "/v1/chat/completions", contentType: "application/json", contentLength: "", requestId: "r1", authHash: "", clientIp: "192.0.2.1",
  }, T0, [1, 2, 3, 4]);
  assert.deepEqual(rateLimit, action({ kind: "rate_limit", timeoutMs: 1000, key: "ip:192.0.2.1" }));

  const readBody = c.rateLimited(exchange, 1, T0 + 1);
  // wakeBy: the first-byte timeout (30 s), shorter than the per-try one (60 s), from now.
  assert.deepEqual(readBody, action({ kind: "read_body", limit: 1_048_576, deadline: T0 + 120_000, wakeBy: T0 + 1 + 30_000 }));

  const body = encoder.encode(JSON.stringify({ model: "m", stream: true, messages: [{ role: "user", content: "x" }] }));
  const discover = c.body(exchange, body, 0, T0 + 2);
  assert.deepEqual(discover, action({ kind: "discover", timeoutMs: 5000, until: T0 + 5002, bindings: ["BACKEND_A", "BACKEND_B"] }));

  c.describe(new Map([
    ["BACKEND_A", JSON.stringify({ name: "a", models: ["*"] })],
    ["BACKEND_B", JSON.stringify({ name: "b", models: ["*"] })],
  ]), T0 + 3);
  const first = c.resume(exchange, T0 + 3);
  // The client did not ask for the stream's usage: the backend's body does (the router counts it).
  const backendBody = JSON.stringify({ stream_options: { include_usage: true }, ...JSON.parse(decoder.decode(body)) });
  const call = { kind: "call", stream: true, requestId: "r1", model: "m", path: "/v1/chat/completions", timeoutMs: 30_000, deadline: T0 + 120_000, backendBody };
  assert.deepEqual(first, action({ ...call, backend: first.backend, binding: c.backends[first.backend], attempt: 1, attemptDeadline: T0 + 30_003 }));

  const second = c.outcome(exchange, { outcome: 0, status: 503, retryAfter: "", retryAfterMs: "" }, T0 + 4);
  assert.notEqual(second.backend, first.backend);
  assert.deepEqual(second, action({ ...call, backend: second.backend, binding: c.backends[second.backend], attempt: 2, attemptDeadline: T0 + 30_004 }));

  const wait = c.outcome(exchange, { outcome: 0, status: 503, retryAfter: "", retryAfterMs: "" }, T0 + 5);
  assert.equal(wait.kind, "wait");
  assert.ok(wait.until >= T0 + 5 && wait.until <= T0 + 105, "a full-jitter backoff of at most 100 ms");
  assert.deepEqual(wait, action({ kind: "wait", until: wait.until }));

  const third = c.resume(exchange, T0 + 200);
  assert.equal(third.kind, "call");
  assert.equal(third.attempt, 3);

  const forward = c.outcome(exchange, { outcome: 3, status: 200 }, T0 + 210);
  assert.deepEqual(forward, action({
    kind: "forward", status: 200, backend: third.backend, binding: c.backends[third.backend], attempt: 3, timeoutMs: 60_000, usageInjected: true,
    // Server-Timing: 210 ms since arrival, of which 1 + 1 + 10 ms waiting on the three attempts.
    headers: {
      "content-type": "text/event-stream", "cache-control": "no-cache", "x-request-id": "r1", "x-router-backend": third.binding, "x-router-attempts": "3",
      "x-router-model": "m", "server-timing": "router;dur=198, backend;dur=12",
    },
  }));
  assert.equal(c.end(exchange, 0, encoder.encode("data: [DONE]\n\n"), T0 + 220), null);
});

test("a reply: status, headers and body split at the blank line, nothing else", () => {
  const c = core();
  const { exchange, action: reply } = c.begin({ method: "GET", path: "/healthz" }, T0, [5, 6, 7, 8]);
  assert.equal(decoder.decode(reply.body), '{"status":"ok"}');
  assert.deepEqual(reply, action({
    kind: "reply", status: 200, headers: { "content-type": "application/json", "x-request-id": "00000005000000060000000700000008", "server-timing": "router;dur=0" }, body: reply.body,
  }));
  c.end(exchange, 0, null, T0);
});

test("internalErrorAction: a complete 500 reply in OpenAI's error shape with a fresh x-request-id", () => {
  const a = internalErrorAction("Something failed", "some_code");
  assert.match(a.headers["x-request-id"], /^[0-9a-f]{32}$/);
  assert.notEqual(internalErrorAction("x", "y").headers["x-request-id"], a.headers["x-request-id"]);
  assert.deepEqual(JSON.parse(decoder.decode(a.body)), { error: { message: "Something failed", type: "server_error", param: null, code: "some_code" } });
  assert.deepEqual(a, action({
    kind: "reply", status: 500, headers: { "content-type": "application/json", "x-request-id": a.headers["x-request-id"], "server-timing": 'router;desc="core failed"' }, body: a.body,
  }));
});
