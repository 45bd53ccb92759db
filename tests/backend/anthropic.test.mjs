// The backend template with the anthropic provider, as deployed (wrangler's bundle in Miniflare,
// called over RPC through a service binding), against a fake Anthropic on 127.0.0.1 that records
// what it receives (tests/backend/fixtures/upstreams/anthropic.mjs, written from Anthropic's API
// reference): the request it gets, answers and streams translated, a mid-stream error, errors.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { ANTHROPIC_KEY, startFakeAnthropic } from "./fixtures/upstreams/anthropic.mjs";
import { bundleBackend, inferenceRequest, sseData, startBackends } from "./harness.mjs";

let fake;
let bundle;
let stack;

before(async () => {
  fake = await startFakeAnthropic();
  bundle = await bundleBackend();
  stack = await startBackends(bundle.scriptPath, {
    CLAUDE: { bindings: { PROVIDER: "anthropic", UPSTREAM_BASE_URL: fake.origin, UPSTREAM_API_KEY: ANTHROPIC_KEY, BACKEND_NAME: "claude" } },
    WRONG_KEY: { bindings: { PROVIDER: "anthropic", UPSTREAM_BASE_URL: fake.origin, UPSTREAM_API_KEY: "sk-ant-wrong-key-000000" } },
  });
});

after(async () => {
  await stack?.dispose();
  await bundle?.cleanup();
  await fake?.close();
});

function chat(model, extra = {}) {
  const body = { model, messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "Weather in Paris?" }], ...extra };
  return inferenceRequest({ model, body, stream: extra.stream === true });
}

describe("anthropic (Miniflare): requests and answers", () => {
  test("POST /v1/messages with x-api-key and anthropic-version; the body translated", async () => {
    fake.received.length = 0;
    const tools = [{ type: "function", function: { name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } } } } }];
    const { status, body } = await stack.call("CLAUDE", "infer", chat("claude-tools", { tools, tool_choice: "required", max_tokens: 300 }));
    assert.equal(status, 200, JSON.stringify(body));
    const [sent] = fake.received;
    assert.equal(sent.method, "POST");
    assert.equal(sent.url, "/v1/messages");
    assert.equal(sent.headers["x-api-key"], ANTHROPIC_KEY);
    assert.equal(sent.headers["anthropic-version"], "2023-06-01");
    assert.equal(sent.headers.authorization, undefined);
    const json = JSON.parse(sent.raw);
    assert.equal(json.system, "Be brief.");
    assert.deepEqual(json.messages, [{ role: "user", content: [{ type: "text", text: "Weather in Paris?" }] }]);
    assert.deepEqual(json.tool_choice, { type: "any" });
    assert.equal(json.max_tokens, 300);
    assert.equal(json.tools[0].name, "get_weather");

    assert.equal(body.object, "chat.completion");
    assert.equal(body.choices[0].finish_reason, "tool_calls");
    assert.equal(body.choices[0].message.tool_calls[0].function.name, "get_weather");
    assert.deepEqual(JSON.parse(body.choices[0].message.tool_calls[0].function.arguments), { city: "Paris", unit: "celsius" });
  });

  test("a stream translated event by event, ending with the usage chunk and [DONE]", async () => {
    const { status, headers, stream } = await stack.call("CLAUDE", "infer", chat("claude-test", { stream: true, stream_options: { include_usage: true } }));
    assert.equal(status, 200);
    assert.match(headers["content-type"], /^text\/event-stream/);
    assert.equal(stream.error, null);
    const events = sseData(stream.text);
    assert.equal(events.at(-1), "[DONE]");
    assert.equal(events.slice(0, -1).map((e) => e.choices[0]?.delta?.content ?? "").join(""), "Hello from Claude");
    assert.deepEqual(events.at(-2).usage, { prompt_tokens: 25, completion_tokens: 15, total_tokens: 40 });
  });

  test("a mid-stream overloaded_error ends the stream with the SSE error event and no [DONE]", async () => {
    const { status, stream } = await stack.call("CLAUDE", "infer", chat("claude-overloaded-stream", { stream: true }));
    assert.equal(status, 200);
    const events = sseData(stream.text);
    assert.ok(!events.includes("[DONE]"));
    assert.equal(events.at(-1).error.code, "overloaded_error");
    assert.equal(events.at(-1).error.type, "upstream_error");
  });

  test("a stream cut before message_stop ends with stream_interrupted and no [DONE]", async () => {
    const { stream } = await stack.call("CLAUDE", "infer", chat("claude-cut-stream", { stream: true }));
    const events = sseData(stream.text);
    assert.ok(!events.includes("[DONE]"));
    assert.equal(events.at(-1).error.code, "stream_interrupted");
  });
});

describe("anthropic (Miniflare): errors and health", () => {
  test("529 overloaded -> 503; 429 with retry-after; prompt too long -> 400 context_length_exceeded", async () => {
    const overloaded = await stack.call("CLAUDE", "infer", chat("claude-overloaded"));
    assert.equal(overloaded.status, 503);
    const limited = await stack.call("CLAUDE", "infer", chat("claude-rate-limited"));
    assert.equal(limited.status, 429);
    assert.equal(limited.headers["retry-after"], "7");
    const tooLong = await stack.call("CLAUDE", "infer", chat("claude-too-long"));
    assert.equal(tooLong.status, 400);
    assert.equal(tooLong.body.error.code, "context_length_exceeded");
  });

  test("a refused key: 401 without the upstream's text; health() reports it", async () => {
    const answer = await stack.call("WRONG_KEY", "infer", chat("claude-test"));
    assert.equal(answer.status, 401);
    assert.equal(answer.body.error.code, "upstream_auth_failed");
    assert.equal((await stack.call("WRONG_KEY", "health")).value.ok, false);
    const healthy = await stack.call("CLAUDE", "health");
    assert.equal(healthy.value.ok, true, JSON.stringify(healthy));
    assert.equal(fake.received.at(-1).url, "/v1/models");
  });

  test("/v1/embeddings: 400 unsupported_endpoint; describe() names the provider", async () => {
    const answer = await stack.call("CLAUDE", "infer", inferenceRequest({ path: "/v1/embeddings", model: "claude-test", body: { model: "claude-test", input: "x" } }));
    assert.equal(answer.status, 400);
    assert.equal(answer.body.error.code, "unsupported_endpoint");
    assert.match((await stack.call("CLAUDE", "describe")).value.version, /\+anthropic$/);
  });
});
