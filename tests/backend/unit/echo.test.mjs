// The echo provider as an RPC caller sees it (node, no transport). What the docs promise: chat
// echoes the last user message, completions echo each prompt, embeddings are deterministic unit
// vectors, streams are OpenAI's chunk format ending with [DONE], max_tokens truncates, and
// ECHO_LATENCY_MS never makes it answer past the stop time. Token counts are the echo model's own:
// only the contract's properties are checked (integers >= 0, total = prompt + completion, at most
// max_tokens), and that a stream reports what the same request answers without streaming.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { assertError, backend, inferenceRequest, isConsistentUsage, readStream, sseData, SUITE_TIMEOUT_MS, timerFlag } from "./template.mjs";

// One suite per file, so its hooks stay its own when all unit files run in one process (all.mjs).
describe("the echo provider", { timeout: SUITE_TIMEOUT_MS }, () => {
  function chatRequest(messages, extra = {}, overrides = {}) {
    return inferenceRequest({ stream: extra.stream === true, body: { model: "any-model", messages, ...extra }, ...overrides });
  }
  const user = (content) => ({ role: "user", content });

  async function answer(req, env = {}) {
    return (await backend(env)).infer(req);
  }

  /** The chunks of a streamed answer (checked to end with a single [DONE]), and the stream's facts. */
  async function streamed(req, env = {}) {
    const result = await answer(req, env);
    assert.equal(result.status, 200, JSON.stringify(result));
    assert.match(result.headers["content-type"], /^text\/event-stream/);
    assert.equal(result.body, undefined);
    const read = await readStream(result.stream);
    assert.equal(read.error, null);
    const events = sseData(read.text);
    assert.equal(events.at(-1), "[DONE]");
    assert.equal(events.indexOf("[DONE]"), events.length - 1);
    return { chunks: events.slice(0, -1), text: read.text, pieces: read.chunks };
  }

  function assertCreated(created, before) {
    assert.ok(Number.isInteger(created), `created ${created}`);
    assert.ok(created >= Math.floor(before / 1000) && created <= Math.ceil(Date.now() / 1000), `created ${created} is not now in seconds`);
  }

  describe("echo: chat completions", () => {
    test("echo the last user message (text parts of a content array joined by newlines) as a chat.completion", async () => {
      const before = Date.now();
      const req = chatRequest([
        { role: "system", content: "be brief" },
        user("first question"),
        { role: "assistant", content: "an answer" },
        user([
          { type: "text", text: "what is" },
          { type: "image_url", image_url: { url: "https://x/y.png" }, text: "a caption is not a text part" },
          null,
          { type: "text", text: 4 },
          { type: "text", text: "two plus two" },
        ]),
        { role: "tool", content: "tool output" },
      ]);
      const result = await answer(req);
      assert.equal(result.status, 200);
      assert.equal(result.headers["content-type"], "application/json");
      assert.equal(result.stream, undefined);
      const { body } = result;
      assert.equal(body.object, "chat.completion");
      assert.equal(body.model, "any-model");
      assert.match(body.id, /^chatcmpl-\S+$/);
      assertCreated(body.created, before);
      assert.deepEqual(body.choices, [{ index: 0, message: { role: "assistant", content: "what is\ntwo plus two" }, logprobs: null, finish_reason: "stop" }]);
      assert.ok(isConsistentUsage(body.usage), JSON.stringify(body.usage));
      assert.ok(body.usage.prompt_tokens > 0 && body.usage.completion_tokens > 0);
    });

    test("the echo keeps the message's whitespace exactly", async () => {
      for (const content of ["  leading and trailing  ", "line one\nline two\n\n  three\t", "single", "a  b"]) {
        const { body } = await answer(chatRequest([user(content)]));
        assert.equal(body.choices[0].message.content, content);
      }
    });

    test("model is the request's model, not the body's", async () => {
      const { body } = await answer(chatRequest([user("x")], {}, { model: "client-model" }));
      assert.equal(body.model, "client-model");
    });

    test("no user message, or one without text, echoes nothing and counts no completion tokens", async () => {
      for (const messages of [[{ role: "system", content: "only a system prompt" }], [user("")], [user("   ")], [user([{ type: "image_url", image_url: { url: "u" } }])], [null, "text", 5, user(42)]]) {
        const { status, body } = await answer(chatRequest(messages));
        assert.equal(status, 200, JSON.stringify(messages));
        assert.equal(body.choices[0].message.content.trim(), "");
        assert.equal(body.choices[0].finish_reason, "stop");
        assert.ok(isConsistentUsage(body.usage));
        assert.equal(body.usage.completion_tokens, 0);
      }
    });

    test("a message that is not an object does not hide the last user message", async () => {
      const { status, body } = await answer(chatRequest([user("the question"), null, "stray", { content: "no role" }]));
      assert.equal(status, 200);
      assert.equal(body.choices[0].message.content, "the question");
    });

    test("messages missing, empty or not an array answer 400 naming messages", async () => {
      for (const messages of [undefined, [], "hello", { role: "user", content: "x" }]) {
        assertError(await answer(inferenceRequest({ body: { model: "m", messages } })), 400, { type: "invalid_request_error", param: "messages" });
      }
    });

    test("the id is the same for the same requestId (a retry) and differs for another", async () => {
      const a1 = await answer(chatRequest([user("x")], {}, { requestId: "req-a" }));
      const a2 = await answer(chatRequest([user("y")], {}, { requestId: "req-a", attempt: 2 }));
      const b = await answer(chatRequest([user("x")], {}, { requestId: "req-b" }));
      assert.equal(a1.body.id, a2.body.id);
      assert.notEqual(a1.body.id, b.body.id);
    });

    test("max_tokens truncates the echo to a prefix and finishes with length", async () => {
      const full = "one two three four";
      const { body } = await answer(chatRequest([user(full)], { max_tokens: 2 }));
      const content = body.choices[0].message.content;
      assert.equal(body.choices[0].finish_reason, "length");
      assert.ok(content.length > 0 && content.length < full.length && full.startsWith(content), JSON.stringify(content));
      assert.ok(isConsistentUsage(body.usage));
      assert.ok(body.usage.completion_tokens >= 1 && body.usage.completion_tokens <= 2, JSON.stringify(body.usage));
    });

    test("max_completion_tokens wins over max_tokens", async () => {
      const full = "one two three four";
      const one = (await answer(chatRequest([user(full)], { max_completion_tokens: 1, max_tokens: 3 }))).body;
      const three = (await answer(chatRequest([user(full)], { max_tokens: 3 }))).body;
      assert.equal(one.choices[0].finish_reason, "length");
      assert.ok(one.usage.completion_tokens <= 1);
      assert.ok(three.choices[0].message.content.startsWith(one.choices[0].message.content));
      assert.ok(three.choices[0].message.content.length > one.choices[0].message.content.length);
    });

    test("a limit the echo fits in finishes with stop, whole", async () => {
      for (const limit of [4, 5]) {
        const { body } = await answer(chatRequest([user("one two three four")], { max_tokens: limit }));
        assert.equal(body.choices[0].message.content, "one two three four");
        assert.equal(body.choices[0].finish_reason, "stop");
      }
    });

    test("a limit that is not a positive integer is ignored", async () => {
      for (const limit of [0, -1, 1.5, "2", null]) {
        const { status, body } = await answer(chatRequest([user("one two three")], { max_tokens: limit }));
        assert.equal(status, 200);
        assert.equal(body.choices[0].message.content, "one two three", `max_tokens ${limit}`);
        assert.equal(body.choices[0].finish_reason, "stop");
      }
    });
  });

  describe("echo: chat streaming", () => {
    test("a role chunk, content chunks, a stop chunk, then [DONE]; the same text and id as without streaming", async () => {
      const before = Date.now();
      const messages = [user("stream these  words\n")];
      const { chunks, pieces } = await streamed(chatRequest(messages, { stream: true }));
      const plain = (await answer(chatRequest(messages))).body;
      for (const chunk of chunks) {
        assert.equal(chunk.object, "chat.completion.chunk");
        assert.equal(chunk.model, "any-model");
        assert.equal(chunk.id, plain.id);
        assert.equal(chunk.created, chunks[0].created);
        assert.ok(!("usage" in chunk), "no usage field unless include_usage");
      }
      assertCreated(chunks[0].created, before);
      assert.deepEqual(chunks[0].choices, [{ index: 0, delta: { role: "assistant", content: "" }, logprobs: null, finish_reason: null }]);
      const content = chunks.slice(1, -1);
      assert.ok(content.length >= 2, "the answer arrives in several content chunks");
      for (const chunk of content) {
        assert.equal(chunk.choices.length, 1);
        assert.deepEqual(Object.keys(chunk.choices[0].delta), ["content"]);
        assert.equal(chunk.choices[0].finish_reason, null);
        assert.equal(chunk.choices[0].logprobs, null);
        assert.equal(chunk.choices[0].index, 0);
      }
      assert.equal(content.map((c) => c.choices[0].delta.content).join(""), plain.choices[0].message.content);
      assert.deepEqual(chunks.at(-1).choices, [{ index: 0, delta: {}, logprobs: null, finish_reason: "stop" }]);
      assert.ok(pieces >= 2, "the stream is not one blob");
    });

    test("stream_options.include_usage: usage null on every chunk, then a usage chunk equal to the plain answer's", async () => {
      const messages = [{ role: "system", content: "sys prompt" }, user("a b c")];
      const { chunks } = await streamed(chatRequest(messages, { stream: true, stream_options: { include_usage: true } }));
      const plain = (await answer(chatRequest(messages))).body;
      const usageChunk = chunks.at(-1);
      assert.deepEqual(usageChunk.choices, []);
      assert.equal(usageChunk.object, "chat.completion.chunk");
      assert.equal(usageChunk.id, plain.id);
      assert.equal(usageChunk.model, "any-model");
      assert.equal(usageChunk.created, chunks[0].created);
      assert.deepEqual(usageChunk.usage, plain.usage);
      assert.ok(chunks.slice(0, -1).every((c) => c.usage === null));
      assert.equal(chunks.at(-2).choices[0].finish_reason, "stop");
    });

    test("include_usage other than true adds no usage chunk", async () => {
      for (const stream_options of [{ include_usage: "true" }, { include_usage: 1 }, {}, null, true]) {
        const { chunks } = await streamed(chatRequest([user("a b")], { stream: true, stream_options }));
        assert.ok(chunks.every((c) => !("usage" in c) && c.choices.length === 1), JSON.stringify(stream_options));
      }
    });

    test("a truncated stream ends with finish_reason length", async () => {
      const { chunks } = await streamed(chatRequest([user("one two three four")], { stream: true, max_tokens: 2 }));
      assert.equal(chunks.at(-1).choices[0].finish_reason, "length");
      const text = chunks.slice(1, -1).map((c) => c.choices[0].delta.content).join("");
      assert.ok(text.length > 0 && "one two three four".startsWith(text) && text.length < "one two three four".length);
    });

    test("an empty echo streams a role chunk, a stop chunk and [DONE]", async () => {
      const { chunks } = await streamed(chatRequest([user("")], { stream: true }));
      assert.equal(chunks.length, 2);
      assert.equal(chunks[1].choices[0].finish_reason, "stop");
    });

    test("a stream bad request is a JSON 400, not a stream", async () => {
      assertError(await answer(inferenceRequest({ stream: true, body: { model: "m", stream: true } })), 400, { param: "messages" });
    });
  });

  describe("echo: completions", () => {
    test("each prompt (a string, strings, token arrays) is echoed as a text_completion choice", async () => {
      const before = Date.now();
      const req = inferenceRequest({ path: "/v1/completions", body: { model: "m", prompt: ["say this", " and  that too "] } });
      const { status, headers, body } = await answer(req);
      assert.equal(status, 200);
      assert.equal(headers["content-type"], "application/json");
      assert.equal(body.object, "text_completion");
      assert.equal(body.model, "any-model");
      assert.match(body.id, /^cmpl-\S+$/);
      assertCreated(body.created, before);
      assert.deepEqual(body.choices, [
        { index: 0, text: "say this", logprobs: null, finish_reason: "stop" },
        { index: 1, text: " and  that too ", logprobs: null, finish_reason: "stop" },
      ]);
      assert.ok(isConsistentUsage(body.usage));
      assert.ok(body.usage.prompt_tokens > 0 && body.usage.completion_tokens > 0);

      const single = await answer(inferenceRequest({ path: "/v1/completions", body: { model: "m", prompt: "just one" } }));
      assert.deepEqual(single.body.choices.map((c) => c.text), ["just one"]);

      const tokens = await answer(inferenceRequest({ path: "/v1/completions", body: { model: "m", prompt: [1, 2, 3] } }));
      assert.equal(tokens.body.choices.length, 1);
      assert.match(tokens.body.choices[0].text, /1\D+2\D+3/);
      const tokenArrays = await answer(inferenceRequest({ path: "/v1/completions", body: { model: "m", prompt: [[1, 2], [3]] } }));
      assert.equal(tokenArrays.body.choices.length, 2);
      assert.match(tokenArrays.body.choices[0].text, /1\D+2/);
      assert.match(tokenArrays.body.choices[1].text, /3/);
    });

    test("the completions id is stable per requestId", async () => {
      const req = (requestId) => inferenceRequest({ requestId, path: "/v1/completions", body: { model: "m", prompt: "p" } });
      assert.equal((await answer(req("r1"))).body.id, (await answer(req("r1"))).body.id);
      assert.notEqual((await answer(req("r1"))).body.id, (await answer(req("r2"))).body.id);
    });

    test("max_tokens truncates each prompt's echo", async () => {
      const { body } = await answer(inferenceRequest({ path: "/v1/completions", body: { model: "m", prompt: ["one two three", "four"], max_tokens: 1 } }));
      assert.equal(body.choices[0].finish_reason, "length");
      assert.ok("one two three".startsWith(body.choices[0].text) && body.choices[0].text.length < "one two three".length);
      assert.deepEqual([body.choices[1].text, body.choices[1].finish_reason], ["four", "stop"]);
      assert.ok(isConsistentUsage(body.usage));
      assert.ok(body.usage.completion_tokens <= 2);
    });

    test("a prompt of another shape answers 400 naming prompt", async () => {
      for (const prompt of [undefined, [], [1, "a"], [[]], [[1], "a"], [[1, "a"]], {}, 5, [null]]) {
        assertError(await answer(inferenceRequest({ path: "/v1/completions", body: { model: "m", prompt } })), 400, { type: "invalid_request_error", param: "prompt" });
      }
    });

    test("streaming: text_completion chunks per prompt, each ending with its finish chunk, then usage and [DONE]", async () => {
      const prompts = ["x y", "one two three"];
      const body = { model: "m", stream: true, prompt: prompts, max_tokens: 2, stream_options: { include_usage: true } };
      const { chunks } = await streamed(inferenceRequest({ path: "/v1/completions", stream: true, body }));
      const plain = (await answer(inferenceRequest({ path: "/v1/completions", body: { ...body, stream: false } }))).body;
      const usageChunk = chunks.at(-1);
      assert.deepEqual(usageChunk.choices, []);
      assert.deepEqual(usageChunk.usage, plain.usage);
      assert.equal(usageChunk.object, "text_completion");
      for (const chunk of chunks) {
        assert.equal(chunk.object, "text_completion");
        assert.equal(chunk.id, plain.id);
        assert.equal(chunk.model, "any-model");
      }
      for (const [index, choice] of plain.choices.entries()) {
        const mine = chunks.slice(0, -1).filter((c) => c.choices[0].index === index).map((c) => c.choices[0]);
        assert.ok(mine.length >= 2);
        assert.equal(mine.map((c) => c.text).join(""), choice.text);
        assert.ok(mine.slice(0, -1).every((c) => c.finish_reason === null && c.text !== "" && c.logprobs === null));
        assert.deepEqual(mine.at(-1), { index, text: "", logprobs: null, finish_reason: choice.finish_reason });
      }
      assert.deepEqual(plain.choices.map((c) => c.finish_reason), ["stop", "length"]);
    });

    test("streaming without include_usage ends with the finish chunk", async () => {
      const { chunks } = await streamed(inferenceRequest({ path: "/v1/completions", stream: true, body: { model: "m", stream: true, prompt: "a b" } }));
      assert.ok(chunks.every((c) => c.choices.length === 1 && !("usage" in c)));
      assert.equal(chunks.at(-1).choices[0].finish_reason, "stop");
    });
  });

  describe("echo: embeddings", () => {
    const embed = (body, overrides = {}) => answer(inferenceRequest({ path: "/v1/embeddings", body: { model: "e", ...body }, ...overrides }));
    const isUnit = (vector) => Math.abs(Math.hypot(...vector) - 1) < 1e-5;

    test("one deterministic unit vector of 8 floats per input, OpenAI's list shape", async () => {
      const { status, headers, body } = await embed({ input: ["alpha", "beta", "alpha"] });
      assert.equal(status, 200);
      assert.equal(headers["content-type"], "application/json");
      assert.deepEqual(Object.keys(body).sort(), ["data", "model", "object", "usage"]);
      assert.equal(body.object, "list");
      assert.equal(body.model, "any-model");
      assert.equal(body.data.length, 3);
      body.data.forEach((item, index) => {
        assert.deepEqual(Object.keys(item).sort(), ["embedding", "index", "object"]);
        assert.equal(item.object, "embedding");
        assert.equal(item.index, index);
        assert.equal(item.embedding.length, 8);
        assert.ok(item.embedding.every((x) => typeof x === "number" && Number.isFinite(x)));
        assert.ok(isUnit(item.embedding));
      });
      assert.deepEqual(body.data[0].embedding, body.data[2].embedding);
      assert.notDeepEqual(body.data[0].embedding, body.data[1].embedding);
      assert.ok(Number.isInteger(body.usage.prompt_tokens) && body.usage.prompt_tokens > 0);
      assert.equal(body.usage.total_tokens, body.usage.prompt_tokens);

      const again = await embed({ input: "alpha" }, { requestId: "another" });
      assert.deepEqual(again.body.data[0].embedding, body.data[0].embedding);
    });

    test("dimensions from 1 to 4096; base64 is the float32 little-endian bytes of the same vector", async () => {
      for (const dimensions of [1, 9, 20, 4096]) {
        const floats = await embed({ input: "gamma", dimensions });
        assert.equal(floats.status, 200);
        const vector = floats.body.data[0].embedding;
        assert.equal(vector.length, dimensions);
        assert.ok(isUnit(vector), `dimensions ${dimensions}`);
        if (dimensions > 1) assert.ok(new Set(vector).size > 1, "the components differ");
        const encoded = await embed({ input: "gamma", dimensions, encoding_format: "base64" });
        assert.equal(typeof encoded.body.data[0].embedding, "string");
        const bytes = Buffer.from(encoded.body.data[0].embedding, "base64");
        assert.equal(bytes.length, dimensions * 4);
        assert.deepEqual(Array.from({ length: dimensions }, (_, i) => bytes.readFloatLE(i * 4)), vector);
      }
      const explicit = await embed({ input: "gamma", encoding_format: "float" });
      assert.equal(explicit.body.data[0].embedding.length, 8);
    });

    test("the components of a long vector differ block by block", async () => {
      const vector = (await embed({ input: "delta", dimensions: 24 })).body.data[0].embedding;
      assert.notDeepEqual(vector.slice(0, 8), vector.slice(8, 16));
      assert.notDeepEqual(vector.slice(8, 16), vector.slice(16, 24));
    });

    test("token arrays are inputs too", async () => {
      const { status, body } = await embed({ input: [[1, 2], [3]] });
      assert.equal(status, 200);
      assert.equal(body.data.length, 2);
      assert.notDeepEqual(body.data[0].embedding, body.data[1].embedding);
      assert.equal((await embed({ input: [5, 6] })).body.data.length, 1);
    });

    test("bad input, dimensions or encoding_format answer 400 naming the field", async () => {
      for (const input of [undefined, [], [{}], [1, "a"], 3, [["a"]]]) assertError(await embed({ input }), 400, { type: "invalid_request_error", param: "input" });
      for (const dimensions of [0, 4097, 2.5, "8", -3]) assertError(await embed({ input: "a", dimensions }), 400, { param: "dimensions" });
      for (const encoding_format of ["base32", "", 1]) assertError(await embed({ input: "a", encoding_format }), 400, { param: "encoding_format" });
    });
  });

  // These tests wait on timers: run side by side, they take as long as the longest.
  describe("echo: ECHO_LATENCY_MS and the stop time", { concurrency: true }, () => {
    test("the latency delays the answer and each streamed word", async () => {
      // 30 ms before answering and before each of 3 words: not done before a timer of 4 x 30 - 1 ms.
      const minimum = timerFlag(4 * 30 - 1);
      const { chunks } = await streamed(chatRequest([user("one two three")], { stream: true }), { ECHO_LATENCY_MS: "30" });
      assert.equal(chunks.at(-1).choices[0].finish_reason, "stop");
      assert.ok(minimum.fired, "the stream was done before 4 latencies");
    });

    test("completions streams wait between words too", async () => {
      const minimum = timerFlag(4 * 30 - 1);
      await streamed(inferenceRequest({ path: "/v1/completions", stream: true, body: { model: "m", prompt: "one two three" } }), { ECHO_LATENCY_MS: 30 });
      assert.ok(minimum.fired, "the stream was done before 4 latencies");
    });

    test("a non-streamed answer waits the latency once", async () => {
      const minimum = timerFlag(40 - 1);
      assert.equal((await answer(chatRequest([user("one two three")]), { ECHO_LATENCY_MS: "40" })).status, 200);
      assert.ok(minimum.fired, "answered before the latency");
    });

    test("a latency longer than the attempt's time answers 504 at the stop time, not after the latency", async () => {
      const tooLate = timerFlag(30_000);
      const req = chatRequest([user("x")], {}, { attemptDeadline: Date.now() + 50 });
      const result = await answer(req, { ECHO_LATENCY_MS: "60000" });
      tooLate.clear();
      assertError(result, 504, { type: "timeout", code: "timeout" });
      assert.ok(!tooLate.fired, "waited for the latency");
    });

    test("the words of a stream never wait past the deadline", async () => {
      const words = Array.from({ length: 80 }, (_, i) => `w${i}`).join(" ");
      // Unbounded, 80 words x 50 ms would take 4 s; bounded by the deadline, about 0.12 s.
      const tooLate = timerFlag(2000);
      const req = chatRequest([user(words)], { stream: true }, { deadline: Date.now() + 120, attemptDeadline: Date.now() + 120 });
      const { chunks } = await streamed(req, { ECHO_LATENCY_MS: "50" });
      tooLate.clear();
      assert.equal(chunks.at(-1).choices[0].finish_reason, "stop");
      assert.ok(!tooLate.fired, "the words waited past the deadline");
    });

    test("completion words never wait past the deadline either", async () => {
      const prompt = Array.from({ length: 80 }, (_, i) => `w${i}`).join(" ");
      const tooLate = timerFlag(2000);
      const req = inferenceRequest({ path: "/v1/completions", stream: true, body: { model: "m", prompt }, deadline: Date.now() + 120, attemptDeadline: Date.now() + 120 });
      await streamed(req, { ECHO_LATENCY_MS: "50" });
      tooLate.clear();
      assert.ok(!tooLate.fired, "the words waited past the deadline");
    });

    test("embeddings and every path answer 504 once the stop time has passed", async () => {
      for (const [path, body] of [
        ["/v1/embeddings", { model: "e", input: "a" }],
        ["/v1/completions", { model: "m", prompt: "a" }],
        ["/v1/chat/completions", { model: "m", messages: [user("a")] }],
      ]) {
        assertError(await answer(inferenceRequest({ path, body, attemptDeadline: Date.now() - 1 })), 504, { type: "timeout" });
      }
    });
  });

  // Not side by side with the timer tests above: these stop the clock or hold the event loop.
  describe("echo: the stop time itself", () => {
    test("a wait that overruns the stop time (a busy machine) answers 504, never a late 200", async () => {
      // Due 10 ms before the stop time; the event loop is then held past it while the echo waits.
      const b = await backend({ ECHO_LATENCY_MS: "30" });
      const pending = b.infer(chatRequest([user("x")], {}, { attemptDeadline: Date.now() + 40 }));
      for (const until = Date.now() + 80; Date.now() < until; );
      assertError(await pending, 504, { type: "timeout" });
    });

    test("an answer due exactly at the stop time is a 504: the attempt is over", async () => {
      const realNow = Date.now;
      const frozen = realNow();
      Date.now = () => frozen;
      try {
        assertError(await answer(chatRequest([user("x")], {}, { attemptDeadline: frozen })), 504, { type: "timeout" });
        assertError(await answer(chatRequest([user("x")], {}, { deadline: frozen })), 504, { type: "timeout" });
        assert.equal((await answer(chatRequest([user("x")], {}, { attemptDeadline: frozen + 1 }))).status, 200);
        // A latency that ends exactly at the stop time, or just before it (the clock stands still here).
        assertError(await answer(chatRequest([user("x")], {}, { attemptDeadline: frozen + 10 }), { ECHO_LATENCY_MS: "10" }), 504, { type: "timeout" });
        assert.equal((await answer(chatRequest([user("x")], {}, { attemptDeadline: frozen + 11 }), { ECHO_LATENCY_MS: "10" })).status, 200);
      } finally {
        Date.now = realNow;
      }
    });
  });
});
