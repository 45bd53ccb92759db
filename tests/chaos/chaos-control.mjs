// The Node side of tests/fixture-workers/chaos-backend.js: the CONTROL service binding every chaos backend
// asks "what do I answer?" on each infer(). The instruction is drawn from a seeded generator keyed
// by (seed, request id, attempt), so the n-th client request's k-th attempt misbehaves the same way
// in every run, whichever backend gets it. Also holds the backends' hangs (/hang) for a while.
import { seededRandom } from "../support/backend-control.mjs";

/** @typedef {Record<string, any>} Instruction */
/** @typedef {{perTryMs: number, firstByteMs: number, streamIdleMs: number}} Timeouts */

/** FNV-1a over a string: turns (seed, request id, attempt) into a generator seed. */
export function hash(/** @type {string} */ text) {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** One element of `list`, uniformly. @template T @param {() => number} random @param {T[]} list @returns {T} */
export const pick = (random, list) => list[Math.floor(random() * list.length)];

const openAiError = (/** @type {number} */ status) =>
  ({ error: { message: `chaos backend says ${status}`, type: "backend_error", param: null, code: null } });

/** Every error body shape: an OpenAI error, none, or JSON that is not an error object. */
const ERROR_BODIES = ["openai", "none", "string", "array", "null"];
/** `Retry-After` as a string, a number, an object, or as retry-after-ms. */
const RETRY_AFTER = [{ "retry-after": "1" }, { "retry-after": 1 }, { "retry-after": { seconds: 1 } }, { "retry-after-ms": "150" }];
/** Statuses outside the contract ("NaN" and "undefined" are turned into those by the backend). */
const INVALID_STATUSES = [101, 150, 204, 205, 304, 600, 0, -1, 200.5, "NaN", "200", "undefined"];
/** `headers` that is not an object, or holds values that are not strings. */
const ODD_HEADERS = ["retry-after: 1", [["retry-after", "1"]], null,
  { "content-type": 42, "retry-after": { s: 1 }, "x-list": [1, 2], "x-null": null, "x-bool": true }];

/** An error answer with status `status` and a body of the given shape. */
function errorAnswer(/** @type {number} */ status, /** @type {string} */ bodyKind, headers = {}) {
  /** @type {Instruction} */
  const ins = { do: "answer", status, payload: "literal", headers: { "content-type": "application/json", ...headers } };
  if (bodyKind === "openai") ins.body = openAiError(status);
  if (bodyKind === "string") ins.body = `chaos ${status} as a plain string`;
  if (bodyKind === "array") ins.body = ["chaos", status];
  if (bodyKind === "null") ins.body = null;
  return ins;
}

/**
 * The catalogue: [name, weight, draw]. About 35% of attempts answer validly (some slowly), the rest
 * misbehave, so most client requests see one or more failed attempts before their answer.
 * @param {Timeouts} t
 * @returns {[string, number, (random: () => number) => Instruction][]}
 */
function catalogue(t) {
  // Well past a timeout, so timer slack on a busy machine cannot make it look in time.
  const beyond = (/** @type {number} */ ms) => ms + 300;
  return [
    ["ok", 28, () => ({ do: "answer", status: 200, payload: "auto" })],
    ["ok-slow", 4, (r) => ({ do: "answer", status: 200, payload: "auto", delayMs: Math.round(r() * t.perTryMs * 0.5) })],
    ["ok-slow-stream", 3, () => ({ do: "stream", kind: "slow", stallMs: Math.round(t.streamIdleMs / 4) })],
    ["late-answer", 3, () => ({ do: "answer", status: 200, payload: "auto", delayMs: beyond(t.perTryMs) })],
    ["error-status", 14, (r) => errorAnswer(pick(r, [400, 404, 401, 403, 500, 502, 503, 504]), pick(r, ERROR_BODIES))],
    ["429", 3, (r) => errorAnswer(429, pick(r, ERROR_BODIES), pick(r, RETRY_AFTER))],
    ["invalid-status", 9, (r) => ({ do: "answer", status: pick(r, INVALID_STATUSES), payload: "auto" })],
    ["odd-headers", 6, (r) => ({ ...pick(r, [{ do: "answer", status: 200, payload: "auto" }, errorAnswer(503, "openai"),
      errorAnswer(429, "openai")]), headers: pick(r, ODD_HEADERS) })],
    ["stream-for-json", 2, () => ({ do: "answer", status: 200, payload: "stream" })],
    ["json-for-stream", 2, () => ({ do: "answer", status: 200, payload: "json" })],
    ["2xx-without-body", 2, (r) => ({ do: "answer", status: pick(r, [200, 201]), payload: "literal" })],
    ["not-a-stream", 3, (r) => ({ do: "answer", status: 200, payload: "not-a-stream",
      streamValue: pick(r, ["data: [DONE]\n\n", { getReader: 1 }, 42, []]) })],
    ["stream-of-strings", 2, () => ({ do: "stream", kind: "strings" })],
    ["stream-of-objects", 2, () => ({ do: "stream", kind: "objects" })],
    ["stream-empty", 2, () => ({ do: "stream", kind: "empty" })],
    ["stream-without-done", 3, (r) => ({ do: "stream", kind: "no-done", chunks: 1 + Math.floor(r() * 3) })],
    ["stream-error", 3, (r) => ({ do: "stream", kind: "error", chunks: Math.floor(r() * 3) })],
    ["stream-stall-first", 2, () => ({ do: "stream", kind: "stall-first", stallMs: beyond(t.firstByteMs) })],
    ["stream-stall-mid", 2, () => ({ do: "stream", kind: "stall-mid", stallMs: beyond(t.streamIdleMs) })],
    ["throw", 4, (r) => ({ do: "throw", what: pick(r, ["error", "string", "object"]) })],
    ["hang", 3, () => ({ do: "hang", ms: 4 * t.perTryMs })],
  ];
}

/** The gist of an instruction, for failure reports: its parameters but not the answer body. */
function describe(/** @type {Instruction} */ ins) {
  const { do: _, body, ...rest } = ins;
  return JSON.stringify(body === undefined ? rest : { ...rest, body: body === null ? "null" : Array.isArray(body) ? "array" : typeof body });
}

/**
 * Creates the control. `handler` is the CONTROL binding; `drawn` counts the behaviours handed
 * out by name; `unknown` holds instructions a backend did not understand (a bug of this test).
 * @param {{seed: number, timeouts: Timeouts}} options
 */
export function createChaosControl({ seed, timeouts }) {
  const entries = catalogue(timeouts);
  const total = entries.reduce((sum, [, weight]) => sum + weight, 0);
  /** @type {Record<string, number>} */
  const drawn = {};
  /** @type {unknown[]} */
  const unknown = [];
  /** @type {Map<string, string[]>} what each request's attempts were told, for failure reports */
  const byRequest = new Map();
  /** @type {Set<() => void>} */
  const hangs = new Set();

  /** The instruction for one attempt of one request: the same in every run. */
  function draw(/** @type {string} */ requestId, /** @type {number} */ attempt) {
    const random = seededRandom(hash(`${seed}/${requestId}/${attempt}`));
    let x = random() * total;
    const [name, , make] = entries.find(([, weight]) => (x -= weight) < 0) ?? entries[0];
    drawn[name] = (drawn[name] ?? 0) + 1;
    return { name, instruction: make(random) };
  }

  /** Holds a backend's /hang call for `ms`, or until released. */
  function hang(/** @type {number} */ ms) {
    return new Promise((resolve) => {
      const release = () => { clearTimeout(timer); hangs.delete(release); resolve(undefined); };
      const timer = setTimeout(release, ms);
      hangs.add(release);
    });
  }

  /** @param {Request} request */
  async function handler(request) {
    const { pathname } = new URL(request.url);
    const payload = await request.json();
    if (pathname === "/infer") {
      const { name, instruction } = draw(payload.requestId, payload.attempt);
      const told = byRequest.get(payload.requestId) ?? [];
      byRequest.set(payload.requestId, [...told, `${payload.attempt}:${payload.binding}:${name} ${describe(instruction)}`]);
      return Response.json(instruction);
    }
    if (pathname === "/hang") { await hang(payload.ms); return Response.json({}); }
    if (pathname === "/unknown") { unknown.push(payload.instruction); return Response.json({}); }
    return new Response("unknown control path", { status: 404 });
  }

  return {
    handler, drawn, unknown, byRequest,
    /** The catalogue's behaviour names. */
    names: entries.map(([name]) => name),
    /** Ends every pending hang now (their backends then answer, long after the router gave up). */
    releaseHangs() { [...hangs].forEach((release) => release()); },
  };
}
