// A driver harness for shims/driver.js: the real router.wasm in plain Node, with a clock the test
// moves by hand, backends whose answers and streams the test scripts, and checks that a request
// left nothing behind (no timer pending, no unread backend stream left open, its exchange ended
// exactly once).
//
// - FakeClock replaces globalThis.setTimeout / clearTimeout and Date.now while a test runs and
//   records every timer armed, cleared or fired. (node:test's mock.timers on Node 20 cannot list
//   the pending timers, which is the point here.) Time moves only in advance(): timers due fire in
//   order, each followed by a settle() of the real event loop (setImmediate is not faked).
// - Source is a ReadableStream the test scripts chunk by chunk (a backend's answer, or a client's
//   upload), delivering one item per read; it records whether it was read to its end, cancelled or
//   errored.
// - harness() builds one isolate: a fresh RouterCore around the shared compiled module, the fetch
//   handler, an env with backends (plain objects with describe() and infer(), as the RPC contract
//   has them), a ctx whose waitUntil promises are tracked, and the core's log lines (console.log)
//   captured as parsed JSON.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { createRouterFetch } from "../../shims/driver.js";
import { RouterCore } from "../../shims/wasm-core.js";

const wasmPath = fileURLToPath(new URL("../../build/wasm/router.wasm", import.meta.url));
export const wasmModule = new WebAssembly.Module(readFileSync(wasmPath));

const realSetImmediate = globalThis.setImmediate;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Lets every promise chain that can move without the clock move: several turns of the real event loop. */
export async function settle(turns = 8) {
  for (let i = 0; i < turns; i++) await new Promise((resolve) => realSetImmediate(resolve));
}

/** Epoch ms at which every test starts: far from 0, so a `|| now` or `now - 0` mistake shows. */
export const START = 1_750_000_000_000;

export class FakeClock {
  constructor(start = START) {
    this.now = start;
    this.nextId = 1;
    /** @type {Map<number, {id: number, at: number, ms: number, fn: Function, args: unknown[], armedAt: number}>} */
    this.timers = new Map();
    /** @type {{type: "armed" | "cleared" | "fired", id: number, ms?: number, at: number}[]} */
    this.events = [];
    /** @type {{setTimeout: typeof setTimeout, clearTimeout: typeof clearTimeout, now: () => number} | null} */
    this.saved = null;
  }

  install() {
    this.saved = { setTimeout: globalThis.setTimeout, clearTimeout: globalThis.clearTimeout, now: Date.now };
    const clock = this;
    globalThis.setTimeout = /** @type {any} */ (function setTimeout(/** @type {Function} */ fn, /** @type {number} */ ms = 0, /** @type {unknown[]} */ ...args) {
      if (typeof fn !== "function") throw new TypeError("setTimeout without a function");
      const delay = Math.max(0, Number(ms) || 0);
      const id = clock.nextId++;
      clock.timers.set(id, { id, at: clock.now + delay, ms: delay, fn, args, armedAt: clock.now });
      clock.events.push({ type: "armed", id, ms: delay, at: clock.now });
      return id;
    });
    globalThis.clearTimeout = /** @type {any} */ (function clearTimeout(/** @type {unknown} */ id) {
      if (typeof id === "number" && clock.timers.delete(id)) clock.events.push({ type: "cleared", id, at: clock.now });
    });
    Date.now = () => clock.now;
  }

  uninstall() {
    if (!this.saved) return;
    globalThis.setTimeout = this.saved.setTimeout;
    globalThis.clearTimeout = this.saved.clearTimeout;
    Date.now = this.saved.now;
    this.saved = null;
  }

  /** The timers armed and neither cleared nor fired, as [{ms, armedAt (relative to START), dueIn}]. */
  pending() {
    return [...this.timers.values()].map((t) => ({ ms: t.ms, armedAt: t.armedAt - START, dueIn: t.at - this.now }));
  }

  /** @param {"armed" | "cleared" | "fired"} type */
  count(type) {
    return this.events.filter((e) => e.type === type).length;
  }

  /**
   * Moves time forward by `ms`, firing every timer due on the way in order (a timer armed by one
   * that fires, and due within the span, fires too). Bounded: a timer that keeps re-arming itself
   * for 0 ms at the same instant is a bug, reported rather than spun on forever.
   * @param {number} ms
   */
  async advance(ms) {
    const target = this.now + ms;
    await settle();
    for (let fired = 0; ; fired++) {
      if (fired > 10_000) throw new Error("more than 10000 timers fired in one advance(): a timer re-arms itself for ever");
      let next = null;
      for (const t of this.timers.values()) if (t.at <= target && (!next || t.at < next.at || (t.at === next.at && t.id < next.id))) next = t;
      if (!next) break;
      this.now = Math.max(this.now, next.at);
      this.timers.delete(next.id);
      this.events.push({ type: "fired", id: next.id, at: this.now });
      next.fn(...next.args);
      await settle();
    }
    this.now = target;
    await settle();
  }
}

/**
 * A scripted ReadableStream: each read gets the next item (a string is sent as its UTF-8 bytes,
 * anything else as it is). When the items run out it closes (`end: "close"`), errors (`end`: an
 * Error) or waits for more (`end: "hang"`: push() and finish() go on with it). A one-item-per-read
 * source with highWaterMark 0, so nothing is read that the consumer did not ask for.
 */
export class Source {
  /** @param {unknown[]} items @param {{end?: "close" | "hang" | Error, label?: string}} [options] */
  constructor(items = [], { end = "close", label = "stream" } = {}) {
    this.label = label;
    this.queue = [...items];
    this.end = end;
    this.reads = 0; // items delivered
    this.drained = false; // closed after its last item: read to the end
    this.cancelled = false;
    this.errored = false;
    /** @type {(() => void) | null} a read waiting for push() or finish() */
    this.waiting = null;
    this.stream = new ReadableStream({
      pull: (controller) => this.#pull(controller),
      cancel: () => {
        this.cancelled = true;
        this.waiting = null;
      },
    }, { highWaterMark: 0 });
  }

  /** @param {ReadableStreamDefaultController<unknown>} controller @returns {void | Promise<void>} */
  #pull(controller) {
    if (this.cancelled) return;
    if (this.queue.length > 0) {
      const item = this.queue.shift();
      this.reads++;
      controller.enqueue(typeof item === "string" ? encoder.encode(item) : item);
      return;
    }
    if (this.end === "close") {
      this.drained = true;
      controller.close();
      return;
    }
    if (this.end instanceof Error) {
      this.errored = true;
      controller.error(this.end);
      return;
    }
    return new Promise((resolve) => {
      this.waiting = () => {
        this.waiting = null;
        resolve(this.#pull(controller));
      };
    });
  }

  /** More items, delivered to a waiting read at once. @param {unknown[]} items */
  push(...items) {
    this.queue.push(...items);
    this.waiting?.();
  }

  /** How the stream ends once its items are out. @param {"close" | "hang" | Error} end */
  finish(end = "close") {
    this.end = end;
    this.waiting?.();
  }

  /** Nobody will read it any more: read to its end, cancelled, or broken by its own error. */
  get released() {
    return this.drained || this.cancelled || this.errored;
  }
}

/** An OpenAI chat completion stream's events: `n` chunks, then `data: [DONE]` unless `done` is false. */
export function sse(n = 2, { done = true, text = "hi" } = {}) {
  const events = [];
  for (let i = 0; i < n; i++) events.push(`data: ${JSON.stringify({ id: "c", object: "chat.completion.chunk", choices: [{ index: 0, delta: { content: `${text}${i}` } }] })}\n\n`);
  if (done) events.push("data: [DONE]\n\n");
  return events;
}

/** A non-streaming chat completion body. @param {string} content */
export function completion(content = "hello") {
  return { id: "chatcmpl-1", object: "chat.completion", created: 1, model: "m", choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: "stop" }] };
}

/** The default policy of these tests: short, distinct times, so each timer is told apart. */
export const POLICY = {
  timeouts: { perTryMs: 1000, firstByteMs: 500, requestMs: 10_000, streamIdleMs: 300 },
  retry: { backoffBaseMs: 0, backoffCapMs: 0 },
  discovery: { describeTimeoutMs: 200 },
};

/**
 * @typedef {object} InferCall
 * @property {any} req the InferenceRequest
 * @property {number} at when infer() was called (ms after START)
 */

/**
 * @typedef {object} FakeBackend
 * @property {(req: any) => Promise<any>} infer
 * @property {() => Promise<any>} describe
 * @property {InferCall[]} calls
 * @property {number} describes
 */

/**
 * One isolate of the router in a test: `t` is the node:test context (its after() restores the
 * globals). `config` becomes ROUTER_CONFIG (POLICY when not given; null for none).
 * @param {import("node:test").TestContext} t
 * @param {{config?: object | string | null, env?: Record<string, unknown>}} [options]
 */
export async function harness(t, { config = POLICY, env = {} } = {}) {
  const clock = new FakeClock();
  clock.install();
  /** @type {any[]} */
  const logs = [];
  const realLog = console.log;
  console.log = (/** @type {unknown[]} */ ...args) => {
    const line = args.map(String).join(" ");
    try {
      logs.push(JSON.parse(line));
    } catch {
      logs.push({ text: line });
    }
  };
  t.after(() => {
    clock.uninstall();
    console.log = realLog;
  });

  const core = RouterCore.fromModule(wasmModule);
  /** Every exchange begun, and how often it was ended (core.end / core.fail): a spy on the real core. */
  /** @type {Map<number, number>} */
  const endings = new Map();
  const { begin, end, fail } = core;
  core.begin = (...args) => {
    const result = begin.apply(core, args);
    endings.set(result.exchange, 0);
    return result;
  };
  core.end = (exchange, ...rest) => {
    endings.set(exchange, (endings.get(exchange) ?? 0) + 1);
    return end.call(core, exchange, ...rest);
  };
  core.fail = (exchange, ...rest) => {
    endings.set(exchange, (endings.get(exchange) ?? 0) + 1);
    return fail.call(core, exchange, ...rest);
  };

  const fetchHandler = createRouterFetch(core);
  /** @type {Record<string, unknown>} */
  const fullEnv = { ...(config === null ? {} : { ROUTER_CONFIG: typeof config === "string" ? config : JSON.stringify(config) }), ...env };
  /** @type {Source[]} every stream a backend or a client handed to the router */
  const sources = [];
  /** @type {{promise: Promise<unknown>, settled: boolean}[]} */
  const waits = [];
  const ctx = {
    /** @param {Promise<unknown>} promise */
    waitUntil(promise) {
      const entry = { promise, settled: false };
      waits.push(entry);
      promise.then(() => { entry.settled = true; }, () => { entry.settled = true; });
    },
    passThroughOnException() {},
  };

  const h = {
    clock,
    core,
    env: fullEnv,
    ctx,
    logs,
    sources,
    waits,
    endings,
    /** A scripted stream, tracked by the final checks. @param {unknown[]} items @param {{end?: "close" | "hang" | Error, label?: string}} [options] */
    stream(items, options) {
      const s = new Source(items, options);
      sources.push(s);
      return s;
    },
    /**
     * A backend binding in env: `infer(req, call)` decides each answer (call: 1-based count of
     * this backend's calls); describe() answers {name, models: ["*"]} unless `describe` is given.
     * @param {string} binding
     * @param {{infer?: (req: any, call: number) => unknown, describe?: () => unknown, models?: string[], weight?: number}} [options]
     * @returns {FakeBackend}
     */
    backend(binding, { infer = () => ({ status: 200, body: completion() }), describe, models = ["*"], weight } = {}) {
      /** @type {FakeBackend} */
      const b = {
        calls: [],
        describes: 0,
        async describe() {
          b.describes++;
          return describe ? describe() : { name: binding.toLowerCase(), models, ...(weight ? { weight } : {}) };
        },
        async infer(req) {
          b.calls.push({ req, at: clock.now - START });
          return infer(req, b.calls.length);
        },
      };
      fullEnv[binding] = b;
      return b;
    },
    /**
     * Backends that share one script: `infer(req, n, binding)` answers the n-th call made to any of
     * them (round-robin starts at a random backend, so a test scripts calls, not backends).
     * @param {string[]} bindings @param {(req: any, n: number, binding: string) => unknown} infer
     */
    pool(bindings, infer) {
      let n = 0;
      return bindings.map((binding) => h.backend(binding, { infer: (req) => infer(req, ++n, binding) }));
    },
    /** @param {Request | string} request @param {Record<string, unknown>} [envOverride] @param {object} [ctxOverride] */
    fetch(request, envOverride = fullEnv, ctxOverride = ctx) {
      return fetchHandler(typeof request === "string" ? new Request(`http://router.test${request}`) : request, envOverride, /** @type {any} */ (ctxOverride));
    },
    /** The handler called without an ExecutionContext (as a test or another caller may). @param {Request} request */
    fetchWithoutCtx(request) {
      return fetchHandler(request, fullEnv);
    },
    /** The router's /status (itself an exchange, begun and ended like any other). */
    async status() {
      const res = await h.fetch("/status");
      assert.equal(res.status, 200);
      return JSON.parse(await res.text());
    },
    /** Log lines of one event. @param {string} event */
    events(event) {
      return logs.filter((l) => l.event === event);
    },
    /**
     * Nothing is left behind, checked without moving the clock: no timer pending, every scripted
     * stream read to its end or cancelled (or broken by its own error), every waitUntil promise
     * settled, every exchange ended exactly once, and the core agreeing (/status: only itself in
     * flight, no backend with an attempt in flight).
     * @param {string} [what]
     */
    async assertClean(what = "") {
      await settle();
      const at = what ? ` (${what})` : "";
      assert.deepEqual(clock.pending(), [], `no timer is still pending${at}`);
      for (const s of sources) assert.ok(s.released, `the ${s.label} was read to its end or cancelled${at}`);
      assert.ok(waits.every((w) => w.settled), `every waitUntil promise settled${at}`);
      assert.deepEqual(logs.filter((l) => "text" in l), [], `every log line is a JSON object${at}`);
      for (const [exchange, count] of endings) assert.equal(count, 1, `exchange ${exchange} ended exactly once${at}`);
      const status = await h.status();
      assert.equal(status.requestsInFlight, 1, `no exchange in flight but /status itself${at}`);
      for (const b of status.backends) assert.equal(b.inFlight, 0, `${b.binding}: no attempt in flight${at}`);
      assert.deepEqual(clock.pending(), [], `no timer is pending after /status either${at}`);
      return status;
    },
  };
  return h;
}

/**
 * A POST to the router. `body` is JSON text or an object (serialized), or a Source (an upload read
 * chunk by chunk; with `contentLength` the header is set as well).
 * @param {string} path
 * @param {unknown} body
 * @param {{headers?: Record<string, string>, signal?: AbortSignal, contentLength?: number | string}} [options]
 */
export function post(path, body, { headers = {}, signal, contentLength } = {}) {
  /** @type {Record<string, string>} */
  const all = { "content-type": "application/json", ...headers };
  if (contentLength !== undefined) all["content-length"] = String(contentLength);
  if (body instanceof Source) {
    return new Request(`http://router.test${path}`, { method: "POST", headers: all, body: body.stream, signal, duplex: "half" });
  }
  const text = typeof body === "string" ? body : JSON.stringify(body);
  return new Request(`http://router.test${path}`, { method: "POST", headers: all, body: text, signal });
}

/** A chat completion request body. @param {{stream?: boolean, model?: string}} [options] */
export function chat({ stream = false, model = "m" } = {}) {
  return { model, messages: [{ role: "user", content: "hi" }], ...(stream ? { stream: true } : {}) };
}

/**
 * Reads a Response body to its end, chunk by chunk, as text.
 * @param {Response} res
 */
export async function readAll(res) {
  return res.body ? decoder.decode(new Uint8Array(await new Response(res.body).arrayBuffer())) : "";
}

/** Decodes bytes. @param {Uint8Array | undefined} bytes */
export const text = (bytes) => decoder.decode(bytes);

/** An OpenAI error body's `error`. @param {Response} res */
export async function errorOf(res) {
  const body = await res.json();
  assert.ok(body && typeof body.error === "object", "an OpenAI error body");
  return body.error;
}

/** A promise the test settles by hand (a backend that answers when the test says so). */
export function deferred() {
  /** @type {(value: unknown) => void} */
  let resolve = () => {};
  /** @type {(reason: unknown) => void} */
  let reject = () => {};
  /** @type {Promise<any>} */
  const promise = new Promise((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * The client's side of a streamed answer, read one chunk at a time.
 * @param {Response} res
 */
export function client(res) {
  assert.ok(res.body, "a streamed answer has a body");
  const reader = res.body.getReader();
  return {
    reader,
    /** The next chunk as text, or null at the end. */
    async next() {
      const r = await reader.read();
      return r.done ? null : decoder.decode(r.value);
    },
    /** Everything left, as text. */
    async rest() {
      let all = "";
      for (let r = await reader.read(); !r.done; r = await reader.read()) all += decoder.decode(r.value);
      return all;
    },
  };
}
