// Bench-only Worker: a lower bound on what any router must do per request under the contract
// (../shared/spec/contract.md sections 3-5), written as plainly as possible in JavaScript, over the
// same backends as forwarder-3. On top of the forwarder it reads the headers the contract's checks
// need, holds the body to the size limit, checks the JSON (UTF-8, an object with a string
// `model`), bounds the attempt (for a stream: until its first chunk) with a timer, checks the
// backend's answer, takes one retry on a retriable failure and answers with the contract's
// headers. A stream passes through JavaScript chunk by chunk, as section 5 needs: its last bytes
// are checked for `data: [DONE]`, and a stream that breaks or ends without it gets the SSE error
// event. It has no configuration, discovery, health, usage counting or idle timeout: what it
// costs is a floor, not a router.

/** @typedef {import("../../shims/interfaces").BackendRpc} BackendRpc */
/** @typedef {{status: number, bodyText?: string, reader?: ReadableStreamDefaultReader<Uint8Array>, first?: Uint8Array}} Answer */

const LIMIT = 1 << 20; // the contract's default body limit
const DEADLINE_MS = 120_000;
const ATTEMPT_MS = 60_000;
const strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });
const decoder = new TextDecoder();
const TIMED_OUT = Symbol("timed out");
const ERROR_EVENT = new TextEncoder().encode(
  'data: {"error":{"message":"The backend\'s stream broke","type":"upstream_error","param":null,"code":"upstream_error"}}\n\n');
const ignore = () => {};

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
 * One attempt within `ms`: the backend's answer (a stream's first chunk read), or null when it
 * threw, timed out or broke the shape.
 * @param {{rpc: BackendRpc}} backend @param {import("../../shims/interfaces").InferenceRequest} request @param {number} ms
 * @returns {Promise<Answer | null>}
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
    if (!(answer.stream instanceof ReadableStream)) {
      const shaped = isObject(answer.body) && !(request.stream && status < 300); // a stream asked for, JSON given: broken
      return shaped ? { status, bodyText: JSON.stringify(answer.body) } : null;
    }
    if (!request.stream) return (answer.stream.cancel().catch(ignore), null);
    const reader = answer.stream.getReader();
    const first = await Promise.race([reader.read(), expired]);
    if (first === TIMED_OUT || first.done || !(first.value instanceof Uint8Array)) return (reader.cancel().catch(ignore), null);
    return { status, reader, first: first.value };
  } catch {
    return null;
  } finally {
    clearTimeout(timer);
  }
}

/** Whether a stream whose last two chunks are these ended with its `data: [DONE]` line. @param {Uint8Array} prev @param {Uint8Array} last */
function endsWithDone(prev, last) {
  const tail = last.byteLength >= 32 ? last.subarray(-32) : new Uint8Array([...prev.subarray(-32), ...last]);
  return /data: \[DONE\]\s*$/.test(decoder.decode(tail));
}

/** The client's stream: the backend's chunks as they come, the error event when it broke. @param {ReadableStreamDefaultReader<Uint8Array>} reader @param {Uint8Array} first */
function relay(reader, first) {
  /** @type {Uint8Array} */
  let prev = new Uint8Array(0);
  let last = first;
  return new ReadableStream({
    start: (client) => client.enqueue(first),
    async pull(client) {
      try {
        const r = await reader.read();
        if (!r.done) {
          if (!(r.value instanceof Uint8Array)) throw new TypeError("not bytes");
          prev = last;
          last = r.value;
          return client.enqueue(r.value);
        }
        if (!endsWithDone(prev, last)) client.enqueue(ERROR_EVENT);
      } catch {
        reader.cancel().catch(ignore);
        client.enqueue(ERROR_EVENT);
      }
      client.close();
    },
    cancel: () => reader.cancel(),
  }, { highWaterMark: 0 });
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
    const stream = body.stream === true;
    const deadline = started + DEADLINE_MS;
    for (let tries = 1; tries <= 2; tries++) {
      const backend = backends[turn++ % backends.length];
      const calledAt = Date.now();
      const answer = await attempt(backend, { requestId, path: "/v1/chat/completions", model: body.model, stream, body: text,
        deadline, attemptDeadline: Date.now() + ATTEMPT_MS, attempt: tries }, ATTEMPT_MS);
      if (!answer || answer.status === 429 || answer.status >= 500) continue;
      const backendMs = Date.now() - calledAt;
      const headers = { ...base, "content-type": answer.reader ? "text/event-stream" : "application/json",
        "x-router-backend": backend.name, "x-router-attempts": String(tries), "x-router-model": body.model,
        "server-timing": `router;dur=${Date.now() - started - backendMs}, backend;dur=${backendMs}` };
      const out = answer.reader && answer.first ? relay(answer.reader, answer.first) : answer.bodyText ?? null;
      return new Response(out, { status: answer.status, headers });
    }
    return refuse(502, "every attempt failed", base);
  },
};
