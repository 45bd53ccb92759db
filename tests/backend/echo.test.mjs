// The backend template with the echo provider, as deployed, called over RPC: answer shapes,
// streaming, describe(), health(), model filtering, bad requests and the closed fetch handler.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { bundleBackend, inferenceRequest, sseData, startBackends } from "./harness.mjs";

/**
 * The contract's properties of a usage object: integer counts >= 0, total = prompt + completion.
 * The echo model's own token counts (words) are not the contract: they are not checked.
 */
function assertUsage(usage) {
  for (const key of ["prompt_tokens", "completion_tokens", "total_tokens"]) assert.ok(Number.isInteger(usage[key]) && usage[key] >= 0, `${key}: ${JSON.stringify(usage)}`);
  assert.equal(usage.total_tokens, usage.prompt_tokens + usage.completion_tokens);
}

let bundle;
let stack;

before(async () => {
  bundle = await bundleBackend();
  stack = await startBackends(bundle.scriptPath, {
    ECHO: {},
    NAMED: { bindings: { BACKEND_NAME: "echo-a", MODELS: "gpt-test, small-model", WEIGHT: "3" } },
    SLOW: { bindings: { ECHO_LATENCY_MS: "60" } },
    BROKEN: { bindings: { PROVIDER: "bogus", WEIGHT: "-2" } },
  });
});

after(async () => {
  await stack?.dispose();
  await bundle?.cleanup();
});

describe("echo non-streaming answers", () => {
  test("chat completion echoes the last user message with usage", async () => {
    const req = inferenceRequest({
      body: {
        model: "any-model",
        messages: [
          { role: "system", content: "be brief" },
          { role: "user", content: "first question" },
          { role: "assistant", content: "an answer" },
          { role: "user", content: [{ type: "text", text: "what is two plus two" }] },
        ],
      },
    });
    const { status, headers, body, stream } = await stack.call("ECHO", "infer", req);
    assert.equal(status, 200);
    assert.equal(headers["content-type"], "application/json");
    assert.equal(stream, null);
    assert.equal(body.object, "chat.completion");
    assert.equal(body.model, "any-model");
    assert.match(body.id, /^chatcmpl-[0-9a-f]+$/);
    assert.equal(typeof body.created, "number");
    assert.deepEqual(body.choices, [
      { index: 0, message: { role: "assistant", content: "what is two plus two" }, logprobs: null, finish_reason: "stop" },
    ]);
    assertUsage(body.usage);
    assert.ok(body.usage.prompt_tokens > 0 && body.usage.completion_tokens > 0, "text in and out counts tokens");
  });

  test("a body sent as JSON text is read like the object", async () => {
    const text = JSON.stringify({ model: "any-model", seed: 1, messages: [{ role: "user", content: "from text" }] }).replace("1", "12345678901234567890");
    const { status, body } = await stack.call("ECHO", "infer", inferenceRequest({ body: text }));
    assert.equal(status, 200);
    assert.equal(body.choices[0].message.content, "from text");
  });

  test("the id is derived from the requestId: same id for the same request, another for another", async () => {
    const a1 = await stack.call("ECHO", "infer", inferenceRequest({ requestId: "req-a" }));
    const a2 = await stack.call("ECHO", "infer", inferenceRequest({ requestId: "req-a", attempt: 2 }));
    const b = await stack.call("ECHO", "infer", inferenceRequest({ requestId: "req-b" }));
    assert.equal(a1.body.id, a2.body.id);
    assert.notEqual(a1.body.id, b.body.id);
    assert.deepEqual(a1.body.choices, b.body.choices);
  });

  test("max_tokens truncates the echo and finishes with length", async () => {
    const req = inferenceRequest({ body: { model: "m", max_tokens: 2, messages: [{ role: "user", content: "one two three four" }] } });
    const { body } = await stack.call("ECHO", "infer", req);
    const content = body.choices[0].message.content;
    assert.ok(content.length > 0 && content.length < "one two three four".length && "one two three four".startsWith(content), JSON.stringify(content));
    assert.equal(body.choices[0].finish_reason, "length");
    assertUsage(body.usage);
    assert.ok(body.usage.completion_tokens <= 2, "max_tokens bounds the completion tokens");
  });

  test("completions echo each prompt as a text_completion choice", async () => {
    const req = inferenceRequest({ path: "/v1/completions", body: { model: "m", prompt: ["say this", "and that too"] } });
    const { status, body } = await stack.call("ECHO", "infer", req);
    assert.equal(status, 200);
    assert.equal(body.object, "text_completion");
    assert.match(body.id, /^cmpl-[0-9a-f]+$/);
    assert.deepEqual(
      body.choices.map((c) => [c.index, c.text, c.finish_reason]),
      [
        [0, "say this", "stop"],
        [1, "and that too", "stop"],
      ],
    );
    assertUsage(body.usage);
  });

  test("embeddings: one deterministic unit vector of 8 floats per input", async () => {
    const req = inferenceRequest({ path: "/v1/embeddings", body: { model: "e", input: ["alpha", "beta", "alpha"] } });
    const { status, body } = await stack.call("ECHO", "infer", req);
    assert.equal(status, 200);
    assert.equal(body.object, "list");
    assert.equal(body.model, "any-model");
    assert.equal(body.data.length, 3);
    body.data.forEach((item, index) => {
      assert.equal(item.object, "embedding");
      assert.equal(item.index, index);
      assert.equal(item.embedding.length, 8);
      assert.ok(Math.abs(Math.hypot(...item.embedding) - 1) < 1e-5);
    });
    assert.deepEqual(body.data[0].embedding, body.data[2].embedding);
    assert.notDeepEqual(body.data[0].embedding, body.data[1].embedding);
    assert.ok(Number.isInteger(body.usage.prompt_tokens) && body.usage.prompt_tokens > 0, JSON.stringify(body.usage));
    assert.equal(body.usage.total_tokens, body.usage.prompt_tokens, "embeddings have no completion tokens");

    const again = await stack.call("ECHO", "infer", inferenceRequest({ requestId: "other", path: "/v1/embeddings", body: { model: "e", input: "alpha" } }));
    assert.deepEqual(again.body.data[0].embedding, body.data[0].embedding);
  });

  test("embeddings honour dimensions and the base64 encoding OpenAI's client asks for", async () => {
    const floats = await stack.call("ECHO", "infer", inferenceRequest({ path: "/v1/embeddings", body: { model: "e", input: "gamma", dimensions: 20 } }));
    assert.equal(floats.body.data[0].embedding.length, 20);
    const encoded = await stack.call("ECHO", "infer", inferenceRequest({ path: "/v1/embeddings", body: { model: "e", input: "gamma", dimensions: 20, encoding_format: "base64" } }));
    const bytes = Buffer.from(encoded.body.data[0].embedding, "base64");
    const decoded = Array.from({ length: bytes.length / 4 }, (_, i) => bytes.readFloatLE(i * 4));
    assert.deepEqual(decoded, floats.body.data[0].embedding);
  });
});

describe("echo streaming", () => {
  test("chat stream: role chunk, word chunks, stop chunk, then [DONE]", async () => {
    const req = inferenceRequest({ stream: true, body: { model: "any-model", stream: true, messages: [{ role: "user", content: "stream these words" }] } });
    const { status, headers, body, stream } = await stack.call("ECHO", "infer", req);
    assert.equal(status, 200);
    assert.match(headers["content-type"], /^text\/event-stream/);
    assert.equal(body, null);
    assert.equal(stream.error, null);
    assert.ok(stream.text.endsWith("data: [DONE]\n\n"));
    const events = sseData(stream.text);
    assert.equal(events.at(-1), "[DONE]");
    const chunks = events.slice(0, -1);
    assert.ok(chunks.every((c) => c.object === "chat.completion.chunk" && c.model === "any-model" && c.id === chunks[0].id));
    assert.deepEqual(chunks[0].choices[0].delta, { role: "assistant", content: "" });
    const content = chunks.slice(1, -1).map((c) => c.choices[0].delta.content);
    assert.ok(content.length >= 2, "the answer comes in several content chunks");
    assert.equal(content.join(""), "stream these words");
    assert.deepEqual(chunks.at(-1).choices[0], { index: 0, delta: {}, logprobs: null, finish_reason: "stop" });
    assert.ok(stream.chunks >= 2, "the stream arrives in several pieces");
  });

  test("stream_options.include_usage adds a usage chunk before [DONE]: the usage the same request gets without streaming", async () => {
    const body = { model: "m", stream: true, stream_options: { include_usage: true }, messages: [{ role: "user", content: "a b" }] };
    const events = sseData((await stack.call("ECHO", "infer", inferenceRequest({ stream: true, body }))).stream.text);
    const usageChunk = events.at(-2);
    assert.deepEqual(usageChunk.choices, []);
    assertUsage(usageChunk.usage);
    const plain = await stack.call("ECHO", "infer", inferenceRequest({ body: { ...body, stream: false } }));
    assert.deepEqual(usageChunk.usage, plain.body.usage);
  });

  test("completions stream text_completion chunks ending with [DONE]", async () => {
    const req = inferenceRequest({ path: "/v1/completions", stream: true, body: { model: "m", stream: true, prompt: "x y" } });
    const events = sseData((await stack.call("ECHO", "infer", req)).stream.text);
    assert.equal(events.at(-1), "[DONE]");
    const chunks = events.slice(0, -1);
    assert.ok(chunks.every((c) => c.object === "text_completion"));
    assert.equal(chunks.map((c) => c.choices[0].text).join(""), "x y");
    assert.equal(chunks.at(-1).choices[0].finish_reason, "stop");
  });

  test("ECHO_LATENCY_MS delays the answer and each word", async () => {
    const req = inferenceRequest({ stream: true, body: { model: "m", stream: true, messages: [{ role: "user", content: "one two three" }] } });
    const { stream, elapsedMs } = await stack.call("SLOW", "infer", req);
    assert.equal(sseData(stream.text).at(-1), "[DONE]");
    // 60 ms before answering + 60 ms before each of 3 words; only a lower bound (busy machines are slow).
    assert.ok(elapsedMs >= 200, `took ${elapsedMs} ms`);
  });

  test("a passed deadline answers 504 instead of waiting", async () => {
    const { status, body } = await stack.call("SLOW", "infer", inferenceRequest({ deadline: Date.now() - 1 }));
    assert.equal(status, 504);
    assert.equal(body.error.type, "timeout");
  });

  test("a passed attemptDeadline answers 504 too, even with time left before the deadline", async () => {
    const { status, body } = await stack.call("SLOW", "infer", inferenceRequest({ attemptDeadline: Date.now() - 1 }));
    assert.equal(status, 504);
    assert.equal(body.error.type, "timeout");
  });
});

describe("describe, health and model filtering", () => {
  test("describe() defaults: name backend, any model, no weight", async () => {
    const { value } = await stack.call("ECHO", "describe");
    assert.equal(value.name, "backend");
    assert.deepEqual(value.models, ["*"]);
    assert.equal(value.weight, undefined);
    assert.match(value.version, /\+echo$/);
  });

  test("describe() reports BACKEND_NAME, MODELS and WEIGHT", async () => {
    const { value } = await stack.call("NAMED", "describe");
    assert.equal(value.name, "echo-a");
    assert.deepEqual(value.models, ["gpt-test", "small-model"]);
    assert.equal(value.weight, 3);
  });

  test("health() is ok for echo", async () => {
    const { value } = await stack.call("ECHO", "health");
    assert.equal(value.ok, true);
  });

  test("a model not in MODELS answers 404 model_not_found", async () => {
    const served = await stack.call("NAMED", "infer", inferenceRequest({ model: "small-model" }));
    assert.equal(served.status, 200);
    const { status, body } = await stack.call("NAMED", "infer", inferenceRequest({ model: "gpt-other" }));
    assert.equal(status, 404);
    assert.equal(body.error.code, "model_not_found");
    assert.equal(body.error.type, "invalid_request_error");
    assert.equal(body.error.param, "model");
  });

  test("bad configuration is loud: describe() throws, health() is not ok, infer() answers 500", async () => {
    const described = await stack.call("BROKEN", "describe");
    // The reason names each bad var; its wording is not the contract.
    assert.match(described.thrown, /PROVIDER/);
    assert.match(described.thrown, /WEIGHT/);
    const { value } = await stack.call("BROKEN", "health");
    assert.equal(value.ok, false);
    assert.match(value.detail, /PROVIDER/);
    const answer = await stack.call("BROKEN", "infer", inferenceRequest());
    assert.equal(answer.status, 500);
    assert.equal(answer.body.error.code, "backend_misconfigured");
  });
});

describe("bad input and the closed front door", () => {
  const cases = [
    ["not an object", null, null],
    ["missing requestId", { ...inferenceRequest(), requestId: undefined }, "requestId"],
    ["unknown path", inferenceRequest({ path: "/v1/images" }), "path"],
    ["empty model", inferenceRequest({ model: "" }), "model"],
    ["stream not boolean", inferenceRequest({ stream: "yes" }), "stream"],
    ["body not an object", inferenceRequest({ body: [1, 2] }), "body"],
    ["body text not a JSON object", inferenceRequest({ body: "[1, 2]" }), "body"],
    ["body text not JSON", inferenceRequest({ body: "{\"model\": " }), "body"],
    ["attemptDeadline not a number", inferenceRequest({ attemptDeadline: "soon" }), "attemptDeadline"],
    ["deadline missing", { ...inferenceRequest(), deadline: undefined }, "deadline"],
    ["attempt zero", inferenceRequest({ attempt: 0 }), "attempt"],
  ];
  for (const [name, req, param] of cases) {
    test(`malformed request (${name}) answers 400, not a throw`, async () => {
      const answer = await stack.call("ECHO", "infer", req);
      assert.equal(answer.thrown, undefined);
      assert.equal(answer.status, 400);
      assert.equal(answer.body.error.type, "invalid_request_error");
      assert.equal(answer.body.error.param, param);
    });
  }

  test("a body the echo model cannot use answers 400 naming the field", async () => {
    const noMessages = await stack.call("ECHO", "infer", inferenceRequest({ body: { model: "m" } }));
    assert.equal(noMessages.status, 400);
    assert.equal(noMessages.body.error.param, "messages");
    const badInput = await stack.call("ECHO", "infer", inferenceRequest({ path: "/v1/embeddings", body: { model: "m", input: [{}] } }));
    assert.equal(badInput.status, 400);
    assert.equal(badInput.body.error.param, "input");
  });

  test("fetch() answers a bare 404 that reveals nothing", async () => {
    for (const [method, path] of [["GET", "/"], ["POST", "/v1/chat/completions"], ["GET", "/describe"]]) {
      const answer = await stack.call("NAMED", "fetch", { method, path });
      assert.equal(answer.status, 404);
      assert.deepEqual(JSON.parse(answer.text), { error: { message: "Not found", type: "invalid_request_error", param: null, code: "not_found" } });
      assert.doesNotMatch(answer.text, /echo|gpt-test|backend/i);
    }
  });
});
