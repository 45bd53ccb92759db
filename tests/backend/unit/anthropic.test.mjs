// The anthropic provider as an RPC caller sees it (node, no transport), against a fake Anthropic
// standing in for fetch() (tests/backend/fixtures/upstreams/anthropic.mjs, written from Anthropic's
// API reference): the request translation, the answer and stream translation, errors, the stop
// time, the size bound, health() and the config (docs/backend-template.md, "anthropic").
import assert from "node:assert/strict";
import { after, afterEach, before, beforeEach, describe, test } from "node:test";
import { ANTHROPIC_KEY, CUT_STREAM, errorBody, fakeAnswer, message, OVERLOADED_STREAM, sseEvent, TEXT_STREAM, TOOL_STREAM, WEATHER_MESSAGE } from "../fixtures/upstreams/anthropic.mjs";
import { assertError, backend, captureLogs, inferenceRequest, isConsistentUsage, networkAnswer, pause, readStream, sseData, SUITE_TIMEOUT_MS } from "./template.mjs";

describe("the anthropic provider", { timeout: SUITE_TIMEOUT_MS }, () => {
  const BASE = "http://anthropic.test";
  const ENV = { PROVIDER: "anthropic", UPSTREAM_BASE_URL: BASE, UPSTREAM_API_KEY: ANTHROPIC_KEY };
  const encoder = new TextEncoder();
  let calls = [];
  let route = (call) => answerOf(fakeAnswer(call.json?.model, call.json?.stream === true));
  let logs;
  const realFetch = globalThis.fetch;

  before(() => (globalThis.fetch = fakeFetch));
  after(() => (globalThis.fetch = realFetch));
  beforeEach(() => {
    calls = [];
    route = (call) => answerOf(fakeAnswer(call.json?.model, call.json?.stream === true));
    logs = captureLogs();
  });
  afterEach(() => logs.restore());

  async function fakeFetch(input, init = {}) {
    const call = { url: String(input), method: init.method ?? "GET", headers: Object.fromEntries(new Headers(init.headers)), json: init.body ? JSON.parse(init.body) : undefined, signal: init.signal ?? null, redirect: init.redirect };
    calls.push(call);
    return networkAnswer(() => route(call), call.signal);
  }

  /** A fetch() Response for a fake answer: JSON, or its events as SSE pieces of `split` bytes. */
  function answerOf({ status = 200, headers = {}, body, events }, split) {
    if (!events) return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });
    const bytes = encoder.encode(events.map(sseEvent).join(""));
    const pieces = [];
    for (let i = 0; i < bytes.length; i += split ?? bytes.length) pieces.push(bytes.subarray(i, i + (split ?? bytes.length)));
    return new Response(new ReadableStream({ pull: (c) => (pieces.length ? c.enqueue(pieces.shift()) : c.close()) }, { highWaterMark: 0 }), { status: 200, headers: { "content-type": "text/event-stream" } });
  }

  const chat = (body, overrides = {}) => inferenceRequest({ model: body.model ?? "claude-test", stream: body.stream === true, body: { model: "claude-test", messages: [{ role: "user", content: "hi" }], ...body }, ...overrides });
  const infer = async (req, env = ENV) => (await backend(env)).infer(req);
  const sent = async (body, env) => {
    const answer = await infer(chat(body), env);
    assert.equal(calls.length, 1, JSON.stringify(answer));
    return calls[0].json;
  };
  async function streamed(body, env) {
    const answer = await infer(chat({ stream: true, ...body }), env);
    assert.equal(answer.status, 200, JSON.stringify(answer));
    const read = await readStream(answer.stream);
    assert.equal(read.error, null);
    return sseData(read.text);
  }

  describe("anthropic: the request", () => {
    test("POST <base>/v1/messages with x-api-key, anthropic-version 2023-06-01, no Authorization, redirects not followed", async () => {
      await infer(chat({}, { requestId: "req-a1" }));
      const [call] = calls;
      assert.equal(call.url, `${BASE}/v1/messages`);
      assert.equal(call.method, "POST");
      assert.equal(call.headers["x-api-key"], ANTHROPIC_KEY);
      assert.equal(call.headers["anthropic-version"], "2023-06-01");
      assert.equal(call.headers["content-type"], "application/json");
      assert.equal(call.headers.authorization, undefined);
      assert.equal(call.redirect, "manual");
    });

    test("system and developer messages become the top-level system; roles alternate, same-role messages merged", async () => {
      const json = await sent({
        messages: [
          { role: "system", content: "Be brief." },
          { role: "developer", content: [{ type: "text", text: "Answer in French." }] },
          { role: "user", content: "one" },
          { role: "user", content: [{ type: "text", text: "two" }] },
          { role: "assistant", content: "ok" },
          { role: "user", content: "three" },
        ],
      });
      assert.equal(json.system, "Be brief.\n\nAnswer in French.");
      assert.deepEqual(json.messages, [
        { role: "user", content: [{ type: "text", text: "one" }, { type: "text", text: "two" }] },
        { role: "assistant", content: [{ type: "text", text: "ok" }] },
        { role: "user", content: [{ type: "text", text: "three" }] },
      ]);
    });

    test("images as URLs and as base64 data URLs", async () => {
      const json = await sent({
        messages: [{ role: "user", content: [
          { type: "text", text: "What is this?" },
          { type: "image_url", image_url: { url: "https://example.com/cat.jpg" } },
          { type: "image_url", image_url: { url: "data:image/png;base64,iVBORw0KGgo=" } },
        ] }],
      });
      assert.deepEqual(json.messages[0].content.slice(1), [
        { type: "image", source: { type: "url", url: "https://example.com/cat.jpg" } },
        { type: "image", source: { type: "base64", media_type: "image/png", data: "iVBORw0KGgo=" } },
      ]);
    });

    test("tools, assistant tool_calls -> tool_use (arguments parsed), tool messages -> one user turn of tool_result blocks", async () => {
      const json = await sent({
        tools: [{ type: "function", function: { name: "get_weather", description: "Weather now", parameters: { type: "object", properties: { city: { type: "string" } } } } }, { type: "function", function: { name: "ping" } }],
        messages: [
          { role: "user", content: "Weather in Paris and Rome?" },
          { role: "assistant", content: null, tool_calls: [
            { id: "call_1", type: "function", function: { name: "get_weather", arguments: "{\"city\":\"Paris\"}" } },
            { id: "call_2", type: "function", function: { name: "get_weather", arguments: "{\"city\":\"Rome\"}" } },
          ] },
          { role: "tool", tool_call_id: "call_1", content: "18C" },
          { role: "tool", tool_call_id: "call_2", content: [{ type: "text", text: "21C" }] },
        ],
      });
      assert.deepEqual(json.tools, [
        { name: "get_weather", description: "Weather now", input_schema: { type: "object", properties: { city: { type: "string" } } } },
        { name: "ping", input_schema: { type: "object", properties: {} } },
      ]);
      assert.deepEqual(json.messages.slice(1), [
        { role: "assistant", content: [{ type: "tool_use", id: "call_1", name: "get_weather", input: { city: "Paris" } }, { type: "tool_use", id: "call_2", name: "get_weather", input: { city: "Rome" } }] },
        { role: "user", content: [{ type: "tool_result", tool_use_id: "call_1", content: "18C" }, { type: "tool_result", tool_use_id: "call_2", content: "21C" }] },
      ]);
    });

    test("tool_choice auto / none / required / a function -> auto / none / any / tool; parallel_tool_calls false -> disable_parallel_tool_use", async () => {
      const tools = [{ type: "function", function: { name: "f" } }];
      const cases = [["auto", { type: "auto" }], ["none", { type: "none" }], ["required", { type: "any" }], [{ type: "function", function: { name: "f" } }, { type: "tool", name: "f" }]];
      for (const [choice, wanted] of cases) {
        calls = [];
        assert.deepEqual((await sent({ tools, tool_choice: choice })).tool_choice, wanted);
      }
      calls = [];
      assert.deepEqual((await sent({ tools, parallel_tool_calls: false })).tool_choice, { type: "auto", disable_parallel_tool_use: true });
      calls = [];
      assert.deepEqual((await sent({ tools, tool_choice: "required", parallel_tool_calls: false })).tool_choice, { type: "any", disable_parallel_tool_use: true });
    });

    test("max_tokens: 4096 by default, ANTHROPIC_MAX_TOKENS, the client's max_tokens, max_completion_tokens first", async () => {
      assert.equal((await sent({})).max_tokens, 4096);
      calls = [];
      assert.equal((await sent({}, { ...ENV, ANTHROPIC_MAX_TOKENS: "1000" })).max_tokens, 1000);
      calls = [];
      assert.equal((await sent({ max_tokens: 50 })).max_tokens, 50);
      calls = [];
      assert.equal((await sent({ max_tokens: 50, max_completion_tokens: 70 })).max_tokens, 70);
    });

    test("stop (a string or a list) -> stop_sequences; temperature, top_p, user kept; unsupported fields dropped; MODEL_MAP renames", async () => {
      const json = await sent({ stop: "END", temperature: 0.5, top_p: 0.9, user: "u-1", seed: 7, frequency_penalty: 0.1, presence_penalty: 0.1, logit_bias: {}, response_format: { type: "json_object" }, stream_options: { include_usage: true } });
      assert.deepEqual(json.stop_sequences, ["END"]);
      assert.equal(json.temperature, 0.5);
      assert.equal(json.top_p, 0.9);
      assert.deepEqual(json.metadata, { user_id: "u-1" });
      for (const dropped of ["seed", "frequency_penalty", "presence_penalty", "logit_bias", "response_format", "stream_options", "stream", "stop", "n", "user"]) assert.equal(json[dropped], undefined, dropped);
      calls = [];
      assert.deepEqual((await sent({ stop: ["a", "b"] })).stop_sequences, ["a", "b"]);
      calls = [];
      const mapped = await sent({ model: "claude" }, { ...ENV, MODEL_MAP: JSON.stringify({ claude: "claude-sonnet-4-5" }) });
      assert.equal(mapped.model, "claude-sonnet-4-5");
    });

    test("refused with a 400 naming the field, nothing sent: n > 1, tool arguments that are not JSON, an audio part, an unknown role", async () => {
      const cases = [
        [{ n: 2 }, "n"],
        [{ messages: [{ role: "assistant", content: null, tool_calls: [{ id: "c", type: "function", function: { name: "f", arguments: "{not json" } }] }] }, "messages[0].tool_calls[0].function.arguments"],
        [{ messages: [{ role: "user", content: [{ type: "input_audio", input_audio: { data: "", format: "wav" } }] }] }, "messages[0].content[0]"],
        [{ messages: [{ role: "function", name: "f", content: "x" }] }, "messages[0].role"],
        [{ messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: "ftp://x/y.png" } }] }] }, "messages[0].content[0].image_url"],
      ];
      for (const [body, param] of cases) assertError(await infer(chat(body)), 400, { type: "invalid_request_error", param });
      assert.equal(calls.length, 0);
    });

    test("/v1/completions and /v1/embeddings: 400 unsupported_endpoint (Anthropic has neither), nothing sent", async () => {
      for (const path of ["/v1/completions", "/v1/embeddings"]) {
        const error = assertError(await infer(inferenceRequest({ path, body: { model: "claude-test", input: "x", prompt: "x" } }), ENV), 400, { code: "unsupported_endpoint" });
        assert.match(error.message, /only \/v1\/chat\/completions/);
      }
      assert.equal(calls.length, 0);
    });
  });

  describe("anthropic: the answer", () => {
    test("text, thinking and tool_use blocks -> content, reasoning_content, tool_calls; tool_use -> finish tool_calls; usage with cache tokens", async () => {
      const answer = await infer(chat({ model: "claude-tools" }));
      assert.equal(answer.status, 200);
      const { choices, usage, object, model, id } = answer.body;
      assert.equal(object, "chat.completion");
      assert.equal(model, "claude-tools");
      assert.match(id, /^chatcmpl-msg_/);
      assert.deepEqual(choices[0].message, {
        role: "assistant",
        content: "Let me check.",
        reasoning_content: "Weather needs a tool.",
        tool_calls: [{ id: "toolu_01A09q90qw90lq917835lq9", type: "function", function: { name: "get_weather", arguments: JSON.stringify(WEATHER_MESSAGE.content[2].input) } }],
      });
      assert.equal(choices[0].finish_reason, "tool_calls");
      assert.deepEqual(usage, { prompt_tokens: 135, completion_tokens: 20, total_tokens: 155, prompt_tokens_details: { cached_tokens: 100 } });
    });

    test("stop_reason -> finish_reason: end_turn, stop_sequence -> stop; max_tokens -> length; refusal -> content_filter", async () => {
      for (const [reason, finish] of [["end_turn", "stop"], ["stop_sequence", "stop"], ["max_tokens", "length"], ["refusal", "content_filter"], ["pause_turn", "stop"]]) {
        route = () => answerOf({ body: message([{ type: "text", text: "x" }], { stop_reason: reason }) });
        const answer = await infer(chat({}));
        assert.equal(answer.body.choices[0].finish_reason, finish, reason);
        assert.ok(isConsistentUsage(answer.body.usage));
      }
    });

    test("an answer that is not an Anthropic message, or not JSON: 502 upstream_invalid_response", async () => {
      route = () => answerOf({ body: { hello: "world" } });
      assertError(await infer(chat({})), 502, { code: "upstream_invalid_response" });
      route = () => new Response("<html>", { status: 200, headers: { "content-type": "text/html" } });
      assertError(await infer(chat({})), 502, { code: "upstream_invalid_response" });
    });
  });

  describe("anthropic: streaming", () => {
    test("text deltas -> content chunks, then the finish chunk, then [DONE]; ping skipped", async () => {
      const events = await streamed({});
      assert.equal(events.at(-1), "[DONE]");
      const chunks = events.slice(0, -1);
      assert.ok(chunks.every((c) => c.object === "chat.completion.chunk" && c.id === "chatcmpl-msg_stream_01"));
      assert.deepEqual(chunks[0].choices[0].delta, { role: "assistant", content: "" });
      assert.equal(chunks.map((c) => c.choices[0].delta.content ?? "").join(""), "Hello from Claude");
      assert.equal(chunks.at(-1).choices[0].finish_reason, "stop");
      assert.equal(chunks.filter((c) => c.choices[0].finish_reason !== null).length, 1);
    });

    test("stream_options.include_usage: a final usage chunk (input from message_start, output from message_delta)", async () => {
      const events = await streamed({ stream_options: { include_usage: true } });
      const usageChunk = events.at(-2);
      assert.deepEqual(usageChunk.choices, []);
      assert.deepEqual(usageChunk.usage, { prompt_tokens: 25, completion_tokens: 15, total_tokens: 40 });
      const without = await streamed({});
      assert.ok(without.every((e) => e === "[DONE]" || e.usage === undefined));
    });

    test("a tool call streams as OpenAI's: id and name first, argument fragments after, one index; thinking as reasoning_content", async () => {
      const events = await streamed({ model: "claude-tools", stream_options: { include_usage: true } });
      const chunks = events.filter((e) => e !== "[DONE]" && e.choices.length > 0);
      const pieces = chunks.flatMap((c) => c.choices[0].delta.tool_calls ?? []);
      assert.deepEqual(pieces[0], { index: 0, id: "toolu_01T1x1fJ34qAmk2tNTrN7Up6", type: "function", function: { name: "get_weather", arguments: "" } });
      assert.ok(pieces.slice(1).every((p) => p.index === 0 && p.id === undefined && p.function.name === undefined));
      assert.deepEqual(JSON.parse(pieces.map((p) => p.function.arguments).join("")), { city: "Paris", unit: "celsius" });
      assert.equal(chunks.map((c) => c.choices[0].delta.reasoning_content ?? "").join(""), "The user wants weather.");
      assert.equal(chunks.map((c) => c.choices[0].delta.content ?? "").join(""), "Let me check.");
      assert.equal(chunks.at(-1).choices[0].finish_reason, "tool_calls");
      assert.deepEqual(events.at(-2).usage, { prompt_tokens: 50, completion_tokens: 89, total_tokens: 139, prompt_tokens_details: { cached_tokens: 10 } });
    });

    test("events split anywhere across network chunks (one byte at a time) translate the same", async () => {
      const whole = await streamed({ model: "claude-tools" });
      route = (call) => answerOf(fakeAnswer(call.json.model, true), 1);
      const split = await streamed({ model: "claude-tools" });
      assert.deepEqual(split.map((e) => (e === "[DONE]" ? e : e.choices)), whole.map((e) => (e === "[DONE]" ? e : e.choices)));
    });

    test("a mid-stream error event (overloaded_error): the text before it, then the SSE error event, no [DONE]", async () => {
      const events = await streamed({ model: "claude-overloaded-stream" });
      assert.ok(!events.includes("[DONE]"));
      assert.equal(events.slice(0, -1).map((c) => c.choices[0].delta.content ?? "").join(""), "Half an");
      const { error } = events.at(-1);
      assert.deepEqual(error, { message: "The upstream stream failed: Overloaded", type: "upstream_error", param: null, code: "overloaded_error" });
    });

    test("a stream cut before message_stop, or failing: the SSE error event stream_interrupted, no [DONE]", async () => {
      const cut = await streamed({ model: "claude-cut-stream" });
      assert.ok(!cut.includes("[DONE]"));
      assert.equal(cut.at(-1).error.code, "stream_interrupted");
      route = () => new Response(new ReadableStream({ start: (c) => { c.enqueue(encoder.encode(sseEvent(TEXT_STREAM[0]))); c.error(new TypeError("connection reset")); } }), { headers: { "content-type": "text/event-stream" } });
      const failed = await streamed({});
      assert.equal(failed.at(-1).error.code, "stream_interrupted");
      assert.ok(!failed.includes("[DONE]"));
    });

    test("a stream over MAX_UPSTREAM_BYTES ends with upstream_response_too_large and the rest is not read", async () => {
      const long = [TEXT_STREAM[0], ...Array.from({ length: 50 }, () => ({ type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "y".repeat(100) } })), ...TEXT_STREAM.slice(-2)];
      route = () => answerOf({ events: long }, 200);
      const events = await streamed({}, { ...ENV, MAX_UPSTREAM_BYTES: "2000" });
      assert.equal(events.at(-1).error.code, "upstream_response_too_large");
      assert.ok(!events.includes("[DONE]"));
    });

    test("cancelling the stream (the router abandoning it) aborts the upstream call", async () => {
      route = () => new Response(new ReadableStream({ pull: (c) => pause(5).then(() => c.enqueue(encoder.encode(sseEvent(TEXT_STREAM[3])))) }), { headers: { "content-type": "text/event-stream" } });
      const answer = await infer(chat({ stream: true }));
      const reader = answer.stream.getReader();
      await reader.read();
      await reader.cancel();
      assert.equal(calls[0].signal.aborted, true);
    });
  });

  describe("anthropic: errors", () => {
    test("Anthropic's error types -> statuses and types (invalid_request 400, not_found 404, request_too_large 413, api_error 500, overloaded 529 -> 503)", async () => {
      const cases = [
        ["claude-missing", 404, "not_found_error"],
        ["claude-huge-request", 413, "request_too_large"],
        ["claude-internal", 500, "upstream_error"],
        ["claude-overloaded", 503, "upstream_error"],
      ];
      for (const [model, status, type] of cases) {
        const error = assertError(await infer(chat({ model })), status, { type });
        assert.ok(error.message.length > 0);
      }
      assert.equal(assertError(await infer(chat({ model: "claude-overloaded" })), 503).code, "overloaded");
    });

    test("a prompt too long: 400 context_length_exceeded (param messages), what fallback chains act on", async () => {
      const error = assertError(await infer(chat({ model: "claude-too-long" })), 400, { type: "invalid_request_error", code: "context_length_exceeded", param: "messages" });
      assert.match(error.message, /prompt is too long/);
    });

    test("authentication_error 401 and permission_error 403: the status kept, never the upstream's text or the key", async () => {
      for (const [model, status] of [["claude-bad-key", 401], ["claude-forbidden", 403]]) {
        const answer = await infer(chat({ model }));
        assertError(answer, status, { type: "upstream_auth_error", code: "upstream_auth_failed" });
        assert.ok(!JSON.stringify(answer).includes(ANTHROPIC_KEY));
        assert.ok(!JSON.stringify(answer).includes("x-api-key"));
      }
      assert.ok(!logs.lines.join("\n").includes(ANTHROPIC_KEY));
    });

    test("rate_limit_error: 429 with retry-after passed; without it, retry-after-ms from the exhausted limit's anthropic-ratelimit reset", async () => {
      const limited = await infer(chat({ model: "claude-rate-limited" }));
      assertError(limited, 429, { type: "rate_limit_error" });
      assert.equal(limited.headers["retry-after"], "7");
      assert.equal(limited.headers["retry-after-ms"], undefined);
      const reset = await infer(chat({ model: "claude-rate-limited-reset" }));
      assertError(reset, 429);
      const wait = Number(reset.headers["retry-after-ms"]);
      assert.ok(wait > 25_000 && wait <= 30_000, `retry-after-ms ${wait}: the tokens limit's reset (exhausted), not the requests'`);
      assert.ok(reset.headers["anthropic-ratelimit-tokens-remaining"] === "0");
    });

    test("no limit exhausted: retry-after-ms until the soonest reset; unreadable resets: none derived", async () => {
      const at = (s) => new Date(Date.now() + s * 1000).toISOString();
      route = () => answerOf({ status: 429, headers: { "anthropic-ratelimit-requests-reset": at(40), "anthropic-ratelimit-input-tokens-reset": at(3) }, body: errorBody("rate_limit_error", "slow down") });
      const wait = Number((await infer(chat({}))).headers["retry-after-ms"]);
      assert.ok(wait > 1000 && wait <= 3000, `retry-after-ms ${wait}`);
      route = () => answerOf({ status: 429, headers: { "anthropic-ratelimit-requests-remaining": "0", "anthropic-ratelimit-requests-reset": "in a minute" }, body: errorBody("rate_limit_error", "slow down") });
      assert.equal((await infer(chat({}))).headers["retry-after-ms"], undefined);
    });

    test("a stream event that is not JSON ends the stream with upstream_invalid_response, no [DONE]", async () => {
      route = () => new Response(sseEvent(TEXT_STREAM[0]) + "event: content_block_delta\ndata: {not json\n\n" + TEXT_STREAM.slice(1).map(sseEvent).join(""), { headers: { "content-type": "text/event-stream" } });
      const events = await streamed({});
      assert.ok(!events.includes("[DONE]"));
      assert.equal(events.at(-1).error.code, "upstream_invalid_response");
    });

    test("an error body that is not JSON keeps 5xx and 429 statuses; a redirect is a 502", async () => {
      route = () => new Response("<html>overloaded</html>", { status: 529, headers: { "content-type": "text/html" } });
      assertError(await infer(chat({})), 503);
      route = () => new Response(null, { status: 302, headers: { location: "http://elsewhere.test/" } });
      assertError(await infer(chat({})), 502);
    });
  });

  describe("anthropic: stop time and size bound", () => {
    test("the stop time aborts the call: 504 timeout, the fetch's signal aborted", async () => {
      route = () => new Promise(() => {});
      const answer = await infer(chat({}, { attemptDeadline: Date.now() + 30 }));
      assertError(answer, 504, { code: "timeout" });
      assert.equal(calls[0].signal.aborted, true);
    });

    test("a JSON answer over MAX_UPSTREAM_BYTES: 502 upstream_response_too_large", async () => {
      route = () => answerOf({ body: message([{ type: "text", text: "x".repeat(5000) }]) });
      assertError(await infer(chat({}), { ...ENV, MAX_UPSTREAM_BYTES: "1000" }), 502, { code: "upstream_response_too_large" });
    });

    test("unreachable: 502 upstream_unreachable", async () => {
      route = () => Promise.reject(new TypeError("fetch failed"));
      assertError(await infer(chat({})), 502, { code: "upstream_unreachable" });
    });
  });

  describe("anthropic: config and health", () => {
    test("UPSTREAM_BASE_URL defaults to https://api.anthropic.com; describe() says +anthropic", async () => {
      route = () => answerOf({ body: message([{ type: "text", text: "ok" }]) });
      await infer(chat({}), { PROVIDER: "anthropic", UPSTREAM_API_KEY: ANTHROPIC_KEY });
      assert.equal(calls[0].url, "https://api.anthropic.com/v1/messages");
      assert.match((await (await backend(ENV)).describe()).version, /\+anthropic$/);
    });

    test("a bad ANTHROPIC_MAX_TOKENS, a base URL holding credentials or ending in /v1: backend_misconfigured", async () => {
      for (const env of [{ ...ENV, ANTHROPIC_MAX_TOKENS: "0" }, { ...ENV, ANTHROPIC_MAX_TOKENS: "many" }, { ...ENV, UPSTREAM_BASE_URL: "https://user:pw@api.anthropic.com" }, { ...ENV, UPSTREAM_BASE_URL: "https://api.anthropic.com/v1" }]) {
        assertError(await infer(chat({}), env), 500, { code: "backend_misconfigured" });
      }
    });

    test("health(): GET <base>/v1/models with the key; ok on 200 and 429, not on 401", async () => {
      for (const [status, ok] of [[200, true], [429, true], [401, false]]) {
        calls = [];
        route = () => answerOf({ status, body: status === 200 ? { data: [] } : errorBody("x", "y") });
        const report = await (await backend(ENV)).health();
        assert.equal(report.ok, ok, JSON.stringify(report));
        assert.equal(calls[0].url, `${BASE}/v1/models`);
        assert.equal(calls[0].method, "GET");
        assert.equal(calls[0].headers["x-api-key"], ANTHROPIC_KEY);
        assert.equal(calls[0].headers["anthropic-version"], "2023-06-01");
        assert.ok(!JSON.stringify(report).includes(ANTHROPIC_KEY));
      }
    });
  });

  test("fixtures: the cut and overloaded streams really lack message_stop", () => {
    assert.ok(!CUT_STREAM.some((e) => e.type === "message_stop"));
    assert.ok(!OVERLOADED_STREAM.some((e) => e.type === "message_stop"));
    assert.ok(TOOL_STREAM.at(-1).type === "message_stop");
  });
});
