// The backend template with the openai-compatible provider, as deployed, against a real HTTP
// upstream on 127.0.0.1: what it sends, what it passes back, streaming, limits and bad answers.
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { after, before, describe, test } from "node:test";
import { RECIPES, recipeEnv, templateHeaders, TRANSPORT_HEADERS } from "./fixtures/upstreams/recipes.mjs";
import { startRecordingUpstream } from "./fixtures/upstreams/recording-upstream.mjs";
import { bundleBackend, inferenceRequest, sseData, startBackends } from "./harness.mjs";

const API_KEY = "sk-upstream-test-key";
const STREAM_EVENTS = [
  { id: "up-s", object: "chat.completion.chunk", choices: [{ index: 0, delta: { role: "assistant", content: "" } }] },
  { id: "up-s", object: "chat.completion.chunk", choices: [{ index: 0, delta: { content: "from " } }] },
  { id: "up-s", object: "chat.completion.chunk", choices: [{ index: 0, delta: { content: "upstream" }, finish_reason: "stop" }] },
];

/** What the upstream received, in order (`raw` is the body text as it came). */
const received = [];
/** Per model of the slow, streaming and large answers: whether the backend closed the connection before the upstream finished. */
const upstreamClosedEarly = new Map();
/** requestId -> the attemptDeadline of that request, for an upstream that streams until it has passed. */
const streamUntil = new Map();

const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const chunkEvent = (content) => `data: ${JSON.stringify({ id: "up-s", object: "chat.completion.chunk", choices: [{ index: 0, delta: { content } }] })}\n\n`;

/** The upstream's behaviour is chosen by the model the request names. */
function upstreamHandler(request, response) {
  let raw = "";
  request.on("data", (chunk) => (raw += chunk));
  request.on("end", async () => {
    const body = raw ? JSON.parse(raw) : null;
    received.push({ method: request.method, url: request.url, headers: request.headers, body, raw });
    if (request.url === "/v1/models") {
      const authorized = request.headers.authorization === `Bearer ${API_KEY}`;
      response.writeHead(authorized ? 200 : 401, { "content-type": "application/json" });
      return response.end(JSON.stringify(authorized ? { object: "list", data: [] } : { error: { message: "bad key" } }));
    }
    if (await hardeningCase(body?.model, response)) return;
    switch (body?.model) {
      case "gpt-ok":
      case "upstream-name":
        response.writeHead(200, { "content-type": "application/json", "x-upstream-secret": "internal" });
        return response.end(JSON.stringify({ id: "up-1", object: "chat.completion", model: body.model, choices: [{ index: 0, message: { role: "assistant", content: "hi" }, finish_reason: "stop" }], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } }));
      case "gpt-stream":
        response.writeHead(200, { "content-type": "text/event-stream" });
        for (const event of STREAM_EVENTS) {
          response.write(`data: ${JSON.stringify(event)}\n\n`);
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
        return response.end("data: [DONE]\n\n");
      case "gpt-limited":
        response.writeHead(429, { "content-type": "application/json", "retry-after": "7", "retry-after-ms": "6500" });
        return response.end(JSON.stringify({ error: { message: "Rate limit reached", type: "rate_limit_error", param: null, code: "rate_limit_exceeded" } }));
      case "gpt-bad-request":
        response.writeHead(400, { "content-type": "application/json" });
        return response.end(JSON.stringify({ error: { message: "temperature too high", type: "invalid_request_error", param: "temperature", code: null } }));
      case "gpt-html":
        response.writeHead(200, { "content-type": "text/html" });
        return response.end("<html><body>Welcome to nginx</body></html>");
      case "gpt-overloaded-text":
        response.writeHead(503, { "content-type": "text/plain", "retry-after": "2" });
        return response.end("upstream overloaded");
      case "gpt-json-to-stream":
        response.writeHead(200, { "content-type": "application/json" });
        return response.end(JSON.stringify({ id: "up-2", object: "chat.completion", choices: [] }));
      case "gpt-slow": {
        // Answers 200 after 3 s, unless the backend gives up first and closes the connection.
        response.on("close", () => upstreamClosedEarly.set(body.model, !response.writableEnded));
        const timer = setTimeout(() => {
          response.writeHead(200, { "content-type": "application/json" });
          response.end("{}");
        }, 3000);
        response.on("close", () => clearTimeout(timer));
        return;
      }
      default:
        response.writeHead(404, { "content-type": "application/json" });
        return response.end(JSON.stringify({ error: { message: "unknown model", type: "invalid_request_error", param: "model", code: "model_not_found" } }));
    }
  });
}

/** The upstream's answers for the hardening cases (stop time, size bound, cut streams, keys); false if `model` is not one. */
async function hardeningCase(model, response) {
  const watch = () => response.on("close", () => upstreamClosedEarly.set(model, !response.writableEnded));
  switch (model) {
    case "gpt-slow-stream-headers": {
      watch();
      const timer = setTimeout(() => {
        response.writeHead(200, { "content-type": "text/event-stream" });
        response.end("data: [DONE]\n\n");
      }, 3000);
      response.on("close", () => clearTimeout(timer));
      return true;
    }
    case "gpt-slow-stream-body": {
      // Streams until the request's attempt deadline has passed, whenever the headers got there.
      const until = streamUntil.get(response.req.headers["x-request-id"]);
      response.writeHead(200, { "content-type": "text/event-stream" });
      for (let i = 0; Date.now() <= until + 100; i++) {
        response.write(chunkEvent(`word${i} `));
        await pause(50);
      }
      response.end("data: [DONE]\n\n");
      return true;
    }
    case "gpt-huge":
      response.writeHead(200, { "content-type": "application/json" });
      response.end(JSON.stringify({ id: "up-big", object: "chat.completion", padding: "x".repeat(4096), choices: [] }));
      return true;
    case "gpt-huge-chunked":
      watch();
      response.writeHead(200, { "content-type": "application/json" });
      response.write(`{"padding":"`);
      for (let i = 0; i < 40 && !response.destroyed; i++) {
        response.write("x".repeat(512));
        await pause(5);
      }
      response.end(`"}`);
      return true;
    case "gpt-huge-stream":
      watch();
      response.writeHead(200, { "content-type": "text/event-stream" });
      for (let i = 0; i < 40 && !response.destroyed; i++) {
        response.write(chunkEvent("y".repeat(200)));
        await pause(5);
      }
      response.end("data: [DONE]\n\n");
      return true;
    case "gpt-cut-stream":
      response.writeHead(200, { "content-type": "text/event-stream" });
      response.write(chunkEvent("half "));
      await pause(10);
      response.end(chunkEvent("an answer"));
      return true;
    case "gpt-cut-mid-event":
      response.writeHead(200, { "content-type": "text/event-stream" });
      response.write(chunkEvent("half "));
      await pause(10);
      response.end(`data: {"id":"up-s","obj`);
      return true;
    case "gpt-reset-stream":
      response.writeHead(200, { "content-type": "text/event-stream" });
      response.write(chunkEvent("half "));
      await pause(20);
      response.socket.destroy();
      return true;
    case "gpt-split-done":
      response.writeHead(200, { "content-type": "text/event-stream" });
      response.write(`${chunkEvent("all ")}${chunkEvent("there")}data: [DO`);
      await pause(20);
      response.end("NE]\n\n");
      return true;
    case "gpt-endless-stream":
      watch();
      response.writeHead(200, { "content-type": "text/event-stream" });
      for (let i = 0; i < 500 && !response.destroyed; i++) {
        response.write(chunkEvent(`word${i} `));
        await pause(10);
      }
      response.end("data: [DONE]\n\n");
      return true;
    case "gpt-401":
    case "gpt-403":
      response.writeHead(Number(model.slice(4)), { "content-type": "application/json" });
      response.end(JSON.stringify({ error: { message: `Incorrect API key provided: ${API_KEY}. You can find your API key at ...`, type: "invalid_request_error", param: null, code: "invalid_api_key" } }));
      return true;
    case "gpt-400-quoting-key":
      response.writeHead(400, { "content-type": "application/json" });
      response.end(JSON.stringify({ error: { message: `bad request from key ${API_KEY}`, type: "invalid_request_error", param: null, code: null } }));
      return true;
    default:
      return false;
  }
}

let upstream;
/** The fake upstream of the recipes and of findings 7-12 (tests/backend/fixtures/upstreams). */
let recording;
let closedPort;
let bundle;
let stack;

before(async () => {
  upstream = createServer(upstreamHandler);
  await new Promise((resolve) => upstream.listen(0, "127.0.0.1", resolve));
  // A port that was just free: nothing listens there any more.
  const probe = createServer();
  await new Promise((resolve) => probe.listen(0, "127.0.0.1", resolve));
  closedPort = probe.address().port;
  await new Promise((resolve) => probe.close(resolve));

  const base = `http://127.0.0.1:${upstream.address().port}/v1`;
  recording = await startRecordingUpstream(recordedAnswer);
  const recipes = Object.fromEntries(RECIPES.map((recipe, i) => [`RECIPE_${i}`, { bindings: recipeEnv(recipe, recording.origin) }]));
  bundle = await bundleBackend();
  stack = await startBackends(bundle.scriptPath, {
    UPSTREAM: { bindings: { PROVIDER: "openai-compatible", UPSTREAM_BASE_URL: `${base}/`, UPSTREAM_API_KEY: API_KEY, BACKEND_NAME: "up" } },
    MAPPED: { bindings: { PROVIDER: "openai-compatible", UPSTREAM_BASE_URL: base, UPSTREAM_API_KEY: API_KEY, MODEL_MAP: JSON.stringify({ "client-name": "upstream-name" }) } },
    WRONG_KEY: { bindings: { PROVIDER: "openai-compatible", UPSTREAM_BASE_URL: base, UPSTREAM_API_KEY: "sk-wrong" } },
    UNREACHABLE: { bindings: { PROVIDER: "openai-compatible", UPSTREAM_BASE_URL: `http://127.0.0.1:${closedPort}/v1` } },
    NO_URL: { bindings: { PROVIDER: "openai-compatible" } },
    SMALL: { bindings: { PROVIDER: "openai-compatible", UPSTREAM_BASE_URL: base, UPSTREAM_API_KEY: API_KEY, MAX_UPSTREAM_BYTES: "1024" } },
    BAD_LIMIT: { bindings: { PROVIDER: "openai-compatible", UPSTREAM_BASE_URL: base, MAX_UPSTREAM_BYTES: "lots" } },
    ...recipes,
    FINDINGS: { bindings: { PROVIDER: "openai-compatible", UPSTREAM_BASE_URL: `${recording.origin}/v1`, UPSTREAM_API_KEY: API_KEY } },
    LARGEST: { bindings: { PROVIDER: "openai-compatible", UPSTREAM_BASE_URL: `${recording.origin}/v1`, MAX_UPSTREAM_BYTES: String(14 * MiB) } },
    NO_V1: { bindings: { PROVIDER: "openai-compatible", UPSTREAM_BASE_URL: recording.origin } },
    TOO_LARGE_LIMIT: { bindings: { PROVIDER: "openai-compatible", UPSTREAM_BASE_URL: base, MAX_UPSTREAM_BYTES: String(32 * MiB) } },
  });
});

after(async () => {
  await recording?.close();
  await stack?.dispose();
  await bundle?.cleanup();
  upstream?.closeAllConnections();
  await new Promise((resolve) => (upstream ? upstream.close(resolve) : resolve()));
});

function chat(model, extra = {}) {
  const body = { model, messages: [{ role: "user", content: "hello" }], temperature: 0.2, ...extra };
  return inferenceRequest({ model, body, stream: extra.stream === true });
}

describe("openai-compatible: requests", () => {
  test("POSTs the client's body to <base>/chat/completions with the upstream key", async () => {
    received.length = 0;
    const req = chat("gpt-ok");
    const { status, headers, body } = await stack.call("UPSTREAM", "infer", req);
    assert.equal(status, 200);
    assert.equal(headers["content-type"], "application/json");
    assert.equal(headers["x-upstream-secret"], undefined, "only retry headers pass");
    assert.equal(body.id, "up-1");
    assert.equal(body.choices[0].message.content, "hi");

    assert.equal(received.length, 1);
    const sent = received[0];
    assert.equal(sent.method, "POST");
    assert.equal(sent.url, "/v1/chat/completions");
    assert.equal(sent.headers.authorization, `Bearer ${API_KEY}`);
    assert.equal(sent.headers["content-type"], "application/json");
    assert.equal(sent.headers["x-request-id"], req.requestId);
    assert.deepEqual(sent.body, req.body);
  });

  test("completions and embeddings go to their own paths", async () => {
    received.length = 0;
    await stack.call("UPSTREAM", "infer", inferenceRequest({ path: "/v1/completions", model: "gpt-ok", body: { model: "gpt-ok", prompt: "x" } }));
    await stack.call("UPSTREAM", "infer", inferenceRequest({ path: "/v1/embeddings", model: "gpt-ok", body: { model: "gpt-ok", input: "x" } }));
    assert.deepEqual(received.map((r) => r.url), ["/v1/completions", "/v1/embeddings"]);
  });

  test("MODEL_MAP renames the model for the upstream", async () => {
    received.length = 0;
    const { status, body } = await stack.call("MAPPED", "infer", chat("client-name"));
    assert.equal(status, 200);
    assert.equal(body.model, "upstream-name");
    assert.equal(received[0].body.model, "upstream-name");
    const described = await stack.call("MAPPED", "describe");
    assert.deepEqual(described.value.models, ["client-name"]);
    const unmapped = await stack.call("MAPPED", "infer", chat("gpt-ok"));
    assert.equal(unmapped.status, 404);
    assert.equal(unmapped.body.error.code, "model_not_found");
  });
});

describe("openai-compatible: answers", () => {
  test("a streaming answer is passed through byte for byte", async () => {
    const { status, headers, stream } = await stack.call("UPSTREAM", "infer", chat("gpt-stream", { stream: true }));
    assert.equal(status, 200);
    assert.match(headers["content-type"], /^text\/event-stream/);
    assert.equal(stream.error, null);
    assert.equal(stream.text, `${STREAM_EVENTS.map((e) => `data: ${JSON.stringify(e)}\n\n`).join("")}data: [DONE]\n\n`);
    assert.equal(received.at(-1).headers.accept, "text/event-stream");
    assert.equal(sseData(stream.text).at(-1), "[DONE]");
  });

  test("429 keeps its status, body, retry-after and retry-after-ms", async () => {
    const { status, headers, body } = await stack.call("UPSTREAM", "infer", chat("gpt-limited"));
    assert.equal(status, 429);
    assert.equal(headers["retry-after"], "7");
    assert.equal(headers["retry-after-ms"], "6500");
    assert.equal(body.error.code, "rate_limit_exceeded");
  });

  test("a 429 to a streaming request is a JSON answer, not a stream", async () => {
    const { status, headers, stream } = await stack.call("UPSTREAM", "infer", chat("gpt-limited", { stream: true }));
    assert.equal(status, 429);
    assert.equal(headers["retry-after"], "7");
    assert.equal(stream, null);
  });

  test("a 4xx JSON error passes as it is", async () => {
    const { status, body } = await stack.call("UPSTREAM", "infer", chat("gpt-bad-request"));
    assert.equal(status, 400);
    assert.deepEqual(body, { error: { message: "temperature too high", type: "invalid_request_error", param: "temperature", code: null } });
  });

  test("a 200 that is not JSON becomes a 502 saying so", async () => {
    const { status, body } = await stack.call("UPSTREAM", "infer", chat("gpt-html"));
    assert.equal(status, 502);
    assert.equal(body.error.code, "upstream_invalid_response");
    // The message names the content type (its wording is not the contract), never the body.
    assert.ok(body.error.message.includes("text/html"), body.error.message);
    assert.doesNotMatch(body.error.message, /nginx/);
  });

  test("a 503 with a text body keeps its status and retry-after", async () => {
    const { status, headers, body } = await stack.call("UPSTREAM", "infer", chat("gpt-overloaded-text"));
    assert.equal(status, 503);
    assert.equal(headers["retry-after"], "2");
    assert.equal(body.error.type, "upstream_error");
  });

  test("JSON answered to a streaming request is a 502", async () => {
    const { status, stream } = await stack.call("UPSTREAM", "infer", chat("gpt-json-to-stream", { stream: true }));
    assert.equal(status, 502);
    assert.equal(stream, null);
  });

  test("the deadline bounds the wait for the upstream: 504, and the upstream call is stopped", async () => {
    upstreamClosedEarly.delete("gpt-slow");
    const req = { ...chat("gpt-slow"), deadline: Date.now() + 300 };
    const { status, body } = await stack.call("UPSTREAM", "infer", req);
    // Had the backend waited, the upstream's 200 would have come back.
    assert.equal(status, 504);
    assert.equal(body.error.type, "timeout");
    assert.ok(await eventually(() => upstreamClosedEarly.get("gpt-slow") === true), "the upstream call was not stopped");
  });

  test("an unreachable upstream is a 502", async () => {
    const { status, body } = await stack.call("UNREACHABLE", "infer", chat("gpt-ok"));
    assert.equal(status, 502);
    assert.equal(body.error.code, "upstream_unreachable");
  });
});

describe("openai-compatible: health and configuration", () => {
  test("health() probes GET <base>/models with the key", async () => {
    received.length = 0;
    assert.equal((await stack.call("UPSTREAM", "health")).value.ok, true);
    assert.equal(received[0].method, "GET");
    assert.equal(received[0].headers.authorization, `Bearer ${API_KEY}`);
    assert.equal((await stack.call("WRONG_KEY", "health")).value.ok, false);
    assert.equal((await stack.call("UNREACHABLE", "health")).value.ok, false);
  });

  test("describe() of an openai-compatible backend", async () => {
    const { value } = await stack.call("UPSTREAM", "describe");
    assert.equal(value.name, "up");
    assert.deepEqual(value.models, ["*"]);
    assert.match(value.version, /\+openai-compatible$/);
  });

  test("a missing UPSTREAM_BASE_URL is a configuration error", async () => {
    const { thrown } = await stack.call("NO_URL", "describe");
    assert.match(thrown, /UPSTREAM_BASE_URL/);
    const answer = await stack.call("NO_URL", "infer", chat("gpt-ok"));
    assert.equal(answer.status, 500);
    assert.equal(answer.body.error.code, "backend_misconfigured");
  });
});

/** Polls `check` until it holds or `ms` pass (a bound for a loaded machine); answers whether it held. */
async function eventually(check, ms = 10_000) {
  for (const until = Date.now() + ms; Date.now() < until; await pause(20)) if (check()) return true;
  return check();
}

/** The SSE events of a relayed stream's text, the error event (if any) parsed. */
function lastEvent(text) {
  const events = text.split("\n\n").filter((event) => event !== "");
  const last = events.at(-1);
  return last === "data: [DONE]" ? last : JSON.parse(last.slice("data: ".length));
}

describe("openai-compatible: the body reaches the upstream exactly", () => {
  test("a body sent as JSON text is forwarded byte for byte (big integers unrounded)", async () => {
    received.length = 0;
    const text = `{ "model":"gpt-ok","seed": 12345678901234567890,\n "messages":[{"role":"user","content":"hi \\u00e9"}], "metadata":{"id":9007199254740993}}`;
    const { status } = await stack.call("UPSTREAM", "infer", inferenceRequest({ model: "gpt-ok", body: text }));
    assert.equal(status, 200);
    assert.equal(received[0].raw, text);
  });

  test("MODEL_MAP rewrites only the top-level model value in the text", async () => {
    received.length = 0;
    const text = `{"messages":[{"role":"user","content":"say \\"model\\": \\"client-name\\" {"}],"metadata":{"model":"client-name"},"mod\\u0065l" : "client-name","seed":12345678901234567890}`;
    const { status } = await stack.call("MAPPED", "infer", inferenceRequest({ model: "client-name", body: text }));
    assert.equal(status, 200);
    assert.equal(received[0].raw, text.replace(`"mod\\u0065l" : "client-name"`, `"mod\\u0065l" : "upstream-name"`));
  });

  test("a body text that is not a JSON object is a 400 naming body", async () => {
    for (const text of ["[1,2]", "{\"model\":", "null"]) {
      const { status, body } = await stack.call("UPSTREAM", "infer", inferenceRequest({ model: "gpt-ok", body: text }));
      assert.equal(status, 400, text);
      assert.equal(body.error.param, "body");
    }
  });
});

describe("openai-compatible: the attempt's stop time", () => {
  test("attemptDeadline bounds the wait for a JSON answer: 504, and the upstream call is stopped", async () => {
    upstreamClosedEarly.delete("gpt-slow");
    const req = { ...chat("gpt-slow"), attemptDeadline: Date.now() + 300 };
    const { status, body } = await stack.call("UPSTREAM", "infer", req);
    assert.equal(status, 504);
    assert.equal(body.error.type, "timeout");
    assert.ok(await eventually(() => upstreamClosedEarly.get("gpt-slow") === true), "the upstream call was not stopped");
  });

  test("attemptDeadline bounds the wait for a stream's headers: 504, and the upstream call is stopped", async () => {
    const req = { ...chat("gpt-slow-stream-headers", { stream: true }), attemptDeadline: Date.now() + 300 };
    const { status, stream } = await stack.call("UPSTREAM", "infer", req);
    assert.equal(status, 504);
    assert.equal(stream, null);
    assert.ok(await eventually(() => upstreamClosedEarly.get("gpt-slow-stream-headers") === true), "the upstream call was not stopped");
  });

  test("a stream that started is not cut at the stop time (the router times it)", async () => {
    // 1 s for the headers to arrive even on a loaded machine; the upstream streams past it anyway.
    const req = { ...chat("gpt-slow-stream-body", { stream: true }), requestId: "req-stream-past-stop", attemptDeadline: Date.now() + 1000 };
    streamUntil.set(req.requestId, req.attemptDeadline);
    const { status, stream } = await stack.call("UPSTREAM", "infer", req);
    assert.equal(status, 200);
    assert.equal(stream.error, null);
    const events = sseData(stream.text);
    assert.equal(events.at(-1), "[DONE]");
    assert.ok(events.length >= 3, "the stream went on after the stop time");
  });

  test("without attemptDeadline the deadline alone bounds the attempt", async () => {
    const req = { ...chat("gpt-ok"), attemptDeadline: undefined };
    assert.equal((await stack.call("UPSTREAM", "infer", req)).status, 200);
    const bad = await stack.call("UPSTREAM", "infer", { ...chat("gpt-ok"), attemptDeadline: "soon" });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.param, "attemptDeadline");
  });
});

describe("openai-compatible: size bound (MAX_UPSTREAM_BYTES)", () => {
  test("a JSON answer over the bound is a 502, by content-length or while reading", async () => {
    for (const model of ["gpt-huge", "gpt-huge-chunked"]) {
      const { status, body } = await stack.call("SMALL", "infer", chat(model));
      assert.equal(status, 502, model);
      assert.equal(body.error.code, "upstream_response_too_large");
    }
    assert.ok(await eventually(() => upstreamClosedEarly.get("gpt-huge-chunked") === true), "the rest of the answer was not read");
    assert.equal((await stack.call("SMALL", "infer", chat("gpt-ok"))).status, 200);
  });

  test("a stream over the bound ends with the SSE error event and stops the upstream", async () => {
    const { status, stream } = await stack.call("SMALL", "infer", chat("gpt-huge-stream", { stream: true }));
    assert.equal(status, 200);
    assert.equal(stream.error, null);
    const relayed = stream.text.slice(0, stream.text.lastIndexOf("data: "));
    assert.ok(relayed.trimEnd().length <= 1024, `relayed ${relayed.length} bytes of the upstream's`);
    assert.doesNotMatch(stream.text, /^data: \[DONE\]/m);
    assert.equal(lastEvent(stream.text).error.code, "upstream_response_too_large");
    assert.ok(await eventually(() => upstreamClosedEarly.get("gpt-huge-stream") === true), "the upstream stream was not cancelled");
  });

  test("a MAX_UPSTREAM_BYTES that is not a positive whole number is a configuration error", async () => {
    assert.match((await stack.call("BAD_LIMIT", "describe")).thrown, /MAX_UPSTREAM_BYTES/);
    assert.equal((await stack.call("BAD_LIMIT", "infer", chat("gpt-ok"))).body.error.code, "backend_misconfigured");
  });
});

describe("openai-compatible: streams cut short", () => {
  const interrupted = { message: "", type: "upstream_error", param: null, code: "stream_interrupted" };

  test("a stream that ends without data: [DONE] ends with the SSE error event", async () => {
    const { status, stream } = await stack.call("UPSTREAM", "infer", chat("gpt-cut-stream", { stream: true }));
    assert.equal(status, 200);
    assert.equal(stream.error, null);
    const relayed = chunkEvent("half ") + chunkEvent("an answer");
    assert.ok(stream.text.startsWith(relayed), "the upstream's bytes are relayed unchanged");
    const error = lastEvent(stream.text).error;
    assert.deepEqual({ ...error, message: "" }, interrupted);
    assert.doesNotMatch(stream.text, /^data: \[DONE\]/m);
  });

  test("an upstream that stops mid-event: the error event is an event of its own", async () => {
    const { stream } = await stack.call("UPSTREAM", "infer", chat("gpt-cut-mid-event", { stream: true }));
    // Events end with a blank line: the cut event is ended, then the error event follows it.
    const events = stream.text.split("\n\n");
    assert.equal(events.pop(), "");
    assert.equal(events.at(-2), `data: {"id":"up-s","obj`);
    assert.equal(lastEvent(stream.text).error.code, "stream_interrupted");
  });

  test("an upstream connection that breaks mid-stream ends with the SSE error event", async () => {
    const { status, stream } = await stack.call("UPSTREAM", "infer", chat("gpt-reset-stream", { stream: true }));
    assert.equal(status, 200);
    assert.equal(stream.error, null);
    assert.ok(stream.text.startsWith(chunkEvent("half ")));
    assert.equal(lastEvent(stream.text).error.code, "stream_interrupted");
  });

  test("data: [DONE] split across chunks is a clean end, relayed byte for byte", async () => {
    const { stream } = await stack.call("UPSTREAM", "infer", chat("gpt-split-done", { stream: true }));
    assert.equal(stream.error, null);
    assert.equal(stream.text, `${chunkEvent("all ")}${chunkEvent("there")}data: [DONE]\n\n`);
  });

  test("cancelling the relayed stream cancels the upstream", async () => {
    const { status, first } = await stack.call("UPSTREAM", "infer-cancel", chat("gpt-endless-stream", { stream: true }));
    assert.equal(status, 200);
    assert.match(first, /word0/);
    assert.ok(await eventually(() => upstreamClosedEarly.get("gpt-endless-stream") === true), "the upstream kept streaming");
  });
});

describe("openai-compatible: the upstream's key stays here", () => {
  test("upstream 401 and 403 keep their status with this backend's own message", async () => {
    for (const [model, wanted] of [["gpt-401", 401], ["gpt-403", 403]]) {
      for (const stream of [false, true]) {
        const answer = await stack.call("UPSTREAM", "infer", chat(model, { stream }));
        assert.equal(answer.status, wanted);
        assert.equal(answer.stream, null);
        assert.deepEqual(answer.body, { error: { message: "The upstream rejected this backend's credentials", type: "upstream_auth_error", param: null, code: "upstream_auth_failed" } });
      }
    }
  });

  test("the key is never in an answer or a log line", async () => {
    const answers = [];
    for (const model of ["gpt-401", "gpt-403", "gpt-400-quoting-key", "gpt-html", "gpt-ok"]) answers.push(await stack.call("UPSTREAM", "infer", chat(model)));
    assert.equal(answers[2].status, 400);
    assert.match(answers[2].body.error.message, /bad request from key \[redacted\]/);
    assert.ok(stack.logs.some((line) => line.message.includes("upstream_auth_failed")), "the auth failure is logged");
    for (const text of [...answers.map((a) => JSON.stringify(a)), ...stack.logs.map((line) => line.message)]) {
      assert.doesNotMatch(text, new RegExp(API_KEY), text);
      assert.doesNotMatch(text, /Incorrect API key/);
    }
  });
});

const MiB = 1024 * 1024;
const RATE_HINTS = { "x-ratelimit-limit-requests": "500", "x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "1m30s", "x-ratelimit-limit-tokens": "30000", "x-ratelimit-remaining-tokens": "0", "x-ratelimit-reset-tokens": "2.5s", "x-should-retry": "true" };

/** A JSON answer of `size` bytes, written in chunks of 1 MiB; `extra` ends the padding (e.g. a character beyond Latin-1). */
function paddedJson(size, extra = "") {
  return async (response) => {
    response.writeHead(200, { "content-type": "application/json" });
    const head = `{"id":"big","object":"chat.completion","choices":[],"padding":"`;
    const tail = `${extra}"}`;
    let left = size - Buffer.byteLength(head) - Buffer.byteLength(tail);
    response.write(head);
    while (left > 0 && !response.destroyed) {
      const n = Math.min(MiB, left);
      if (!response.write("x".repeat(n))) await new Promise((resolve) => response.once("drain", resolve).once("close", resolve));
      left -= n;
    }
    response.end(tail);
  };
}

/** What the recording upstream answers: by the model named in the body, or to the probe. */
function recordedAnswer({ method, url, raw }) {
  if (method === "GET") return url.split("?")[0] === "/models" ? { status: 404, body: { detail: "Not Found" } } : { body: { object: "list", data: [] } };
  const model = JSON.parse(raw).model;
  switch (model) {
    case "finding-401":
      return { status: 401, body: { error: { message: "Incorrect API key provided: sk-proj-****abcd. You can find your API key at https://platform.openai.com/account/api-keys.", type: "invalid_request_error", param: null, code: "invalid_api_key" } } };
    case "finding-400-masked":
      return { status: 400, body: { error: { message: "Invalid request for key sk-proj-****abcd", type: "invalid_request_error", param: null, code: null } } };
    case "finding-gemini":
      return { status: 400, body: [{ error: { code: 400, message: "* GenerateContentRequest.contents: contents is not specified", status: "INVALID_ARGUMENT" } }] };
    case "finding-vllm":
      return { status: 400, body: { object: "error", message: "This model's maximum context length is 4096 tokens. However, you requested 5000 tokens.", type: "BadRequestError", param: null, code: 400 } };
    case "finding-text":
      return { status: 500, body: "Internal Server Error" };
    case "finding-429":
      return { status: 429, headers: RATE_HINTS, body: { error: { message: "Rate limit reached for requests", type: "requests", param: null, code: "rate_limit_exceeded" } } };
    case "finding-20mb":
      return { body: paddedJson(20 * 1000 * 1000) };
    case "finding-40mb":
      return { body: paddedJson(40 * 1000 * 1000) };
    case "finding-14mib-utf16":
      // At the largest bound, with a character that makes the whole string UTF-16 when serialised.
      return { body: paddedJson(14 * MiB, "\u2603") };
    default:
      return { headers: { "x-ratelimit-remaining-requests": "499", "x-ratelimit-reset-requests": "120ms", "x-should-retry": "false", "x-upstream-secret": "internal" }, body: { id: "rec-1", object: "chat.completion", model, choices: [{ index: 0, message: { role: "assistant", content: "ok" }, finish_reason: "stop" }] } };
  }
}

/** The request headers the template chose (the runtime's own transport headers left out). */
function chosenHeaders(headers) {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !TRANSPORT_HEADERS.includes(name)));
}

describe("openai-compatible: the recipes of docs/backend-template.md, as deployed", () => {
  RECIPES.forEach((recipe, i) => {
    test(`${recipe.name}: the exact URL, headers and body the upstream receives; the probe`, async () => {
      recording.received.length = 0;
      const text = `{"model":${JSON.stringify(recipe.model)},"messages":[{"role":"user","content":"hi"}],"seed":12345678901234567890}`;
      const req = inferenceRequest({ requestId: `req-recipe-${i}`, model: recipe.model, body: text });
      const answer = await stack.call(`RECIPE_${i}`, "infer", req);
      assert.equal(answer.status, 200, JSON.stringify(answer));
      const [sent] = recording.received;
      assert.equal(sent.method, "POST");
      assert.equal(sent.url, `${recipe.expect.path}${recipe.expect.query ?? ""}`);
      assert.deepEqual(chosenHeaders(sent.headers), { ...templateHeaders(req.requestId), ...recipe.expect.headers });
      assert.equal(sent.raw, text.replace(JSON.stringify(recipe.model), JSON.stringify(recipe.upstreamModel ?? recipe.model)));

      recording.received.length = 0;
      const { value } = await stack.call(`RECIPE_${i}`, "health");
      assert.equal(value.ok, true, value.detail);
      if (recipe.expect.healthPath === null) {
        assert.equal(recording.received.length, 0, "no probe");
      } else {
        assert.equal(recording.received[0].url, `${recipe.expect.healthPath}${recipe.expect.query ?? ""}`);
        assert.deepEqual(chosenHeaders(recording.received[0].headers), { accept: "application/json", ...recipe.expect.headers });
      }
    });
  });
});

describe("openai-compatible: findings 7-12, as deployed", () => {
  const chatTo = (model) => inferenceRequest({ model, body: { model, messages: [{ role: "user", content: "hi" }] } });

  test("7: OpenAI's 401 with a masked key, and a 400 quoting one, never reach the router word for word", async () => {
    const auth = await stack.call("FINDINGS", "infer", chatTo("finding-401"));
    assert.equal(auth.status, 401);
    assert.deepEqual(auth.body, { error: { message: "The upstream rejected this backend's credentials", type: "upstream_auth_error", param: null, code: "upstream_auth_failed" } });
    const bad = await stack.call("FINDINGS", "infer", chatTo("finding-400-masked"));
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.message, "Invalid request for key [redacted]");
    for (const text of [JSON.stringify(auth), JSON.stringify(bad), ...stack.logs.map((l) => l.message)]) assert.doesNotMatch(text, /\*\*\*\*abcd|Incorrect API key/);
  });

  test("8: a 20 MB answer is a 502 naming the 8 MiB bound; 40 MB is a 502 too, never an RPC failure", async () => {
    for (const [binding, model, bound] of [["FINDINGS", "finding-20mb", 8 * MiB], ["LARGEST", "finding-40mb", 14 * MiB]]) {
      const answer = await stack.call(binding, "infer", chatTo(model));
      assert.equal(answer.thrown, undefined, "the RPC did not throw");
      assert.equal(answer.status, 502, model);
      assert.equal(answer.body.error.code, "upstream_response_too_large");
      assert.match(answer.body.error.message, new RegExp(`${bound}.*MAX_UPSTREAM_BYTES`));
    }
  });

  test("8: an answer at the largest bound crosses RPC, even when its serialised strings double in size", async () => {
    const answer = await stack.call("LARGEST", "infer", chatTo("finding-14mib-utf16"));
    assert.equal(answer.thrown, undefined);
    assert.equal(answer.status, 200);
    assert.ok(answer.body.padding.endsWith("\u2603"));
  });

  test("8: a MAX_UPSTREAM_BYTES above what RPC carries is a configuration error", async () => {
    assert.match((await stack.call("TOO_LARGE_LIMIT", "describe")).thrown, /MAX_UPSTREAM_BYTES.*RPC/);
  });

  test("10: a base without /v1 whose /models is a 404 is reported not ok, naming the status and UPSTREAM_BASE_URL", async () => {
    const { value } = await stack.call("NO_V1", "health");
    assert.equal(value.ok, false);
    assert.match(value.detail, /404.*UPSTREAM_BASE_URL/);
  });

  test("11: x-ratelimit-* and x-should-retry pass; a 429 without retry-after gets retry-after-ms from the later exhausted reset", async () => {
    const ok = await stack.call("FINDINGS", "infer", chatTo("gpt-ok"));
    assert.equal(ok.status, 200);
    assert.equal(ok.headers["x-ratelimit-remaining-requests"], "499");
    assert.equal(ok.headers["x-should-retry"], "false");
    assert.equal(ok.headers["x-upstream-secret"], undefined);
    const limited = await stack.call("FINDINGS", "infer", chatTo("finding-429"));
    assert.equal(limited.status, 429);
    for (const [name, value] of Object.entries(RATE_HINTS)) assert.equal(limited.headers[name], value, name);
    assert.equal(limited.headers["retry-after-ms"], "90000");
    assert.equal(limited.body.error.code, "rate_limit_exceeded");
  });

  test("12: Gemini's array, vLLM's flat object and plain text reach the router OpenAI-shaped", async () => {
    const gemini = await stack.call("FINDINGS", "infer", chatTo("finding-gemini"));
    assert.equal(gemini.status, 400);
    assert.deepEqual(Object.keys(gemini.body), ["error"]);
    assert.match(gemini.body.error.message, /contents is not specified/);
    const vllm = await stack.call("FINDINGS", "infer", chatTo("finding-vllm"));
    assert.equal(vllm.status, 400);
    assert.equal(vllm.body.error.code, "context_length_exceeded");
    const text = await stack.call("FINDINGS", "infer", chatTo("finding-text"));
    assert.equal(text.status, 500);
    assert.deepEqual(Object.keys(text.body.error).sort(), ["code", "message", "param", "type"]);
  });
});
