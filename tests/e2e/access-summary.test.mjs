// The access summary of each /v1 request (issue 15) through the deployed bundle: one Workers
// Analytics Engine data point per request in the documented layout (JSON success, stream, a retried
// request, every backend failing), the sampled "access" log line, and a throwing binding that
// never hurts a request. Miniflare's local Analytics Engine keeps no points, so ANALYTICS is a
// wrapped binding (tests/fixture-workers/analytics-recorder.js) that checks and logs each point.
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, test } from "node:test";
import { loggedEvents, startStack } from "../support/stack.mjs";
import { ROOT } from "../support/bundles.mjs";
import { chat, keyIdOf, post, readSse } from "../support/http.mjs";

const KEY = "sk-access-summary";
const KEY_ID = keyIdOf(KEY);
const AUTH = { authorization: `Bearer ${KEY}` };
const fault = (binding, vars) => ({ binding, script: "fault-backend.js", vars: { BACKEND_NAME: binding, ...vars } });
const BACKENDS = [
  { binding: "BACKEND_ECHO", vars: { PROVIDER: "echo", BACKEND_NAME: "echo", MODELS: "echo-1" } },
  fault("BACKEND_FLAKY", { MODELS: "flaky", INFER_MODE: "throw", INFER_FAULTS: "1" }),
  fault("BACKEND_DEAD", { MODELS: "dead", INFER_MODE: "throw" }),
];
const RETRY = { maxAttempts: 2, backoffBaseMs: 1, backoffCapMs: 5 };

/** A stack whose ANALYTICS binding records points (or throws), with accessLog.sampleRate `rate`. */
function spec(rate, { throws = false, analytics = true } = {}) {
  return {
    vars: { ROUTER_API_KEYS: KEY, ROUTER_CONFIG: JSON.stringify({ retry: RETRY, accessLog: { sampleRate: rate } }) },
    backends: BACKENDS,
    ...(analytics ? {
      orchestratorOptions: { wrappedBindings: { ANALYTICS: { scriptName: "analytics-recorder", bindings: { THROWS: throws } } } },
      workers: [{ name: "analytics-recorder", modules: true, scriptPath: path.join(ROOT, "tests/fixture-workers/analytics-recorder.js") }],
    } : {}),
  };
}

let stack;
before(async () => { stack = await startStack(spec(1)); });
after(() => stack?.stop());

/** The points and access lines logged since line `from`, once `count` points are there. */
async function summaries(from, count) {
  for (let i = 0; i < 50 && loggedEvents(stack.logs, "analytics_point", from).length < count; i++)
    await new Promise((r) => setTimeout(r, 20));
  return { points: loggedEvents(stack.logs, "analytics_point", from).map((e) => e.point),
    access: loggedEvents(stack.logs, "access", from) };
}

test("a JSON success: one point in the documented layout, one access line with the same figures", async () => {
  const from = stack.logs.length;
  const res = await post(stack, "/v1/chat/completions", chat("echo-1"), AUTH);
  assert.equal(res.status, 200);
  const { usage } = await res.json();
  const { points, access } = await summaries(from, 1);
  assert.equal(points.length, 1);
  const [p] = points;
  assert.deepEqual(p.indexes, [KEY_ID]);
  assert.deepEqual(p.blobs, ["BACKEND_ECHO", "echo-1", "echo-1", "", KEY_ID, "/v1/chat/completions", res.headers.get("x-request-id")]);
  const [status, attempts, routerMs, backendMs, prompt, completion, total, stream] = p.doubles;
  assert.deepEqual([status, attempts, prompt, completion, total, stream],
    [200, 1, usage.prompt_tokens, usage.completion_tokens, usage.total_tokens, 0]);
  assert.ok(routerMs >= 0 && backendMs > 0, `router ${routerMs} ms, backend ${backendMs} ms`);
  assert.match(res.headers.get("server-timing"), new RegExp(`backend;dur=${backendMs}\\b`));
  assert.equal(access.length, 1);
  assert.deepEqual(
    [access[0].requestId, access[0].backend, access[0].status, access[0].totalTokens, access[0].keyId, access[0].stream],
    [res.headers.get("x-request-id"), "BACKEND_ECHO", 200, usage.total_tokens, KEY_ID, false]);
  assert.ok(!JSON.stringify([p, access]).includes(KEY), "never the key");
  assert.ok(!JSON.stringify([p, access]).includes("Hello, router"), "never the prompt");
});

test("a stream: its point comes when it ends, with the tokens of its last event", async () => {
  const from = stack.logs.length;
  const res = await post(stack, "/v1/chat/completions", chat("echo-1", { stream: true, stream_options: { include_usage: true } }), AUTH);
  assert.equal(res.status, 200);
  const events = (await readSse(res)).filter((e) => e.startsWith("{")).map((e) => JSON.parse(e));
  const usage = events.at(-1).usage;
  const { points, access } = await summaries(from, 1);
  assert.equal(points.length, 1);
  assert.deepEqual(points[0].blobs.slice(0, 4), ["BACKEND_ECHO", "echo-1", "echo-1", ""]);
  assert.deepEqual([points[0].doubles[0], points[0].doubles[6], points[0].doubles[7]], [200, usage.total_tokens, 1]);
  assert.equal(access.length, 1);
  assert.equal(access[0].stream, true);
});

test("a retried request: two attempts, the backend that served", async () => {
  const from = stack.logs.length;
  const res = await post(stack, "/v1/chat/completions", chat("flaky"), AUTH);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("x-router-attempts"), "2");
  const { points } = await summaries(from, 1);
  assert.equal(points.length, 1);
  assert.deepEqual(points[0].blobs.slice(0, 4), ["BACKEND_FLAKY", "flaky", "flaky", ""]);
  assert.deepEqual(points[0].doubles.slice(0, 2), [200, 2]);
});

test("every backend failing: a 502 point naming no backend, with its error code", async () => {
  const from = stack.logs.length;
  const res = await post(stack, "/v1/chat/completions", chat("dead"), AUTH);
  assert.equal(res.status, 502);
  const { error } = await res.json();
  const { points, access } = await summaries(from, 1);
  assert.equal(points.length, 1);
  assert.deepEqual(points[0].blobs.slice(0, 4), ["", "dead", "dead", error.code]);
  assert.deepEqual(points[0].doubles.slice(0, 2), [502, 2]);
  assert.equal(access[0].error, error.code);
});

test("sampleRate 0 and no ANALYTICS binding: no access line and no point", async () => {
  await stack.reconfigure(spec(0, { analytics: false }));
  const from = stack.logs.length;
  for (let i = 0; i < 3; i++) assert.equal((await post(stack, "/v1/chat/completions", chat("echo-1"), AUTH)).status, 200);
  await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(loggedEvents(stack.logs, "access", from), []);
  assert.deepEqual(loggedEvents(stack.logs, "analytics_point", from), []);
});

test("a throwing ANALYTICS binding never hurts a request and is logged once", async () => {
  await stack.reconfigure(spec(1, { throws: true }));
  const from = stack.logs.length;
  for (let i = 0; i < 3; i++) assert.equal((await post(stack, "/v1/chat/completions", chat("echo-1"), AUTH)).status, 200);
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(loggedEvents(stack.logs, "analytics_write_failed", from).length, 1);
  assert.equal(loggedEvents(stack.logs, "access", from).length, 3, "sampleRate 1: one line per request");
});
