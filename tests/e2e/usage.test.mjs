// Token usage in /status (contract section 3, "tokens reported"): after answers whose `usage` is
// known (JSON and streamed, the stream asking for it with stream_options.include_usage), the totals
// per backend, per model and per client key match exactly. Keys show as an id from their hash.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { startStack } from "../support/stack.mjs";
import { chat, echoBackend, keyIdOf as keyId, post } from "../support/http.mjs";

const KEY_A = "sk-usage-key-aaaa";
const KEY_B = "sk-usage-key-bbbb";

let stack;
before(async () => {
  stack = await startStack({ vars: { ROUTER_API_KEYS: `${KEY_A},${KEY_B}` }, backends: [echoBackend("a"), echoBackend("b")] });
});
after(() => stack?.stop());

/** One request; the usage the client itself received (from the JSON or the stream's usage chunk). */
async function ask(model, key, stream, words) {
  const body = chat(model, { messages: [{ role: "user", content: words }], ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}) });
  const res = await post(stack, "/v1/chat/completions", body, { authorization: `Bearer ${key}` });
  assert.equal(res.status, 200);
  const backend = res.headers.get("x-router-backend");
  if (!stream) return { backend, usage: (await res.json()).usage };
  const events = (await res.text()).split("\n\n").filter((e) => e.startsWith("data: {")).map((e) => JSON.parse(e.slice(6)));
  return { backend, usage: events.at(-1).usage };
}

test("after answers with known usage, /status totals match exactly per backend, model and key", async () => {
  const sent = [
    ["echo-1", KEY_A, false, "one two three"],
    ["echo-1", KEY_B, true, "four five"],
    ["echo-2", KEY_A, true, "six seven eight nine"],
    ["echo-2", KEY_A, false, "ten"],
    ["echo-1", KEY_B, false, "eleven twelve thirteen fourteen fifteen"],
    ["echo-2", KEY_B, true, "sixteen"],
  ];
  const want = { backends: {}, models: {}, keys: {} };
  const add = (table, name, usage) => {
    const t = (table[name] ??= { prompt: 0, completion: 0, total: 0, answers: 0 });
    t.prompt += usage.prompt_tokens;
    t.completion += usage.completion_tokens;
    t.total += usage.total_tokens;
    t.answers += 1;
  };
  for (const [model, key, stream, words] of sent) {
    const { backend, usage } = await ask(model, key, stream, words);
    assert.ok(usage && usage.total_tokens > 0, `the client got usage: ${JSON.stringify(usage)}`);
    add(want.backends, backend, usage);
    add(want.models, model, usage);
    add(want.keys, keyId(key), usage);
  }
  const status = await (await stack.fetch("/status", { headers: { authorization: `Bearer ${KEY_A}` } })).json();
  const backends = Object.fromEntries(status.backends.filter((b) => b.tokens.answers > 0).map((b) => [b.binding, b.tokens]));
  assert.deepEqual(backends, want.backends);
  assert.deepEqual(status.usage.models, want.models);
  assert.deepEqual(status.usage.keys, want.keys);
  assert.ok(!JSON.stringify(status).includes(KEY_A.slice(3)), "never the key");
});
