// The usage of streams whose client did not ask for it (stream_options.include_usage), through the
// bundle wrangler builds and echo backends: the router asks the backend for it, the client gets
// the events it would get without that (no usage chunk), and /status counts every stream's tokens
// exactly per backend, model and key. A client that asks gets its usage chunk, and the official
// `openai` client streams through it.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import OpenAI from "openai";
import { startStack } from "../support/stack.mjs";
import { chat, echoBackend, keyIdOf as keyId, post } from "../support/http.mjs";

const KEY_A = "sk-stream-usage-aaaa";
const KEY_B = "sk-stream-usage-bbbb";

let stack;
before(async () => {
  stack = await startStack({ vars: { ROUTER_API_KEYS: `${KEY_A},${KEY_B}` }, backends: [echoBackend("a"), echoBackend("b")] });
});
after(() => stack?.stop());

/** A stream's events as the client got them: the parsed `data:` objects, and whether [DONE] ended it. */
async function streamOf(path, body, key) {
  const res = await post(stack, path, body, { authorization: `Bearer ${key}` });
  assert.equal(res.status, 200);
  const text = await res.text();
  const events = text.split("\n\n").filter(Boolean);
  assert.equal(events.at(-1), "data: [DONE]");
  return { backend: res.headers.get("x-router-backend"), events: events.slice(0, -1).map((e) => JSON.parse(e.slice(6))) };
}

/** What differs from run to run (id, created), and the `usage: null` OpenAI adds to each chunk when usage is asked for. */
const comparable = (events) => events.map(({ id, created, usage, ...rest }) => {
  assert.ok(usage === undefined || usage === null, "no chunk the client did not ask for carries usage");
  return rest;
});

const REQUESTS = [
  ["/v1/chat/completions", "echo-1", KEY_A, (words) => chat("echo-1", { messages: [{ role: "user", content: words }] })],
  ["/v1/completions", "echo-2", KEY_B, (words) => ({ model: "echo-2", prompt: words })],
  ["/v1/chat/completions", "echo-2", KEY_A, (words) => chat("echo-2", { messages: [{ role: "user", content: words }], stream_options: { other: 1 } })],
];

test("streams without include_usage: the client gets the events of a stream that asks nothing, and /status counts their tokens exactly", async () => {
  const before = await (await stack.fetch("/status", { headers: { authorization: `Bearer ${KEY_A}` } })).json();
  const want = { models: structuredClone(before.usage.models), keys: structuredClone(before.usage.keys), backends: {} };
  for (const b of before.backends) want.backends[b.binding] = { ...b.tokens };
  const add = (table, name, usage) => {
    const t = (table[name] ??= { prompt: 0, completion: 0, total: 0, answers: 0 });
    t.prompt += usage.prompt_tokens;
    t.completion += usage.completion_tokens;
    t.total += usage.total_tokens;
    t.answers += 1;
  };
  for (let i = 0; i < 6; i++) {
    const [path, model, key, body] = REQUESTS[i % REQUESTS.length];
    const words = `word${i} `.repeat(i + 1).trim();
    const plain = await streamOf(path, { ...body(words), stream: true }, key);
    assert.ok(plain.events.length >= 2);
    assert.ok(plain.events.every((e) => Array.isArray(e.choices) && e.choices.length > 0), "no usage-only chunk reached the client");
    // The same request asking for usage itself: the same events, then its usage chunk.
    const asked = await streamOf(path, { ...body(words), stream: true, stream_options: { include_usage: true } }, key);
    const usageChunk = asked.events.at(-1);
    assert.deepEqual(usageChunk.choices, []);
    assert.deepEqual(comparable(plain.events), comparable(asked.events.slice(0, -1)));
    for (const stream of [plain, asked]) {
      add(want.backends, stream.backend, usageChunk.usage);
      add(want.models, model, usageChunk.usage);
      add(want.keys, keyId(key), usageChunk.usage);
    }
  }
  const status = await (await stack.fetch("/status", { headers: { authorization: `Bearer ${KEY_A}` } })).json();
  assert.deepEqual(Object.fromEntries(status.backends.map((b) => [b.binding, b.tokens])), want.backends);
  assert.deepEqual(status.usage.models, want.models);
  assert.deepEqual(status.usage.keys, want.keys);
});

test("the official openai client streams through it: no usage chunk unless asked, its usage chunk when asked", async () => {
  const client = new OpenAI({ baseURL: `${stack.url}/v1`, apiKey: KEY_B, maxRetries: 0 });
  const messages = [{ role: "user", content: "stream through the router please" }];
  const chunks = [];
  for await (const chunk of await client.chat.completions.create({ model: "echo-1", stream: true, messages })) chunks.push(chunk);
  assert.ok(chunks.length >= 2);
  assert.ok(chunks.every((c) => c.choices.length === 1 && !c.usage));
  assert.ok(chunks.map((c) => c.choices[0].delta.content ?? "").join("").length > 0);
  const asked = [];
  for await (const chunk of await client.chat.completions.create({ model: "echo-1", stream: true, stream_options: { include_usage: true }, messages })) asked.push(chunk);
  assert.deepEqual(asked.at(-1).choices, []);
  assert.ok(asked.at(-1).usage.total_tokens > 0);
});
