// Bench-only Worker: a lower bound on what any router must do per JSON request under the contract
// (../shared/spec/contract.md sections 3-4), written as plainly as possible in JavaScript, over the
// same backends as forwarder-3. On top of the forwarder it reads the headers the contract's checks
// need, holds the body to the size limit and a deadline, checks the JSON (UTF-8, an object with a
// string `model`), bounds the attempt with a timer, checks the backend's answer, takes one retry on
// a retriable failure and answers with the contract's headers. It has no configuration, discovery,
// health sharing, usage counting or streaming: what it costs is a floor, not a router.

/** @typedef {import("../../shims/interfaces").BackendRpc} BackendRpc */

const LIMIT = 1 << 20; // the contract's default body limit
const DEADLINE_MS = 120_000;
const ATTEMPT_MS = 60_000;
const strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });
const TIMED_OUT = Symbol("timed out");

/** @type {{name: string, rpc: BackendRpc}[] | undefined} */
let backends;
let turn = 0;

/** @param {unknown} v @returns {v is Record<string, unknown>} */
const isObject = (v) => typeof v === "object" && v !== null && !Array.isArray(v);

/** @param {number} status @param {string} message @param {Record<string, string>} headers */
function refuse(status, message, headers) {
  const body = JSON.stringify({ error: { message, type: "invalid_request_error", param: null, code: null } });
  return new Response(body, { status, headers: { ...headers, "content-type": "application/json" } });
}

/**
 * One attempt within `ms`: the backend's answer, or null when it threw, timed out or broke the shape.
 * @param {{rpc: BackendRpc}} backend @param {import("../../shims/interfaces").InferenceRequest} request @param {number} ms
 */
async function attempt(backend, request, ms) {
  /** @type {ReturnType<typeof setTimeout> | null} */
  let timer = null;
  const expired = new Promise((resolve) => { timer = setTimeout(resolve, ms, TIMED_OUT); });
  try {
    const answer = await Promise.race([backend.rpc.infer(request), expired]);
    if (answer === TIMED_OUT || !isObject(answer)) return null;
    const status = answer.status;
    if (typeof status !== "number" || !Number.isInteger(status) || status < 200 || status > 599) return null;
    if (!isObject(answer.body)) return null;
    return { status, bodyText: JSON.stringify(answer.body) };
  } catch {
    return null;
  } finally {
    clearTimeout(timer);
  }
}

export default {
  /** @param {Request} request @param {Record<string, BackendRpc>} env */
  async fetch(request, env) {
    const started = Date.now();
    backends ??= Object.keys(env).filter((n) => n.startsWith("BACKEND_")).sort().map((name) => ({ name, rpc: env[name] }));
    const sent = request.headers.get("x-request-id");
    const requestId = sent && sent.length <= 128 && /^[\w.:-]+$/.test(sent) ? sent : crypto.randomUUID();
    const base = { "x-request-id": requestId };
    if (!(request.headers.get("content-type") ?? "").startsWith("application/json")) return refuse(415, "Content-Type must be application/json", base);
    if (Number(request.headers.get("content-length") ?? 0) > LIMIT) return refuse(413, "body too large", base);
    const bytes = new Uint8Array(await request.arrayBuffer());
    if (bytes.byteLength > LIMIT) return refuse(413, "body too large", base);
    let text, body;
    try {
      text = strict.decode(bytes);
      body = JSON.parse(text);
    } catch {
      return refuse(400, "the body is not JSON", base);
    }
    if (!isObject(body) || typeof body.model !== "string") return refuse(400, "model must be a string", base);
    const deadline = started + DEADLINE_MS;
    for (let tries = 1; tries <= 2; tries++) {
      const backend = backends[turn++ % backends.length];
      const calledAt = Date.now();
      const answer = await attempt(backend, { requestId, path: "/v1/chat/completions", model: body.model, stream: false, body: text,
        deadline, attemptDeadline: Date.now() + ATTEMPT_MS, attempt: tries }, ATTEMPT_MS);
      if (!answer || answer.status === 429 || answer.status >= 500) continue;
      const backendMs = Date.now() - calledAt;
      return new Response(answer.bodyText, { status: answer.status, headers: { ...base, "content-type": "application/json",
        "x-router-backend": backend.name, "x-router-attempts": String(tries), "x-router-model": body.model,
        "server-timing": `router;dur=${Date.now() - started - backendMs}, backend;dur=${backendMs}` } });
    }
    return refuse(502, "every attempt failed", base);
  },
};
