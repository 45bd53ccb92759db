// @ts-check
// A test-only backend Worker that records everything it receives: every RPC call with its method
// name and its whole argument list (not just the first argument), and any fetch() that is not the
// test API (method, URL, every header). It answers like a plain model: a chat completion, or an
// SSE stream when asked, built from fixed text (it never echoes the request back).
//   BACKEND_NAME  describe().name          MODELS  comma-separated, default "*"
// GET /calls reports {infer, describe, health, requests, received}; POST /reset clears them.
import { WorkerEntrypoint } from "cloudflare:workers";

/** @typedef {import("../../shims/interfaces.js").InferenceRequest} InferenceRequest */
/** @typedef {{method: string, args?: unknown[], url?: string, headers?: [string, string][]}} Received */

const encoder = new TextEncoder();
const received = /** @type {Received[]} */ ([]);
const counts = { infer: 0, describe: 0, health: 0 };

/** @param {string} model */
function completion(model) {
  return {
    id: "chatcmpl-recording", object: "chat.completion", created: Math.floor(Date.now() / 1000), model,
    choices: [{ index: 0, message: { role: "assistant", content: "recorded" }, finish_reason: "stop" }],
    usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
  };
}

/** @param {string} model */
function stream(model) {
  const chunk = { id: "chatcmpl-recording", object: "chat.completion.chunk", created: Math.floor(Date.now() / 1000),
    model, choices: [{ index: 0, delta: { role: "assistant", content: "recorded" }, finish_reason: null }] };
  const events = [`data: ${JSON.stringify(chunk)}\n\n`, "data: [DONE]\n\n"];
  return new ReadableStream({
    pull(controller) {
      const next = events.shift();
      if (next === undefined) controller.close();
      else controller.enqueue(encoder.encode(next));
    },
  });
}

export default class RecordingBackend extends WorkerEntrypoint {
  get vars() { return /** @type {Record<string, string | undefined>} */ (this.env); }

  /** @param {InferenceRequest} req @param {unknown[]} rest anything else a caller might send */
  async infer(req, ...rest) {
    counts.infer++;
    received.push({ method: "infer", args: [req, ...rest] });
    if (req?.stream) return { status: 200, headers: { "content-type": "text/event-stream" }, stream: stream(req.model) };
    return { status: 200, headers: { "content-type": "application/json" }, body: completion(req?.model) };
  }

  /** @param {unknown[]} args */
  async describe(...args) {
    counts.describe++;
    received.push({ method: "describe", args });
    const models = (this.vars.MODELS ?? "*").split(",").map((m) => m.trim());
    return { name: this.vars.BACKEND_NAME ?? "recording", models, version: "test" };
  }

  /** @param {unknown[]} args */
  async health(...args) {
    counts.health++;
    received.push({ method: "health", args });
    return { ok: true };
  }

  /** @param {Request} request */
  async fetch(request) {
    const { pathname } = new URL(request.url);
    if (request.method === "GET" && pathname === "/calls") {
      const requests = received.filter((r) => r.method === "infer").map((r) => r.args?.[0]);
      return Response.json({ ...counts, requests, received });
    }
    if (request.method === "POST" && pathname === "/reset") {
      received.length = 0;
      Object.assign(counts, { infer: 0, describe: 0, health: 0 });
      return new Response(null, { status: 204 });
    }
    received.push({ method: "fetch", url: request.url, headers: [...request.headers] });
    return new Response("not found", { status: 404 });
  }
}
