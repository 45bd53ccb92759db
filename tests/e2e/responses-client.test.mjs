// The Responses API (/v1/responses) end to end: the official `openai` npm client's
// responses.create, JSON and streamed, through the router to template backends: `openai-compatible`
// pointing at a fake OpenAI Responses upstream on 127.0.0.1 (its events and usage names as OpenAI's
// API reference gives them), and `echo`. A backend whose upstream answers 503 is failed over; a
// backend that does not declare the endpoint (anthropic) is never called for it; the tokens the
// answers report are counted in /status.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import OpenAI from "openai";
import { startRecordingUpstream } from "../backend/fixtures/upstreams/recording-upstream.mjs";
import { startStack } from "../support/stack.mjs";

const USAGE = { input_tokens: 11, input_tokens_details: { cached_tokens: 0 }, output_tokens: 4, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 15 };

/** A Response object as OpenAI answers one. */
function responseObject(status, text, usage) {
  return {
    id: "resp_fake_01", object: "response", created_at: 1741476777, status, error: null, incomplete_details: null, instructions: null,
    model: "up-model", output: text === null ? [] : [{ type: "message", id: "msg_fake_01", status: "completed", role: "assistant", content: [{ type: "output_text", text, annotations: [] }] }],
    parallel_tool_calls: true, tools: [], usage, user: null, metadata: {},
  };
}

/** OpenAI's streamed events for one answer of `pieces` (a long one: the final event is far over 1 KiB). */
function streamEvents(pieces) {
  const text = pieces.join("");
  const part = { item_id: "msg_fake_01", output_index: 0, content_index: 0 };
  const events = [
    { type: "response.created", response: responseObject("in_progress", null, null) },
    { type: "response.in_progress", response: responseObject("in_progress", null, null) },
    ...pieces.map((delta) => ({ type: "response.output_text.delta", ...part, delta })),
    { type: "response.output_text.done", ...part, text },
    { type: "response.completed", response: responseObject("completed", text, USAGE) },
  ];
  return events.map((e, i) => `event: ${e.type}\ndata: ${JSON.stringify({ ...e, sequence_number: i })}\n\n`);
}

const LONG_PIECES = Array.from({ length: 200 }, (_, i) => `word${i} `);

let upstream;
let stack;
let client;

before(async () => {
  upstream = await startRecordingUpstream(({ url, raw }) => {
    if (url.startsWith("/down/")) return { status: 503, body: { error: { message: "overloaded", type: "server_error", param: null, code: null } } };
    if (!url.endsWith("/responses")) return { status: 404, body: { error: { message: "no such path", type: "invalid_request_error", param: null, code: null } } };
    const request = JSON.parse(raw);
    if (!request.stream) return { body: responseObject("completed", `echo: ${request.input}`, USAGE) };
    return {
      headers: { "content-type": "text/event-stream" },
      body: async (response) => {
        response.writeHead(200, { "content-type": "text/event-stream" });
        const events = streamEvents(request.model === "up-cut" ? LONG_PIECES.slice(0, 3) : LONG_PIECES);
        for (const event of request.model === "up-cut" ? events.slice(0, 5) : events) response.write(event);
        response.end();
      },
    };
  });
  const openaiCompatible = (base, models) => ({ PROVIDER: "openai-compatible", MODELS: models, UPSTREAM_BASE_URL: `${upstream.origin}${base}`, UPSTREAM_API_KEY: "sk-up" });
  stack = await startStack({
    backends: [
      { binding: "BACKEND_DOWN", vars: openaiCompatible("/down/v1", "up-model,up-failover") },
      { binding: "BACKEND_UP", vars: openaiCompatible("/v1", "up-model,up-failover,up-cut") },
      { binding: "BACKEND_ECHO", vars: { PROVIDER: "echo", MODELS: "echo-model" } },
      { binding: "BACKEND_CLAUDE", vars: { PROVIDER: "anthropic", MODELS: "claude-only", UPSTREAM_BASE_URL: upstream.origin, UPSTREAM_API_KEY: "k" } },
    ],
  });
  client = new OpenAI({ baseURL: `${stack.url}/v1`, apiKey: "unused", maxRetries: 0 });
});
after(async () => {
  await stack?.stop();
  await upstream?.close();
});

test("responses.create through openai-compatible: the upstream's Response, from <base>/responses", async () => {
  const { data, response } = await client.responses.create({ model: "up-model", input: "hello" }).withResponse();
  assert.equal(data.object, "response");
  assert.equal(data.status, "completed");
  assert.equal(data.output_text, "echo: hello");
  assert.deepEqual(data.usage, USAGE);
  assert.equal(response.headers.get("x-router-backend"), "BACKEND_UP");
  assert.ok(upstream.received.some((r) => r.url === "/v1/responses"));
});

test("a streamed responses.create passes the upstream's typed events through unchanged, to response.completed", async () => {
  const stream = await client.responses.create({ model: "up-model", input: "hello", stream: true });
  const types = [];
  let text = "";
  let completed;
  for await (const event of stream) {
    types.push(event.type);
    if (event.type === "response.output_text.delta") text += event.delta;
    if (event.type === "response.completed") completed = event.response;
  }
  assert.equal(types[0], "response.created");
  assert.equal(types.at(-1), "response.completed");
  assert.ok(!types.includes("error"), types.join());
  assert.equal(text, LONG_PIECES.join(""));
  assert.deepEqual(completed.usage, USAGE);
});

test("a stream cut before response.completed ends with the Responses API's error event", async () => {
  const res = await stack.fetch("/v1/responses", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "up-cut", input: "x", stream: true }) });
  assert.equal(res.status, 200);
  const text = await res.text();
  assert.ok(!text.includes("response.completed"));
  const last = text.trimEnd().split("\n\n").at(-1);
  assert.match(last, /^event: error\ndata: /);
  const error = JSON.parse(last.slice(last.indexOf("data: ") + 6));
  assert.equal(error.type, "error");
  assert.equal(typeof error.code, "string");
  assert.ok(error.message.length > 0);
});

test("a backend whose upstream answers 503 is failed over to one that answers", async () => {
  const before = upstream.received.filter((r) => r.url.startsWith("/down/")).length;
  const attempts = [];
  for (let i = 0; i < 4; i++) {
    const { data, response } = await client.responses.create({ model: "up-failover", input: `try ${i}` }).withResponse();
    assert.equal(data.output_text, `echo: try ${i}`);
    assert.equal(response.headers.get("x-router-backend"), "BACKEND_UP");
    attempts.push(Number(response.headers.get("x-router-attempts")));
  }
  assert.ok(upstream.received.filter((r) => r.url.startsWith("/down/")).length > before, "the failing backend was tried");
  assert.ok(attempts.includes(2), `attempts ${attempts}`);
});

test("responses.create through echo, JSON and streamed", async () => {
  const answer = await client.responses.create({ model: "echo-model", input: "repeat after me" });
  assert.match(answer.id, /^resp_/);
  assert.equal(answer.output_text, "repeat after me");
  assert.equal(answer.usage.total_tokens, answer.usage.input_tokens + answer.usage.output_tokens);
  const stream = await client.responses.create({ model: "echo-model", input: "stream me", stream: true });
  const events = [];
  for await (const event of stream) events.push(event);
  assert.equal(events[0].type, "response.created");
  assert.equal(events.filter((e) => e.type === "response.output_text.delta").map((e) => e.delta).join(""), "stream me");
  assert.equal(events.at(-1).type, "response.completed");
});

test("a model served only by a backend that does not declare /v1/responses is 404 model_not_found", async () => {
  await assert.rejects(client.responses.create({ model: "claude-only", input: "hi" }), (e) => {
    assert.ok(e instanceof OpenAI.NotFoundError, String(e));
    assert.equal(e.code, "model_not_found");
    assert.match(e.message, /not served on \/v1\/responses/);
    return true;
  });
  await assert.rejects(client.responses.create({ model: "up-model" }), (e) => e instanceof OpenAI.BadRequestError && e.param === "input");
});

test("the tokens Responses answers report (JSON and streamed) are counted in /status", async () => {
  const before = (await (await stack.fetch("/status")).json()).usage.models["up-model"] ?? { total: 0, answers: 0 };
  await client.responses.create({ model: "up-model", input: "count me" });
  const stream = await client.responses.create({ model: "up-model", input: "count me", stream: true });
  for await (const event of stream) assert.notEqual(event.type, "error");
  const after = (await (await stack.fetch("/status")).json()).usage.models["up-model"];
  assert.equal(after.answers - before.answers, 2);
  assert.equal(after.total - before.total, 2 * USAGE.total_tokens);
  assert.equal(after.prompt - (before.prompt ?? 0), 2 * USAGE.input_tokens);
});
