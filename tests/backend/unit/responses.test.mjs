// The Responses API (/v1/responses) in the backend template (node, no transport): echo answers a
// Response object and its typed event stream; openai-compatible forwards to <base>/responses and
// relays the upstream's events unchanged, ending a stream cut before its terminal event with the
// Responses API's error event; describe() lists the endpoints each provider serves, and a provider
// that does not serve a path answers 400 unsupported_endpoint (docs/backend-template.md).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { assertError, backend, inferenceRequest, networkAnswer, readStream, SUITE_TIMEOUT_MS } from "./template.mjs";

/** The typed events of a Responses stream: [{event, data}], each checked to be whole. */
function typedEvents(text) {
  const blocks = text.split("\n\n");
  assert.equal(blocks.pop(), "", `ends with a blank line: ${JSON.stringify(text.slice(-60))}`);
  return blocks.map((block) => {
    const [eventLine, dataLine, ...rest] = block.split("\n");
    assert.equal(rest.length, 0, block);
    assert.match(eventLine, /^event: /);
    assert.match(dataLine, /^data: /);
    const data = JSON.parse(dataLine.slice(6));
    assert.equal(data.type, eventLine.slice(7), "the data's type is the event's");
    return { event: eventLine.slice(7), data };
  });
}

function responsesRequest(input, extra = {}, overrides = {}) {
  return inferenceRequest({ path: "/v1/responses", model: "m", stream: extra.stream === true, body: { model: "m", input, ...extra }, ...overrides });
}

// One suite per file, so its hooks stay its own when all unit files run in one process (all.mjs).
describe("the Responses API in the backend template", { timeout: SUITE_TIMEOUT_MS }, () => {
  describe("echo", () => {
    test("answers a Response echoing the last user input, with input/output/total tokens", async () => {
      const input = [{ role: "user", content: "first" }, { role: "assistant", content: "x" }, { role: "user", content: [{ type: "input_text", text: "echo me back" }] }];
      const answer = await (await backend()).infer(responsesRequest(input));
      assert.equal(answer.status, 200, JSON.stringify(answer));
      const r = answer.body;
      assert.match(r.id, /^resp_[0-9a-f]+$/);
      assert.equal(r.object, "response");
      assert.equal(r.status, "completed");
      assert.equal(r.model, "m");
      assert.equal(r.output.length, 1);
      assert.equal(r.output[0].type, "message");
      assert.equal(r.output[0].role, "assistant");
      assert.deepEqual(r.output[0].content.map((c) => [c.type, c.text]), [["output_text", "echo me back"]]);
      assert.equal(r.usage.output_tokens, 3);
      assert.ok(r.usage.input_tokens >= r.usage.output_tokens);
      assert.equal(r.usage.total_tokens, r.usage.input_tokens + r.usage.output_tokens);
      const again = await (await backend()).infer(responsesRequest("echo me back"));
      assert.equal(again.body.id, r.id, "the same request id gives the same response id");
    });

    test("max_output_tokens cuts the echo: status incomplete", async () => {
      const answer = await (await backend()).infer(responsesRequest("one two three four", { max_output_tokens: 2 }));
      assert.equal(answer.body.status, "incomplete");
      assert.equal(answer.body.output[0].content[0].text, "one two ");
      assert.deepEqual(answer.body.incomplete_details, { reason: "max_output_tokens" });
    });

    test("streams response.created, the text deltas, output_text.done and response.completed (no [DONE])", async () => {
      const answer = await (await backend()).infer(responsesRequest("stream this text", { stream: true }));
      assert.equal(answer.status, 200);
      assert.match(answer.headers["content-type"], /^text\/event-stream/);
      const read = await readStream(answer.stream);
      assert.equal(read.error, null);
      assert.ok(!read.text.includes("[DONE]"));
      const events = typedEvents(read.text);
      assert.equal(events[0].event, "response.created");
      assert.equal(events[0].data.response.status, "in_progress");
      assert.equal(events.filter((e) => e.event === "response.output_text.delta").map((e) => e.data.delta).join(""), "stream this text");
      assert.equal(events.find((e) => e.event === "response.output_text.done").data.text, "stream this text");
      const last = events.at(-1);
      assert.equal(last.event, "response.completed");
      assert.equal(last.data.response.output[0].content[0].text, "stream this text");
      assert.equal(last.data.response.usage.output_tokens, 3);
      assert.deepEqual(events.map((e) => e.data.sequence_number), events.map((_, i) => i));
    });

    test("input that is neither a string nor input items answers 400 naming input", async () => {
      assertError(await (await backend()).infer(responsesRequest(42)), 400, { param: "input" });
    });
  });

  describe("providers that do not serve it", () => {
    test("describe() lists each provider's endpoints; workers-ai and anthropic answer 400 unsupported_endpoint", async () => {
      const echo = await (await backend()).describe();
      assert.deepEqual(echo.endpoints, ["chat/completions", "completions", "embeddings", "responses"]);
      const anthropicEnv = { PROVIDER: "anthropic", UPSTREAM_API_KEY: "k" };
      assert.deepEqual((await (await backend(anthropicEnv)).describe()).endpoints, ["chat/completions"]);
      const aiEnv = { PROVIDER: "workers-ai", AI: { run: async () => ({ response: "x" }) } };
      assert.deepEqual((await (await backend(aiEnv)).describe()).endpoints, ["chat/completions", "completions", "embeddings"]);
      for (const env of [anthropicEnv, aiEnv]) {
        assertError(await (await backend(env)).infer(responsesRequest("hi")), 400, { code: "unsupported_endpoint" });
      }
    });
  });

  describe("openai-compatible", () => {
    const BASE = "http://upstream.test/v1";
    const ENV = { PROVIDER: "openai-compatible", UPSTREAM_BASE_URL: BASE, UPSTREAM_API_KEY: "sk-test" };
    const encoder = new TextEncoder();
    const realFetch = globalThis.fetch;
    let calls = [];
    let route = () => new Response("{}");
    before(() => {
      globalThis.fetch = async (input, init = {}) => {
        const call = { url: String(input), body: init.body ?? null, signal: init.signal ?? null };
        calls.push(call);
        return networkAnswer(() => route(call), call.signal);
      };
    });
    after(() => {
      globalThis.fetch = realFetch;
    });

    const typed = (type, data = {}) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
    /** An upstream SSE answer of `chunks`; `state.cancelled` says whether it was cancelled. */
    function sse(chunks, { end = "close" } = {}) {
      const state = { cancelled: false };
      const queue = chunks.map((c) => encoder.encode(c));
      const stream = new ReadableStream({
        pull(controller) {
          if (queue.length > 0) return controller.enqueue(queue.shift());
          if (end === "close") return controller.close();
          return new Promise(() => {});
        },
        cancel() {
          state.cancelled = true;
        },
      }, { highWaterMark: 0 });
      return { response: new Response(stream, { status: 200, headers: { "content-type": "text/event-stream" } }), state };
    }

    test("forwards the body to <base>/responses and answers the upstream's Response", async () => {
      calls = [];
      const response = { id: "resp_up", object: "response", status: "completed", output: [], usage: { input_tokens: 3, output_tokens: 2, total_tokens: 5 } };
      route = () => Response.json(response);
      const req = responsesRequest("hello");
      const answer = await (await backend(ENV)).infer(req);
      assert.equal(answer.status, 200);
      assert.deepEqual(answer.body, response);
      assert.equal(calls[0].url, `${BASE}/responses`);
      assert.deepEqual(JSON.parse(calls[0].body), req.body);
    });

    test("relays a stream unchanged when it ends with a terminal event", async () => {
      for (const terminal of ["response.completed", "response.failed", "response.incomplete"]) {
        const upstream = [typed("response.created", { response: {} }), typed("response.output_text.delta", { delta: "hi" }), typed(terminal, { response: { usage: null } })];
        route = () => sse(upstream).response;
        const answer = await (await backend(ENV)).infer(responsesRequest("hi", { stream: true }));
        const read = await readStream(answer.stream);
        assert.equal(read.text, upstream.join(""), terminal);
      }
    });

    test("a stream cut before its terminal event ends with the Responses error event", async () => {
      // The terminal event's name split across chunks still counts; a delta after it does not.
      const cut = [typed("response.created", { response: {} }), typed("response.output_text.delta", { delta: "hi" })];
      route = () => sse(cut).response;
      const read = await readStream((await (await backend(ENV)).infer(responsesRequest("hi", { stream: true }))).stream);
      const events = typedEvents(read.text);
      const last = events.at(-1);
      assert.equal(last.event, "error");
      assert.deepEqual(Object.keys(last.data).sort(), ["code", "message", "param", "type"]);
      assert.equal(last.data.code, "stream_interrupted");
      const split = typed("response.completed", { response: {} });
      route = () => sse([...cut, split.slice(0, 18), split.slice(18)]).response;
      const whole = await readStream((await (await backend(ENV)).infer(responsesRequest("hi", { stream: true }))).stream);
      assert.equal(whole.text, [...cut, split].join(""));
    });

    test("cancelling the relayed stream cancels the upstream's", async () => {
      const upstream = sse([typed("response.created", { response: {} })], { end: "stall" });
      route = () => upstream.response;
      const answer = await (await backend(ENV)).infer(responsesRequest("hi", { stream: true }));
      const reader = answer.stream.getReader();
      await reader.read();
      await reader.cancel();
      assert.equal(upstream.state.cancelled, true);
    });
  });
});
