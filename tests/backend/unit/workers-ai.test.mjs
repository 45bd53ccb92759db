// The workers-ai provider as an RPC caller sees it (node, no transport), with a scripted AI
// binding: what env.AI.run() is given, how its answers (JSON and SSE) become OpenAI's shapes, its
// errors, and the stop time (docs/backend-template.md, "workers-ai"). Usage figures are Workers
// AI's own, passed on; the template only fills in a missing total (total = prompt + completion).
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, test } from "node:test";
import { ERRORS, GLM_REASONING_CUT, GPT_OSS_REASONING, KIMI_JSON, LEGACY_CUT_AT_DEFAULT, PARALLEL_TOOL_PIECES, TOOL_CALL_PIECES } from "../fixtures/workers-ai/shapes.mjs";
import { assertError, backend, captureLogs, eventually, inferenceRequest, pause, readStream, sseData, SUITE_TIMEOUT_MS } from "./template.mjs";

// One suite per file, so its hooks stay its own when all unit files run in one process (all.mjs).
describe("the workers-ai provider", { timeout: SUITE_TIMEOUT_MS }, () => {
  const encoder = new TextEncoder();
  const MODEL_MAP = { llama: "@cf/meta/llama-3.1-8b-instruct", bge: "@cf/baai/bge-small-en-v1.5" };

  /** The calls env.AI.run() got: {model, inputs}; their third argument in `options` (the signal as a boolean). */
  let calls = [];
  let options = [];
  let signals = [];
  /** What env.AI.run() does: answers (a value or a stream) or throws. */
  let run = async () => ({ response: "Bonjour" });
  let logs;
  const AI = {
    // An RPC to the AI binding: it answers in a later turn, after timers already due.
    async run(model, inputs, runOptions) {
      calls.push({ model, inputs: structuredClone(inputs) });
      options.push({ ...runOptions, signal: runOptions?.signal instanceof AbortSignal });
      signals.push(runOptions?.signal);
      await pause(2);
      return run(model, inputs);
    },
  };
  const ENV = { PROVIDER: "workers-ai", AI, MODEL_MAP: JSON.stringify(MODEL_MAP), MODELS: "*" };

  beforeEach(() => {
    calls = [];
    options = [];
    signals = [];
    logs = captureLogs();
  });
  afterEach(() => logs.restore());

  async function infer(req, env = ENV) {
    return (await backend(env)).infer(req);
  }

  function chat(body = {}, overrides = {}) {
    return inferenceRequest({ model: "llama", stream: body.stream === true, body: { model: "llama", messages: [{ role: "user", content: "Say hello" }], ...body }, ...overrides });
  }

  /** A stream of these chunks (text or bytes), one per read, then ended by `end`: "close", "error" or "stall". */
  function aiStream(chunks, end = "close") {
    const state = { cancelled: false };
    const queue = chunks.map((c) => (typeof c === "string" ? encoder.encode(c) : c));
    const stream = new ReadableStream(
      {
        pull(controller) {
          if (queue.length > 0) return controller.enqueue(queue.shift());
          if (end === "close") return controller.close();
          if (end === "error") return controller.error(new Error("connection lost"));
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

  const aiEvent = (value) => `data: ${JSON.stringify(value)}\n\n`;

  /** The translated stream of a streaming request whose env.AI.run() answers `chunks`. */
  async function translated(chunks, req, end = "close") {
    run = async () => aiStream(chunks, end).stream;
    const answer = await infer(req);
    assert.equal(answer.status, 200, JSON.stringify(answer));
    assert.match(answer.headers["content-type"], /^text\/event-stream/);
    return readStream(answer.stream);
  }

  describe("workers-ai: env.AI.run() inputs", () => {
    test("chat: messages (text-only content arrays flattened) and the client's fields, forwarded (finding 4)", async () => {
      run = async () => ({ response: "ok" });
      const tools = [{ type: "function", function: { name: "f", parameters: {} } }];
      const body = {
        messages: [
          { role: "system", content: "You are terse." },
          { role: "user", content: [{ type: "text", text: "Say" }, { type: "text", text: "hello" }] },
          { role: "user", content: [{ type: "text", text: "look" }, { type: "image_url", image_url: { url: "u" } }] },
          { role: "user", content: [] },
          { role: "user", content: [null, { type: "text", text: "odd" }] },
          null,
        ],
        temperature: 0,
        top_p: 0.9,
        top_k: 40,
        seed: 7,
        frequency_penalty: 0.1,
        presence_penalty: 0.2,
        repetition_penalty: 1.1,
        tools,
        response_format: { type: "json_object" },
        max_completion_tokens: 64,
        max_tokens: 99,
        user: "someone",
        n: 1,
        stop: ["\n"],
        logprobs: true,
        stream_options: { include_usage: true },
      };
      assert.equal((await infer(chat(body))).status, 200);
      assert.deepEqual(calls, [
        {
          model: "@cf/meta/llama-3.1-8b-instruct",
          inputs: {
            messages: [
              { role: "system", content: "You are terse." },
              { role: "user", content: "Say\nhello" },
              { role: "user", content: [{ type: "text", text: "look" }, { type: "image_url", image_url: { url: "u" } }] },
              { role: "user", content: "" },
              { role: "user", content: [null, { type: "text", text: "odd" }] },
              null,
            ],
            temperature: 0,
            top_p: 0.9,
            top_k: 40,
            seed: 7,
            frequency_penalty: 0.1,
            presence_penalty: 0.2,
            repetition_penalty: 1.1,
            tools,
            response_format: { type: "json_object" },
            user: "someone",
            n: 1,
            stop: ["\n"],
            logprobs: true,
            stream_options: { include_usage: true },
            max_tokens: 64,
          },
        },
      ]);
    });

    test("only what the request has is sent; max_tokens when a positive integer; stream only when streaming", async () => {
      run = async () => ({ response: "ok" });
      await infer(chat({ max_tokens: 12 }));
      assert.deepEqual(calls[0].inputs, { messages: [{ role: "user", content: "Say hello" }], max_tokens: 12 });
      await infer(chat({ max_tokens: 0, temperature: undefined }));
      assert.deepEqual(calls[1].inputs, { messages: [{ role: "user", content: "Say hello" }] });
      run = async () => aiStream(["data: [DONE]\n\n"]).stream;
      await infer(chat({ stream: true }));
      assert.equal(calls[2].inputs.stream, true);
    });

    test("an unmapped model is used as the Workers AI id; the answer names the client's model", async () => {
      run = async () => ({ response: "ok" });
      const answer = await infer(chat({}, { model: "@cf/some/model" }));
      assert.equal(calls[0].model, "@cf/some/model");
      assert.equal(answer.body.model, "@cf/some/model");
      const mapped = await infer(chat());
      assert.equal(calls[1].model, MODEL_MAP.llama);
      assert.equal(mapped.body.model, "llama");
    });

    test("completions: one string prompt (or an array of one)", async () => {
      run = async () => ({ response: "ok" });
      for (const prompt of ["Once upon", ["Once upon"]]) {
        const req = inferenceRequest({ path: "/v1/completions", model: "llama", body: { model: "llama", prompt, max_tokens: 5, temperature: 0.5, best_of: 2 } });
        assert.equal((await infer(req)).status, 200);
        assert.deepEqual(calls.at(-1).inputs, { prompt: "Once upon", temperature: 0.5, best_of: 2, max_tokens: 5 });
      }
    });

    test("embeddings: {text} with a string or strings", async () => {
      run = async (model, inputs) => ({ shape: [1, 2], data: (Array.isArray(inputs.text) ? inputs.text : [inputs.text]).map(() => [0.5, 0.5]) });
      for (const input of ["a", ["a", "b"]]) {
        const req = inferenceRequest({ path: "/v1/embeddings", model: "bge", body: { model: "bge", input, encoding_format: "float", user: "u" } });
        assert.equal((await infer(req)).status, 200);
        assert.deepEqual(calls.at(-1), { model: MODEL_MAP.bge, inputs: { text: input } });
      }
    });

    test("what Workers AI cannot express is a 400 naming the field, and env.AI.run() is not called", async () => {
      const cases = [
        ["/v1/embeddings", { input: [1, 2, 3] }, "input"],
        ["/v1/embeddings", { input: [] }, "input"],
        ["/v1/embeddings", { input: ["a", 1] }, "input"],
        ["/v1/embeddings", { input: 5 }, "input"],
        ["/v1/embeddings", { input: "a", dimensions: 2 }, "dimensions"],
        ["/v1/embeddings", { input: "a", encoding_format: "base32" }, "encoding_format"],
        ["/v1/completions", { prompt: ["a", "b"] }, "prompt"],
        ["/v1/completions", { prompt: [1, 2] }, "prompt"],
        ["/v1/completions", { prompt: 5 }, "prompt"],
        ["/v1/completions", {}, "prompt"],
        ["/v1/chat/completions", { messages: [] }, "messages"],
        ["/v1/chat/completions", { messages: "hi" }, "messages"],
        ["/v1/chat/completions", {}, "messages"],
      ];
      for (const [path, body, param] of cases) {
        const answer = await infer(inferenceRequest({ path, model: "llama", body: { model: "llama", ...body } }));
        assertError(answer, 400, { type: "invalid_request_error", param });
      }
      assert.equal(calls.length, 0);
    });
  });

  describe("workers-ai: answers become OpenAI's shapes", () => {
    test("{response, usage} becomes a chat.completion", async () => {
      const before = Date.now();
      run = async () => ({ response: "Bonjour café", tool_calls: [], usage: { prompt_tokens: 14, completion_tokens: 3, total_tokens: 17 } });
      const { status, headers, body } = await infer(chat());
      assert.equal(status, 200);
      assert.equal(headers["content-type"], "application/json");
      assert.equal(body.object, "chat.completion");
      assert.equal(body.model, "llama");
      assert.match(body.id, /^chatcmpl-[0-9a-f]{32}$/);
      assert.ok(Number.isInteger(body.created) && body.created >= Math.floor(before / 1000) && body.created <= Math.ceil(Date.now() / 1000));
      assert.deepEqual(body.choices, [{ index: 0, message: { role: "assistant", content: "Bonjour café" }, logprobs: null, finish_reason: "stop" }]);
      assert.deepEqual(body.usage, { prompt_tokens: 14, completion_tokens: 3, total_tokens: 17 });
      const again = await infer(chat());
      assert.notEqual(again.body.id, body.id, "each answer has its own id");
    });

    test("usage: a missing total is prompt + completion; missing or odd figures count 0", async () => {
      for (const [usage, wanted] of [
        [{ prompt_tokens: 3, completion_tokens: 2 }, { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 }],
        [{ prompt_tokens: 3, completion_tokens: 2, total_tokens: 0 }, { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 }],
        [{ prompt_tokens: "3", completion_tokens: 2 }, { prompt_tokens: 0, completion_tokens: 2, total_tokens: 2 }],
        [undefined, { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 }],
        [[1, 2], { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 }],
        ["lots", { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 }],
      ]) {
        run = async () => ({ response: "x", usage });
        assert.deepEqual((await infer(chat())).body.usage, wanted, JSON.stringify(usage));
      }
    });

    test("an answer already in OpenAI's shape is read, with this answer's id and the client's model name", async () => {
      const completion = { id: "chatcmpl-up", object: "chat.completion", created: 1, model: "@cf/x", choices: [{ index: 0, message: { role: "assistant", content: "hi" }, finish_reason: "stop" }], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } };
      run = async () => completion;
      const { body } = await infer(chat());
      assert.match(body.id, /^chatcmpl-[0-9a-f]{32}$/);
      assert.deepEqual({ ...body, id: "x", created: 0 }, { ...completion, id: "x", created: 0, model: "llama", choices: [{ ...completion.choices[0], logprobs: null }] });
    });

    test("tool calls become OpenAI tool_calls with string arguments, finish_reason tool_calls", async () => {
      run = async () => ({
        response: null,
        tool_calls: [
          { name: "get_weather", arguments: { city: "Paris" } },
          { id: "call_abc", type: "function", function: { name: "get_time", arguments: '{"tz":"CET"}' } },
          "not a call",
          null,
          { function: "not an object", name: "legacy_named" },
          {},
        ],
      });
      const { status, body } = await infer(chat({ tools: [] }));
      assert.equal(status, 200);
      assert.deepEqual(body.choices[0].message, {
        role: "assistant",
        content: null,
        tool_calls: [
          { id: "call_0", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } },
          { id: "call_abc", type: "function", function: { name: "get_time", arguments: '{"tz":"CET"}' } },
          { id: "call_2", type: "function", function: { name: "legacy_named", arguments: "{}" } },
          { id: "call_3", type: "function", function: { name: "", arguments: "{}" } },
        ],
      });
      assert.equal(body.choices[0].finish_reason, "tool_calls");
    });

    test("text and tool calls together keep both; tool_calls that are not a list are ignored", async () => {
      run = async () => ({ response: "Let me check.", tool_calls: [{ name: "f", arguments: {} }] });
      const both = (await infer(chat())).body.choices[0];
      assert.equal(both.message.content, "Let me check.");
      assert.equal(both.message.tool_calls.length, 1);
      assert.equal(both.finish_reason, "tool_calls");
      run = async () => ({ response: "plain", tool_calls: { name: "f" } });
      const plain = (await infer(chat())).body.choices[0];
      assert.deepEqual(plain.message, { role: "assistant", content: "plain" });
      assert.equal(plain.finish_reason, "stop");
    });

    test("a JSON-mode object (or array) response becomes its JSON text", async () => {
      run = async () => ({ response: { answer: 4 } });
      assert.equal((await infer(chat())).body.choices[0].message.content, '{"answer":4}');
      run = async () => ({ response: [1, "two"] });
      assert.equal((await infer(chat())).body.choices[0].message.content, '[1,"two"]');
    });

    test("an answer of an unknown shape is a 502", async () => {
      for (const result of [null, "text", 5, [], { result: "else" }, { response: 5 }, { response: null, tool_calls: [] }, aiStream([]).stream]) {
        run = async () => result;
        assertError(await infer(chat()), 502, { type: "upstream_error" });
      }
    });

    test("completions: {response} becomes a text_completion", async () => {
      run = async () => ({ response: "upon a time", usage: { prompt_tokens: 2, completion_tokens: 3, total_tokens: 5 } });
      const { status, body } = await infer(inferenceRequest({ path: "/v1/completions", model: "llama", body: { model: "llama", prompt: "Once" } }));
      assert.equal(status, 200);
      assert.equal(body.object, "text_completion");
      assert.match(body.id, /^cmpl-[0-9a-f]{32}$/);
      assert.equal(body.model, "llama");
      assert.ok(Number.isInteger(body.created));
      assert.deepEqual(body.choices, [{ index: 0, text: "upon a time", logprobs: null, finish_reason: "stop" }]);
      assert.deepEqual(body.usage, { prompt_tokens: 2, completion_tokens: 3, total_tokens: 5 });
      for (const result of [{ response: null }, "upon", null]) {
        run = async () => result;
        assertError(await infer(inferenceRequest({ path: "/v1/completions", model: "llama", body: { model: "llama", prompt: "Once" } })), 502, { type: "upstream_error" });
      }
    });

    test("embeddings: {shape, data} becomes OpenAI's list, as floats or base64", async () => {
      run = async (model, inputs) => ({ shape: [inputs.text.length, 4], data: inputs.text.map((_, i) => [0.25 * i, -0.5, 0.125, 1]), usage: { prompt_tokens: 6 } });
      const req = inferenceRequest({ path: "/v1/embeddings", model: "bge", body: { model: "bge", input: ["a", "b"] } });
      const { status, headers, body } = await infer(req);
      assert.equal(status, 200);
      assert.equal(headers["content-type"], "application/json");
      assert.deepEqual(body, {
        object: "list",
        data: [
          { object: "embedding", index: 0, embedding: [0, -0.5, 0.125, 1] },
          { object: "embedding", index: 1, embedding: [0.25, -0.5, 0.125, 1] },
        ],
        model: "bge",
        usage: { prompt_tokens: 6, total_tokens: 6 },
      });
      const encoded = await infer({ ...req, body: { ...req.body, encoding_format: "base64" } });
      const bytes = Buffer.from(encoded.body.data[1].embedding, "base64");
      assert.equal(bytes.length, 16);
      assert.deepEqual([0, 1, 2, 3].map((i) => bytes.readFloatLE(i * 4)), [0.25, -0.5, 0.125, 1]);
      run = async () => ({ data: [[1]] });
      assert.deepEqual((await infer(req)).body.usage, { prompt_tokens: 0, total_tokens: 0 });
    });

    test("embeddings of an unknown shape are a 502", async () => {
      const req = inferenceRequest({ path: "/v1/embeddings", model: "bge", body: { model: "bge", input: "a" } });
      for (const result of [null, { data: "x" }, { data: [[1, "2"]] }, { data: [[0.5], [1, "2"]] }, { data: [[0.5], 2] }, { data: [1, 2] }, [[1, 2]]]) {
        run = async () => result;
        assertError(await infer(req), 502, { type: "upstream_error" });
      }
    });
  });

  describe("workers-ai: streams", () => {
    const STREAM = [aiEvent({ response: "Bonjour", p: "abc" }), aiEvent({ response: " café" }), aiEvent({ response: "", usage: { prompt_tokens: 14, completion_tokens: 3, total_tokens: 17 } }), "data: [DONE]\n\n"];

    /** The same bytes cut at awkward places: mid-line, mid-JSON and inside the "é". */
    function cutAwkwardly(chunks) {
      const bytes = encoder.encode(chunks.join(""));
      const accent = bytes.indexOf(0xc3) + 1;
      const cuts = [3, accent, Math.floor(bytes.length / 2), bytes.length - 3].sort((a, b) => a - b);
      return [0, ...cuts].map((start, i) => bytes.slice(start, cuts[i] ?? bytes.length));
    }

    test("chat: a role chunk, content chunks, a stop chunk, a usage chunk when asked, then [DONE]", async () => {
      const before = Date.now();
      const { text, error } = await translated(cutAwkwardly(STREAM), chat({ stream: true, stream_options: { include_usage: true } }));
      assert.equal(error, null);
      const events = sseData(text);
      assert.equal(events.at(-1), "[DONE]");
      const chunks = events.slice(0, -1);
      for (const chunk of chunks) {
        assert.equal(chunk.object, "chat.completion.chunk");
        assert.equal(chunk.model, "llama");
        assert.equal(chunk.id, chunks[0].id);
        assert.equal(chunk.created, chunks[0].created);
      }
      assert.match(chunks[0].id, /^chatcmpl-[0-9a-f]{32}$/);
      assert.ok(chunks[0].created >= Math.floor(before / 1000) && chunks[0].created <= Math.ceil(Date.now() / 1000));
      assert.deepEqual(chunks[0].choices, [{ index: 0, delta: { role: "assistant", content: "" }, logprobs: null, finish_reason: null }]);
      assert.deepEqual(chunks[1].choices, [{ index: 0, delta: { content: "Bonjour" }, logprobs: null, finish_reason: null }]);
      assert.deepEqual(chunks[2].choices, [{ index: 0, delta: { content: " café" }, logprobs: null, finish_reason: null }]);
      assert.deepEqual(chunks[3].choices, [{ index: 0, delta: {}, logprobs: null, finish_reason: "stop" }]);
      assert.deepEqual(chunks[4].choices, []);
      assert.deepEqual(chunks[4].usage, { prompt_tokens: 14, completion_tokens: 3, total_tokens: 17 });
      assert.equal(chunks.length, 5);
    });

    test("without include_usage, or without usage from Workers AI, no usage chunk", async () => {
      for (const [chunks, body] of [
        [STREAM, { stream: true }],
        [STREAM, { stream: true, stream_options: { include_usage: false } }],
        [[aiEvent({ response: "a" }), "data: [DONE]\n\n"], { stream: true, stream_options: { include_usage: true } }],
      ]) {
        const events = sseData((await translated(chunks, chat(body))).text).slice(0, -1);
        assert.ok(events.every((c) => c.choices.length === 1 && !("usage" in c)), JSON.stringify(events));
        assert.equal(events.at(-1).choices[0].finish_reason, "stop");
      }
    });

    test("SSE as the spec writes it: CRLF and CR line ends, data: without a space, comments and other fields", async () => {
      const chunks = [': keep-alive\r\n\r\nevent: message\r\nid: 1\r\ndata:{"response":"a"}\r\n\r\n', 'data: {"response":"b"}\r\rdata: [DONE]'];
      const events = sseData((await translated(chunks, chat({ stream: true }))).text);
      assert.deepEqual(events.slice(1, -2).map((c) => c.choices[0].delta.content), ["a", "b"]);
      assert.equal(events.at(-1), "[DONE]");
    });

    test("events that are JSON but not objects are skipped; events after [DONE] are ignored", async () => {
      const chunks = ["data: 5\n\ndata: \"x\"\n\ndata: [1]\n\ndata: null\n\n", aiEvent({ response: "a" }), "data:  [DONE] \n\n", aiEvent({ response: "late" }), "data: not json\n\n"];
      const { text, error } = await translated(chunks, chat({ stream: true }));
      assert.equal(error, null);
      const events = sseData(text);
      assert.deepEqual(events.slice(0, -1).map((c) => c.choices[0].delta.content ?? null), ["", "a", null]);
      assert.equal(events.at(-1), "[DONE]");
    });

    test("a stream of only [DONE] still has a role chunk and a finish chunk", async () => {
      const events = sseData((await translated(["data: [DONE]\n\n"], chat({ stream: true }))).text);
      assert.equal(events.length, 3);
      assert.deepEqual(events[0].choices[0].delta, { role: "assistant", content: "" });
      assert.equal(events[1].choices[0].finish_reason, "stop");
    });

    test("a JSON-mode object in a stream event becomes its JSON text", async () => {
      const events = sseData((await translated([aiEvent({ response: { a: 1 } }), "data: [DONE]\n\n"], chat({ stream: true }))).text);
      assert.equal(events[1].choices[0].delta.content, '{"a":1}');
    });

    test("tool calls stream as tool_calls deltas numbered across events, finish_reason tool_calls", async () => {
      const chunks = [
        aiEvent({ response: "", tool_calls: [{ name: "a", arguments: { x: 1 } }] }),
        aiEvent({ tool_calls: [{ name: "b", arguments: "{}" }, { id: "call_z", function: { name: "c", arguments: { y: 2 } } }] }),
        "data: [DONE]\n\n",
      ];
      const events = sseData((await translated(chunks, chat({ stream: true, tools: [] }))).text);
      const deltas = events.slice(1, -2).map((c) => c.choices[0].delta);
      assert.deepEqual(deltas, [
        { tool_calls: [{ index: 0, id: "call_0", type: "function", function: { name: "a", arguments: '{"x":1}' } }] },
        {
          tool_calls: [
            { index: 1, id: "call_1", type: "function", function: { name: "b", arguments: "{}" } },
            { index: 2, id: "call_z", type: "function", function: { name: "c", arguments: '{"y":2}' } },
          ],
        },
      ]);
      assert.equal(events.at(-2).choices[0].finish_reason, "tool_calls");
    });

    test("completions stream as text_completion chunks ending with a finish chunk", async () => {
      const req = inferenceRequest({ path: "/v1/completions", model: "llama", stream: true, body: { model: "llama", prompt: "Once", stream_options: { include_usage: true } } });
      const events = sseData((await translated(cutAwkwardly(STREAM), req)).text);
      assert.equal(events.at(-1), "[DONE]");
      const chunks = events.slice(0, -1);
      assert.ok(chunks.every((c) => c.object === "text_completion" && c.model === "llama" && c.id === chunks[0].id));
      assert.match(chunks[0].id, /^cmpl-[0-9a-f]{32}$/);
      assert.deepEqual(chunks.slice(0, 3).map((c) => c.choices), [
        [{ index: 0, text: "Bonjour", logprobs: null, finish_reason: null }],
        [{ index: 0, text: " café", logprobs: null, finish_reason: null }],
        [{ index: 0, text: "", logprobs: null, finish_reason: "stop" }],
      ]);
      assert.deepEqual(chunks[3].choices, []);
      assert.deepEqual(chunks[3].usage, { prompt_tokens: 14, completion_tokens: 3, total_tokens: 17 });
      assert.equal(chunks.length, 4);
    });

    test("tool calls in a completions stream do not turn it into chat chunks", async () => {
      const req = inferenceRequest({ path: "/v1/completions", model: "llama", stream: true, body: { model: "llama", prompt: "Once" } });
      const chunks = [aiEvent({ response: "a", tool_calls: [{ name: "f", arguments: {} }] }), "data: [DONE]\n\n"];
      const events = sseData((await translated(chunks, req)).text).slice(0, -1);
      assert.ok(events.every((c) => c.object === "text_completion" && "text" in c.choices[0]), JSON.stringify(events));
      assert.deepEqual(events.map((c) => c.choices[0].text), ["a", ""]);
    });

    test("a stream that ends without [DONE], or fails, errors instead of ending cleanly", async () => {
      for (const [chunks, end] of [[STREAM.slice(0, 2), "close"], [STREAM.slice(0, 1), "error"], [[], "close"], [["data: [DON"], "close"]]) {
        const { text, error } = await translated(chunks, chat({ stream: true }), end);
        assert.notEqual(error, null);
        assert.doesNotMatch(text, /\[DONE\]/);
      }
    });

    test("an event that is not JSON errors the stream", async () => {
      const { text, error } = await translated([aiEvent({ response: "a" }), "data: {broken\n\n", "data: [DONE]\n\n"], chat({ stream: true }));
      assert.notEqual(error, null);
      assert.doesNotMatch(text, /\[DONE\]/);
    });

    test("a JSON answer to a streaming request (JSON Mode does not stream) becomes a stream; an unknown shape is a 502", async () => {
      run = async () => ({ response: "not streamed", usage: { prompt_tokens: 1, completion_tokens: 2 } });
      const answer = await infer(chat({ stream: true, stream_options: { include_usage: true } }));
      assert.equal(answer.status, 200);
      const events = sseData((await readStream(answer.stream)).text);
      assert.deepEqual(events.slice(0, -1).map((c) => c.choices[0]?.delta ?? c.usage), [
        { role: "assistant", content: "" },
        { content: "not streamed" },
        {},
        { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 },
      ]);
      assert.equal(events.at(-3).choices[0].finish_reason, "stop");
      assert.equal(events.at(-1), "[DONE]");
      run = async () => ({ result: "odd" });
      assertError(await infer(chat({ stream: true })), 502, { type: "upstream_error" });
    });
  });

  describe("workers-ai: errors become the statuses an HTTP upstream would answer (finding 5)", () => {
    const named = (name, message) => Object.assign(new Error(message), { name });
    const cases = [
      ["5006 input validation", new Error("AiError: 5006: Error: required properties at '/' are 'prompt'\n    at validate (internal)"), 400, "invalid_request_error", null],
      ["a validation message without a code", new Error("Error: Type mismatch of '/messages/0/content', 'string' not in 'array'"), 400, "invalid_request_error", null],
      ["oneOf", new Error("InferenceUpstreamError: oneOf at '/' not met"), 400, "invalid_request_error", null],
      ["5007 no such model", new Error("5007: No such model @cf/x or task"), 404, "invalid_request_error", "model_not_found"],
      ["no such model without a code", new Error("No such model exists"), 404, "invalid_request_error", "model_not_found"],
      ["5007 by its code alone", new Error("AiError: 5007: unknown model @cf/x"), 404, "invalid_request_error", "model_not_found"],
      ["3040 capacity", new Error("3040: Capacity temporarily exceeded, please try again."), 429, "rate_limit_error", "capacity_exceeded"],
      ["3040 by its code alone", new Error("AiError: 3040: temporarily overloaded"), 429, "rate_limit_error", "capacity_exceeded"],
      ["capacity without a code", new Error("Out of capacity"), 429, "rate_limit_error", "capacity_exceeded"],
      ["3036 account limit", new Error("3036: You have used up your daily free allocation"), 429, "rate_limit_error", "rate_limit_exceeded"],
      ["rate limit without a code", new Error("Rate limit hit"), 429, "rate_limit_error", "rate_limit_exceeded"],
      ["too many requests", new Error("Too Many Requests"), 429, "rate_limit_error", "rate_limit_exceeded"],
      ["a code as the error's own property", Object.assign(new Error("out of room"), { code: 3040 }), 429, "rate_limit_error", "capacity_exceeded"],
      ["anything else", new Error("InferenceUpstreamError: connection reset\n    at Ai.run (internal:ai:42)"), 502, "upstream_error", "upstream_error"],
      ["a thrown string", "9999: something odd", 502, "upstream_error", "upstream_error"],
      ["a five-digit number is no code", new Error("50060: internal thing"), 502, "upstream_error", "upstream_error"],
    ];
    for (const [name, thrown, status, type, code] of cases) {
      test(name, async () => {
        run = async () => {
          throw thrown;
        };
        const answer = await infer(chat({}, { model: "@cf/x" }));
        assertError(answer, status, { type, code });
        if (status === 404) assert.equal(answer.body.error.param, "model");
        assert.equal(answer.headers["retry-after"], code === "capacity_exceeded" ? "1" : undefined);
        assert.doesNotMatch(JSON.stringify(answer), /internal|at validate|Ai\.run|connection reset|odd|No such/);
      });
    }

    for (const [name, errorName, message, status, code] of ERRORS) {
      test(`the documented table: ${name} -> ${status} ${code ?? ""}`, async () => {
        run = async () => {
          throw named(errorName, message);
        };
        const answer = await infer(chat());
        assertError(answer, status, { code });
        assert.doesNotMatch(answer.body.error.message, /AiError|InferenceUpstreamError|\n/);
        if (code === "capacity_exceeded") assert.equal(answer.headers["retry-after"], "1", "a short cooldown, then the router tries again");
        // The binding holds no key: why the account is refused is worth passing on.
        if (status === 403) assert.ok(answer.body.error.message.includes(message.replace(/^\d{4}: /, "")), answer.body.error.message);
      });
    }

    test("a validation error passes its first line, without the error's class name or code, at most 300 characters", async () => {
      run = async () => {
        throw new Error("AiError: 5006: Error: required properties at '/' are 'prompt'\n    at validate (internal)");
      };
      const { message } = (await infer(chat())).body.error;
      assert.ok(message.endsWith("required properties at '/' are 'prompt'"), message);
      assert.doesNotMatch(message, /AiError|at validate|5006: Error/);
      for (const prefix of ["Error: ", "InferenceUpstreamError:  ", "aierror: "]) {
        run = async () => {
          throw new Error(`${prefix}validation failed here`);
        };
        const text = (await infer(chat())).body.error.message;
        assert.ok(text.endsWith(": validation failed here"), text);
        assert.ok(!text.toLowerCase().includes(prefix.trim().toLowerCase()), text);
      }
      run = async () => {
        throw new Error("5006: field 'x' Error: must be a string");
      };
      assert.ok((await infer(chat())).body.error.message.endsWith("field 'x' Error: must be a string"), "only leading class names and codes go");
      run = async () => {
        throw new Error(`5006: ${"x".repeat(400)}tail`);
      };
      const long = (await infer(chat())).body.error.message;
      assert.ok(!long.includes("tail") && long.includes("x".repeat(290)) && long.length < 400, long.length);
    });

    test("the log line has the code and the error's kind, never its text", async () => {
      run = async () => {
        throw new TypeError("3040: secret capacity detail");
      };
      await infer(chat());
      run = async () => {
        throw new Error("no code, secret detail");
      };
      await infer(chat());
      const lines = logs.lines.join("\n");
      assert.ok(logs.lines.some((l) => l.includes("3040") && l.includes("TypeError")), lines);
      assert.equal(logs.lines.length, 2);
      assert.doesNotMatch(lines, /secret/);
    });

    test("a code appears in the message of an unknown failure", async () => {
      run = async () => {
        throw new Error("4321: mystery");
      };
      const { message } = (await infer(chat())).body.error;
      assert.ok(message.includes("4321"), message);
      run = async () => {
        throw new Error("mystery");
      };
      assert.doesNotMatch((await infer(chat())).body.error.message, /code/);
    });
  });

  describe("workers-ai: the stop time", () => {
    test("env.AI.run() is given up at the stop time: 504", async () => {
      for (const stream of [false, true]) {
        run = () => new Promise(() => {});
        assertError(await infer(chat({ stream }, { attemptDeadline: Date.now() + 30 })), 504, { type: "timeout", code: "timeout" });
      }
      assertError(await infer(chat({}, { deadline: Date.now() + 30 })), 504, { type: "timeout" });
    });

    test("a stream that arrives after the stop time is cancelled", async () => {
      const late = aiStream(["data: [DONE]\n\n"]);
      run = async () => (await pause(60), late.stream);
      assertError(await infer(chat({ stream: true }, { attemptDeadline: Date.now() + 20 })), 504, { type: "timeout" });
      assert.ok(await eventually(() => late.state.cancelled), "the late stream was left running");
    });

    test("a failure after the stop time is swallowed", async () => {
      const unhandled = [];
      const onUnhandled = (reason) => unhandled.push(reason);
      process.on("unhandledRejection", onUnhandled);
      try {
        run = async () => {
          await pause(40);
          throw new Error("late failure");
        };
        assertError(await infer(chat({}, { attemptDeadline: Date.now() + 10 })), 504, { type: "timeout" });
        await pause(80);
        assert.deepEqual(unhandled, []);
      } finally {
        process.off("unhandledRejection", onUnhandled);
      }
    });

    test("an answer in time is not a timeout, and leaves no timer behind", async () => {
      run = async () => ({ response: "quick" });
      await pause(5);
      const timers = () => process.getActiveResourcesInfo().filter((kind) => kind === "Timeout").length;
      const before = timers();
      assert.equal((await infer(chat({}, { attemptDeadline: Date.now() + 60_000 }))).status, 200);
      assert.ok(timers() <= before, "a timer is left waiting for the stop time");
    });

    test("health() is ok while the binding is there", async () => {
      assert.equal((await (await backend(ENV)).health()).ok, true);
    });
  });
  describe("workers-ai: the shapes current models answer in (issue 13)", () => {
    const sse = (events) => [...events.map(aiEvent), "data: [DONE]\n\n"];
    /** What an OpenAI client assembles from chunks: content, reasoning, tool calls merged by index, finish. */
    function assemble(events) {
      const out = { content: "", reasoning: "", calls: [], finish: null, usage: null };
      for (const chunk of events.slice(0, -1)) {
        if (chunk.usage) out.usage = chunk.usage;
        const choice = chunk.choices[0];
        if (!choice) continue;
        out.content += choice.delta.content ?? "";
        out.reasoning += choice.delta.reasoning_content ?? "";
        for (const piece of choice.delta.tool_calls ?? []) {
          const call = (out.calls[piece.index] ??= { id: "", type: "", function: { name: "", arguments: "" } });
          call.id += piece.id ?? "";
          call.type += piece.type ?? "";
          call.function.name += piece.function?.name ?? "";
          call.function.arguments += piece.function?.arguments ?? "";
        }
        out.finish = choice.finish_reason ?? out.finish;
      }
      return out;
    }

    test("finding 1: an OpenAI-shaped stream is read: content, reasoning as reasoning_content, finish_reason length kept", async () => {
      const { text, error } = await translated(sse(GLM_REASONING_CUT.events), chat({ stream: true, max_tokens: 8, stream_options: { include_usage: true } }));
      assert.equal(error, null);
      const events = sseData(text);
      const got = assemble(events);
      assert.equal(got.content, "Once upon a time, in a kingdom far");
      assert.equal(got.reasoning, "The user wants a story.");
      assert.equal(got.finish, "length");
      assert.deepEqual(got.usage, { prompt_tokens: 11, completion_tokens: 8, total_tokens: 19 });
      assert.ok(events.slice(0, -1).every((c) => c.object === "chat.completion.chunk" && c.model === "llama"));
      const gptOss = assemble(sseData((await translated(sse(GPT_OSS_REASONING.events), chat({ stream: true }))).text));
      assert.deepEqual([gptOss.reasoning, gptOss.content, gptOss.finish], ["Think.", "Answer.", "stop"]);
    });

    test("finding 1: a non-streamed OpenAI-shaped answer keeps its reasoning, tool calls and finish_reason", async () => {
      run = async () => structuredClone(KIMI_JSON.answer);
      const { body } = await infer(chat({ tools: [] }));
      assert.deepEqual(body.choices, [
        {
          index: 0,
          message: { role: "assistant", content: null, reasoning_content: "Need the weather tool.", tool_calls: KIMI_JSON.answer.choices[0].message.tool_calls },
          logprobs: null,
          finish_reason: "tool_calls",
        },
      ]);
      run = async () => ({ choices: [{ message: { content: "x", reasoning: "why" }, finish_reason: "length" }] });
      const cut = (await infer(chat())).body.choices[0];
      assert.deepEqual([cut.message.reasoning_content, cut.finish_reason], ["why", "length"]);
    });

    test("finding 2: a tool call streamed in four pieces is one call with whole arguments when merged by index", async () => {
      const events = sseData((await translated(sse(TOOL_CALL_PIECES.events), chat({ stream: true, tools: [] }))).text);
      const got = assemble(events);
      assert.equal(got.calls.length, 1, JSON.stringify(got.calls));
      assert.deepEqual(got.calls[0], { id: "chatcmpl-tool-7f3a", type: "function", function: { name: "get_weather", arguments: '{"city": "Paris", "unit": "celsius"}' } });
      assert.deepEqual(JSON.parse(got.calls[0].function.arguments), { city: "Paris", unit: "celsius" });
      assert.equal(got.finish, "tool_calls");
      const pieces = events.slice(0, -1).flatMap((c) => c.choices[0]?.delta.tool_calls ?? []);
      assert.ok(pieces.every((p) => p.index === 0), "every piece names the one call");
      assert.equal(pieces.filter((p) => p.id !== undefined).length, 1, "id and name are sent once");
    });

    test("finding 2: parallel calls streamed interleaved stay two calls", async () => {
      const got = assemble(sseData((await translated(sse(PARALLEL_TOOL_PIECES.events), chat({ stream: true, tools: [] }))).text));
      assert.deepEqual(got.calls.map((c) => [c.id, c.function.name, JSON.parse(c.function.arguments)]), [["call_a", "f", { x: 1 }], ["call_b", "g", { y: 2 }]]);
    });

    test("finding 3: an older model's answer that used the whole max_tokens says length, streamed or not", async () => {
      run = async () => structuredClone(LEGACY_CUT_AT_DEFAULT.answer);
      assert.equal((await infer(chat())).body.choices[0].finish_reason, "length", "Workers AI's default of 256 was in force");
      assert.equal((await infer(chat({ max_tokens: 1000 }))).body.choices[0].finish_reason, "stop", "the client's larger limit was not reached");
      run = async () => ({ response: "short", usage: { prompt_tokens: 1, completion_tokens: 5 } });
      assert.equal((await infer(chat({ max_completion_tokens: 5 }))).body.choices[0].finish_reason, "length");
      assert.equal((await infer(chat({ max_completion_tokens: 6 }))).body.choices[0].finish_reason, "stop");
      const streamed = assemble(sseData((await translated(sse(LEGACY_CUT_AT_DEFAULT.events), chat({ stream: true }))).text));
      assert.deepEqual([streamed.content, streamed.finish], ["A long answer that stops mid", "length"]);
      run = async () => ({ response: "short", usage: { prompt_tokens: 1, completion_tokens: 5 } });
      const completion = await infer(inferenceRequest({ path: "/v1/completions", model: "llama", body: { model: "llama", prompt: "x", max_tokens: 5 } }));
      assert.equal(completion.body.choices[0].finish_reason, "length");
      run = async () => ({ response: "ok", finish_reason: "stop", usage: { completion_tokens: 256 } });
      assert.equal((await infer(chat())).body.choices[0].finish_reason, "stop", "the upstream's own finish_reason wins");
    });

    test("finding 4: assistant content null beside tool_calls becomes \"\"; tool results reach the model; nulls are not sent", async () => {
      run = async () => ({ response: "It is sunny." });
      const toolCall = { id: "call_1", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } };
      const body = {
        messages: [
          { role: "user", content: "Weather?" },
          { role: "assistant", content: null, tool_calls: [toolCall] },
          { role: "tool", tool_call_id: "call_1", content: [{ type: "text", text: "sunny" }] },
        ],
        tool_choice: "auto",
        parallel_tool_calls: false,
        reasoning_effort: "low",
        top_logprobs: 2,
        max_completion_tokens: 100,
        stop: null,
        seed: null,
      };
      assert.equal((await infer(chat(body))).status, 200);
      assert.deepEqual(calls[0].inputs, {
        messages: [
          { role: "user", content: "Weather?" },
          { role: "assistant", content: "", tool_calls: [toolCall] },
          { role: "tool", tool_call_id: "call_1", content: "sunny" },
        ],
        tool_choice: "auto",
        parallel_tool_calls: false,
        reasoning_effort: "low",
        top_logprobs: 2,
        max_tokens: 100,
      });
    });

    test("finding 6: env.AI.run() gets { rejectIfBusy: true } and an AbortSignal, aborted when the attempt is given up", async () => {
      run = async () => ({ response: "ok" });
      await infer(chat());
      assert.deepEqual(options[0], { rejectIfBusy: true, signal: true });
      assert.equal(signals[0].aborted, false, "an answer in time is not aborted");
      run = () => new Promise(() => {});
      assertError(await infer(chat({}, { attemptDeadline: Date.now() + 20 })), 504, { type: "timeout" });
      assert.equal(signals[1].aborted, true, "the abandoned run was cancelled");
    });

    test("finding 6: a binding that cannot take the signal (an RPC stand-in) is called again without it", async () => {
      const stub = {
        seen: [],
        async run(model, inputs, runOptions) {
          this.seen.push(Object.keys(runOptions ?? {}));
          if (runOptions?.signal) throw Object.assign(new Error("AbortSignal serialization is not enabled."), { name: "DataCloneError" });
          return { response: "ok" };
        },
      };
      const env = { ...ENV, AI: stub };
      assert.equal((await infer(chat(), env)).status, 200);
      assert.equal((await infer(chat(), env)).status, 200);
      assert.deepEqual(stub.seen, [["rejectIfBusy", "signal"], ["rejectIfBusy"], ["rejectIfBusy"]]);
    });

    test("answers are bounded by MAX_UPSTREAM_BYTES: a JSON answer is a 502, a stream ends with an SSE error and no [DONE]", async () => {
      const env = { ...ENV, MAX_UPSTREAM_BYTES: "200" };
      run = async () => ({ response: "x".repeat(300) });
      assertError(await infer(chat(), env), 502, { code: "upstream_response_too_large" });
      const long = aiStream([aiEvent({ response: "x".repeat(150) }), aiEvent({ response: "y".repeat(150) }), "data: [DONE]\n\n"]);
      run = async () => long.stream;
      const answer = await infer(chat({ stream: true }), env);
      const { text } = await readStream(answer.stream);
      assert.match(text, /"code":"upstream_response_too_large"/);
      assert.doesNotMatch(text, /\[DONE\]|yyy/);
      assert.ok(await eventually(() => long.state.cancelled), "the rest is cancelled unread");
    });

    test("an error event in the stream cuts it: no clean [DONE]", async () => {
      const { error, text } = await translated([aiEvent({ response: "a" }), aiEvent({ errors: [{ code: 3040, message: "Capacity" }] }), "data: [DONE]\n\n"], chat({ stream: true }));
      assert.notEqual(error, null);
      assert.doesNotMatch(text, /\[DONE\]/);
    });
  });
});
