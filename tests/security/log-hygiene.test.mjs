// Logs never hold API keys, Authorization values (nor their hashes) or prompt text. Every console
// line of the orchestrator and of every backend is captured across a run that has keys set and
// goes through failures, an ejection, a timeout, a 429 cooldown, streaming (clean and broken),
// refused requests and /status; then the whole log is searched for each secret.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, test } from "node:test";
import { startStack } from "../support/stack.mjs";
import { readSse } from "../support/http.mjs";

const KEYS = ["sk-log-key-a-61f0", "sk-log-key-b-9d2e"];
const ADMIN = "admin-log-key-c-77b1";
const WRONG = "sk-log-wrong-d-0c4a";
const fault = (binding, models, vars) => ({ binding, script: "fault-backend.js", vars: { BACKEND_NAME: binding.toLowerCase(), MODELS: models, ...vars } });
const BACKENDS = [
  { binding: "BACKEND_ECHO", config: "echo-a" },                                  // the real template, echo provider
  fault("BACKEND_FAIL", "echo-1", { INFER_MODE: "throw" }),                     // fails every call: ejected
  fault("BACKEND_BREAK", "break-1", { INFER_MODE: "stream-break" }),            // breaks streams after one chunk
  fault("BACKEND_HANG", "hang-1", { INFER_MODE: "hang", HANG_MS: "2000" }),     // slower than the per-try timeout
  fault("BACKEND_LIMITED", "limited-1", { INFER_MODE: "status", INFER_STATUS: "429", INFER_HEADERS: '{"retry-after":"1"}' }),
];
const CONFIG = { health: { consecutiveFailures: 2, baseEjectionMs: 60000, maxEjectionMs: 60000 }, timeouts: { perTryMs: 300 } };

let stack;
const prompts = [];
/** A prompt text that appears nowhere else. */
const prompt = () => {
  const text = `PROMPT-TEXT-${prompts.length}-${Math.random().toString(36).slice(2)}`;
  prompts.push(text);
  return text;
};
const sha256 = (text) => createHash("sha256").update(text).digest("hex");

before(async () => {
  stack = await startStack({ vars: { ROUTER_API_KEYS: KEYS.join(","), ROUTER_ADMIN_KEY: ADMIN, ROUTER_CONFIG: JSON.stringify(CONFIG) },
    backends: BACKENDS });
});
after(() => stack?.stop());

/** POSTs a chat request for `model` with `key`; returns the response with its body read. */
async function chat(model, key, { stream = false } = {}) {
  const res = await stack.fetch("/v1/chat/completions", {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
    body: JSON.stringify({ model, stream, messages: [{ role: "system", content: prompt() }, { role: "user", content: prompt() }] }),
  });
  const events = stream && res.status === 200 ? await readSse(res) : [await res.text()];
  return { status: res.status, events };
}

test("a run with keys, failures, ejection, timeouts, 429 and streams", async () => {
  for (let i = 0; i < 6; i++) assert.equal((await chat("echo-1", KEYS[i % 2])).status, 200, "failover hides BACKEND_FAIL");
  const streamed = await chat("echo-1", KEYS[0], { stream: true });
  assert.equal(streamed.status, 200);
  assert.equal(streamed.events.at(-1), "[DONE]");
  const broken = await chat("break-1", KEYS[1], { stream: true });
  assert.equal(broken.status, 200);
  assert.match(broken.events.at(-1), /"error"/, "a broken stream ends with an SSE error event");
  assert.equal((await chat("hang-1", KEYS[0])).status, 502);
  assert.equal((await chat("limited-1", KEYS[1])).status, 502);
  assert.equal((await chat("echo-1", WRONG)).status, 401);
  const bad = await stack.fetch("/v1/chat/completions", { method: "POST", headers: { "content-type": "application/json",
    authorization: `Bearer ${KEYS[0]}` }, body: `{"model":"echo-1","messages":[{"role":"user","content":"${prompt()}"}]` });
  assert.equal(bad.status, 400);
  await bad.arrayBuffer();
  const status = await stack.fetch("/status", { headers: { authorization: `Bearer ${ADMIN}` } });
  assert.equal(status.status, 200);
  const states = Object.fromEntries((await status.json()).backends.map((b) => [b.binding, b.state]));
  assert.equal(states.BACKEND_FAIL, "ejected");
});

test("the logs saw those events...", async () => {
  // workerd hands console lines over asynchronously: wait for them (bounded).
  const expected = ["backend_ejected", "backend_cooldown"];
  for (let waited = 0; waited < 10_000 && !expected.every((e) => stack.logs.join("\n").includes(e)); waited += 100) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await new Promise((resolve) => setTimeout(resolve, 300)); // and for any line written after them
  const all = stack.logs.join("\n");
  for (const event of expected) assert.ok(all.includes(event), `expected ${event} in the logs:\n${all}`);
  assert.ok(!all.includes("no_api_keys"), "keys are set: no warning about missing keys");
});

test("...and never a key, an Authorization value, its hash or prompt text", () => {
  const all = stack.logs.join("\n");
  assert.ok(prompts.length >= 20);
  const secrets = [...KEYS, ADMIN, WRONG, "Bearer ", ...prompts,
    ...[...KEYS, ADMIN, WRONG].flatMap((k) => [sha256(`Bearer ${k}`), sha256(`Bearer ${k}`).slice(0, 16)])];
  for (const secret of secrets) assert.ok(!all.includes(secret), `the logs hold ${secret}`);
  assert.ok(!/authorization/i.test(all), "no Authorization header in the logs");
});
