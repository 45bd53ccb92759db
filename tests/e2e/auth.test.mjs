// API keys (ROUTER_API_KEYS, several for rotation) and the admin key for /status, on and off.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { loggedEvents, startStack } from "../support/stack.mjs";
import { chat, errorOf, post } from "../support/http.mjs";

const KEYS = "sk-first-key-0001, sk-second-key-0002";
const ADMIN = "admin-key-0003";
const BACKEND = { binding: "BACKEND_ONLY", script: "fault-backend.js", vars: { BACKEND_NAME: "only", MODELS: "echo-1" } };
// Serves only "broken-1", with an answer in the wrong shape: a request for it makes the router log.
const BROKEN = { binding: "BACKEND_BROKEN", script: "fault-backend.js",
  vars: { BACKEND_NAME: "broken", MODELS: "broken-1", INFER_MODE: "status", INFER_STATUS: "204" } };
const bearer = (key) => ({ authorization: `Bearer ${key}` });

let stack;
before(async () => {
  stack = await startStack({ vars: { ROUTER_API_KEYS: KEYS, ROUTER_ADMIN_KEY: ADMIN }, backends: [BACKEND, BROKEN] });
});
after(() => stack?.stop());

async function expect401(res) {
  assert.equal(res.status, 401);
  assert.match(res.headers.get("www-authenticate"), /^Bearer/);
  assert.equal((await errorOf(res)).type, "authentication_error");
}

test("with keys configured, a request without or with a wrong key gets 401 + WWW-Authenticate", async () => {
  await expect401(await post(stack, "/v1/chat/completions", chat()));
  await expect401(await post(stack, "/v1/chat/completions", chat(), bearer("sk-first-key-0002")));
  await expect401(await post(stack, "/v1/chat/completions", chat(), { authorization: "sk-first-key-0001" }));
  await expect401(await stack.fetch("/v1/models"));
  assert.equal((await stack.calls("BACKEND_ONLY")).infer, 0);
});

test("every configured key is accepted (rotation)", async () => {
  for (const key of KEYS.split(",").map((k) => k.trim())) {
    const res = await post(stack, "/v1/chat/completions", chat(), bearer(key));
    assert.equal(res.status, 200);
    await res.arrayBuffer();
    const models = await stack.fetch("/v1/models", { headers: bearer(key) });
    assert.equal(models.status, 200);
    await models.arrayBuffer();
  }
});

test("the client's Authorization header never reaches a backend", async () => {
  const { requests } = await stack.calls("BACKEND_ONLY");
  assert.ok(requests.length >= 2);
  assert.ok(!JSON.stringify(requests).includes("sk-first-key-0001"));
  assert.ok(!JSON.stringify(requests).toLowerCase().includes("authorization"));
});

test("/healthz needs no key; /status needs the admin key", async () => {
  const health = await stack.fetch("/healthz");
  assert.equal(health.status, 200);
  await health.arrayBuffer();
  await expect401(await stack.fetch("/status"));
  await expect401(await stack.fetch("/status", { headers: bearer("sk-first-key-0001") }));
  const status = await stack.fetch("/status", { headers: bearer(ADMIN) });
  assert.equal(status.status, 200);
  assert.ok(Array.isArray((await status.json()).backends));
});

test("logs never hold keys or Authorization values", async () => {
  // A keyed request with a prompt that the router logs about (its backend answers in the wrong
  // shape): without log lines this check would prove nothing.
  const res = await post(stack, "/v1/chat/completions", chat("broken-1"), bearer("sk-second-key-0002"));
  assert.equal(res.status, 502);
  await res.arrayBuffer();
  assert.ok(loggedEvents(stack.logs, "backend_answer_shape").length > 0, `no router log line: ${stack.logs}`);
  const all = stack.logs.join("\n");
  for (const secret of ["sk-first-key-0001", "sk-second-key-0002", ADMIN, "Hello, router"]) {
    assert.ok(!all.includes(secret), `log leaks ${secret}`);
  }
});

test("without keys the router is open and warns once at start", async () => {
  await stack.reconfigure({ backends: [BACKEND] });
  const res = await post(stack, "/v1/chat/completions", chat());
  assert.equal(res.status, 200);
  await res.arrayBuffer();
  const status = await stack.fetch("/status");
  assert.equal(status.status, 200);
  await status.arrayBuffer();
  assert.ok(stack.logs.some((line) => /key/i.test(line) && /open|no api key|unauthenticated/i.test(line)),
    `expected a warning about missing keys in: ${stack.logs.join("\n")}`);
});
