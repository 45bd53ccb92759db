// @ts-check
// The action loop: performs what the routing core (router.wasm) decides, and nothing more.
// JS here reads bytes, awaits promises, measures time and answers with what the core returned;
// every status, header, retry, wait and routing choice comes from the core.

import { BODY, END, LIMIT, OUTCOME, internalErrorAction } from "./wasm-core.js";
import { ClusterSync } from "./cluster-sync.js";
import { RequestTimer, TIMED_OUT, errorName, startTimer } from "./timer.js";
import { UsageEventFilter } from "./usage-event-filter.js";

/** @typedef {import("./wasm-core.js").RouterCore} RouterCore */
/** @typedef {import("./wasm-core.js").Action} Action */
/** @typedef {import("./wasm-core.js").Outcome} Outcome */
/** @typedef {import("./interfaces.js").BackendBinding} BackendBinding */
/** @typedef {Record<string, unknown>} Env */
/** @typedef {{bodyText?: string, reader?: ReadableStreamDefaultReader<Uint8Array>, first?: Uint8Array}} Answer */
/** @typedef {Outcome & {answer?: Answer}} CallResult */

// How many of a stream's last bytes the core gets: enough for its `data: [DONE]` line and the
// usage event before it (the tokens /status counts); for a Responses stream, the end of its
// final event (where `usage` is) and, unless that event is longer, the event's type.
const TAIL_BYTES = 1024;
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const strictDecoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });
const ignore = () => {};

/** 128 random bits per request for the core (its seed, and a generated request id), drawn 64 requests at a time. */
const randomWords = new Uint32Array(256);
let wordsLeft = 0;
function nextRandom() {
  if (wordsLeft < 4) {
    crypto.getRandomValues(randomWords);
    wordsLeft = randomWords.length;
  }
  wordsLeft -= 4;
  return randomWords.subarray(wordsLeft, wordsLeft + 4);
}

/** @param {string} text */
async function sha256Hex(text) {
  const digest = await crypto.subtle.digest("SHA-256", encoder.encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** @param {unknown} value @returns {value is Record<string, unknown>} */
function isObject(value) {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * The path of a request's URL. workerd hands the fetch handler an absolute, already normalized
 * URL (dot segments resolved), so this is URL.pathname without parsing the URL again.
 * @param {string} url
 */
function pathOf(url) {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  if (start < 0) return "/";
  let end = url.length;
  for (const mark of ["?", "#"]) {
    const at = url.indexOf(mark, start);
    if (at >= 0 && at < end) end = at;
  }
  return url.slice(start, end);
}

/**
 * Reads a request body, stopping once it holds more than `limit` bytes, or at `deadline` (a slow
 * upload holds nothing past it: the read is abandoned and the stream cancelled). Null when the
 * upload broke (the client went away).
 * @param {Request} request @param {number} limit @param {number} deadline @param {RequestTimer} timer the request's
 * @returns {Promise<{bytes: Uint8Array, how: 0 | 1 | 2} | null>}
 */
async function readBody(request, limit, deadline, timer) {
  /** @type {{reader: ReadableStreamDefaultReader<Uint8Array> | null}} */
  const chunked = { reader: null };
  const expired = timer.wait(Math.max(deadline, 1));
  /** @type {Promise<ArrayBuffer | Uint8Array> | undefined} */
  let reading;
  try {
    // With a Content-Length (the core already held it to the limit) the runtime frames the body
    // exactly, so one native read is safe and much cheaper than iterating over chunks in JS.
    reading = request.headers.has("content-length") ? request.arrayBuffer() : readChunks(request, limit, chunked);
    const read = await Promise.race([reading, expired]);
    if (read === TIMED_OUT) {
      reading?.catch(ignore);
      (chunked.reader ?? request.body)?.cancel().catch(ignore);
      return { bytes: new Uint8Array(0), how: BODY.timedOut };
    }
    const bytes = read instanceof Uint8Array ? read : new Uint8Array(read);
    return { bytes: bytes.subarray(0, Math.min(bytes.byteLength, limit)), how: bytes.byteLength > limit ? BODY.overLimit : BODY.complete };
  } catch {
    return null;
  }
}

/**
 * A body without a Content-Length, chunk by chunk, stopping once it holds more than `limit` bytes
 * (the rest of the upload is cancelled). `chunked.reader` is its reader, for a caller that gives up.
 * @param {Request} request @param {number} limit @param {{reader: ReadableStreamDefaultReader<Uint8Array> | null}} chunked
 */
async function readChunks(request, limit, chunked) {
  /** @type {Uint8Array[]} */
  const chunks = [];
  let size = 0;
  const reader = (chunked.reader = request.body?.getReader() ?? null);
  for (let r = await reader?.read(); r && !r.done; r = await reader?.read()) {
    chunks.push(r.value);
    size += r.value.byteLength;
    if (size > limit) break;
  }
  if (size > limit) reader?.cancel().catch(ignore); // the rest of the upload is not wanted
  return joinChunks(chunks, size);
}

/**
 * The password of HTTP Basic credentials (`Basic base64(user:password)`, RFC 7617, UTF-8), which a
 * browser sends for /dashboard; null when `authorization` is not Basic or does not decode (it is
 * then hashed whole, as any other value, and matches no key).
 * @param {string} authorization
 */
function basicPassword(authorization) {
  // The first two letters rule out Bearer without making a string per request.
  if ((authorization.charCodeAt(0) | 32) !== 98 || (authorization.charCodeAt(1) | 32) !== 97) return null;
  if (authorization.length < 7 || authorization.slice(0, 6).toLowerCase() !== "basic ") return null;
  try {
    const bytes = Uint8Array.from(atob(authorization.slice(6).trim()), (c) => c.charCodeAt(0));
    const text = strictDecoder.decode(bytes);
    const colon = text.indexOf(":");
    return colon < 0 ? null : text.slice(colon + 1);
  } catch {
    return null;
  }
}

/**
 * What the core needs of a request before its body. Basic credentials are hashed as
 * `Bearer <password>`, the form the keys are hashed in; the core decides where they count.
 * Without credentials to hash nothing is awaited.
 * @param {Request} request @param {boolean} authRequired
 * @returns {import("./wasm-core.js").RequestHead | Promise<import("./wasm-core.js").RequestHead>}
 */
function requestHead(request, authRequired) {
  const authorization = authRequired ? request.headers.get("authorization") : null;
  const password = authorization ? basicPassword(authorization) : null;
  const head = {
    method: request.method,
    path: pathOf(request.url),
    contentType: request.headers.get("content-type") ?? "",
    contentLength: request.headers.get("content-length") ?? "",
    requestId: request.headers.get("x-request-id") ?? "",
    authHash: "",
    clientIp: request.headers.get("cf-connecting-ip") ?? "",
    authScheme: password === null ? "" : "basic",
  };
  if (!authorization) return head;
  return sha256Hex(password === null ? authorization : `Bearer ${password}`).then((hash) => ({ ...head, authHash: hash }));
}

/** A header value as the core takes it: strings as they are, numbers converted, anything else dropped. @param {unknown} value */
function headerText(value) {
  if (typeof value === "string") return value;
  return typeof value === "number" || typeof value === "bigint" ? String(value) : "";
}

/** Cancels the stream of an answer nobody will read. @param {unknown} answer */
function cancelStream(answer) {
  if (isObject(answer) && answer.stream instanceof ReadableStream) answer.stream.cancel().catch(ignore);
}

/**
 * Calls infer() on a backend within the action's timeout (for a stream: until its first chunk).
 * Returns the facts of the answer for the core and the answer to forward. Nothing the backend
 * sends is trusted: a bad status, body, header or stream is reported, never used as it is.
 * @param {BackendBinding} backend @param {Action} action @param {string} bodyText @param {RequestTimer} timer the request's
 * @returns {Promise<CallResult>}
 */
async function callBackend(backend, action, bodyText, timer) {
  const expired = timer.wait(action.timeoutMs ? Date.now() + action.timeoutMs : 0);
  try {
    const { requestId, path, model, stream, deadline, attemptDeadline, attempt } = action;
    const pending = backend.infer(/** @type {any} */ ({ requestId, path, model, stream, body: bodyText, deadline, attemptDeadline, attempt }));
    const resp = await Promise.race([pending, expired]);
    if (resp === TIMED_OUT) {
      pending.then(cancelStream, ignore); // a late stream is not left generating
      return { outcome: OUTCOME.timedOut };
    }
    const read = readAnswer(resp, stream, expired);
    return read instanceof Promise ? await read : read;
  } catch {
    return { outcome: OUTCOME.threw };
  }
}

/**
 * A 400 answer's `error.code` when a string (the core decides what it means), else "".
 * @param {number} status @param {unknown} body
 */
function errorCode(status, body) {
  const error = status === 400 && isObject(body) ? body.error : undefined;
  return isObject(error) && typeof error.code === "string" ? error.code : "";
}

/**
 * A JSON answer's `usage` as "prompt completion total" for the core to check and count, else "".
 * Chat, completions and embeddings name them prompt_tokens / completion_tokens; a Response
 * (/v1/responses) input_tokens / output_tokens: an answer has one pair or the other.
 * @param {unknown} body
 */
function usageLine(body) {
  const usage = isObject(body) ? body.usage : undefined;
  if (!isObject(usage)) return "";
  const count = (/** @type {unknown} */ n) => (typeof n === "number" && Number.isSafeInteger(n) && n >= 0 ? String(n) : "");
  return `${count(usage.prompt_tokens ?? usage.input_tokens)} ${count(usage.completion_tokens ?? usage.output_tokens)} ${count(usage.total_tokens)}`;
}

/**
 * The facts of one answer: status (an integer, else 0), Retry-After headers as text, and what it
 * carried; for a streaming request, the stream's first chunk (then a promise: only a stream waits).
 * @param {unknown} resp @param {boolean} wantStream @param {Promise<typeof TIMED_OUT>} expired
 * @returns {CallResult | Promise<CallResult>}
 */
function readAnswer(resp, wantStream, expired) {
  const answer = isObject(resp) ? resp : {};
  const headers = isObject(answer.headers) ? answer.headers : {};
  const status = typeof answer.status === "number" && Number.isInteger(answer.status) && answer.status >= 0 && answer.status < 1000 ? answer.status : 0;
  /** @type {CallResult} */
  const facts = { outcome: OUTCOME.json, status, retryAfter: headerText(headers["retry-after"]), retryAfterMs: headerText(headers["retry-after-ms"]),
    errorCode: errorCode(status, answer.body), usage: "", answer: undefined };
  if (!(answer.stream instanceof ReadableStream)) {
    /** @type {string | undefined} */
    let bodyText;
    try {
      bodyText = isObject(answer.body) ? JSON.stringify(answer.body) : undefined;
    } catch { /* a cycle or a BigInt: not a JSON object */ }
    facts.outcome = bodyText !== undefined ? OUTCOME.json : answer.body === undefined ? OUTCOME.noBody : OUTCOME.bodyNotObject;
    facts.usage = usageLine(answer.body);
    facts.answer = { bodyText };
    return facts;
  }
  facts.outcome = OUTCOME.stream;
  if (wantStream) return readFirstChunk(answer.stream, facts, expired);
  answer.stream.cancel().catch(ignore); // never relayed: the core fails over or answers the error itself
  return facts;
}

/**
 * A stream's first chunk (empty chunks skipped) before `expired`; `facts` with what came of it.
 * @param {ReadableStream} stream @param {CallResult} facts @param {Promise<typeof TIMED_OUT>} expired
 * @returns {Promise<CallResult>}
 */
async function readFirstChunk(stream, facts, expired) {
  const reader = stream.getReader();
  let r;
  do r = await Promise.race([reader.read(), expired]);
  while (r !== TIMED_OUT && !r.done && r.value instanceof Uint8Array && r.value.byteLength === 0);
  if (r === TIMED_OUT || r.done || !(r.value instanceof Uint8Array)) {
    reader.cancel().catch(ignore);
    facts.outcome = r === TIMED_OUT ? OUTCOME.timedOut : r.done ? OUTCOME.emptyStream : OUTCOME.streamNotBytes;
    return facts;
  }
  facts.answer = { reader, first: r.value };
  return facts;
}

/**
 * RATE_LIMITER.limit({key}) (the Workers Rate Limiting binding), as the core's 0 / 1 / 2.
 * @param {Env} env @param {string} key @param {number} timeoutMs
 * @returns {Promise<0 | 1 | 2>}
 */
async function askRateLimiter(env, key, timeoutMs) {
  const timer = startTimer(timeoutMs);
  try {
    const limiter = /** @type {{limit(o: {key: string}): Promise<{success: boolean}>}} */ (env.RATE_LIMITER);
    const answer = await Promise.race([limiter.limit({ key }), timer.expired]);
    if (answer === TIMED_OUT) return LIMIT.limiterFailed;
    return answer?.success ? LIMIT.allowed : LIMIT.overLimit;
  } catch {
    return LIMIT.limiterFailed;
  } finally {
    timer.clear();
  }
}

/**
 * A stream's last TAIL_BYTES, kept as references to its last chunks: nothing is copied per chunk,
 * only once at the end (the chunks are the backend's own buffers, never written to again).
 */
class StreamTail {
  /** @param {Uint8Array} first */
  constructor(first) {
    /** @type {Uint8Array[]} */
    this.chunks = [first];
    this.size = first.byteLength;
  }

  /** @param {Uint8Array} chunk */
  add(chunk) {
    this.chunks.push(chunk);
    this.size += chunk.byteLength;
    // Drop the oldest chunk while the others still hold TAIL_BYTES.
    while (this.size - this.chunks[0].byteLength >= TAIL_BYTES) this.size -= /** @type {Uint8Array} */ (this.chunks.shift()).byteLength;
  }

  /** The last TAIL_BYTES (fewer when the stream was shorter). */
  bytes() {
    // All but the oldest chunk hold fewer than TAIL_BYTES: the cut falls in the oldest.
    const cut = Math.max(0, this.size - TAIL_BYTES);
    if (this.chunks.length === 1) return this.chunks[0].subarray(cut);
    return joinChunks([this.chunks[0].subarray(cut), ...this.chunks.slice(1)], this.size - cut);
  }
}

/** @param {Uint8Array[]} chunks @param {number} size their total length */
function joinChunks(chunks, size) {
  const joined = new Uint8Array(size);
  chunks.reduce((offset, c) => (joined.set(c, offset), offset + c.byteLength), 0);
  return joined;
}

/**
 * The client's stream: the backend's first chunk, then the rest as it comes (no buffering).
 * One watchdog timer guards both ends, re-armed only when it fires, for what is left of the
 * current wait, so chunks themselves cost no timer calls:
 * - a backend that sends nothing for `idleMs` (the core's streamIdleMs) while a read waits on it
 *   has failed like one whose stream broke;
 * - a client that asks for nothing for `idleMs` is gone (workerd drops an answer whose client left
 *   before it started without cancelling its stream): the exchange ends and the backend's stream
 *   is cancelled rather than left generating.
 * At the end the core gets the stream's last bytes: one without its `data: [DONE]` line has failed.
 * When the router asked the stream for its usage (`usageInjected`), the client gets it without
 * the usage-only event (UsageEventFilter; the core counts its tokens).
 * `done` settles when the relay is over (for waitUntil, which keeps the watchdog alive).
 * @param {ReadableStreamDefaultReader<Uint8Array>} reader @param {Uint8Array} first
 * @param {RelayedExchange} exchange ends the exchange (once)
 * @param {number} idleMs @param {boolean} usageInjected
 */
function relay(reader, first, exchange, idleMs, usageInjected) {
  const relayed = new Relay(reader, first, exchange, idleMs);
  if (usageInjected) relayed.usageFilter = new UsageEventFilter((event) => exchange.usageEvent(event));
  if (idleMs > 0) relayed.watch(idleMs);
  const stream = new ReadableStream({
    start(controller) {
      relayed.client = controller;
      relayed.send(controller, first);
    },
    pull: (controller) => relayed.pull(controller),
    cancel: () => relayed.cancel(),
  }, { highWaterMark: 0 });
  return { stream, done: relayed.done };
}

/** @typedef {{end(how: 0 | 1 | 2, tail?: Uint8Array): Uint8Array | null, usageEvent(event: Uint8Array): boolean}} RelayedExchange */

/** One relay's state (relay() above). */
class Relay {
  /**
   * @param {ReadableStreamDefaultReader<Uint8Array>} reader @param {Uint8Array} first
   * @param {RelayedExchange} exchange @param {number} idleMs
   */
  constructor(reader, first, exchange, idleMs) {
    this.reader = reader;
    this.exchange = exchange;
    this.idleMs = idleMs;
    this.readingSince = 0; // when the pending read() started; 0 when none is pending
    this.askedAt = Date.now(); // when the client last asked for more (or the answer started)
    this.stalled = false;
    this.tail = new StreamTail(first);
    /** @type {ReadableStreamDefaultController<Uint8Array> | null} */
    this.client = null;
    /** @type {UsageEventFilter | null} set when the router asked the stream for its usage */
    this.usageFilter = null;
    /** @type {ReturnType<typeof setTimeout> | null} */
    this.watchdog = null;
    /** @type {(value: undefined) => void} */
    this.settle = ignore;
    /** @type {Promise<undefined>} settles when the relay is over */
    this.done = new Promise((resolve) => { this.settle = resolve; });
  }

  finish() {
    clearTimeout(this.watchdog);
    this.settle(undefined);
  }

  /** Arms the watchdog. @param {number} ms */
  watch(ms) {
    this.watchdog = setTimeout(() => this.watchdogFired(), ms);
  }

  /** Re-arms for what is left of the current wait, or gives up on the side that stalled. */
  watchdogFired() {
    const waited = Date.now() - (this.readingSince || this.askedAt);
    if (waited < this.idleMs) return this.watch(this.idleMs - waited);
    if (this.readingSince) {
      this.stalled = true;
      this.reader.cancel().catch(ignore); // the pending read() then ends
      return;
    }
    this.exchange.end(END.clientGone);
    this.reader.cancel().catch(ignore);
    this.client?.error(new Error("the client read nothing"));
    this.finish();
  }

  /**
   * Gives the client a chunk of the backend's (less the usage-only event when the router asked
   * for it); false when nothing of it is left to give.
   * @param {ReadableStreamDefaultController<Uint8Array>} controller @param {Uint8Array} chunk
   */
  send(controller, chunk) {
    const bytes = this.usageFilter ? this.usageFilter.pass(chunk) : chunk;
    if (bytes.byteLength === 0) return false;
    controller.enqueue(bytes);
    return true;
  }

  /** The client asks for more: the backend's next chunk, or the end (with the error event when it failed). @param {ReadableStreamDefaultController<Uint8Array>} controller */
  async pull(controller) {
    try {
      // Reads on while the filter holds all of a chunk back (a pull must give the client something).
      for (;;) {
        this.readingSince = this.askedAt = Date.now();
        const r = await this.reader.read();
        this.readingSince = 0;
        if (this.stalled) throw new Error("the backend's stream stalled");
        if (r.done) break;
        if (!(r.value instanceof Uint8Array)) throw new Error("the backend's stream sent something other than bytes");
        this.tail.add(r.value);
        this.askedAt = Date.now();
        if (this.send(controller, r.value)) return;
      }
      this.sendRest(controller);
      // The error event when [DONE] is missing.
      const errorEvent = this.exchange.end(END.completed, this.tail.bytes());
      if (errorEvent) controller.enqueue(errorEvent);
    } catch {
      this.reader.cancel().catch(ignore);
      this.sendRest(controller);
      const errorEvent = this.exchange.end(END.upstreamFailed);
      if (errorEvent) controller.enqueue(errorEvent);
    }
    this.finish();
    controller.close();
  }

  /** What the usage filter still holds (an event never ended): the client gets it as it came. @param {ReadableStreamDefaultController<Uint8Array>} controller */
  sendRest(controller) {
    const rest = this.usageFilter?.rest();
    if (rest && rest.byteLength > 0) controller.enqueue(rest);
  }

  cancel() {
    this.finish();
    this.exchange.end(END.clientGone);
    return this.reader.cancel().catch(ignore);
  }
}

/**
 * @typedef {object} DashboardFiles  the status page's files (orchestrator-worker/src/dashboard/)
 * @property {string} page    @property {string} script    @property {string} style
 */

/**
 * Builds the Worker's fetch handler around one RouterCore (one per isolate); with `dashboard`
 * the core serves the status page at /dashboard.
 * @param {RouterCore} core @param {DashboardFiles} [dashboard]
 */
export function createRouterFetch(core, dashboard) {
  const isolate = new Isolate(core, dashboard);
  const sync = isolate.sync;
  /** @param {Request} request @param {Env} env @param {ExecutionContext} [ctx] */
  return async function fetch(request, env, ctx) {
    const config = isolate.configuration ?? (await isolate.configuredFor(env));
    if (!config) return respond(internalErrorAction("The router could not start; it retries on the next request", "router_start_failed"));
    if (!sync.started) await sync.beforeFirst(env, ctx); // the cluster's view, if it comes in time
    const head = requestHead(request, config.authRequired);
    const { exchange, action } = core.begin(head instanceof Promise ? await head : head, Date.now(), nextRandom());
    const response = await new Exchange(isolate, request, env, ctx, exchange).serve(action);
    sync.afterRequest(env, ctx); // off the request path: a sync runs under waitUntil
    return response;
  };
}

/** @param {Action} action */
const respond = (action) => new Response(action.body, { status: action.status, headers: action.headers });

/** 16 random hex digits: this isolate's name in the cluster (the control plane counts isolates by it). */
function newIsolateId() {
  return [...crypto.getRandomValues(new Uint8Array(8))].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * What RouterCore.configure and ControlCore.configure take from a Worker's env (keys as hashes).
 * @param {Env} env @returns {Promise<import("./wasm-core.js").ConfigureInput>}
 */
export async function configureInput(env) {
  const keysVar = env.ROUTER_API_KEYS;
  const keys = String(keysVar ?? "").split(",").map((k) => k.trim()).filter(Boolean);
  const admin = env.ROUTER_ADMIN_KEY ? String(env.ROUTER_ADMIN_KEY) : null;
  const raw = env.ROUTER_CONFIG;
  return {
    routerConfig: raw == null ? null : typeof raw === "string" ? raw : JSON.stringify(raw),
    apiKeyHashes: await Promise.all(keys.map((k) => sha256Hex(`Bearer ${k}`))),
    apiKeysSet: keysVar != null,
    adminKeyHash: admin === null ? null : await sha256Hex(`Bearer ${admin}`),
    envNames: Object.keys(env),
  };
}

/** What lives as long as the isolate: the core, its configuration, the describe() batches in flight, the cluster sync. */
class Isolate {
  /** @param {RouterCore} core @param {DashboardFiles} [dashboard] */
  constructor(core, dashboard) {
    this.core = core;
    this.dashboard = dashboard;
    /** @type {string | undefined} this isolate's name in the cluster */
    this.id = undefined;
    this.sync = new ClusterSync(core, () => this.drainLogs());
    /** @type {Promise<{backends: string[], authRequired: boolean}> | undefined} */
    this.configured = undefined;
    /** @type {{backends: string[], authRequired: boolean} | undefined} once `configured` resolved */
    this.configuration = undefined;
    /** describe() batches in flight, by binding, shared by every request of the isolate. @type {Map<string, Promise<void>>} */
    this.describing = new Map();
    /** ANALYTICS.writeDataPoint threw once (logged then, not again) */
    this.analyticsFailed = false;
  }

  drainLogs() {
    for (const line of this.core.logs()) console.log(line);
  }

  /**
   * Hands the core's data points to the Workers Analytics Engine binding. A binding that throws
   * never hurts the request; it is logged once per isolate.
   * @param {unknown} dataset env.ANALYTICS
   */
  writeDataPoints(dataset) {
    for (const point of this.core.dataPoints()) {
      try {
        /** @type {{writeDataPoint(p: unknown): void}} */ (dataset).writeDataPoint(JSON.parse(point));
      } catch (e) {
        if (!this.analyticsFailed) console.log(JSON.stringify({ level: "error", event: "analytics_write_failed", error: errorName(e) }));
        this.analyticsFailed = true;
      }
    }
  }

  /** Configures the core once per isolate from the Worker's env. @param {Env} env */
  async configure(env) {
    // Drawn here, not at module scope, where workerd allows no random values.
    this.id ??= newIsolateId();
    const page = this.dashboard;
    const files = page ? { dashboardPage: page.page, dashboardScript: page.script, dashboardStyle: page.style } : {};
    const result = this.core.configure({ ...(await configureInput(env)), isolateId: this.id, ...files }, Date.now());
    this.drainLogs(); // an invalid ROUTER_CONFIG is among these lines, naming the field
    return result;
  }

  /** The configuration, made once; a failure is retried by the next request. @param {Env} env */
  async configuredFor(env) {
    try {
      return this.configuration ?? (this.configuration = await (this.configured ??= this.configure(env)));
    } catch (e) {
      this.configured = undefined;
      console.log(JSON.stringify({ level: "error", event: "configure_failed", error: errorName(e) }));
      return null;
    }
  }

  /**
   * Starts describe() on the bindings the core handed out (each with the core's timeout, whoever
   * asked), kept alive past the response; waits for every describe() in flight only until
   * `action.until` (0: not at all).
   * @param {Env} env @param {ExecutionContext | undefined} ctx @param {Action} action
   */
  discover(env, ctx, action) {
    const { bindings, timeoutMs, until } = action;
    const describing = this.describing;
    if (bindings.length > 0) {
      const batch = Promise.all(bindings.map((b) => describeOne(/** @type {BackendBinding} */ (env[b]), timeoutMs)))
        .then((answers) => this.core.describe(new Map(bindings.map((b, i) => [b, answers[i]])), Date.now()))
        .catch((e) => console.log(JSON.stringify({ level: "error", event: "describe_feed_failed", error: errorName(e) })))
        .finally(() => {
          this.drainLogs();
          for (const b of bindings) if (describing.get(b) === batch) describing.delete(b);
        });
      for (const b of bindings) describing.set(b, batch);
      ctx?.waitUntil?.(batch);
    }
    if (!until) return Promise.resolve();
    const timer = startTimer(Math.max(1, until - Date.now()));
    return Promise.race([Promise.all(describing.values()), timer.expired]).finally(timer.clear);
  }
}

/** One describe() answer as JSON text, within `timeoutMs`; a failure as {"error": ...}. @param {BackendBinding} backend @param {number} timeoutMs */
export async function describeOne(backend, timeoutMs) {
  const timer = startTimer(timeoutMs);
  try {
    const answer = await Promise.race([backend.describe(), timer.expired]);
    if (answer === TIMED_OUT) return JSON.stringify({ error: "describe() timed out" });
    return JSON.stringify(answer) ?? JSON.stringify({ error: "describe() answered nothing" });
  } catch (e) {
    return JSON.stringify({ error: `describe() failed (${errorName(e)})` });
  } finally {
    timer.clear();
  }
}

/**
 * What the shim does for each action kind: answer the client (a Response), or perform what the
 * action asks for and return the core's next action; null when the client went away meanwhile
 * (the exchange is over, and the core is not asked again).
 * @type {Record<import("./wasm-core.js").ActionKind, (x: Exchange, action: Action) => Response | Promise<Action | null>>}
 */
const PERFORM = {
  read_body: readClientBody,
  rate_limit: limitRate,
  discover,
  call,
  wait,
  reply: answerClient,
  forward: answerClient,
  error: refuse,
};

/** read_body: the client's body (up to the limit, by the deadline). @param {Exchange} x @param {Action} action */
async function readClientBody(x, action) {
  x.timer.arm(action.wakeBy); // one timer for the body and the first attempt
  const read = await readBody(x.request, action.limit, action.deadline, x.timer);
  if (!read) x.end(END.clientGone);
  x.bodyBytes = read?.bytes;
  return x.ended ? null : x.core.body(x.id, read?.bytes ?? new Uint8Array(0), read?.how ?? BODY.complete, Date.now());
}

/** rate_limit: RATE_LIMITER.limit({key}). @param {Exchange} x @param {Action} action */
async function limitRate(x, action) {
  const allowed = await askRateLimiter(x.env, action.key, action.timeoutMs);
  return x.ended ? null : x.core.rateLimited(x.id, allowed, Date.now());
}

/** discover: describe() in the background, waited for until action.until. @param {Exchange} x @param {Action} action */
async function discover(x, action) {
  await x.isolate.discover(x.env, x.ctx, action);
  return x.ended ? null : x.core.resume(x.id, Date.now());
}

/** call: one attempt on a backend; its answer is kept for a forward. @param {Exchange} x @param {Action} action */
async function call(x, action) {
  x.dropAnswer();
  x.bodyText ??= decoder.decode(x.bodyBytes); // the client's exact text: no number is rounded
  // The core's edit of it (another model of a fallback chain, `models` removed), else the client's.
  const body = action.backendBody || x.bodyText;
  const result = await callBackend(/** @type {BackendBinding} */ (x.env[action.binding]), action, body, x.timer);
  x.answer = result.answer;
  return x.ended ? null : x.core.outcome(x.id, result, Date.now());
}

/** wait: until action.until (a backoff). @param {Exchange} x @param {Action} action */
async function wait(x, action) {
  const until = action.until;
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, until - Date.now())));
  return x.ended ? null : x.core.resume(x.id, Date.now());
}

/** reply, forward: the client's answer: the core's reply, or the backend's answer it forwards. @param {Exchange} x @param {Action} action */
function answerClient(x, action) {
  const init = { status: action.status, headers: action.headers };
  const answer = x.answer;
  if (action.kind === "forward" && answer?.reader && answer.first) {
    const { stream, done } = relay(answer.reader, answer.first, x, action.timeoutMs, action.usageInjected);
    x.ctx?.waitUntil?.(done);
    return new Response(stream, init);
  }
  x.dropAnswer(); // a stream the core did not forward (an error answered in its own words)
  const response = new Response(action.kind === "reply" ? action.body : answer?.bodyText ?? null, init);
  x.end(END.completed);
  return response;
}

/**
 * error: the core refused an event (a shim bug): answered as a shim failure.
 * @param {Exchange} _x @param {Action} action @returns {never}
 */
function refuse(_x, action) {
  throw new Error(`router core returned action ${action.kind}`);
}

/** One client request: performs the core's actions (PERFORM) until one of them answers the client. */
class Exchange {
  /**
   * @param {Isolate} isolate @param {Request} request @param {Env} env @param {ExecutionContext | undefined} ctx
   * @param {number} id the core's exchange
   */
  constructor(isolate, request, env, ctx, id) {
    this.isolate = isolate;
    this.core = isolate.core;
    this.request = request;
    this.env = env;
    this.ctx = ctx;
    this.id = id;
    this.ended = false;
    /** @type {Uint8Array | undefined} */
    this.bodyBytes = undefined;
    /** @type {string | undefined} */
    this.bodyText = undefined;
    /** @type {Answer | undefined} the last backend answer */
    this.answer = undefined;
    /** bounds the body read and each attempt (a stream's relay has a watchdog of its own) */
    this.timer = new RequestTimer();
  }

  /** @param {Action} first */
  async serve(first) {
    // No request.signal listener (it costs 6-10 % of the router's CPU per request, BENCHMARKS.md):
    // on Cloudflare a client that leaves before its answer starts takes this request's pending
    // awaits with it, and the core ends the exchange it left behind (Router::end_abandoned).
    try {
      for (let action = first; ;) {
        const next = await PERFORM[action.kind](this, action);
        if (next instanceof Response) return next;
        // The exchange is over meanwhile (the upload broke: the client went away; or the core
        // ended it): nobody reads an answer, and a stream that arrived is cancelled rather than
        // left generating.
        if (next === null) {
          this.ended = true;
          this.dropAnswer();
          return new Response(null);
        }
        action = next;
      }
    } catch (e) {
      return this.fail(e);
    } finally {
      this.timer.clear();
    }
  }

  /**
   * Ends the exchange once (later calls answer null): the SSE error bytes when a stream failed.
   * @param {0 | 1 | 2} how @param {Uint8Array} [tail]
   */
  end(how, tail) {
    if (this.ended) return null;
    this.ended = true;
    const bytes = this.core.end(this.id, how, tail ?? null, Date.now());
    this.isolate.drainLogs();
    if (this.env.ANALYTICS) this.isolate.writeDataPoints(this.env.ANALYTICS);
    return bytes;
  }

  /** Whether an event of the stream relayed is its usage-only event, which the client does not get (the core decides). @param {Uint8Array} event */
  usageEvent(event) {
    return !this.ended && this.core.usageEvent(this.id, event);
  }

  /** Cancels the stream of the last backend answer, if any (nobody will read it). */
  dropAnswer() {
    this.answer?.reader?.cancel().catch(ignore);
  }

  /** The shim failed (a bug): the core's 500 reply, or one made here when the exchange is over. @param {unknown} e */
  fail(e) {
    this.dropAnswer();
    console.log(JSON.stringify({ level: "error", event: "shim_error", error: errorName(e) }));
    if (this.ended) return respond(internalErrorAction("The router failed while handling this request", "internal_error"));
    this.ended = true;
    const reply = this.core.fail(this.id, Date.now());
    this.isolate.drainLogs();
    if (this.env.ANALYTICS) this.isolate.writeDataPoints(this.env.ANALYTICS);
    return respond(reply);
  }
}
