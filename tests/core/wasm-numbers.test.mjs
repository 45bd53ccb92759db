// The number paths of build/wasm/router.wasm, which differ from the native build: there, strtod
// and snprintf are the core's own (cpp/wasm/strtod.cpp, cpp/wasm/snprintf.cpp) instead of musl's.
// Config values must arrive exact, overflowing numbers must still be refused, and every number
// form JSON allows must pass request validation.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { RouterCore } from "../../shims/wasm-core.js";

const wasmPath = fileURLToPath(new URL("../../build/wasm/router.wasm", import.meta.url));
const wasmModule = new WebAssembly.Module(readFileSync(wasmPath));
const T0 = 1_700_000_000_000;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

function coreWith(routerConfig) {
  const core = RouterCore.fromModule(wasmModule);
  const configured = core.configure({ routerConfig, envNames: ["BACKEND_A"] }, T0);
  return { core, configured };
}

function status(core) {
  const { exchange, action } = core.begin({ method: "GET", path: "/status" }, T0 + 1, [1, 0, 0, 1]);
  assert.equal(action.kind, "reply");
  core.end(exchange, 0, null, T0 + 2);
  return JSON.parse(decoder.decode(action.body));
}

// The first action after the body: "call" when the body was accepted.
function send(core, bodyText) {
  const head = { method: "POST", path: "/v1/chat/completions", contentType: "application/json" };
  const { exchange } = core.begin(head, T0 + 3, [2, 0, 0, 2]);
  const action = core.body(exchange, encoder.encode(bodyText), 0, T0 + 4);
  core.end(exchange, 2, null, T0 + 5);
  return action;
}

test("fractional config values reach the core exactly and /status prints them shortest", () => {
  const values = { backoffBaseMs: 12.5, backoffCapMs: 99.75, retryAfterCapMs: 1234.5, budgetPercent: 33.3 };
  const { core, configured } = coreWith(
    JSON.stringify({ retry: values, health: { maxEjectionPercent: 1e-7 }, backends: { BACKEND_A: { weight: 1 / 3 } } }),
  );
  assert.equal(configured.error, undefined);
  const policy = status(core).policy;
  for (const [name, value] of Object.entries(values)) assert.equal(policy.retry[name], value, name);
  assert.equal(policy.health.maxEjectionPercent, 1e-7);
  assert.equal(policy.backends.BACKEND_A.weight, 1 / 3);
  const text = JSON.stringify(policy);
  assert.ok(text.includes('"budgetPercent":33.3'), text);
});

test("exponents, negative zero and long mantissas in ROUTER_CONFIG", () => {
  const { core, configured } = coreWith(
    '{"retry":{"backoffBaseMs":2.5E1,"backoffCapMs":0.000250e6},"timeouts":{"perTryMs":1.0e3},' +
      '"discovery":{"describeTtlMs":-0.0},"backends":{"BACKEND_A":{"weight":0.1000000000000000055511151231257827}}}',
  );
  assert.equal(configured.error, undefined);
  const policy = status(core).policy;
  assert.equal(policy.retry.backoffBaseMs, 25);
  assert.equal(policy.retry.backoffCapMs, 250);
  assert.equal(policy.timeouts.perTryMs, 1000);
  assert.equal(policy.discovery.describeTtlMs, 0);
  assert.equal(policy.backends.BACKEND_A.weight, 0.1);
});

test("a number beyond a double is still refused, in ROUTER_CONFIG and in a request body", () => {
  const { configured } = coreWith('{"timeouts":{"requestMs":1E1000}}');
  assert.match(configured.error.message, /ROUTER_CONFIG holds a number too large to represent/);

  const { core } = coreWith(null);
  core.describe(new Map([["BACKEND_A", JSON.stringify({ name: "a", models: ["m"] })]]), T0);
  const refused = send(core, '{"model":"m","messages":[{"role":"user","content":"x"}],"temperature":1e400}');
  assert.equal(refused.kind, "reply");
  assert.equal(refused.status, 400);
  assert.match(JSON.parse(decoder.decode(refused.body)).error.message, /number too large/);
});

test("every JSON number form passes request validation, and a control character is a clean 400", () => {
  const { core } = coreWith(null);
  core.describe(new Map([["BACKEND_A", JSON.stringify({ name: "a", models: ["m"] })]]), T0);
  const numbers = "[0, -0, -0.0, 1.5, 1e-320, 4.9e-324, 1.7976931348623157e308, 123456789012345678901234567890, 2E+2]";
  const accepted = send(core, `{"model":"m","messages":[{"role":"user","content":"x"}],"n":${numbers}}`);
  assert.equal(accepted.kind, "call");

  const control = send(core, '{"model":"m","messages":[{"role":"user","content":"a\u0001b"}]}');
  assert.equal(control.kind, "reply");
  assert.equal(control.status, 400);
  assert.match(JSON.parse(decoder.decode(control.body)).error.message, /^request body is not valid JSON/);
  assert.equal(send(core, '{"model":"m","messages":[{"role":"user","content":"ok"}]}').kind, "call", "still serving");

  // ROUTER_CONFIG still goes through nlohmann, whose lexer formats this error with snprintf
  // ("<U+0001>"): the message stays ours.
  const { configured } = coreWith('{"timeouts":{"requestMs":"a\u0001b"}}');
  assert.match(configured.error.message, /^ROUTER_CONFIG is not valid JSON/);
});
