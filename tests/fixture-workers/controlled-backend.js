// @ts-check
// A test-only backend Worker steered call by call from the test process (never deployed).
// On every infer() it reports the call to its CONTROL service binding (a function served by Node,
// tests/support/backend-control.mjs) and performs the instruction it gets back, so a test changes
// a backend's behaviour at run time without restarting Miniflare and sees exactly which backend
// was called, how often and when. Bindings: BACKEND_NAME (its binding name, reported with each
// call), MODELS (comma-separated, default "*"), CONTROL (the Node function).
//
// Instructions (JSON from CONTROL /infer):
//   {do: "ok", delayMs?}                       a completion, or an SSE stream when req.stream
//   {do: "throw", delayMs?}                    infer() throws
//   {do: "status", status, headers?, body?, delayMs?}   an HTTP-like error answer
//   {do: "hang"}                               never answers until the test releases its hangs
//   {do: "stream", chunks?, intervalMs?, firstChunkDelayMs?, errorAfter?, noDone?}
//       an SSE stream of `chunks` chunks then [DONE] (none with noDone: an upstream cut short); with
//       errorAfter = k it errors after k chunks (0: before the first one). Its end, error or
//       cancellation is reported to CONTROL /event.
// describe() reports to CONTROL /describe and answers as told there (after a delay, or throwing).
import { WorkerEntrypoint } from "cloudflare:workers";

/** @typedef {import("../../shims/interfaces.js").InferenceRequest} InferenceRequest */
/** @typedef {import("../../shims/interfaces.js").InferenceResponse} InferenceResponse */
/** @typedef {{BACKEND_NAME?: string, MODELS?: string, CONTROL: Fetcher}} ControlledEnv */
/**
 * @typedef {object} Instruction
 * @property {"ok" | "throw" | "status" | "hang" | "stream"} do
 * @property {number} [delayMs]  @property {number} [status]  @property {Record<string, string>} [headers]
 * @property {unknown} [body]    @property {number} [chunks]  @property {number} [intervalMs]
 * @property {number} [firstChunkDelayMs]  @property {number} [errorAfter]  @property {boolean} [noDone]
 */

const encoder = new TextEncoder();
const sleep = (/** @type {number} */ ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** @param {string} name @param {string} model */
function completion(name, model) {
  return {
    id: `chatcmpl-${name}`, object: "chat.completion", created: Math.floor(Date.now() / 1000), model,
    choices: [{ index: 0, message: { role: "assistant", content: `${name} answers` }, finish_reason: "stop" }],
    usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 },
  };
}

/** One OpenAI chat.completion.chunk SSE event; `id` names the backend so tests see who sent it. */
function chunk(/** @type {string} */ name, /** @type {string} */ model, /** @type {number} */ i) {
  return encoder.encode(`data: ${JSON.stringify({
    id: `chatcmpl-${name}`, object: "chat.completion.chunk", created: Math.floor(Date.now() / 1000), model,
    choices: [{ index: 0, delta: i === 0 ? { role: "assistant", content: `${name}-0` } : { content: ` ${name}-${i}` },
      finish_reason: null }],
  })}\n\n`);
}

export default class ControlledBackend extends WorkerEntrypoint {
  get name() { return this.vars.BACKEND_NAME ?? "controlled"; }
  get vars() { return /** @type {ControlledEnv} */ (/** @type {unknown} */ (this.env)); }

  /** POSTs `payload` to the control function; returns its JSON answer. @param {string} path @param {unknown} payload */
  async control(path, payload) {
    const res = await this.vars.CONTROL.fetch(`http://control${path}`, { method: "POST", body: JSON.stringify(payload) });
    return res.json();
  }

  async describe() {
    const how = /** @type {{fail: boolean}} */ (await this.control("/describe", { binding: this.name }));
    if (how.fail) throw new Error(`${this.name} cannot describe itself (private detail)`);
    return { name: this.name, models: (this.vars.MODELS ?? "*").split(",").map((m) => m.trim()), version: "controlled" };
  }

  async health() { return { ok: true }; }

  /** @param {InferenceRequest} req @returns {Promise<InferenceResponse>} */
  async infer(req) {
    const { requestId, path, model, stream, deadline, attempt, body } = req;
    const call = { binding: this.name, requestId, path, model, stream, deadline, attempt, body, receivedAt: Date.now() };
    const { id, instruction } = /** @type {{id: number, instruction: Instruction}} */ (await this.control("/infer", call));
    if (instruction.delayMs) await sleep(instruction.delayMs);
    switch (instruction.do) {
      case "throw":
        throw new Error(`${this.name} failed on purpose (private detail)`);
      case "status":
        return { status: Number(instruction.status), headers: instruction.headers ?? {},
          body: instruction.body ?? { error: { message: `${this.name} says ${instruction.status}`, type: "backend_error",
            param: null, code: null } } };
      case "hang":
        // Pending I/O (not a bare never-settling promise, which workerd cancels as a hung Worker).
        await this.control("/hang", { id });
        throw new Error(`${this.name} was released from a hang`);
      case "stream":
        return this.streamAnswer(id, model, instruction);
    }
    if (stream) return this.streamAnswer(id, model, { do: "stream" });
    return { status: 200, headers: { "content-type": "application/json" }, body: completion(this.name, model) };
  }

  /** @param {number} id @param {string} model @param {Instruction} instruction @returns {InferenceResponse} */
  streamAnswer(id, model, instruction) {
    const total = instruction.chunks ?? 3;
    const errorAfter = instruction.errorAfter ?? Infinity;
    const report = (/** @type {string} */ event, /** @type {number} */ sent) => {
      // Not awaited by the stream: the report must not delay or outlive what it describes.
      this.ctx.waitUntil(this.control("/event", { id, event, sent }).catch(() => {}));
    };
    let sent = 0;
    const stream = new ReadableStream({
      pull: async (controller) => {
        await sleep(sent === 0 ? instruction.firstChunkDelayMs ?? 0 : instruction.intervalMs ?? 0);
        if (sent >= errorAfter) {
          report("stream-error", sent);
          return controller.error(new Error("backend stream broke (private detail)"));
        }
        if (sent < total) return controller.enqueue(chunk(this.name, model, sent++));
        if (!instruction.noDone) controller.enqueue(encoder.encode("data: [DONE]\n\n"));
        controller.close();
        report("stream-done", sent);
      },
      cancel: () => report("stream-cancelled", sent),
    }, { highWaterMark: 0 });
    return { status: 200, headers: { "content-type": "text/event-stream" }, stream };
  }
}
