// @ts-check
// A test-only backend Worker for the chaos test (tests/chaos/): on every infer() it asks its CONTROL
// service binding (a Node function, tests/chaos/chaos-control.mjs) what to do and then answers in
// that shape, valid or not: odd statuses, headers and bodies, streams that break, stall or hold
// the wrong kind of chunks, throws and hangs. The Node side draws the instructions from a seed, so
// a run repeats. Bindings: BACKEND_NAME, CONTROL (the Node function), DESCRIBE_WEIGHT (a JSON
// value put in describe().weight as it is; "NaN" is NaN; absent: no weight).
//
// Instructions (JSON from CONTROL /infer; every one may carry delayMs, a wait before answering):
//   {do: "answer", status, headers?, payload, body?, streamValue?}
//       status: a JSON value, or "NaN" / "undefined" for those; headers: used as they are when the
//       key is present (any JSON value), else content-type only. payload: "auto" (what the request
//       asked for: a completion, or a valid SSE stream), "json" (a completion), "stream" (a valid
//       SSE stream), "literal" (`body` as given, none when absent), "not-a-stream" (`streamValue`
//       as the answer's `stream`).
//   {do: "stream", kind, chunks?, stallMs?}   a 200 stream that misbehaves; kind is one of
//       "strings" | "objects" (chunks that are not bytes), "empty" (ends before its first chunk),
//       "no-done" (ends without [DONE]), "error" (errors after `chunks` chunks), "stall-first"
//       (first chunk after stallMs), "stall-mid" (stallMs between chunk 1 and 2), "slow" (valid,
//       stallMs between chunks).
//   {do: "throw", what: "error" | "string" | "object"}
//   {do: "hang", ms}   awaits CONTROL /hang, which Node holds for `ms` (pending I/O: workerd
//       cancels a Worker awaiting a bare never-settling promise), then answers validly, late.
import { WorkerEntrypoint } from "cloudflare:workers";

/** @typedef {import("../../shims/interfaces.js").InferenceRequest} InferenceRequest */
/** @typedef {{BACKEND_NAME?: string, CONTROL: Fetcher, DESCRIBE_WEIGHT?: unknown}} ChaosEnv */
/** @typedef {Record<string, any>} Instruction */

const encoder = new TextEncoder();
const sleep = (/** @type {number} */ ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The values JSON cannot carry, by the token the Node side sends instead. */
const SPECIAL = /** @type {Record<string, unknown>} */ ({ NaN: Number.NaN, undefined: undefined });
const special = (/** @type {unknown} */ v) => (typeof v === "string" && v in SPECIAL ? SPECIAL[v] : v);

/** A valid non-streaming answer for the request's path. @param {string} name @param {InferenceRequest} req */
function completion(name, req) {
  const created = Math.floor(Date.now() / 1000);
  const usage = { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 };
  if (req.path === "/v1/embeddings") {
    return { object: "list", model: req.model, data: [{ object: "embedding", index: 0, embedding: [0.25, -0.5] }],
      usage: { prompt_tokens: 1, total_tokens: 1 } };
  }
  if (req.path === "/v1/completions") {
    return { id: `cmpl-${name}`, object: "text_completion", created, model: req.model,
      choices: [{ index: 0, text: `${name} answers`, logprobs: null, finish_reason: "stop" }], usage };
  }
  return { id: `chatcmpl-${name}`, object: "chat.completion", created, model: req.model,
    choices: [{ index: 0, message: { role: "assistant", content: `${name} answers` }, finish_reason: "stop" }], usage };
}

/** The i-th SSE chunk event (text) for the request's path. @param {string} name @param {InferenceRequest} req @param {number} i */
function chunkEvent(name, req, i) {
  const created = Math.floor(Date.now() / 1000);
  const data = req.path === "/v1/completions"
    ? { id: `cmpl-${name}`, object: "text_completion", created, model: req.model,
      choices: [{ index: 0, text: ` ${name}-${i}`, logprobs: null, finish_reason: null }] }
    : { id: `chatcmpl-${name}`, object: "chat.completion.chunk", created, model: req.model,
      choices: [{ index: 0, delta: i === 0 ? { role: "assistant", content: `${name}-0` } : { content: ` ${name}-${i}` },
        finish_reason: null }] };
  return `data: ${JSON.stringify(data)}\n\n`;
}

/**
 * A stream of `count` chunk events; `step(i)` runs before chunk i (a wait, or a fault: it may
 * return "error" or "close" to break the stream there). `done` adds the final [DONE].
 * `wrap` turns each event into what is enqueued (bytes normally; strings or objects to misbehave).
 * @param {string} name @param {InferenceRequest} req
 * @param {{count: number, done: boolean, step?: (i: number) => Promise<string | void>, wrap?: (text: string) => any}} o
 */
function sseStream(name, req, { count, done, step, wrap = (text) => encoder.encode(text) }) {
  let i = 0;
  return new ReadableStream({
    async pull(controller) {
      const fault = i <= count && step ? await step(i) : undefined;
      if (fault === "error") return controller.error(new Error("chaos: the stream broke (private detail)"));
      if (fault === "close" || i > count || (i === count && !done)) return controller.close();
      controller.enqueue(wrap(i < count ? chunkEvent(name, req, i) : "data: [DONE]\n\n"));
      i++;
    },
  }, { highWaterMark: 0 });
}

export default class ChaosBackend extends WorkerEntrypoint {
  get vars() { return /** @type {ChaosEnv} */ (/** @type {unknown} */ (this.env)); }
  get name() { return this.vars.BACKEND_NAME ?? "chaos"; }

  async describe() {
    const w = this.vars.DESCRIBE_WEIGHT;
    return { name: this.name, models: ["*"], version: "chaos", ...(w === undefined ? {} : { weight: special(w) }) };
  }

  async health() { return { ok: true }; }

  /** POSTs `payload` to the Node control function; returns its JSON answer. @param {string} path @param {unknown} payload */
  async control(path, payload) {
    const res = await this.vars.CONTROL.fetch(`http://control${path}`, { method: "POST", body: JSON.stringify(payload) });
    return res.json();
  }

  /** @param {InferenceRequest} req */
  async infer(req) {
    const { requestId, attempt, path, stream } = req;
    const ins = /** @type {Instruction} */ (await this.control("/infer", { binding: this.name, requestId, attempt, path, stream }));
    if (ins.delayMs) await sleep(ins.delayMs);
    switch (ins.do) {
      case "answer": return this.answer(req, ins);
      case "stream": return { status: 200, headers: { "content-type": "text/event-stream" }, stream: this.badStream(req, ins) };
      case "throw": throw ins.what === "string" ? "chaos: a thrown string"
        : ins.what === "object" ? { chaos: "a thrown object" } : new Error("chaos: infer() threw (private detail)");
      case "hang":
        await this.control("/hang", { ms: ins.ms });
        return this.answer(req, { do: "answer", status: 200, payload: "auto" });
    }
    // Unknown instruction: the test counts these reports and fails on any.
    await this.control("/unknown", { instruction: ins });
    throw new Error(`chaos: unknown instruction ${JSON.stringify(ins)}`);
  }

  /** An answer in the shape the instruction names. @param {InferenceRequest} req @param {Instruction} ins */
  answer(req, ins) {
    const payload = ins.payload === "auto" ? (req.stream ? "stream" : "json") : ins.payload;
    /** @type {Record<string, unknown>} */
    const resp = { status: special(ins.status) };
    resp.headers = "headers" in ins ? ins.headers
      : { "content-type": payload === "stream" ? "text/event-stream" : "application/json" };
    if (payload === "json") resp.body = completion(this.name, req);
    if (payload === "stream") resp.stream = sseStream(this.name, req, { count: 3, done: true });
    if (payload === "literal" && "body" in ins) resp.body = ins.body;
    if (payload === "not-a-stream") resp.stream = ins.streamValue;
    return resp;
  }

  /** A 200 stream that misbehaves as `ins.kind` says. @param {InferenceRequest} req @param {Instruction} ins */
  badStream(req, ins) {
    const count = ins.chunks ?? 3;
    const stallMs = ins.stallMs ?? 0;
    const name = this.name;
    switch (ins.kind) {
      case "strings": return sseStream(name, req, { count, done: true, wrap: (text) => text });
      case "objects": return sseStream(name, req, { count, done: true, wrap: (text) => ({ text }) });
      case "empty": return sseStream(name, req, { count: 0, done: false });
      case "no-done": return sseStream(name, req, { count, done: false });
      case "error": return sseStream(name, req, { count: count + 1, done: true,
        step: async (i) => (i === count ? "error" : undefined) });
      case "stall-first": return sseStream(name, req, { count, done: true,
        step: async (i) => { if (i === 0) await sleep(stallMs); } });
      case "stall-mid": return sseStream(name, req, { count, done: true,
        step: async (i) => { if (i === 1) await sleep(stallMs); } });
      case "slow": return sseStream(name, req, { count, done: true,
        step: async (i) => { if (i > 0) await sleep(stallMs); } });
    }
    return sseStream(name, req, { count: 0, done: false,
      step: async () => { await this.control("/unknown", { instruction: ins }); return "error"; } });
  }
}
