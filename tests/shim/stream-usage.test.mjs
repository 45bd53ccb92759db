// The usage of streams whose client did not ask for it (shims/usage-event-filter.js with the real
// router.wasm): the backend is asked for it, the client gets every other byte as the backend sent
// it however the events are cut into chunks, and the tokens count in /status.
import assert from "node:assert/strict";
import { test } from "node:test";
import { chat, harness, post, readAll } from "./harness.mjs";

const USAGE = { prompt_tokens: 11, completion_tokens: 4, total_tokens: 15 };

/**
 * An OpenAI stream asked for usage: chunks with `"usage": null`, the usage-only chunk, [DONE];
 * `eol` the line end, `space` what follows `data:`, `pretty` a space after each JSON colon.
 * @param {{eol?: string, space?: string, pretty?: boolean}} [style]
 */
function usageStream({ eol = "\n", space = " ", pretty = false } = {}) {
  const json = (/** @type {unknown} */ body) => (pretty ? JSON.stringify(body).replaceAll('":', '": ') : JSON.stringify(body));
  const chunk = (/** @type {unknown} */ body) => `data:${space}${json(body)}${eol}${eol}`;
  const events = [
    chunk({ id: "c", object: "chat.completion.chunk", choices: [{ index: 0, delta: { content: "hé \"usage\":{" } }], usage: null }),
    `: a comment${eol}${eol}`,
    chunk({ id: "c", object: "chat.completion.chunk", choices: [{ index: 0, delta: {}, finish_reason: "stop" }], usage: null }),
  ];
  const usage = chunk({ id: "c", object: "chat.completion.chunk", choices: [], usage: USAGE });
  return { events, usage, done: `data:${space}[DONE]${eol}${eol}` };
}

/** `text`'s bytes cut every `size` bytes (a multi-byte character cut too). @param {string} text @param {number} size */
function cut(text, size) {
  const bytes = new TextEncoder().encode(text);
  const out = [];
  for (let i = 0; i < bytes.length; i += size) out.push(bytes.slice(i, i + size));
  return out;
}

/** @param {Record<string, unknown>} [extra] */
const streaming = (extra = {}) => post("/v1/chat/completions", { ...chat({ stream: true }), ...extra });

for (const style of [{}, { eol: "\r\n" }, { eol: "\r", space: "" }, { eol: "\r\n", pretty: true }]) {
  for (const size of [1, 2, 7, 4096]) {
    test(`a client that did not ask gets every event but the usage one (${JSON.stringify(style)}, ${size}-byte chunks), and the tokens count`, async (t) => {
      const h = await harness(t);
      const { events, usage, done } = usageStream(style);
      const s = h.stream(cut(events.join("") + usage + done, size));
      const backend = h.backend("BACKEND_A", { infer: () => ({ status: 200, headers: { "content-type": "text/event-stream" }, stream: s.stream }) });
      const res = await h.fetch(streaming());
      assert.equal(await readAll(res), events.join("") + done);
      assert.deepEqual(JSON.parse(backend.calls[0].req.body).stream_options, { include_usage: true }, "the backend was asked for it");
      const status = await h.assertClean();
      assert.deepEqual(status.backends[0].tokens, { prompt: 11, completion: 4, total: 15, answers: 1 });
      assert.equal(status.backends[0].failures, 0);
    });
  }
}

test("a client that asked for usage gets the stream as it came, its body untouched, and the tokens count once", async (t) => {
  const h = await harness(t);
  const { events, usage, done } = usageStream();
  const s = h.stream(cut(events.join("") + usage + done, 3));
  const backend = h.backend("BACKEND_A", { infer: () => ({ status: 200, headers: { "content-type": "text/event-stream" }, stream: s.stream }) });
  const body = { ...chat({ stream: true }), stream_options: { include_usage: true } };
  const res = await h.fetch(post("/v1/chat/completions", body));
  assert.equal(await readAll(res), events.join("") + usage + done);
  assert.equal(backend.calls[0].req.body, JSON.stringify(body), "the client's own body");
  const status = await h.assertClean();
  assert.deepEqual(status.backends[0].tokens, { prompt: 11, completion: 4, total: 15, answers: 1 });
});

test("a stream that breaks after the usage event: the client gets the events before it and the error event, no [DONE], no tokens", async (t) => {
  const h = await harness(t);
  const { events, usage } = usageStream();
  const s = h.stream(cut(events.join("") + usage + "data: {\"partial", 5), { end: new Error("reset") });
  h.backend("BACKEND_A", { infer: () => ({ status: 200, headers: { "content-type": "text/event-stream" }, stream: s.stream }) });
  const got = await readAll(await h.fetch(streaming()));
  assert.ok(got.startsWith(events.join("") + "data: {\"partial"), got);
  assert.match(got.slice(events.join("").length + 15), /^data: \{"error":\{.*"code":"stream_interrupted"\}\}\n\n$/);
  assert.ok(!got.includes("[DONE]") && !got.includes("total_tokens"));
  const status = await h.assertClean();
  assert.equal(status.backends[0].tokens.answers, 0);
  assert.equal(status.backends[0].failures, 1);
});

test("a stream without [DONE] ends with the error event and counts no tokens, though its usage event was taken out", async (t) => {
  const h = await harness(t);
  const { events, usage } = usageStream();
  const s = h.stream(cut(events.join("") + usage, 1));
  h.backend("BACKEND_A", { infer: () => ({ status: 200, headers: { "content-type": "text/event-stream" }, stream: s.stream }) });
  const got = await readAll(await h.fetch(streaming()));
  assert.ok(got.startsWith(events.join("")));
  assert.match(got.slice(events.join("").length), /^data: \{"error":\{.*"code":"stream_interrupted"\}\}\n\n$/);
  const status = await h.assertClean();
  assert.equal(status.backends[0].tokens.answers, 0);
});
