// API keys and the admin key, beyond tests/e2e/auth.test.mjs: the admin key is not a client key
// (and the reverse), a key may be both, an admin-only setup, and how ROUTER_API_KEYS is split.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { loggedEvents, startStack } from "../support/stack.mjs";
import { chat, errorOf, post } from "../support/http.mjs";

const BACKEND = { binding: "BACKEND_REC", script: "recording-backend.js", vars: { BACKEND_NAME: "rec", MODELS: "echo-1" } };
const bearer = (key) => ({ authorization: `Bearer ${key}` });

let stack;
before(async () => {
  stack = await startStack({ vars: { ROUTER_API_KEYS: " sk-keys-one-11 ,, sk-keys-two-22 ,", ROUTER_ADMIN_KEY: "admin-keys-33" },
    backends: [BACKEND] });
});
after(() => stack?.stop());

async function statusOf(res) {
  if (res.status === 401) assert.equal((await errorOf(res)).type, "authentication_error");
  else await res.arrayBuffer();
  return res.status;
}
const chatWith = async (headers) => statusOf(await post(stack, "/v1/chat/completions", chat(), headers));
const statusWith = async (headers) => statusOf(await stack.fetch("/status", { headers }));

test("ROUTER_API_KEYS: entries are trimmed, empty entries are no key", async () => {
  assert.equal(await chatWith(bearer("sk-keys-one-11")), 200);
  assert.equal(await chatWith(bearer("sk-keys-two-22")), 200);
  assert.equal(await chatWith(bearer(" sk-keys-one-11 ")), 401, "the key is compared exactly");
  assert.equal(await chatWith({ authorization: "Bearer " }), 401);
  assert.equal(await chatWith({ authorization: "Bearer" }), 401);
});

test("the admin key opens /status only; a client key does not open /status", async () => {
  assert.equal(await chatWith(bearer("admin-keys-33")), 401, "the admin key is not a client key");
  assert.equal(await statusOf(await stack.fetch("/v1/models", { headers: bearer("admin-keys-33") })), 401);
  assert.equal(await statusWith(bearer("admin-keys-33")), 200);
  assert.equal(await statusWith(bearer("sk-keys-two-22")), 401);
  assert.equal(await statusWith({}), 401);
});

test("a key listed both as client key and admin key works for both", async () => {
  await stack.reconfigure({ vars: { ROUTER_API_KEYS: "sk-keys-one-11,ops-key-44", ROUTER_ADMIN_KEY: "ops-key-44" }, backends: [BACKEND] });
  assert.equal(await chatWith(bearer("ops-key-44")), 200);
  assert.equal(await statusWith(bearer("ops-key-44")), 200);
  assert.equal(await statusWith(bearer("sk-keys-one-11")), 401);
});

test("an admin key alone guards /status and leaves /v1 open", async () => {
  await stack.reconfigure({ vars: { ROUTER_ADMIN_KEY: "admin-keys-33" }, backends: [BACKEND] });
  assert.equal(await chatWith({}), 200);
  assert.equal(await chatWith(bearer("anything")), 200, "no client keys: any Authorization is ignored");
  assert.equal(await statusWith({}), 401);
  assert.equal(await statusWith(bearer("anything")), 401);
  assert.equal(await statusWith(bearer("admin-keys-33")), 200);
});

// Contract section 3: keys set but none usable is a configuration error, never an open router.
for (const keys of [",", " , ", "\n", ""]) {
  test(`ROUTER_API_KEYS set to ${JSON.stringify(keys)} refuses every request with 500 invalid_api_keys`, async () => {
    await stack.reconfigure({ vars: { ROUTER_API_KEYS: keys }, backends: [BACKEND] });
    for (const res of [await post(stack, "/v1/chat/completions", chat(), bearer("anything")), await post(stack, "/v1/chat/completions", chat()),
      await stack.fetch("/v1/models"), await stack.fetch("/healthz")]) {
      assert.equal(res.status, 500);
      assert.equal((await errorOf(res)).code, "invalid_api_keys");
      assert.ok(res.headers.get("x-request-id"));
    }
    assert.ok(loggedEvents(stack.logs, "invalid_api_keys").length > 0);
  });
}
