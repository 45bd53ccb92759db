// @ts-check
// A test-only backend Worker that misbehaves on demand (never deployed; the template stays clean).
// Its behaviour comes from its bindings, so each test configures it through the harness:
//   BACKEND_NAME   describe().name                      MODELS  comma-separated, default "*"
//   WEIGHT         describe().weight                    DESCRIBE_MODE  ok | throw | hang
//   INFER_MODE     ok | throw | status | hang | stream-break | stream-empty | stream-stall
//                  (stream-stall: a stream's first chunk, or a non-stream answer, comes after HANG_MS)
//   INFER_STATUS   status for INFER_MODE=status         INFER_HEADERS  JSON object of answer headers
//   INFER_CODE     the error body's `code` for INFER_MODE=status (default null), e.g. context_length_exceeded
//   INFER_FAULTS   how many first infer() calls misbehave (then it answers ok); default: all
//   DELAY_MS       wait before answering (ok mode too)  HANG_MS  how long "hang" lasts, default 30 s
// GET /calls on its fetch handler reports what it received, POST /reset clears that (tests reach it
// with Miniflare's getWorker(); it is never bound publicly).
import { WorkerEntrypoint } from "cloudflare:workers";

/** @typedef {import("../../shims/interfaces.js").InferenceRequest} InferenceRequest */
/** @typedef {import("../../shims/interfaces.js").InferenceResponse} InferenceResponse */
/** @typedef {Record<string, string | undefined>} FaultEnv */

const encoder = new TextEncoder();
const sleep = (/** @type {number} */ ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Per-isolate record of the calls; Miniflare runs one isolate per Worker.
const calls = { infer: 0, describe: 0, health: 0, /** @type {InferenceRequest[]} */ requests: [] };

/** @param {string} name @param {string} model @param {string} text */
function completion(name, model, text) {
  return {
    id: `chatcmpl-${name}`,
    object: "chat.completion",
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [{ index: 0, message: { role: "assistant", content: text }, finish_reason: "stop" }],
    usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
  };
}

/** OpenAI chat.completion.chunk SSE events for `text`, one word each. */
function sseChunks(/** @type {string} */ name, /** @type {string} */ model, /** @type {string} */ text) {
  return text.split(" ").map((word, i) => `data: ${JSON.stringify({
    id: `chatcmpl-${name}`, object: "chat.completion.chunk", created: Math.floor(Date.now() / 1000), model,
    choices: [{ index: 0, delta: i === 0 ? { role: "assistant", content: word } : { content: ` ${word}` },
      finish_reason: null }],
  })}\n\n`);
}

/**
 * A stream that emits `chunks`, then ends with [DONE]; or errors after the first chunk when
 * `breakAfterFirst`; `stallMs` delays the first chunk.
 */
function sseStream(/** @type {string[]} */ chunks, breakAfterFirst = false, stallMs = 0) {
  const queue = [...chunks, "data: [DONE]\n\n"];
  let sent = 0;
  return new ReadableStream({
    async pull(controller) {
      if (sent === 0 && stallMs > 0) await sleep(stallMs);
      if (breakAfterFirst && sent === 1) return controller.error(new Error("backend stream broke"));
      const next = queue.shift();
      if (next === undefined) return controller.close();
      sent++;
      controller.enqueue(encoder.encode(next));
    },
  });
}

export default class FaultBackend extends WorkerEntrypoint {
  get backendName() { return this.envVars.BACKEND_NAME ?? "fault"; }
  get envVars() { return /** @type {FaultEnv} */ (this.env); }

  async describe() {
    calls.describe++;
    const mode = this.envVars.DESCRIBE_MODE ?? "ok";
    if (mode === "throw") throw new Error("describe failed on purpose");
    if (mode === "hang") await sleep(Number(this.envVars.HANG_MS ?? 30000));
    const models = (this.envVars.MODELS ?? "*").split(",").map((m) => m.trim());
    const weight = this.envVars.WEIGHT === undefined ? undefined : Number(this.envVars.WEIGHT);
    return { name: this.backendName, models, ...(weight === undefined ? {} : { weight }), version: "test" };
  }

  async health() {
    calls.health++;
    return { ok: true };
  }

  /** @param {InferenceRequest} req @returns {Promise<InferenceResponse>} */
  async infer(req) {
    calls.infer++;
    calls.requests.push(req);
    const faults = this.envVars.INFER_FAULTS === undefined ? Infinity : Number(this.envVars.INFER_FAULTS);
    const mode = calls.infer <= faults ? this.envVars.INFER_MODE ?? "ok" : "ok";
    if (this.envVars.DELAY_MS) await sleep(Number(this.envVars.DELAY_MS));
    const text = `${this.backendName} answers attempt ${req.attempt}`;
    switch (mode) {
      case "throw":
        throw new Error("secret internal failure detail");
      case "status": {
        const status = Number(this.envVars.INFER_STATUS ?? 503);
        const headers = JSON.parse(this.envVars.INFER_HEADERS ?? "{}");
        return { status, headers, body: { error: { message: `${this.backendName} says ${status}`,
          type: "upstream_error", param: null, code: this.envVars.INFER_CODE ?? null } } };
      }
      case "hang":
        await sleep(Number(this.envVars.HANG_MS ?? 30000));
        break;
      case "stream-empty":
        if (req.stream) return { status: 200, stream: new ReadableStream({ start: (c) => c.close() }) };
        break;
      case "stream-break":
        if (req.stream) {
          return { status: 200, headers: { "content-type": "text/event-stream" },
            stream: sseStream(sseChunks(this.backendName, req.model, text), true) };
        }
        break;
      case "stream-stall": {
        const stallMs = Number(this.envVars.HANG_MS ?? 30000);
        if (!req.stream) {
          await sleep(stallMs);
          break;
        }
        return { status: 200, headers: { "content-type": "text/event-stream" },
          stream: sseStream(sseChunks(this.backendName, req.model, text), false, stallMs) };
      }
    }
    if (req.stream) {
      return { status: 200, headers: { "content-type": "text/event-stream" },
        stream: sseStream(sseChunks(this.backendName, req.model, text)) };
    }
    return { status: 200, headers: { "content-type": "application/json" }, body: completion(this.backendName, req.model, text) };
  }

  /** @param {Request} request */
  async fetch(request) {
    const { pathname } = new URL(request.url);
    if (request.method === "GET" && pathname === "/calls") return Response.json(calls);
    if (request.method === "POST" && pathname === "/reset") {
      Object.assign(calls, { infer: 0, describe: 0, health: 0, requests: [] });
      return new Response(null, { status: 204 });
    }
    return new Response("not found", { status: 404 });
  }
}
