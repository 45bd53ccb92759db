// The openai-compatible provider as an RPC caller sees it (node, no transport), against a scripted
// upstream standing in for fetch(): what is sent upstream, what comes back (statuses, bodies,
// retry headers), the relayed stream and how a cut one ends, the size bound, the stop time, the
// upstream key, and health() (docs/backend-template.md, "openai-compatible").
import assert from "node:assert/strict";
import { after, afterEach, before, beforeEach, describe, test } from "node:test";
import { RECIPES, recipeEnv, templateHeaders } from "../fixtures/upstreams/recipes.mjs";
import { abortError, assertError, backend, captureLogs, ENDLESS_CHUNKS, eventually, inferenceRequest, networkAnswer, pause, readStream, sseEvents, SUITE_TIMEOUT_MS } from "./template.mjs";

// One suite per file, so its hooks stay its own when all unit files run in one process (all.mjs).
describe("the openai-compatible provider", { timeout: SUITE_TIMEOUT_MS }, () => {
  const BASE = "http://upstream.test/v1";
  const KEY = "sk-upstream-test-key";
  const ENV = { PROVIDER: "openai-compatible", UPSTREAM_BASE_URL: BASE, UPSTREAM_API_KEY: KEY };
  const encoder = new TextEncoder();

  /** Every fetch() the template made: {url, method, headers, body, signal}. */
  let calls = [];
  /** What the upstream does with a call: answers a Response (or throws, as an unreachable host). */
  let route = () => json(200, { ok: true });
  let logs;
  const realFetch = globalThis.fetch;

  before(() => {
    globalThis.fetch = fakeFetch;
  });
  after(() => {
    globalThis.fetch = realFetch;
  });
  beforeEach(() => {
    calls = [];
    logs = captureLogs();
  });
  afterEach(() => logs.restore());

  /** fetch() as the Workers runtime does it, for what matters here: an aborted signal rejects. */
  async function fakeFetch(input, init = {}) {
    const call = { url: String(input), method: init.method ?? "GET", headers: Object.fromEntries(new Headers(init.headers)), body: init.body ?? null, signal: init.signal ?? null, redirect: init.redirect ?? "follow" };
    calls.push(call);
    return networkAnswer(() => route(call), call.signal);
  }

  /**
   * A response body sent as `chunks`, one per read (pulled, never ahead), then ended by `end`:
   * "close", "error" (a dropped connection) or "stall". Like fetch()'s bodies, it errors when
   * `signal` aborts. `state` tells how often it was read and whether it was cancelled.
   */
  function body(chunks, { end = "close", signal } = {}) {
    const state = { pulls: 0, cancelled: false };
    const queue = chunks.map((c) => (typeof c === "string" ? encoder.encode(c) : c));
    const stream = new ReadableStream(
      {
        start(controller) {
          signal?.addEventListener("abort", () => controller.error(abortError()), { once: true });
        },
        pull(controller) {
          state.pulls++;
          if (queue.length > 0) return controller.enqueue(queue.shift());
          if (end === "close") return controller.close();
          if (end === "error") return controller.error(new TypeError("connection reset by peer"));
          return new Promise(() => {});
        },
        cancel() {
          state.cancelled = true;
        },
      },
      { highWaterMark: 0 },
    );
    return { stream, state };
  }

  function json(status, value, headers = {}) {
    return new Response(JSON.stringify(value), { status, headers: { "content-type": "application/json", ...headers } });
  }

  function sse(chunks, options = {}, headers = {}) {
    const b = body(chunks, options);
    return { response: new Response(b.stream, { status: 200, headers: { "content-type": "text/event-stream", ...headers } }), state: b.state };
  }

  const event = (content) => `data: ${JSON.stringify({ id: "up-s", object: "chat.completion.chunk", choices: [{ index: 0, delta: { content } }] })}\n\n`;
  const COMPLETION = { id: "up-1", object: "chat.completion", model: "gpt-x", choices: [{ index: 0, message: { role: "assistant", content: "hi é" }, finish_reason: "stop" }], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } };

  function chat(model = "gpt-x", extra = {}, overrides = {}) {
    return inferenceRequest({ model, stream: extra.stream === true, body: { model, messages: [{ role: "user", content: "hello" }], ...extra }, ...overrides });
  }

  async function infer(req, env = ENV) {
    return (await backend(env)).infer(req);
  }

  /** Infers a streaming request and reads the relayed stream: its chunks (as text), whole text and SSE events. */
  async function relayed(req, env = ENV) {
    const answer = await infer(req, env);
    assert.equal(answer.status, 200, JSON.stringify(answer));
    assert.match(answer.headers["content-type"], /^text\/event-stream/);
    assert.equal(answer.body, undefined);
    const reader = answer.stream.getReader();
    const chunks = [];
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      assert.ok(value instanceof Uint8Array);
      chunks.push(value);
      assert.ok(chunks.length <= ENDLESS_CHUNKS, "endless stream");
    }
    const text = new TextDecoder().decode(Buffer.concat(chunks));
    return { answer, chunks: chunks.map((c) => new TextDecoder().decode(c)), text, events: sseEvents(text) };
  }

  /** Checks a relayed stream ended with the SSE error event (and no [DONE]); answers its error. */
  function assertEndsBroken(events, code, { upstreamSentDone = false } = {}) {
    if (!upstreamSentDone) assert.ok(!events.some((e) => typeof e === "string" && e.trim() === "[DONE]"), "no [DONE] after a failure");
    const last = events.at(-1);
    assert.equal(typeof last, "string", `the error is an event of its own: ${JSON.stringify(events)}`);
    const { error } = JSON.parse(last);
    assert.deepEqual(Object.keys(error).sort(), ["code", "message", "param", "type"]);
    assert.equal(error.type, "upstream_error");
    assert.equal(error.param, null);
    assert.equal(error.code, code);
    assert.ok(error.message.length > 0);
    return error;
  }

  describe("openai-compatible: what is sent upstream", () => {
    test("POST <base>/chat/completions with the body, JSON content type, x-request-id and the key", async () => {
      route = () => json(200, COMPLETION);
      const req = chat("gpt-x", { temperature: 0.2 }, { requestId: "req-sent" });
      const answer = await infer(req);
      assert.equal(answer.status, 200);
      assert.equal(calls.length, 1);
      const [call] = calls;
      assert.equal(call.url, `${BASE}/chat/completions`);
      assert.equal(call.method, "POST");
      assert.equal(call.headers["content-type"], "application/json");
      assert.equal(call.headers.accept, "application/json");
      assert.equal(call.headers["x-request-id"], "req-sent");
      assert.equal(call.headers.authorization, `Bearer ${KEY}`);
      assert.deepEqual(JSON.parse(call.body), req.body);
    });

    test("completions and embeddings go to their own paths; the base may end with slashes or carry a prefix", async () => {
      route = () => json(200, {});
      for (const [base, path, url] of [
        [BASE, "/v1/completions", `${BASE}/completions`],
        [`${BASE}///`, "/v1/embeddings", `${BASE}/embeddings`],
        [`  ${BASE}\n`, "/v1/completions", `${BASE}/completions`],
        ["https://gateway.example/openai/v1/", "/v1/chat/completions", "https://gateway.example/openai/v1/chat/completions"],
      ]) {
        calls = [];
        await infer(inferenceRequest({ path, model: "m", body: { model: "m" } }), { ...ENV, UPSTREAM_BASE_URL: base });
        assert.equal(calls[0].url, url);
      }
    });

    test("a streaming request accepts text/event-stream", async () => {
      route = () => sse(["data: [DONE]\n\n"]).response;
      await relayed(chat("gpt-x", { stream: true }));
      assert.equal(calls[0].headers.accept, "text/event-stream");
    });

    test("without a key (unset or empty) no Authorization header is sent", async () => {
      route = () => json(200, COMPLETION);
      for (const env of [{ PROVIDER: "openai-compatible", UPSTREAM_BASE_URL: BASE }, { ...ENV, UPSTREAM_API_KEY: "" }]) {
        calls = [];
        assert.equal((await infer(chat(), env)).status, 200);
        assert.ok(!("authorization" in calls[0].headers));
      }
    });

    test("a body sent as JSON text reaches the upstream byte for byte (big integers unrounded)", async () => {
      route = () => json(200, COMPLETION);
      const text = `  { "model":"gpt-x","seed": 12345678901234567890,\n "messages":[{"role":"user","content":"hi \\u00e9"}], "metadata":{"id":9007199254740993}}`;
      await infer(inferenceRequest({ model: "gpt-x", body: text }));
      assert.equal(calls[0].body, text);
    });

    test("an unmapped model leaves the text alone, even with a MODEL_MAP for other names", async () => {
      route = () => json(200, COMPLETION);
      const env = { ...ENV, MODELS: "*", MODEL_MAP: JSON.stringify({ "client-name": "upstream-name" }) };
      for (const model of ["gpt-x", "toString", "constructor", "__proto__"]) {
        calls = [];
        const text = `{"model":${JSON.stringify(model)},"messages":[]}`;
        assert.equal((await infer(inferenceRequest({ model, body: text }), env)).status, 200);
        assert.equal(calls[0].body, text, model);
      }
      // Written another way, or absent: still the client's text as it came.
      for (const text of [`{"model" : "gpt\\u002dx","messages":[]}`, `{"messages":[]}`]) {
        calls = [];
        await infer(inferenceRequest({ model: "gpt-x", body: text }), env);
        assert.equal(calls[0].body, text);
      }
    });
  });

  describe("openai-compatible: MODEL_MAP rewrites only the top-level model value", () => {
    const env = { ...ENV, MODEL_MAP: JSON.stringify({ "client-name": "upstream-name" }) };
    const cases = [
      ["plain", `{"model":"client-name","messages":[]}`, `{"model":"upstream-name","messages":[]}`],
      ["model last, after values of every kind", `{"n":-1.5e3,"t":true,"f":false,"z":null,"s":"a,b}]","a":[1,{"model":"client-name"},[]],"o":{"model":"client-name","x":{"y":[]}},"model":"client-name"}`, `{"n":-1.5e3,"t":true,"f":false,"z":null,"s":"a,b}]","a":[1,{"model":"client-name"},[]],"o":{"model":"client-name","x":{"y":[]}},"model":"upstream-name"}`],
      ["spaces, tabs and newlines everywhere", ` {\n\t"seed" : 12345678901234567890 ,\r\n "model"\t:\n "client-name" ,\n"x": 1 \n}\n`, ` {\n\t"seed" : 12345678901234567890 ,\r\n "model"\t:\n "upstream-name" ,\n"x": 1 \n}\n`],
      ["strings holding quotes, backslashes and look-alikes", `{"a":"say \\"model\\": \\"client-name\\" {","b":"ends with a backslash \\\\","model":"client-name","c":"\\\\\\""}`, `{"a":"say \\"model\\": \\"client-name\\" {","b":"ends with a backslash \\\\","model":"upstream-name","c":"\\\\\\""}`],
      ["nested strings holding brackets, braces and quotes", `{"messages":[{"role":"user","content":"say } or ] or { or [ or \\"model\\": 1"}],"o":{"k":"}]"},"model":"client-name"}`, `{"messages":[{"role":"user","content":"say } or ] or { or [ or \\"model\\": 1"}],"o":{"k":"}]"},"model":"upstream-name"}`],
      ["an escaped key", `{"mod\\u0065l" : "client-name","seed":12345678901234567890}`, `{"mod\\u0065l" : "upstream-name","seed":12345678901234567890}`],
      ["keys holding escaped quotes", `{"a\\"model":"client-name","model":"client-name"}`, `{"a\\"model":"client-name","model":"upstream-name"}`],
      ["a model that is not a string", `{"model":7,"x":1}`, `{"model":"upstream-name","x":1}`],
      ["a model value that is an object", `{"model":{"name":"client-name"},"x":[1]}`, `{"model":"upstream-name","x":[1]}`],
      ["duplicate top-level models", `{"model":"client-name","x":{},"model":"other"}`, `{"model":"upstream-name","x":{},"model":"upstream-name"}`],
      ["a number right before the end", `{"x":12345678901234567890,"model":"client-name","y":0}`, `{"x":12345678901234567890,"model":"upstream-name","y":0}`],
    ];
    for (const [name, text, wanted] of cases) {
      test(name, async () => {
        route = () => json(200, COMPLETION);
        assert.equal((await infer(inferenceRequest({ model: "client-name", body: text }), env)).status, 200);
        assert.equal(calls[0].body, wanted);
      });
    }

    test("a body without a model gets one, the rest unchanged", async () => {
      route = () => json(200, COMPLETION);
      for (const text of [`{"seed":12345678901234567890,"messages":[]}`, "{}", "{ }", ` \n{\n}`, `{"model_name":"x"}`]) {
        calls = [];
        await infer(inferenceRequest({ model: "client-name", body: text }), env);
        const sent = calls[0].body;
        assert.equal(JSON.parse(sent).model, "upstream-name", sent);
        const rest = JSON.parse(sent);
        delete rest.model;
        assert.deepEqual(rest, JSON.parse(text));
        if (text.includes("seed")) assert.ok(sent.includes('"seed":12345678901234567890'), sent);
      }
    });

    test("a body sent as an object is renamed too", async () => {
      route = () => json(200, COMPLETION);
      await infer(inferenceRequest({ model: "client-name", body: { model: "client-name", messages: [{ role: "user", content: "x" }] } }), env);
      assert.deepEqual(JSON.parse(calls[0].body), { model: "upstream-name", messages: [{ role: "user", content: "x" }] });
    });
  });

  describe("openai-compatible: JSON answers", () => {
    test("a 200 passes its status and body; of its headers only retry-after and retry-after-ms", async () => {
      route = () => json(200, COMPLETION, { "x-upstream-secret": "internal", "set-cookie": "a=b", "retry-after-ms": "5" });
      const answer = await infer(chat());
      assert.deepEqual(answer, { status: 200, headers: { "content-type": "application/json", "retry-after-ms": "5" }, body: COMPLETION });
    });

    test("a multi-byte character split across chunks arrives whole", async () => {
      const bytes = encoder.encode(JSON.stringify(COMPLETION));
      const split = bytes.indexOf(0xc3) + 1;
      route = () => new Response(body([bytes.slice(0, split), bytes.slice(split)]).stream, { headers: { "content-type": "application/json" } });
      assert.deepEqual((await infer(chat())).body, COMPLETION);
    });

    test("4xx JSON errors pass as they are", async () => {
      for (const status of [400, 404, 409, 413, 422]) {
        const error = { error: { message: "temperature too high", type: "invalid_request_error", param: "temperature", code: null } };
        route = () => json(status, error);
        const answer = await infer(chat());
        assert.equal(answer.status, status);
        assert.deepEqual(answer.body, error);
      }
    });

    test("429 keeps its status, body, retry-after and retry-after-ms, to a streaming request too (as JSON)", async () => {
      const limited = { error: { message: "Rate limit reached", type: "rate_limit_error", param: null, code: "rate_limit_exceeded" } };
      route = () => json(429, limited, { "retry-after": "7", "retry-after-ms": "6500" });
      for (const stream of [false, true]) {
        const answer = await infer(chat("gpt-x", { stream }));
        assert.deepEqual(answer, { status: 429, headers: { "content-type": "application/json", "retry-after": "7", "retry-after-ms": "6500" }, body: limited });
      }
    });

    test("a 5xx JSON error keeps its status", async () => {
      route = () => json(500, { error: { message: "boom", type: "server_error", param: null, code: null } });
      assert.equal((await infer(chat())).status, 500);
    });

    test("a 2xx body that is not JSON is a 502 naming the status and content type, never the body", async () => {
      for (const [status, contentType] of [[200, "text/html; charset=utf-8"], [201, "text/plain"]]) {
        route = () => new Response("<html>Welcome to nginx</html>", { status, headers: { "content-type": contentType, "retry-after": "3" } });
        const error = assertError(await infer(chat()), 502, { type: "upstream_error", code: "upstream_invalid_response" });
        assert.ok(error.message.includes(String(status)) && error.message.includes(contentType.split(";")[0]), error.message);
        assert.doesNotMatch(error.message, /nginx/);
      }
      route = () => new Response("plain words", { status: 200, headers: {} });
      const noType = assertError(await infer(chat()), 502, { code: "upstream_invalid_response" });
      assert.ok(noType.message.includes("200"));
    });

    test("an empty body is not JSON: a 502", async () => {
      route = () => new Response(null, { status: 200 });
      assertError(await infer(chat()), 502, { code: "upstream_invalid_response" });
    });

    test("a 5xx with a body that is not JSON keeps its status, OpenAI-shaped, never the body", async () => {
      for (const [status, contentType] of [[500, "text/plain"], [502, "text/html"], [504, "text/html"]]) {
        route = () => new Response("<html>Welcome to nginx</html>", { status, headers: { "content-type": contentType } });
        const error = assertError(await infer(chat()), status, { type: status === 504 ? "timeout" : "upstream_error", code: null });
        assert.ok(error.message.includes(String(status)), error.message);
        assert.doesNotMatch(error.message, /nginx/);
      }
    });

    test("a 400 or 404 page that is not JSON is a wrong URL or a proxy, not the API's verdict: a 502", async () => {
      for (const status of [400, 404, 405]) {
        route = () => new Response("<html>404 Not Found</html>", { status, headers: { "content-type": "text/html" } });
        const error = assertError(await infer(chat()), 502, { type: "upstream_error", code: "upstream_invalid_response" });
        assert.ok(error.message.includes(String(status)), error.message);
        assert.doesNotMatch(error.message, /Not Found/);
      }
    });

    test("429 and 503 that are not JSON keep their status and retry headers", async () => {
      for (const [status, type] of [[429, "rate_limit_error"], [503, "upstream_error"]]) {
        route = () => new Response("upstream overloaded", { status, headers: { "content-type": "text/plain", "retry-after": "2", "retry-after-ms": "1500" } });
        const answer = await infer(chat());
        const error = assertError(answer, status, { type, code: null });
        assert.equal(answer.headers["retry-after"], "2");
        assert.equal(answer.headers["retry-after-ms"], "1500");
        assert.doesNotMatch(error.message, /overloaded/);
      }
    });

    test("JSON answered to a streaming request is a 502 without a stream", async () => {
      route = () => json(200, COMPLETION);
      assertError(await infer(chat("gpt-x", { stream: true })), 502, { type: "upstream_error", code: "upstream_invalid_response" });
    });

    test("an event stream answered to a JSON request is a 502", async () => {
      route = () => sse([event("x"), "data: [DONE]\n\n"]).response;
      assertError(await infer(chat()), 502, { code: "upstream_invalid_response" });
    });

    test("an event stream without a body is a 502, not a stream", async () => {
      route = () => new Response(null, { status: 200, headers: { "content-type": "text/event-stream" } });
      assertError(await infer(chat("gpt-x", { stream: true })), 502, { type: "upstream_error" });
    });

    test("a body that fails while read is a 502", async () => {
      route = () => new Response(body(['{"id":'], { end: "error" }).stream, { headers: { "content-type": "application/json" } });
      const error = assertError(await infer(chat()), 502, { type: "upstream_error", code: "upstream_error" });
      assert.doesNotMatch(error.message, /reset by peer/);
    });

    test("an unreachable upstream is a 502 upstream_unreachable", async () => {
      route = () => {
        throw new TypeError("fetch failed: connect ECONNREFUSED");
      };
      const error = assertError(await infer(chat()), 502, { type: "upstream_error", code: "upstream_unreachable" });
      assert.doesNotMatch(error.message, /ECONNREFUSED/);
    });
  });

  describe("openai-compatible: the relayed stream", () => {
    test("the upstream's chunks are relayed one by one, unchanged, ending with [DONE]", async () => {
      const chunks = [event("from "), event("up"), `${event("stream")}data: [DONE]\n\n`];
      route = () => sse(chunks).response;
      const { chunks: out, events } = await relayed(chat("gpt-x", { stream: true }));
      assert.deepEqual(out, chunks);
      assert.equal(events.at(-1), "[DONE]");
    });

    test("the relay reads the upstream only as it is read (no read-ahead)", async () => {
      const upstream = sse([event("a"), event("b"), event("c"), "data: [DONE]\n\n"]);
      route = () => upstream.response;
      const answer = await infer(chat("gpt-x", { stream: true }));
      await pause(5);
      assert.equal(upstream.state.pulls, 0, "nothing read before the caller reads");
      const reader = answer.stream.getReader();
      await reader.read();
      await pause(5);
      assert.equal(upstream.state.pulls, 1);
      await reader.cancel();
    });

    test("every way of ending with data: [DONE] is a clean end, relayed as it came, its last event completed", async () => {
      // [chunks, what the relay adds so the last event ends with a blank line, name]
      const cases = [
        [["data: [DO", "NE]\n\n"], "", "split across chunks"],
        [["data:[DONE]\n\n"], "", "no space after data:"],
        [["data: [DONE]\r\n\r\n"], "", "CRLF line ends"],
        [["data: [DONE]\r\r"], "", "CR line ends"],
        [["data: [DONE]  \n\n"], "", "trailing spaces"],
        [[event("a"), "data: [DONE]"], "\n\n", "no line end at all"],
        [[event("a"), "data: [DONE]\n"], "\n", "one line end"],
        [[event("a"), "data: [DONE]\r\n"], "\n", "one CRLF line end"],
        [[event("a"), "data: [DONE]\r"], "\n\n", "one CR, which a LF would only complete"],
        [[`${event("x".repeat(400))}data: [DONE]\n\n`], "", "in a chunk longer than the tail kept"],
        [[event("x".repeat(400)), "\n", "data: [DONE]\n\n"], "", "after a long chunk and a lone line end"],
        [[`${event("x".repeat(1 << 20))}data: [DONE]\n\n`], "", "in one chunk of a megabyte"],
      ];
      for (const [chunks, added, name] of cases) {
        route = () => sse(chunks).response;
        const { text, events } = await relayed(chat("gpt-x", { stream: true }));
        assert.ok(text === chunks.join("") + added, `${name}: ${JSON.stringify(text.slice(-24))}`);
        assert.equal(events.at(-1).trim(), "[DONE]", name);
        assert.ok(events.every((e) => typeof e === "string"), `${name}: every event ends: ${JSON.stringify(text.slice(-30))}`);
      }
    });

    test("[DONE] that is not the stream's last line is not a clean end", async () => {
      for (const [chunks, name] of [
        [[event("a"), "data: [DONE]x\n\n"], "trailing text"],
        [[event("a"), "xdata: [DONE]\n\n"], "not at a line start"],
        [[event("data: [DONE]")], "inside a JSON string"],
        [["data: [DONE]\n\n", event("late")], "followed by another event"],
        [[], "an empty stream"],
      ]) {
        route = () => sse(chunks).response;
        const { text, events } = await relayed(chat("gpt-x", { stream: true }));
        assert.ok(text.startsWith(chunks.join("")), name);
        assertEndsBroken(events, "stream_interrupted", { upstreamSentDone: chunks.join("").startsWith("data: [DONE]") });
      }
    });

    test("a stream that ends without data: [DONE] ends with the error event", async () => {
      route = () => sse([event("half "), event("an answer")]).response;
      const { text, events } = await relayed(chat("gpt-x", { stream: true }));
      assert.ok(text.startsWith(event("half ") + event("an answer")));
      assertEndsBroken(events, "stream_interrupted");
      assert.equal(events.length, 3);
    });

    test("the error event is an event of its own however the upstream stopped mid-event", async () => {
      for (const tail of [`data: {"id":"up-s","obj`, `data: {"id":1}\n`, `data: {"id":1}\r\n`, `data: {"id":1}\r`, `: comment\r`]) {
        route = () => sse([event("half "), tail]).response;
        const { text, events } = await relayed(chat("gpt-x", { stream: true }));
        assert.ok(text.startsWith(event("half ") + tail), JSON.stringify(tail));
        assertEndsBroken(events, "stream_interrupted");
        assert.equal(JSON.parse(events[0]).choices[0].delta.content, "half ");
      }
    });

    test("an upstream connection that fails mid-stream ends with the error event", async () => {
      route = () => sse([event("half ")], { end: "error" }).response;
      const { text, events } = await relayed(chat("gpt-x", { stream: true }));
      assert.ok(text.startsWith(event("half ")));
      const error = assertEndsBroken(events, "stream_interrupted");
      assert.doesNotMatch(error.message, /reset by peer/);
      route = () => sse([], { end: "error" }).response;
      assertEndsBroken((await relayed(chat("gpt-x", { stream: true }))).events, "stream_interrupted");
    });

    test("a flowing stream is not cut at the stop time (the orchestrator times it)", async () => {
      // Set before the call, due after the stop time: the stream's end waits for it.
      const afterStop = pause(250);
      route = (call) => {
        const chunks = [event("one "), event("two "), "data: [DONE]\n\n"];
        // Like fetch()'s bodies, this one errors if the call is aborted.
        const { stream } = body(chunks, { signal: call.signal });
        const slow = stream.pipeThrough(new TransformStream({ transform: async (chunk, c) => (chunk.length < 20 && (await afterStop), c.enqueue(chunk)) }));
        return new Response(slow, { headers: { "content-type": "text/event-stream" } });
      };
      const { events } = await relayed(chat("gpt-x", { stream: true }, { attemptDeadline: Date.now() + 200 }));
      assert.equal(events.at(-1), "[DONE]");
      assert.equal(events.length, 3);
    });

    test("cancelling the relayed stream cancels the upstream's body", async () => {
      const upstream = sse([event("a"), event("b"), event("c")], { end: "stall" });
      route = () => upstream.response;
      const answer = await infer(chat("gpt-x", { stream: true }));
      const reader = answer.stream.getReader();
      assert.match(new TextDecoder().decode((await reader.read()).value), /"a"/);
      await reader.cancel("client left");
      assert.ok(await eventually(() => upstream.state.cancelled));
    });
  });

  describe("openai-compatible: MAX_UPSTREAM_BYTES", () => {
    const SMALL = { ...ENV, MAX_UPSTREAM_BYTES: "64" };
    const exactly = (n) => JSON.stringify({ p: "x".repeat(n - 8) });

    test("a JSON answer declared larger is a 502 and is not read", async () => {
      const b = body([exactly(65)]);
      route = () => new Response(b.stream, { headers: { "content-type": "application/json", "content-length": "65" } });
      assertError(await infer(chat(), SMALL), 502, { type: "upstream_error", code: "upstream_response_too_large" });
      assert.equal(b.state.pulls, 0);
      assert.ok(await eventually(() => b.state.cancelled));
    });

    test("a JSON answer of exactly the bound is read", async () => {
      route = () => new Response(exactly(64), { headers: { "content-type": "application/json", "content-length": "64" } });
      assert.equal((await infer(chat(), SMALL)).status, 200);
      route = () => new Response(body([exactly(64).slice(0, 30), exactly(64).slice(30)]).stream, { headers: { "content-type": "application/json" } });
      assert.equal((await infer(chat(), SMALL)).status, 200);
    });

    test("a JSON answer that grows past the bound while read is a 502, the rest cancelled", async () => {
      const text = exactly(65);
      let b;
      route = (call) => {
        // Without the bound, reading on would wait for the stop time (a 504).
        b = body([text.slice(0, 40), text.slice(40)], { end: "stall", signal: call.signal });
        return new Response(b.stream, { headers: { "content-type": "application/json" } });
      };
      assertError(await infer(chat("gpt-x", {}, { attemptDeadline: Date.now() + 1000 }), SMALL), 502, { code: "upstream_response_too_large" });
      assert.ok(await eventually(() => b.state.cancelled));
    });

    test("the default bound is 8 MiB; the error names the bound and MAX_UPSTREAM_BYTES", async () => {
      const MiB8 = 8 * 1024 * 1024;
      route = () => new Response(JSON.stringify(COMPLETION), { headers: { "content-type": "application/json", "content-length": String(MiB8 + 1) } });
      const error = assertError(await infer(chat()), 502, { type: "upstream_error", code: "upstream_response_too_large" });
      assert.ok(error.message.includes(String(MiB8)) && error.message.includes("MAX_UPSTREAM_BYTES"), error.message);
      route = () => new Response(JSON.stringify(COMPLETION), { headers: { "content-type": "application/json", "content-length": String(MiB8) } });
      assert.equal((await infer(chat())).status, 200);
    });

    test("an answer of 20 MB, read without a content-length, is refused at the bound, the rest unread", async () => {
      const MiB = 1024 * 1024;
      let b;
      route = () => {
        b = body([`{"p":"`, ...Array.from({ length: 20 }, () => "x".repeat(MiB)), `"}`]);
        return new Response(b.stream, { headers: { "content-type": "application/json" } });
      };
      assertError(await infer(chat()), 502, { code: "upstream_response_too_large" });
      assert.ok(b.state.pulls <= 10, `read ${b.state.pulls} chunks of 1 MiB`);
      assert.ok(await eventually(() => b.state.cancelled));
    });

    test("up to 14 MiB may be configured (Workers RPC carries 32 MiB at most)", async () => {
      const MiB14 = 14 * 1024 * 1024;
      const env = { ...ENV, MAX_UPSTREAM_BYTES: String(MiB14) };
      route = () => new Response(JSON.stringify(COMPLETION), { headers: { "content-type": "application/json", "content-length": String(MiB14) } });
      assert.equal((await infer(chat(), env)).status, 200);
      for (const value of [MiB14 + 1, 16 * 1024 * 1024, 32 * 1024 * 1024]) {
        const error = assertError(await infer(chat(), { ...ENV, MAX_UPSTREAM_BYTES: String(value) }), 500, { code: "backend_misconfigured" });
        assert.match(error.message, /MAX_UPSTREAM_BYTES.*14680064.*RPC/);
      }
    });

    test("a stream over the bound ends with the error event and cancels the upstream", async () => {
      const upstream = sse([event("a"), event("b"), event("c"), event("d")], { end: "stall" });
      route = () => upstream.response;
      const { text, events } = await relayed(chat("gpt-x", { stream: true }), { ...ENV, MAX_UPSTREAM_BYTES: String(event("a").length * 2) });
      assert.ok(text.startsWith(event("a") + event("b")));
      assert.ok(!text.includes('"c"'), "nothing past the bound is relayed");
      assertEndsBroken(events, "upstream_response_too_large");
      assert.ok(await eventually(() => upstream.state.cancelled));
    });

    test("a stream of exactly the bound ends cleanly", async () => {
      const chunks = [event("a"), "data: [DONE]\n\n"];
      route = () => sse(chunks).response;
      const { events } = await relayed(chat("gpt-x", { stream: true }), { ...ENV, MAX_UPSTREAM_BYTES: String(chunks.join("").length) });
      assert.equal(events.at(-1), "[DONE]");
    });
  });

  describe("openai-compatible: the attempt's stop time", () => {
    test("an upstream that does not answer in time: 504, and the upstream call is aborted", async () => {
      for (const stream of [false, true]) {
        calls = [];
        route = () => new Promise(() => {});
        const answer = await infer(chat("gpt-x", { stream }, { attemptDeadline: Date.now() + 30 }));
        assertError(answer, 504, { type: "timeout", code: "timeout" });
        assert.equal(calls[0].signal.aborted, true);
      }
    });

    test("the deadline bounds it when sooner than attemptDeadline", async () => {
      route = () => new Promise(() => {});
      assertError(await infer(chat("gpt-x", {}, { deadline: Date.now() + 30 })), 504, { type: "timeout" });
    });

    test("a JSON body that stalls past the stop time: 504", async () => {
      route = (call) => new Response(body(['{"id":'], { end: "stall", signal: call.signal }).stream, { headers: { "content-type": "application/json" } });
      assertError(await infer(chat("gpt-x", {}, { attemptDeadline: Date.now() + 30 })), 504, { type: "timeout" });
    });

    test("a stop time already passed: 504", async () => {
      route = () => new Promise(() => {});
      assertError(await infer(chat("gpt-x", {}, { attemptDeadline: Date.now() - 1 })), 504, { type: "timeout" });
    });

    test("an answer in time is not aborted afterwards", async () => {
      route = () => json(200, COMPLETION);
      const afterStop = pause(250);
      assert.equal((await infer(chat("gpt-x", {}, { attemptDeadline: Date.now() + 200 }))).status, 200);
      await afterStop;
      assert.equal(calls[0].signal.aborted, false);
    });
  });

  describe("openai-compatible: the upstream's key stays here", () => {
    const OWN = { error: { message: "The upstream rejected this backend's credentials", type: "upstream_auth_error", param: null, code: "upstream_auth_failed" } };

    test("401 and 403 keep their status with the backend's own body; the upstream's is dropped unread", async () => {
      for (const status of [401, 403]) {
        for (const stream of [false, true]) {
          // The upstream's body never ends: reading it would wait for the stop time.
          let b;
          route = (call) => {
            b = body([JSON.stringify({ error: { message: `Incorrect API key provided: ${KEY}` } })], { end: "stall", signal: call.signal });
            return new Response(b.stream, { status, headers: { "content-type": "application/json" } });
          };
          const answer = await infer(chat("gpt-x", { stream }, { requestId: "req-auth", attemptDeadline: Date.now() + 1000 }));
          assert.equal(answer.status, status);
          assert.equal(answer.stream, undefined);
          assert.deepEqual(answer.body, OWN);
          assert.ok(await eventually(() => b.state.cancelled));
        }
      }
      const line = logs.lines.find((l) => l.includes("req-auth"));
      assert.ok(line && line.includes("401"), logs.lines.join("\n"));
      assert.ok(logs.lines.some((l) => l.includes("req-auth") && l.includes("403")));
    });

    test("a 401 without a body is handled too", async () => {
      route = () => new Response(null, { status: 401 });
      assert.deepEqual((await infer(chat())).body, OWN);
    });

    test("other error bodies have the key (8 characters or more) replaced by [redacted], every time", async () => {
      route = (call) => json(400, { error: { message: `bad request from key ${call.headers.authorization.slice(7)} (${call.headers.authorization.slice(7)})`, type: "invalid_request_error", param: null, code: null } });
      const answer = await infer(chat());
      assert.equal(answer.body.error.message, "bad request from key [redacted] ([redacted])");
      const eight = await infer(chat(), { ...ENV, UPSTREAM_API_KEY: "sk-8char" });
      assert.equal(eight.body.error.message, "bad request from key [redacted] ([redacted])");
      const short = await infer(chat(), { ...ENV, UPSTREAM_API_KEY: "sk-7chr" });
      assert.equal(short.body.error.message, "bad request from key sk-7chr (sk-7chr)", "a short key would match ordinary text");
    });

    test("the key is in no answer and no log line", async () => {
      const answers = [];
      for (const make of [
        () => json(401, { error: { message: KEY } }),
        () => json(500, { error: { message: `upstream saw ${KEY}` } }),
        () => new Response(`bad key ${KEY}`, { status: 403 }),
        () => new Response(`html ${KEY}`, { status: 502, headers: { "content-type": "text/html" } }),
      ]) {
        route = make;
        answers.push(await infer(chat()));
      }
      for (const text of [...answers.map((a) => JSON.stringify(a)), ...logs.lines]) assert.ok(!text.includes(KEY), text);
    });
  });

  describe("openai-compatible: finding 7, no key text in any error", () => {
    test("OpenAI's 401 quoting a masked key never reaches the router; nor does a masked key in a 400 or 500", async () => {
      const masked = "sk-proj-****abcd";
      route = () => json(401, { error: { message: `Incorrect API key provided: ${masked}. You can find your API key at https://platform.openai.com/account/api-keys.`, type: "invalid_request_error", param: null, code: "invalid_api_key" } });
      const auth = await infer(chat());
      assertError(auth, 401, { type: "upstream_auth_error", code: "upstream_auth_failed" });
      for (const status of [400, 404, 429, 500]) {
        route = () => json(status, { error: { message: `Request with key ${masked} (project sk-proj-abc123def456) refused`, type: "invalid_request_error", param: null, code: null } });
        const answer = await infer(chat());
        assert.equal(answer.status, status);
        assert.doesNotMatch(JSON.stringify(answer), /\*\*\*\*abcd|abc123def456|Incorrect API key/);
        assert.match(answer.body.error.message, /\[redacted\]/);
      }
      assert.doesNotMatch(JSON.stringify(auth), /abcd|Incorrect/);
    });

    test("the key is cut out of messages, params and codes alike", async () => {
      route = () => json(422, { error: { message: `key ${KEY} is not allowed`, type: "invalid_request_error", param: `x ${KEY}`, code: `c-${KEY}` } });
      const answer = await infer(chat());
      assert.equal(answer.status, 422);
      assert.ok(!JSON.stringify(answer).includes(KEY), JSON.stringify(answer));
    });
  });

  describe("openai-compatible: finding 12, error bodies of every shape reach clients OpenAI-shaped", () => {
    // Shapes from the upstreams' own documentation and servers: Gemini's OpenAI endpoint answers
    // Google's error array; vLLM's (FastAPI) server a flat {"object":"error",...}; proxies text.
    const cases = [
      ["Gemini's array", 400, JSON.stringify([{ error: { code: 400, message: "Invalid JSON payload received. Unknown name \"foo\"", status: "INVALID_ARGUMENT" } }]), { status: 400, message: /Invalid JSON payload/, type: "INVALID_ARGUMENT" }],
      ["Gemini's object", 429, JSON.stringify({ error: { code: 429, message: "Resource has been exhausted (e.g. check quota).", status: "RESOURCE_EXHAUSTED" } }), { status: 429, message: /exhausted/, type: "RESOURCE_EXHAUSTED" }],
      ["vLLM's flat object", 400, JSON.stringify({ object: "error", message: "This model's maximum context length is 4096 tokens.", type: "BadRequestError", param: null, code: 400 }), { status: 400, message: /maximum context length/, code: "context_length_exceeded" }],
      ["FastAPI's detail", 404, JSON.stringify({ detail: "Not Found" }), { status: 404, message: /Not Found/ }],
      ["plain text", 500, "Internal Server Error", { status: 500, message: /500/ }],
      ["a JSON string", 400, JSON.stringify("bad request"), { status: 400, message: /bad request/ }],
    ];
    for (const [name, status, text, wanted] of cases) {
      test(name, async () => {
        route = () => new Response(text, { status, headers: { "content-type": text.startsWith("[") || text.startsWith("{") ? "application/json" : "text/plain" } });
        const answer = await infer(chat());
        const error = assertError(answer, wanted.status);
        assert.match(error.message, wanted.message);
        if (wanted.code) assert.equal(error.code, wanted.code);
        if (wanted.type) assert.match(error.type, /^[a-z_]+$|^[A-Z_]+$/);
        assert.ok(!Array.isArray(answer.body));
      });
    }

    // A rate limit worded in tokens must not read as a context-length error: the router would pass
    // it to the client as its own fault instead of cooling the backend down and failing over.
    test("a 429 about tokens per minute stays a 429", async () => {
      route = () => json(429, { error: { message: "Too many tokens per minute: limit 6000, requested 7000.", type: "tokens", code: "rate_limit_exceeded" } }, { "retry-after": "2" });
      const answer = await infer(chat());
      assert.equal(answer.status, 429);
      assert.equal(answer.body.error.code, "rate_limit_exceeded");
    });

    test("a 402 (billing) is this backend's account failing: 403, never the upstream's text", async () => {
      route = () => json(402, { type: "error", error: { type: "billing_error", message: "Your credit balance of org-1234 is too low" } });
      const error = assertError(await infer(chat()), 403, { type: "upstream_auth_error", code: "upstream_payment_required" });
      assert.doesNotMatch(error.message, /org-1234/);
    });

    test("an OpenAI context-length error stays recognizable", async () => {
      route = () => json(400, { error: { message: "This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens.", type: "invalid_request_error", param: "messages", code: "context_length_exceeded" } });
      assertError(await infer(chat()), 400, { type: "invalid_request_error", code: "context_length_exceeded", param: "messages" });
    });
  });

  describe("openai-compatible: finding 11, rate-limit hints", () => {
    const HINTS = { "x-ratelimit-limit-requests": "60", "x-ratelimit-remaining-requests": "59", "x-ratelimit-reset-requests": "1s", "x-ratelimit-limit-tokens": "150000", "x-ratelimit-remaining-tokens": "149984", "x-ratelimit-reset-tokens": "6m0s", "x-should-retry": "false" };

    test("x-ratelimit-* and x-should-retry pass with a success, an error and a stream", async () => {
      route = () => json(200, COMPLETION, { ...HINTS, "x-other": "no" });
      assert.deepEqual((await infer(chat())).headers, { "content-type": "application/json", ...HINTS });
      route = () => json(400, { error: { message: "no" } }, HINTS);
      assert.deepEqual((await infer(chat())).headers, { "content-type": "application/json", ...HINTS });
      route = () => sse(["data: [DONE]\n\n"], {}, HINTS).response;
      const { answer } = await relayed(chat("gpt-x", { stream: true }));
      for (const [name, value] of Object.entries(HINTS)) assert.equal(answer.headers[name], value);
    });

    test("a 429 without retry-after gets retry-after-ms from the exhausted limit's reset", async () => {
      const cases = [
        ["requests exhausted", { "x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "20ms", "x-ratelimit-remaining-tokens": "100", "x-ratelimit-reset-tokens": "6m0s" }, "20"],
        ["tokens exhausted", { "x-ratelimit-remaining-requests": "5", "x-ratelimit-reset-requests": "1s", "x-ratelimit-remaining-tokens": "0", "x-ratelimit-reset-tokens": "1h2m3.5s" }, "3723500"],
        ["both exhausted: the later", { "x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "2.5s", "x-ratelimit-remaining-tokens": "0", "x-ratelimit-reset-tokens": "1m" }, "60000"],
        ["none exhausted: the sooner", { "x-ratelimit-remaining-requests": "3", "x-ratelimit-reset-requests": "6m0s", "x-ratelimit-remaining-tokens": "7", "x-ratelimit-reset-tokens": "750ms" }, "750"],
        ["fractional ms rounded up", { "x-ratelimit-reset-tokens": "0.4ms" }, "1"],
        ["bounded to a day", { "x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "100h" }, "86400000"],
        ["unparseable: nothing derived", { "x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "soon" }, undefined],
        ["an epoch, not a duration: nothing derived", { "x-ratelimit-reset-requests": "1733300000" }, undefined],
        ["no hints: nothing derived", {}, undefined],
      ];
      for (const [name, hints, wanted] of cases) {
        route = () => json(429, { error: { message: "Rate limit reached", type: "rate_limit_error", code: "rate_limit_exceeded" } }, hints);
        const answer = await infer(chat());
        assert.equal(answer.status, 429, name);
        assert.equal(answer.headers["retry-after-ms"], wanted, name);
      }
    });

    test("the upstream's own retry-after or retry-after-ms wins; other statuses derive nothing", async () => {
      const hints = { "x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "9s" };
      route = () => json(429, { error: { message: "slow down" } }, { ...hints, "retry-after": "2" });
      assert.deepEqual([(await infer(chat())).headers["retry-after"], (await infer(chat())).headers["retry-after-ms"]], ["2", undefined]);
      route = () => json(429, { error: { message: "slow down" } }, { ...hints, "retry-after-ms": "1500" });
      assert.equal((await infer(chat())).headers["retry-after-ms"], "1500");
      route = () => json(200, COMPLETION, hints);
      assert.equal((await infer(chat())).headers["retry-after-ms"], undefined);
    });

    test("hints are bounded: at most 16 x-ratelimit-* headers, none longer than 256 characters", async () => {
      const many = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`x-ratelimit-extra-${i}`, "1"]));
      route = () => json(200, COMPLETION, { ...many, "x-ratelimit-long": "x".repeat(300) });
      const headers = (await infer(chat())).headers;
      assert.equal(Object.keys(headers).filter((h) => h.startsWith("x-ratelimit-")).length, 16);
      assert.equal(headers["x-ratelimit-long"], undefined);
    });
  });

  describe("openai-compatible: finding 9, the attempt deadline stops the upstream call", () => {
    test("an abandoned attempt's upstream call is aborted by its attemptDeadline, long before the deadline", async () => {
      let abortedAt;
      route = (call) => {
        call.signal.addEventListener("abort", () => (abortedAt = Date.now()));
        return new Promise(() => {});
      };
      const attemptDeadline = Date.now() + 50;
      const deadline = Date.now() + 30_000;
      assertError(await infer(chat("gpt-x", {}, { attemptDeadline, deadline })), 504, { code: "timeout" });
      assert.ok(abortedAt !== undefined, "the signal fired");
      assert.ok(abortedAt >= attemptDeadline - 5 && abortedAt < attemptDeadline + 5000, `aborted ${abortedAt - attemptDeadline} ms after the attempt deadline`);
    });

    test("a JSON body still arriving at the attempt deadline: the call is aborted", async () => {
      route = (call) => new Response(body(['{"id":'], { end: "stall", signal: call.signal }).stream, { headers: { "content-type": "application/json" } });
      assertError(await infer(chat("gpt-x", {}, { attemptDeadline: Date.now() + 40, deadline: Date.now() + 30_000 })), 504, { code: "timeout" });
      assert.equal(calls[0].signal.aborted, true);
    });

    test("a stream the router abandons (cancels) aborts the upstream call itself, not only its body", async () => {
      const upstream = sse([event("a"), event("b")], { end: "stall" });
      route = () => upstream.response;
      const answer = await infer(chat("gpt-x", { stream: true }, { attemptDeadline: Date.now() + 10_000 }));
      const reader = answer.stream.getReader();
      await reader.read();
      assert.equal(calls[0].signal.aborted, false, "a stream being read is not aborted");
      await reader.cancel("attempt abandoned");
      assert.equal(calls[0].signal.aborted, true, "the call's signal fired");
      assert.ok(await eventually(() => upstream.state.cancelled));
    });

    test("a stream read to its end is never aborted", async () => {
      route = () => sse([event("a"), "data: [DONE]\n\n"]).response;
      await relayed(chat("gpt-x", { stream: true }, { attemptDeadline: Date.now() + 10_000 }));
      assert.equal(calls[0].signal.aborted, false);
    });
  });

  describe("openai-compatible: finding 10, URLs joined with the URL API, and the options for real upstreams", () => {
    const at = (base, extra = {}) => ({ ...ENV, UPSTREAM_BASE_URL: base, ...extra });
    async function urlOf(env, path = "/v1/chat/completions") {
      calls = [];
      route = () => json(200, COMPLETION);
      assert.equal((await infer(inferenceRequest({ path, model: "m", body: { model: "m" } }), env)).status, 200);
      return calls[0].url;
    }

    test("the path goes before the base's query: an Azure base with ?api-version keeps it", async () => {
      const base = "https://res.openai.azure.com/openai/deployments/dep?api-version=2024-10-21";
      assert.equal(await urlOf(at(base)), "https://res.openai.azure.com/openai/deployments/dep/chat/completions?api-version=2024-10-21");
      assert.equal(await urlOf(at("https://res.openai.azure.com/openai/deployments/dep/?api-version=2024-10-21"), "/v1/embeddings"), "https://res.openai.azure.com/openai/deployments/dep/embeddings?api-version=2024-10-21");
    });

    test("UPSTREAM_QUERY adds fixed parameters, replacing the base's of the same name", async () => {
      const query = JSON.stringify({ "api-version": "2024-10-21", flag: true, n: 2 });
      assert.equal(await urlOf(at("https://res.openai.azure.com/openai/deployments/dep", { UPSTREAM_QUERY: query })), "https://res.openai.azure.com/openai/deployments/dep/chat/completions?api-version=2024-10-21&flag=true&n=2");
      assert.equal(await urlOf(at("https://h.example/v1?api-version=old&x=1", { UPSTREAM_QUERY: { "api-version": "new" } })), "https://h.example/v1/chat/completions?api-version=new&x=1");
    });

    test("a base without /v1 is used as the OpenAI client's baseURL: the path goes right after it", async () => {
      assert.equal(await urlOf(at("https://generativelanguage.googleapis.com/v1beta/openai")), "https://generativelanguage.googleapis.com/v1beta/openai/chat/completions");
      assert.equal(await urlOf(at("https://generativelanguage.googleapis.com/v1beta/openai/")), "https://generativelanguage.googleapis.com/v1beta/openai/chat/completions");
      assert.equal(await urlOf(at("http://127.0.0.1:8000")), "http://127.0.0.1:8000/chat/completions");
      assert.equal(await urlOf(at("http://127.0.0.1:8000/#frag")), "http://127.0.0.1:8000/chat/completions");
    });

    test("a base whose /models answers 404 (not the client's baseURL) is not healthy, and says which var to check", async () => {
      route = () => json(404, { detail: "Not Found" });
      const value = await (await backend(at("http://127.0.0.1:8000"))).health();
      assert.equal(value.ok, false);
      assert.match(value.detail, /404.*UPSTREAM_BASE_URL/);
      assert.equal(calls.at(-1).url, "http://127.0.0.1:8000/models");
    });

    test("UPSTREAM_HEALTH_PATH: another path, with the fixed query, or none (no probe)", async () => {
      route = () => json(200, { data: [] });
      calls = [];
      await (await backend(at("https://h.example/openai", { UPSTREAM_HEALTH_PATH: "/v1/models", UPSTREAM_QUERY: '{"api-version":"1"}' }))).health();
      assert.equal(calls[0].url, "https://h.example/openai/v1/models?api-version=1");
      calls = [];
      assert.deepEqual(await (await backend(at("https://h.example/v1", { UPSTREAM_HEALTH_PATH: "none" }))).health(), { ok: true, detail: "no upstream probe (UPSTREAM_HEALTH_PATH is none)" });
      assert.equal(calls.length, 0);
    });

    test("Azure's api-key header: UPSTREAM_AUTH_HEADER, the key alone unless UPSTREAM_AUTH_SCHEME says otherwise", async () => {
      await urlOf(at(BASE, { UPSTREAM_AUTH_HEADER: "api-key" }));
      assert.equal(calls[0].headers["api-key"], KEY);
      assert.ok(!("authorization" in calls[0].headers));
      await urlOf(at(BASE, { UPSTREAM_AUTH_HEADER: "X-Api-Key", UPSTREAM_AUTH_SCHEME: "Token" }));
      assert.equal(calls[0].headers["x-api-key"], `Token ${KEY}`);
      await urlOf(at(BASE, { UPSTREAM_AUTH_SCHEME: "" }));
      assert.equal(calls[0].headers.authorization, KEY, "an empty scheme sends the key alone");
      await urlOf(at(BASE, { UPSTREAM_AUTH_SCHEME: "Bearer" }));
      assert.equal(calls[0].headers.authorization, `Bearer ${KEY}`);
      await (await backend(at(BASE, { UPSTREAM_AUTH_HEADER: "api-key" }))).health();
      assert.equal(calls.at(-1).headers["api-key"], KEY, "the probe authenticates the same way");
    });

    test("UPSTREAM_HEADERS are sent with every call and the probe", async () => {
      const extra = { UPSTREAM_HEADERS: JSON.stringify({ "HTTP-Referer": "https://router.example", "X-Title": "Router", "OpenAI-Organization": "org-1" }) };
      await urlOf(at(BASE, extra));
      assert.equal(calls[0].headers["http-referer"], "https://router.example");
      assert.equal(calls[0].headers["x-title"], "Router");
      assert.equal(calls[0].headers["openai-organization"], "org-1");
      await (await backend(at(BASE, extra))).health();
      assert.equal(calls.at(-1).headers["x-title"], "Router");
    });

    test("inference calls do not follow redirects (the key would go along)", async () => {
      route = () => new Response(null, { status: 307, headers: { location: "https://elsewhere.example/v1/chat/completions" } });
      const answer = await infer(chat());
      assertError(answer, 502, { type: "upstream_error" });
      assert.equal(calls.at(-1).redirect, "manual");
    });
  });

  describe("openai-compatible: the recipes of docs/backend-template.md", () => {
    for (const recipe of RECIPES) {
      test(`${recipe.name}: the exact URL, headers and body the upstream receives`, async () => {
        const env = recipeEnv(recipe, "https://upstream.test");
        const text = `{"model":${JSON.stringify(recipe.model)},"messages":[{"role":"user","content":"hi"}],"seed":12345678901234567890}`;
        route = () => json(200, COMPLETION);
        calls = [];
        const answer = await infer(inferenceRequest({ requestId: "req-recipe", model: recipe.model, body: text }), env);
        assert.equal(answer.status, 200, JSON.stringify(answer));
        const [call] = calls;
        assert.equal(call.url, `https://upstream.test${recipe.expect.path}${recipe.expect.query ?? ""}`);
        assert.equal(call.method, "POST");
        assert.deepEqual(call.headers, { ...templateHeaders("req-recipe"), ...recipe.expect.headers });
        assert.equal(call.body, text.replace(JSON.stringify(recipe.model), JSON.stringify(recipe.upstreamModel ?? recipe.model)));
        calls = [];
        const health = await (await backend(env)).health();
        if (recipe.expect.healthPath === null) {
          assert.equal(calls.length, 0, "no probe");
          assert.equal(health.ok, true);
        } else {
          assert.equal(calls[0].url, `https://upstream.test${recipe.expect.healthPath}${recipe.expect.query ?? ""}`);
          assert.deepEqual(calls[0].headers, { accept: "application/json", ...recipe.expect.headers });
        }
      });
    }
  });

  describe("openai-compatible: health()", () => {
    test("GET <base>/models with the key: ok on 2xx and 429; any other 4xx (a 404 too), 3xx or 5xx is not ok, its status in detail", async () => {
      for (const [status, ok] of [[200, true], [404, false], [429, true], [499, false], [400, false], [301, false], [500, false], [503, false], [401, false], [403, false]]) {
        calls = [];
        const b = body(['{"data":[]}'], { end: "stall" });
        route = () => new Response(b.stream, { status, headers: { "content-type": "application/json" } });
        const value = await (await backend({ ...ENV, UPSTREAM_BASE_URL: `${BASE}/` })).health();
        assert.equal(value.ok, ok, `status ${status}`);
        assert.ok(value.detail.includes(String(status)), value.detail);
        assert.equal(calls[0].url, `${BASE}/models`);
        assert.equal(calls[0].method, "GET");
        assert.equal(calls[0].headers.authorization, `Bearer ${KEY}`);
        assert.equal(calls[0].headers.accept, "application/json");
        assert.equal(calls[0].redirect, "manual", "the key does not follow a redirect");
        assert.ok(calls[0].signal instanceof AbortSignal, "the probe is bounded in time");
        assert.ok(await eventually(() => b.state.cancelled), "the probe's body is not left open");
      }
    });

    test("a probe answered without a body is judged by its status", async () => {
      for (const [status, ok] of [[200, true], [204, true], [503, false]]) {
        route = () => new Response(null, { status });
        assert.equal((await (await backend(ENV)).health()).ok, ok, `status ${status}`);
      }
    });

    test("an unreachable upstream is not ok", async () => {
      route = () => {
        throw new TypeError("fetch failed");
      };
      assert.deepEqual(await (await backend(ENV)).health(), { ok: false, detail: "upstream unreachable" });
    });

    test("without a key the probe sends no Authorization", async () => {
      route = () => json(200, { data: [] });
      await (await backend({ PROVIDER: "openai-compatible", UPSTREAM_BASE_URL: BASE })).health();
      assert.ok(!("authorization" in calls[0].headers));
    });
  });
});
