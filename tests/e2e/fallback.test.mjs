// Fallback chains (contract section 4) through the deployed bundle and real backend Workers
// (tests/fixture-workers/fault-backend.js): a 400 context_length_exceeded, a model whose backend
// is down, a request's own `models`, streaming before the first byte, and /status's counts. The
// backend that served records the request as it got it: model and body rewritten.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { startStack } from "../support/stack.mjs";
import { chat, post, readSse } from "../support/http.mjs";

const fault = (binding, models, vars = {}) =>
  ({ binding, script: "fault-backend.js", vars: { BACKEND_NAME: binding, MODELS: models, ...vars } });

const ROUTER_CONFIG = JSON.stringify({
  retry: { maxAttempts: 2, backoffBaseMs: 1, backoffCapMs: 1 },
  fallbacks: { "gpt-4o": ["gpt-4o-mini"], "model-down": ["gpt-4o-mini"], "model-breaks": ["gpt-4o-mini"], "nobody-has-it": ["gpt-4o-mini"] },
});

let stack;
before(async () => {
  stack = await startStack({
    backends: [
      fault("BACKEND_BIG", "gpt-4o", { INFER_MODE: "status", INFER_STATUS: "400", INFER_CODE: "context_length_exceeded" }),
      fault("BACKEND_DOWN", "model-down", { INFER_MODE: "throw" }),
      fault("BACKEND_BREAKS", "model-breaks", { INFER_MODE: "stream-break" }),
      fault("BACKEND_MINI", "gpt-4o-mini"),
    ],
    vars: { ROUTER_CONFIG },
  });
});
after(() => stack?.stop());

/** The last request BACKEND_MINI received. */
async function lastAtMini() {
  const { requests } = await stack.calls("BACKEND_MINI");
  return requests[requests.length - 1];
}

test("a 400 context_length_exceeded goes on with the next model: x-router-model names it, the body's model is rewritten exactly", async () => {
  // Built by hand: a number beyond a double must reach the backend as the client wrote it.
  const raw = `{"model":"gpt-4o","seed":123456789012345678901234567890,"messages":[{"role":"user","content":"long"}]}`;
  const res = await post(stack, "/v1/chat/completions", raw);
  assert.equal(res.status, 200, await res.clone().text());
  assert.equal(res.headers.get("x-router-model"), "gpt-4o-mini");
  assert.equal(res.headers.get("x-router-backend"), "BACKEND_MINI");
  assert.equal(res.headers.get("x-router-attempts"), "2");
  await res.json();
  const got = await lastAtMini();
  assert.equal(got.model, "gpt-4o-mini");
  assert.equal(got.body, raw.replace(`"model":"gpt-4o"`, `"model":"gpt-4o-mini"`));
  assert.equal((await stack.calls("BACKEND_BIG")).infer, 1);
});

test("a model whose backend keeps failing falls back after its maxAttempts", async () => {
  const res = await post(stack, "/v1/chat/completions", chat("model-down"));
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("x-router-model"), "gpt-4o-mini");
  assert.equal(res.headers.get("x-router-attempts"), "3"); // 2 on model-down, 1 on gpt-4o-mini
  await res.json();
  assert.equal(JSON.parse((await lastAtMini()).body).model, "gpt-4o-mini");
});

test("a streaming request falls back before its first byte", async () => {
  const res = await post(stack, "/v1/chat/completions", chat("model-down", { stream: true }));
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("x-router-model"), "gpt-4o-mini");
  const events = await readSse(res);
  assert.equal(events[events.length - 1], "[DONE]");
});

test("after its first byte a stream is the client's: it fails with the SSE error event, no fallback", async () => {
  const before = (await stack.calls("BACKEND_MINI")).infer;
  const res = await post(stack, "/v1/chat/completions", chat("model-breaks", { stream: true }));
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("x-router-model"), "model-breaks");
  const events = await readSse(res);
  assert.equal(typeof JSON.parse(events.at(-1)).error?.message, "string");
  assert.equal((await stack.calls("BACKEND_MINI")).infer, before);
});

test("a model no backend serves goes on with the next of its configured chain (no 404)", async () => {
  const res = await post(stack, "/v1/chat/completions", chat("nobody-has-it"));
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("x-router-model"), "gpt-4o-mini");
  assert.equal(res.headers.get("x-router-attempts"), "1");
  await res.json();
  assert.equal((await lastAtMini()).model, "gpt-4o-mini");
});

test("a request's own models list is its chain, removed from the body backends get", async () => {
  const res = await post(stack, "/v1/chat/completions", { model: "nobody-serves-this", models: ["gpt-4o-mini"], messages: [{ role: "user", content: "hi" }] });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("x-router-model"), "gpt-4o-mini");
  await res.json();
  const body = JSON.parse((await lastAtMini()).body);
  assert.equal(body.model, "gpt-4o-mini");
  assert.ok(!("models" in body));
  const bad = await post(stack, "/v1/chat/completions", { model: "gpt-4o", models: [], messages: [{ role: "user", content: "hi" }] });
  assert.equal(bad.status, 400);
  assert.equal((await bad.json()).error.param, "models");
});

test("/status counts the fallbacks per model pair", async () => {
  const status = await (await stack.fetch("/status")).json();
  assert.equal(status.fallbacks["gpt-4o -> gpt-4o-mini"], 1);
  assert.equal(status.fallbacks["model-down -> gpt-4o-mini"], 2);
  assert.equal(status.fallbacks["nobody-serves-this -> gpt-4o-mini"], 1);
  assert.equal(status.fallbacks["nobody-has-it -> gpt-4o-mini"], 1);
  assert.equal(status.fallbacks["model-breaks -> gpt-4o-mini"], undefined);
});
