// The backend template with the workers-ai provider, as deployed: OpenAI requests become
// env.AI.run() inputs and Workers AI's answers (JSON and SSE) become OpenAI's shapes. Offline there
// is no AI binding, so a Worker replaying Workers AI's answer shapes is bound as AI.
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { ERRORS } from "./fixtures/workers-ai/shapes.mjs";
import { bundleBackend, COMPATIBILITY_DATE, inferenceRequest, sseData, startBackends } from "./harness.mjs";

const REPLAY_SCRIPT = join(import.meta.dirname, "workers/workers-ai-replay.js");
const MODEL_MAP = {
  llama: "@cf/meta/llama-3.1-8b-instruct",
  hermes: "@hf/nousresearch/hermes-2-pro-mistral-7b",
  "llama-json": "@cf/meta/llama-3.1-8b-instruct-json",
  bge: "@cf/baai/bge-small-en-v1.5",
  "cut-stream": "@cf/test/cut-stream",
  busy: "@cf/test/over-capacity",
  strict: "@cf/test/strict-input",
  crash: "@cf/test/crash",
  odd: "@cf/test/wrong-shape",
  gone: "@cf/test/gone",
  slow: "@cf/test/slow",
  "broken-stream": "@cf/test/broken-stream",
  glm: "@cf/zai-org/glm-4.7-flash",
  "gpt-oss": "@cf/openai/gpt-oss-120b",
  kimi: "@cf/moonshotai/kimi-k2.5",
  "llama-cut": "@cf/meta/llama-3.1-8b-instruct-cut",
  documented: "@cf/test/documented-error",
};

let bundle;
let stack;

before(async () => {
  bundle = await bundleBackend();
  stack = await startBackends(
    bundle.scriptPath,
    {
      AI_BACKEND: { bindings: { PROVIDER: "workers-ai", BACKEND_NAME: "wai", MODEL_MAP: JSON.stringify(MODEL_MAP) }, serviceBindings: { AI: "workers-ai-replay" } },
      NO_BINDING: { bindings: { PROVIDER: "workers-ai" } },
    },
    [{ name: "workers-ai-replay", modules: true, scriptPath: REPLAY_SCRIPT, modulesRoot: dirname(dirname(REPLAY_SCRIPT)), compatibilityDate: COMPATIBILITY_DATE }],
  );
});

after(async () => {
  await stack?.dispose();
  await bundle?.cleanup();
});

async function lastAiCall() {
  const replay = await stack.mf.getWorker("workers-ai-replay");
  const calls = await (await replay.fetch("http://replay/calls")).json();
  return calls.at(-1);
}

function chat(model, body = {}) {
  return inferenceRequest({ model, stream: body.stream === true, body: { model, messages: [{ role: "user", content: "Say hello" }], ...body } });
}

describe("workers-ai: chat completions", () => {
  test("OpenAI fields become env.AI.run inputs; {response, usage} becomes a chat.completion", async () => {
    const req = chat("llama", {
      messages: [
        { role: "system", content: "You are terse." },
        { role: "user", content: [{ type: "text", text: "Say" }, { type: "text", text: "hello" }] },
      ],
      max_completion_tokens: 64,
      temperature: 0.3,
      user: "someone",
      n: 1,
    });
    const { status, headers, body } = await stack.call("AI_BACKEND", "infer", req);
    assert.equal(status, 200);
    assert.equal(headers["content-type"], "application/json");
    assert.equal(body.object, "chat.completion");
    assert.equal(body.model, "llama");
    assert.match(body.id, /^chatcmpl-\S+$/);
    assert.deepEqual(body.choices, [{ index: 0, message: { role: "assistant", content: "Bonjour café" }, logprobs: null, finish_reason: "stop" }]);
    assert.deepEqual(body.usage, { prompt_tokens: 14, completion_tokens: 3, total_tokens: 17 });

    assert.deepEqual(await lastAiCall(), {
      model: "@cf/meta/llama-3.1-8b-instruct",
      inputs: {
        messages: [
          { role: "system", content: "You are terse." },
          { role: "user", content: "Say\nhello" },
        ],
        temperature: 0.3,
        user: "someone",
        n: 1,
        max_tokens: 64,
      },
      // rejectIfBusy fails fast; the AbortSignal is left out for this stand-in (an RPC stub cannot take one).
      options: { rejectIfBusy: true },
    });
  });

  test("tool calls become OpenAI tool_calls with string arguments", async () => {
    const tools = [{ type: "function", function: { name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } } } } }];
    const { status, body } = await stack.call("AI_BACKEND", "infer", chat("hermes", { tools }));
    assert.equal(status, 200);
    assert.deepEqual(body.choices[0].message, {
      role: "assistant",
      content: null,
      tool_calls: [{ id: "call_0", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } }],
    });
    assert.equal(body.choices[0].finish_reason, "tool_calls");
    assert.deepEqual((await lastAiCall()).inputs.tools, tools);
  });

  test("a JSON-mode object response becomes the message text", async () => {
    const { body } = await stack.call("AI_BACKEND", "infer", chat("llama-json", { response_format: { type: "json_object" } }));
    assert.equal(body.choices[0].message.content, '{"answer":4}');
  });

  test("Workers AI's SSE stream, split mid-line and mid-character, becomes OpenAI chunks", async () => {
    const { status, headers, stream } = await stack.call("AI_BACKEND", "infer", chat("llama", { stream: true, stream_options: { include_usage: true } }));
    assert.equal(status, 200);
    assert.match(headers["content-type"], /^text\/event-stream/);
    assert.equal(stream.error, null);
    assert.equal((await lastAiCall()).inputs.stream, true);
    const events = sseData(stream.text);
    assert.equal(events.at(-1), "[DONE]");
    const chunks = events.slice(0, -1);
    assert.ok(chunks.every((c) => c.object === "chat.completion.chunk" && c.model === "llama" && c.id === chunks[0].id));
    assert.deepEqual(chunks[0].choices[0].delta, { role: "assistant", content: "" });
    assert.deepEqual(chunks.slice(1, 3).map((c) => c.choices[0].delta.content), ["Bonjour", " café"]);
    assert.deepEqual(chunks[3].choices[0], { index: 0, delta: {}, logprobs: null, finish_reason: "stop" });
    assert.deepEqual(chunks[4].choices, []);
    assert.deepEqual(chunks[4].usage, { prompt_tokens: 14, completion_tokens: 3, total_tokens: 17 });
    assert.equal(chunks.length, 5);
  });

  test("a Workers AI stream that fails mid-way does not end cleanly", async () => {
    const { status, stream } = await stack.call("AI_BACKEND", "infer", chat("broken-stream", { stream: true }));
    assert.equal(status, 200);
    assert.notEqual(stream.error, null);
    assert.doesNotMatch(stream.text, /^data: \[DONE\]/m);
  });

  test("OpenAI-shaped stream: reasoning as reasoning_content, content, finish_reason length kept", async () => {
    const { status, stream } = await stack.call("AI_BACKEND", "infer", chat("glm", { stream: true, max_tokens: 8 }));
    assert.equal(status, 200);
    assert.equal(stream.error, null);
    const chunks = sseData(stream.text).slice(0, -1);
    const text = (key) => chunks.map((c) => c.choices[0]?.delta[key] ?? "").join("");
    assert.equal(text("content"), "Once upon a time, in a kingdom far");
    assert.equal(text("reasoning_content"), "The user wants a story.");
    assert.equal(chunks.at(-1).choices[0].finish_reason, "length");
  });

  test("a tool call streamed in four pieces of one index stays one call", async () => {
    const { stream } = await stack.call("AI_BACKEND", "infer", chat("gpt-oss", { stream: true, tools: [] }));
    const pieces = sseData(stream.text).slice(0, -1).flatMap((c) => c.choices[0]?.delta.tool_calls ?? []);
    assert.deepEqual(new Set(pieces.map((p) => p.index)), new Set([0]));
    assert.equal(pieces[0].function.name, "get_weather");
    assert.equal(pieces[0].id, "chatcmpl-tool-7f3a");
    assert.deepEqual(JSON.parse(pieces.map((p) => p.function.arguments).join("")), { city: "Paris", unit: "celsius" });
    assert.equal(sseData(stream.text).at(-2).choices[0].finish_reason, "tool_calls");
  });

  test("a non-streamed OpenAI-shaped answer keeps reasoning_content and tool calls", async () => {
    const { status, body } = await stack.call("AI_BACKEND", "infer", chat("kimi", { tools: [] }));
    assert.equal(status, 200);
    assert.equal(body.choices[0].message.reasoning_content, "Need the weather tool.");
    assert.equal(body.choices[0].message.tool_calls[0].function.name, "get_weather");
    assert.equal(body.choices[0].finish_reason, "tool_calls");
  });

  test("an older model's answer that used the default 256 tokens says length", async () => {
    assert.equal((await stack.call("AI_BACKEND", "infer", chat("llama-cut"))).body.choices[0].finish_reason, "length");
    const { stream } = await stack.call("AI_BACKEND", "infer", chat("llama-cut", { stream: true }));
    assert.equal(sseData(stream.text).at(-2).choices[0].finish_reason, "length");
  });

  test("assistant content null beside tool_calls is sent as \"\"; tool results reach the model", async () => {
    const call = { id: "call_1", type: "function", function: { name: "f", arguments: "{}" } };
    const messages = [{ role: "user", content: "Hi" }, { role: "assistant", content: null, tool_calls: [call] }, { role: "tool", tool_call_id: "call_1", content: "42" }];
    assert.equal((await stack.call("AI_BACKEND", "infer", chat("llama", { messages, tool_choice: "auto" }))).status, 200);
    const { inputs } = await lastAiCall();
    assert.deepEqual(inputs.messages, [messages[0], { ...messages[1], content: "" }, messages[2]]);
    assert.equal(inputs.tool_choice, "auto");
  });

  test("a body sent as JSON text is translated like the object", async () => {
    const text = `{"model":"llama","messages":[{"role":"user","content":"Say hello"}],"temperature":0.5}`;
    const { status, body } = await stack.call("AI_BACKEND", "infer", inferenceRequest({ model: "llama", body: text }));
    assert.equal(status, 200);
    assert.equal(body.choices[0].message.content, "Bonjour café");
    assert.deepEqual((await lastAiCall()).inputs, { messages: [{ role: "user", content: "Say hello" }], temperature: 0.5 });
  });

  test("a Workers AI stream that ends without [DONE] fails instead of ending cleanly", async () => {
    const { status, stream } = await stack.call("AI_BACKEND", "infer", chat("cut-stream", { stream: true }));
    assert.equal(status, 200);
    assert.notEqual(stream.error, null);
    assert.doesNotMatch(stream.text, /\[DONE\]/);
  });
});

describe("workers-ai: completions and embeddings", () => {
  test("a prompt becomes {prompt}; the answer a text_completion", async () => {
    const req = inferenceRequest({ path: "/v1/completions", model: "llama", body: { model: "llama", prompt: "Once upon", max_tokens: 5 } });
    const { status, body } = await stack.call("AI_BACKEND", "infer", req);
    assert.equal(status, 200);
    assert.equal(body.object, "text_completion");
    assert.match(body.id, /^cmpl-/);
    assert.deepEqual(body.choices, [{ index: 0, text: "Bonjour café", logprobs: null, finish_reason: "stop" }]);
    assert.deepEqual((await lastAiCall()).inputs, { prompt: "Once upon", max_tokens: 5 });
  });

  test("completions stream as text_completion chunks", async () => {
    const req = inferenceRequest({ path: "/v1/completions", model: "llama", stream: true, body: { model: "llama", prompt: "Once", stream: true } });
    const events = sseData((await stack.call("AI_BACKEND", "infer", req)).stream.text);
    assert.equal(events.at(-1), "[DONE]");
    assert.ok(events.slice(0, -1).every((c) => c.object === "text_completion"));
    assert.equal(events.slice(0, -1).map((c) => c.choices[0].text).join(""), "Bonjour café");
  });

  test("embeddings: {text} in, OpenAI's list out, as floats or base64", async () => {
    const req = inferenceRequest({ path: "/v1/embeddings", model: "bge", body: { model: "bge", input: ["a", "b"] } });
    const { status, body } = await stack.call("AI_BACKEND", "infer", req);
    assert.equal(status, 200);
    assert.deepEqual((await lastAiCall()).inputs, { text: ["a", "b"] });
    assert.equal(body.object, "list");
    assert.equal(body.model, "bge");
    assert.deepEqual(body.data, [
      { object: "embedding", index: 0, embedding: [0, -0.5, 0.125, 1] },
      { object: "embedding", index: 1, embedding: [0.25, -0.5, 0.125, 1] },
    ]);

    const encoded = await stack.call("AI_BACKEND", "infer", { ...req, body: { ...req.body, encoding_format: "base64" } });
    const bytes = Buffer.from(encoded.body.data[1].embedding, "base64");
    assert.deepEqual([0, 1, 2, 3].map((i) => bytes.readFloatLE(i * 4)), [0.25, -0.5, 0.125, 1]);
  });

  test("what Workers AI cannot express is a 400 naming the field", async () => {
    const tokens = await stack.call("AI_BACKEND", "infer", inferenceRequest({ path: "/v1/embeddings", model: "bge", body: { model: "bge", input: [1, 2, 3] } }));
    assert.equal(tokens.status, 400);
    assert.equal(tokens.body.error.param, "input");
    const dims = await stack.call("AI_BACKEND", "infer", inferenceRequest({ path: "/v1/embeddings", model: "bge", body: { model: "bge", input: "a", dimensions: 2 } }));
    assert.equal(dims.body.error.param, "dimensions");
    const prompts = await stack.call("AI_BACKEND", "infer", inferenceRequest({ path: "/v1/completions", model: "llama", body: { model: "llama", prompt: ["a", "b"] } }));
    assert.equal(prompts.body.error.param, "prompt");
  });
});

describe("workers-ai: failures", () => {
  test("over capacity (3040, what rejectIfBusy answers) is a 429 with a short retry-after", async () => {
    const { status, headers, body } = await stack.call("AI_BACKEND", "infer", chat("busy"));
    assert.equal(status, 429);
    assert.equal(headers["retry-after"], "1");
    assert.equal(body.error.code, "capacity_exceeded");
  });

  test("an input validation error (5006) is a 400 with the reason but no stack", async () => {
    const { status, body } = await stack.call("AI_BACKEND", "infer", chat("strict"));
    assert.equal(status, 400);
    assert.match(body.error.message, /required properties at '\/' are 'prompt'/);
    assert.doesNotMatch(body.error.message, /at validate|AiError/);
  });

  test("Workers AI's documented errors, thrown across RPC, map per the table", async () => {
    for (const [label, , , status, code] of ERRORS) {
      const { status: got, headers, body } = await stack.call("AI_BACKEND", "infer", chat("documented", { messages: [{ role: "user", content: label }] }));
      assert.deepEqual([label, got, body.error.code], [label, status, code]);
      if (code === "capacity_exceeded") assert.equal(headers["retry-after"], "1");
    }
  });

  test("an unknown Workers AI model (5007) is a 404 model_not_found", async () => {
    const { status, body } = await stack.call("AI_BACKEND", "infer", chat("gone"));
    assert.equal(status, 404);
    assert.equal(body.error.code, "model_not_found");
  });

  test("any other failure is a 502 that leaks nothing of the error", async () => {
    const { status, body } = await stack.call("AI_BACKEND", "infer", chat("crash"));
    assert.equal(status, 502);
    assert.doesNotMatch(JSON.stringify(body), /connection reset|internal|Ai\.run/);
  });

  test("attemptDeadline bounds the wait for env.AI.run: 504, JSON or stream", async () => {
    for (const stream of [false, true]) {
      const req = { ...chat("slow", { stream }), attemptDeadline: Date.now() + 300 };
      const answer = await stack.call("AI_BACKEND", "infer", req);
      // The slow model does answer (after 3 s): a 504 means the backend gave up at the stop time.
      assert.equal(answer.status, 504);
      assert.equal(answer.body.error.type, "timeout");
    }
  });

  test("an answer of an unknown shape is a 502", async () => {
    const { status, body } = await stack.call("AI_BACKEND", "infer", chat("odd"));
    assert.equal(status, 502);
    assert.equal(body.error.type, "upstream_error");
  });

  test("describe() lists the MODEL_MAP names; a model outside it is not served", async () => {
    const { value } = await stack.call("AI_BACKEND", "describe");
    assert.equal(value.name, "wai");
    assert.deepEqual(value.models, Object.keys(MODEL_MAP));
    const { status } = await stack.call("AI_BACKEND", "infer", chat("gpt-4o"));
    assert.equal(status, 404);
  });

  test("without the AI binding the backend reports its misconfiguration", async () => {
    assert.match((await stack.call("NO_BINDING", "describe")).thrown, /\bAI\b/);
    assert.equal((await stack.call("NO_BINDING", "health")).value.ok, false);
    assert.equal((await stack.call("AI_BACKEND", "health")).value.ok, true);
  });
});
