// The backend template with the openai-compatible provider, as deployed, against a real HTTP
// upstream on 127.0.0.1: what it sends, what it passes back, streaming, limits and bad answers.
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { after, before, describe, test } from "node:test";
import { bundleBackend, inferenceRequest, sseData, startBackends } from "./harness.mjs";

const API_KEY = "sk-upstream-test-key";
const STREAM_EVENTS = [
  { id: "up-s", object: "chat.completion.chunk", choices: [{ index: 0, delta: { role: "assistant", content: "" } }] },
  { id: "up-s", object: "chat.completion.chunk", choices: [{ index: 0, delta: { content: "from " } }] },
  { id: "up-s", object: "chat.completion.chunk", choices: [{ index: 0, delta: { content: "upstream" }, finish_reason: "stop" }] },
];

/** What the upstream received, in order. */
const received = [];

/** The upstream's behaviour is chosen by the model the request names. */
function upstreamHandler(request, response) {
  let raw = "";
  request.on("data", (chunk) => (raw += chunk));
  request.on("end", async () => {
    const body = raw ? JSON.parse(raw) : null;
    received.push({ method: request.method, url: request.url, headers: request.headers, body });
    if (request.url === "/v1/models") {
      const authorized = request.headers.authorization === `Bearer ${API_KEY}`;
      response.writeHead(authorized ? 200 : 401, { "content-type": "application/json" });
      return response.end(JSON.stringify(authorized ? { object: "list", data: [] } : { error: { message: "bad key" } }));
    }
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
        const timer = setTimeout(() => {
          response.writeHead(200, { "content-type": "application/json" });
          response.end("{}");
        }, 3000);
        // The backend gives up first and closes the connection.
        response.on("close", () => clearTimeout(timer));
        return;
      }
      default:
        response.writeHead(404, { "content-type": "application/json" });
        return response.end(JSON.stringify({ error: { message: "unknown model", type: "invalid_request_error", param: "model", code: "model_not_found" } }));
    }
  });
}

let upstream;
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
  bundle = await bundleBackend();
  stack = await startBackends(bundle.scriptPath, {
    UPSTREAM: { bindings: { PROVIDER: "openai-compatible", UPSTREAM_BASE_URL: `${base}/`, UPSTREAM_API_KEY: API_KEY, BACKEND_NAME: "up" } },
    MAPPED: { bindings: { PROVIDER: "openai-compatible", UPSTREAM_BASE_URL: base, UPSTREAM_API_KEY: API_KEY, MODEL_MAP: JSON.stringify({ "client-name": "upstream-name" }) } },
    WRONG_KEY: { bindings: { PROVIDER: "openai-compatible", UPSTREAM_BASE_URL: base, UPSTREAM_API_KEY: "sk-wrong" } },
    UNREACHABLE: { bindings: { PROVIDER: "openai-compatible", UPSTREAM_BASE_URL: `http://127.0.0.1:${closedPort}/v1` } },
    NO_URL: { bindings: { PROVIDER: "openai-compatible" } },
  });
});

after(async () => {
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
    assert.match(body.error.message, /not JSON \(text\/html\)/);
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

  test("the deadline bounds the wait for the upstream: 504", async () => {
    const req = { ...chat("gpt-slow"), deadline: Date.now() + 300 };
    const { status, body, elapsedMs } = await stack.call("UPSTREAM", "infer", req);
    assert.equal(status, 504);
    assert.equal(body.error.type, "timeout");
    assert.ok(elapsedMs < 2900, `gave up after ${elapsedMs} ms`);
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
    assert.deepEqual((await stack.call("UPSTREAM", "health")).value, { ok: true, detail: "upstream GET /models answered 200" });
    assert.equal(received[0].method, "GET");
    assert.equal(received[0].headers.authorization, `Bearer ${API_KEY}`);
    assert.equal((await stack.call("WRONG_KEY", "health")).value.ok, false);
    assert.deepEqual((await stack.call("UNREACHABLE", "health")).value, { ok: false, detail: "upstream unreachable" });
  });

  test("describe() of an openai-compatible backend", async () => {
    const { value } = await stack.call("UPSTREAM", "describe");
    assert.equal(value.name, "up");
    assert.deepEqual(value.models, ["*"]);
    assert.match(value.version, /\+openai-compatible$/);
  });

  test("a missing UPSTREAM_BASE_URL is a configuration error", async () => {
    const { thrown } = await stack.call("NO_URL", "describe");
    assert.match(thrown, /UPSTREAM_BASE_URL is required/);
    const answer = await stack.call("NO_URL", "infer", chat("gpt-ok"));
    assert.equal(answer.status, 500);
    assert.equal(answer.body.error.code, "backend_misconfigured");
  });
});
