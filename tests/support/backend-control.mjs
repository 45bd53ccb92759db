// The Node side of tests/fixture-workers/controlled-backend.js: a function-valued service binding
// (CONTROL) that every controlled backend asks "what do I do now?" on each infer() call. It hands
// out the instruction the test scripted for that backend and records the call (binding, attempt,
// requestId, arrival time, what the backend received), so a test can change behaviour between
// cases without restarting Miniflare and assert exactly who was called, how often and when.
import { startStack } from "./stack.mjs";

/**
 * @typedef {{do: "ok" | "throw" | "status" | "hang" | "stream", [k: string]: unknown}} Instruction
 * @typedef {object} Call
 * @property {number} id           order of arrival, from 1
 * @property {string} binding      the backend's binding name
 * @property {number} attempt      @property {string} requestId   @property {string} model
 * @property {string} path         @property {boolean} stream     @property {number} deadline
 * @property {Record<string, unknown>} body   the InferenceRequest body the backend received
 * @property {number} at           arrival time at the control function (Node's clock, epoch ms)
 * @property {Instruction} instruction        what the backend was told to do
 * @typedef {Instruction | Instruction[] | ((call: Call, nth: number) => Instruction)} Behaviour
 *   one instruction for every call, a script (the n-th call since it was set gets the n-th entry,
 *   then "ok"), or a function of the call and its 1-based rank among this backend's calls
 */

export const OK = /** @type {Instruction} */ ({ do: "ok" });
export const THROW = /** @type {Instruction} */ ({ do: "throw" });
export const HANG = /** @type {Instruction} */ ({ do: "hang" });
export const status = (/** @type {number} */ code, headers = {}, body = undefined) =>
  /** @type {Instruction} */ ({ do: "status", status: code, headers, ...(body === undefined ? {} : { body }) });

/** A behaviour by attempt number: `byAttempt({1: THROW})` fails every first attempt, whoever gets it. */
export function byAttempt(/** @type {Record<number, Instruction>} */ table, fallback = OK) {
  return (/** @type {Call} */ call) => table[call.attempt] ?? fallback;
}

/** xorshift32: a small seeded generator so random faults repeat from run to run. Returns [0, 1). */
export function seededRandom(/** @type {number} */ seed) {
  let x = (seed >>> 0) || 0x9e3779b9;
  return () => {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    return x / 2 ** 32;
  };
}

/**
 * Random faults: each call fails with probability `fail` (as `failWith`), else hangs with
 * probability `hang`, else answers ok. Seeded, so the sequence of draws is the same every run.
 */
export function randomFaults({ seed, fail = 0, hang = 0, failWith = status(503) }) {
  const random = seededRandom(seed);
  return () => {
    const r = random();
    return r < fail ? failWith : r < fail + hang ? HANG : OK;
  };
}

/** Creates the control: `handler` is the CONTROL binding; the rest is the test's view. */
export function createBackendControl() {
  /** @type {Call[]} */
  let calls = [];
  /** @type {{id: number, event: string, sent: number, binding?: string, at: number}[]} */
  let events = [];
  /** @type {Map<string, {behaviour: Behaviour, count: number}>} */
  const perBackend = new Map();
  /** @type {{behaviour: Behaviour, count: number} | null} */
  let forAll = null;
  /** @type {Set<() => void>} */
  const hangs = new Set();
  /** describe() calls: binding and arrival time; `describeWith` says what they do ({delayMs?, fail?}). */
  /** @type {{binding: string, at: number}[]} */
  let describes = [];
  /** @type {{delayMs?: number, fail?: boolean}} */
  let describeWith = {};
  let nextId = 1;

  /** @param {Call} call @returns {Instruction} */
  function decide(call) {
    const slot = perBackend.get(call.binding) ?? forAll;
    if (!slot) return OK;
    const nth = ++slot.count;
    const b = slot.behaviour;
    if (typeof b === "function") return b(call, nth);
    if (Array.isArray(b)) return b[nth - 1] ?? OK;
    return b;
  }

  /** @param {Request} request */
  async function handler(request) {
    const { pathname } = new URL(request.url);
    const payload = await request.json();
    if (pathname === "/infer") {
      const call = /** @type {Call} */ ({ ...payload, id: nextId++, at: Date.now() });
      call.instruction = decide(call);
      calls.push(call);
      return Response.json({ id: call.id, instruction: call.instruction });
    }
    if (pathname === "/event") {
      const binding = calls.find((c) => c.id === payload.id)?.binding;
      events.push({ ...payload, binding, at: Date.now() });
      return Response.json({});
    }
    if (pathname === "/describe") {
      describes.push({ binding: payload.binding, at: Date.now() });
      if (describeWith.delayMs) await new Promise((resolve) => setTimeout(resolve, describeWith.delayMs));
      return Response.json({ fail: describeWith.fail === true });
    }
    if (pathname === "/hang") {
      await new Promise((resolve) => hangs.add(resolve));
      return Response.json({});
    }
    return new Response("unknown control path", { status: 404 });
  }

  return {
    handler,
    /** Every call so far, in arrival order. */
    get calls() { return calls; },
    get events() { return events; },
    /** Every describe() call so far. */
    get describes() { return describes; },
    /** What describe() does from now on: answer after `delayMs`, or throw when `fail`. */
    setDescribe(/** @type {{delayMs?: number, fail?: boolean}} */ how) { describeWith = how; },
    /** The calls made for one client request (by its x-request-id). */
    callsFor: (/** @type {string} */ requestId) => calls.filter((c) => c.requestId === requestId),
    /** How many calls each binding got. */
    countByBinding() {
      /** @type {Record<string, number>} */
      const counts = {};
      for (const c of calls) counts[c.binding] = (counts[c.binding] ?? 0) + 1;
      return counts;
    },
    /** Sets one backend's behaviour from its next call on. */
    set(/** @type {string} */ binding, /** @type {Behaviour} */ behaviour) { perBackend.set(binding, { behaviour, count: 0 }); },
    /** Sets the behaviour of every backend that has none of its own. */
    setAll(/** @type {Behaviour} */ behaviour) { forAll = { behaviour, count: 0 }; },
    /** Releases the calls that hang (their infer() then throws, long after the router gave up on them). */
    releaseHangs() { hangs.forEach((release) => release()); hangs.clear(); },
    get hanging() { return hangs.size; },
    /** Back to "every backend answers ok", forgetting calls and events. */
    reset() {
      perBackend.clear();
      forAll = null;
      this.releaseHangs();
      calls = [];
      events = [];
      describes = [];
      describeWith = {};
    },
  };
}

/**
 * A stack whose backends are all controlled backends (sorted binding names are the core's order),
 * with `routerConfig` as ROUTER_CONFIG. Each serves any model (ROUTER_CONFIG overrides narrow that).
 * @param {{bindings: string[], routerConfig?: object}} spec
 */
export async function startControlledStack({ bindings, routerConfig }) {
  const control = createBackendControl();
  const stack = await startStack({
    vars: routerConfig ? { ROUTER_CONFIG: JSON.stringify(routerConfig) } : {},
    backends: bindings.map((binding) => ({
      binding, script: "controlled-backend.js", serviceBindings: { CONTROL: control.handler },
      vars: { BACKEND_NAME: binding },
    })),
  });
  /** GET /status as JSON, with `byBinding` added. */
  async function status() {
    const body = await (await stack.fetch("/status")).json();
    body.byBinding = Object.fromEntries(body.backends.map((/** @type {{binding: string}} */ b) => [b.binding, b]));
    return body;
  }
  return { stack, control, status, stop: async () => { control.releaseHangs(); await stack.stop(); } };
}
