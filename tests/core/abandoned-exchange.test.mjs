// An exchange whose request is surely gone (still waiting on the shim 10 s past its deadline) is
// ended by the core when a later request begins (docs/architecture.md, "The Wasm ABI"). Through
// shims/wasm-core.js and the real router.wasm: its late events answer null, never another
// exchange's action, and what it held is released.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { RouterCore } from "../../shims/wasm-core.js";

const wasmPath = fileURLToPath(new URL("../../build/wasm/router.wasm", import.meta.url));
const T0 = 1_700_000_000_000;
const REQUEST_MS = 120_000; // the default timeouts.requestMs
const chatBody = new TextEncoder().encode(JSON.stringify({ model: "m", messages: [{ role: "user", content: "hi" }] }));

function configuredCore() {
  const core = RouterCore.fromModule(new WebAssembly.Module(readFileSync(wasmPath)));
  core.configure({ envNames: ["BACKEND_A"] }, T0);
  core.describe(new Map([["BACKEND_A", JSON.stringify({ name: "a", models: ["m"] })]]), T0);
  return core;
}

/** GET `path` through the core at `now`: its reply's status and body text; the exchange ended. */
function get(core, path, now) {
  const { exchange, action } = core.begin({ method: "GET", path }, now, [1, 2, 3, 4]);
  core.end(exchange, 0, null, now);
  return { status: action.status, body: new TextDecoder().decode(action.body) };
}

test("an exchange left waiting on its attempt 10 s past its deadline is ended by the next request's begin", () => {
  const core = configuredCore();
  const { exchange } = core.begin({ method: "POST", path: "/v1/chat/completions", contentType: "application/json" }, T0, [5, 6, 7, 8]);
  const call = core.body(exchange, chatBody, 0, T0);
  assert.equal(call?.kind, "call");

  const justBefore = T0 + REQUEST_MS + 10_000 - 1;
  assert.equal(JSON.parse(get(core, "/status", justBefore).body).requestsInFlight, 2, "not yet: a late shim is still heard");
  const status = JSON.parse(get(core, "/status", justBefore + 1).body);
  assert.equal(status.requestsInFlight, 1, "only /status itself");
  assert.equal(status.backends[0].inFlight, 0, "its attempt in flight is released");
  assert.equal(status.backends[0].failures, 0);

  // The last action the core published was /status's reply: an ended exchange never reads it.
  assert.equal(core.outcome(exchange, { outcome: 0, status: 200 }, justBefore + 2), null);
  assert.equal(core.resume(exchange, justBefore + 2), null);
  assert.equal(core.body(exchange, chatBody, 0, justBefore + 2), null);
  assert.equal(core.rateLimited(exchange, 1, justBefore + 2), null);
  assert.equal(core.end(exchange, 2, null, justBefore + 2), null, "nothing to end twice");
  assert.equal(get(core, "/healthz", justBefore + 3).status, 200);
});
