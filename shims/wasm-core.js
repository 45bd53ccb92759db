// @ts-check
// RouterCore: the JavaScript face of router.wasm (see docs/architecture.md, "The Wasm ABI").
// It only moves bytes: strings in through a reusable scratch buffer, action records out. It makes
// no decision. Runs in Node 20 and in workerd (which cannot compile Wasm from bytes, hence
// fromModule with an already compiled WebAssembly.Module).

/** @typedef {"error"|"read_body"|"discover"|"call"|"wait"|"reply"|"forward"|"rate_limit"} ActionKind */
/**
 * @typedef {object} Action
 * @property {ActionKind} kind
 * @property {number} status      reply, forward: HTTP status
 * @property {number} backend     call, forward: backend index (into configure().backends)
 * @property {string} binding     call, forward: that backend's binding name ("" otherwise)
 * @property {number} attempt     call: attempt number; reply, forward: attempts made
 * @property {number} timeoutMs   call: per-try (or first-byte, when streaming) timeout; discover: each describe()
 *                                call's timeout; rate_limit: RATE_LIMITER.limit() timeout; forward of a stream: the
 *                                longest gap between two chunks
 * @property {number} limit       read_body: body byte limit
 * @property {number} deadline    call: overall request deadline; read_body: the body must have arrived by then (epoch ms)
 * @property {number} attemptDeadline  call: when the router abandons this attempt (epoch ms)
 * @property {number} wakeBy      read_body: no later than `deadline` nor than the first call's attemptDeadline (epoch
 *                                ms): one timer armed for it serves both waits
 * @property {number} until       wait: wake-up time; discover: wait for discovery until then, 0 = do not wait (epoch ms)
 * @property {string[]} bindings  discover: the backends to call describe() on
 * @property {boolean} stream     call: the client asked for a stream
 * @property {string} requestId   call
 * @property {string} model       call
 * @property {string} path        call
 * @property {string} key         rate_limit: the key for RATE_LIMITER.limit({key})
 * @property {Record<string, string>} headers  reply, forward (the core never repeats a header; workerd
 *   builds a Response's headers from an object faster than from [name, value] pairs)
 * @property {Uint8Array} body    reply
 * @property {boolean} usageInjected forward: the router asked the stream for its usage (the client did not): its
 *   events with a "usage" object go to usageEvent(), which says whether the client gets them
 * @property {string} backendBody call: the body for the backend when the core edited the client's (another model, `models` removed), else ""
 */
/**
 * @typedef {object} RequestHead
 * @property {string} method
 * @property {string} path
 * @property {string} [contentType]
 * @property {string|number} [contentLength]
 * @property {string} [requestId]
 * @property {string} [authHash]  SHA-256 hex of the whole Authorization header value (of
 *   `Bearer <password>` for Basic credentials)
 * @property {string} [clientIp]  cf-connecting-ip (the rate-limit key when no API keys are set)
 * @property {string} [authScheme]  "basic": the hash came from Basic credentials (a browser's, on /dashboard)
 */
/**
 * @typedef {object} ConfigureInput
 * @property {string|null} [routerConfig]
 * @property {string[]} [apiKeyHashes]
 * @property {string|null} [adminKeyHash]
 * @property {string[]} [envNames]
 * @property {boolean} [apiKeysSet]  ROUTER_API_KEYS is set (even if it holds no usable key)
 * @property {string} [isolateId]  names this isolate to the control plane (random, per isolate)
 * @property {string} [dashboardPage]    the status page's files (orchestrator-worker/src/dashboard/),
 * @property {string} [dashboardScript]  served by the core at /dashboard, /dashboard/app.js and
 * @property {string} [dashboardStyle]   /dashboard/app.css; without a page there is no /dashboard
 */
/**
 * @typedef {object} ConfigureResult
 * @property {string[]} backends
 * @property {boolean} authRequired
 * @property {string[]} warnings
 * @property {{message: string, type: string, param: string|null, code: string|null}} [error]
 */
/**
 * @typedef {object} Outcome
 * @property {number} outcome  what the attempt came to (OUTCOME below): answered with `status` and a JSON object
 *   body, threw, timed out, answered with a stream (its first chunk arrived), answered without a body, with a body
 *   that is not a JSON object, with a stream that ended before its first chunk, or whose first chunk is not bytes
 * @property {number} [status]
 * @property {string|null} [retryAfter]    raw Retry-After header value
 * @property {string|null} [retryAfterMs]  raw retry-after-ms header value
 * @property {string} [errorCode]  a 400 answer's `error.code` (the core may fall back on context_length_exceeded)
 * @property {string} [usage]  a JSON answer's `usage` as "prompt completion total" (the core checks and counts it)
 */

// The ABI's codes, as cpp/src/abi/abi_layout.def names them for JS. The constructor checks them
// against router.wasm's own table (rt_abi_layout) and refuses a module that disagrees.
/** rt_exchange_outcome's outcome. */
export const OUTCOME = /** @type {const} */ ({
  json: 0, threw: 1, timedOut: 2, stream: 3, noBody: 4, bodyNotObject: 5, emptyStream: 6, streamNotBytes: 7,
});
/** rt_exchange_end's how. */
export const END = /** @type {const} */ ({ completed: 0, upstreamFailed: 1, clientGone: 2, internalError: 3 });
/** rt_exchange_body's how. */
export const BODY = /** @type {const} */ ({ complete: 0, overLimit: 1, timedOut: 2 });
/** rt_exchange_rate_limited's allowed. */
export const LIMIT = /** @type {const} */ ({ overLimit: 0, allowed: 1, limiterFailed: 2 });
/** The tables above by their name in the layout. */
const CODES = { outcome: OUTCOME, end: END, body: BODY, limit: LIMIT };
/** The action kinds this shim performs; their codes come from router.wasm. @type {ActionKind[]} */
const KIND_NAMES = ["error", "read_body", "discover", "call", "wait", "reply", "forward", "rate_limit"];
/** The action record's fields #action() reads, with their types; their offsets come from router.wasm. */
const FIELDS = /** @type {const} */ ({
  kind: "u32", status_or_stream: "u32", backend: "u32", attempt: "u32", timeout_or_limit: "f64", time: "f64",
  out_ptr: "u32", out_len: "u32", attempt_deadline: "f64",
});
/** @typedef {Record<keyof typeof FIELDS, number>} RecordOffsets */
// What an action without bindings, headers or body carries: shared, as most actions have none
// (a decision reads four action records; fresh empties were a third of #action's allocations).
const NO_BYTES = new Uint8Array(0);
const NO_BINDINGS = /** @type {string[]} */ (/** @type {unknown} */ (Object.freeze([])));
const NO_HEADERS = /** @type {Record<string, string>} */ (Object.freeze({}));
const HANDLE_SPAN = 2 ** 32; // exchange ids carry the instance generation above the Wasm handle
const NO_EXCHANGE = -1; // what rt_exchange_body, _resume, _rate_limited and _outcome answer for an ended exchange
const ENOSYS = 52;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** @param {WebAssembly.Module} module */
function stubImports(module) {
  /** @type {Record<string, Record<string, Function>>} */
  const imports = {};
  for (const { module: from, name, kind } of WebAssembly.Module.imports(module)) {
    if (kind !== "function") continue;
    imports[from] ??= {};
    if (name === "proc_exit") {
      imports[from][name] = (/** @type {number} */ code) => {
        throw new WebAssembly.RuntimeError(`router.wasm called proc_exit(${code})`);
      };
    } else if (name === "emscripten_notify_memory_growth") {
      imports[from][name] = () => {}; // views are re-created lazily, see #bytes()
    } else {
      imports[from][name] = () => ENOSYS; // the core does no I/O
    }
  }
  return imports;
}

/**
 * Reads router.wasm's layout text (rt_abi_layout, made from cpp/src/abi/abi_layout.def): the
 * record's field offsets and the action kind names by code. Throws when the module lacks a field,
 * kind or code this shim uses, or gives one another type or code.
 * @param {string} text lines `record <size>`, `field <name> <offset> <type>`, `<table> <name> <name> ...`
 *   (a code table: its names in code order, the first code 0)
 * @returns {{offsets: RecordOffsets, kinds: ActionKind[]}}
 */
export function readAbiLayout(text) {
  let size = 0;
  /** @type {Record<string, {offset: number, type: string}>} */
  const fields = {};
  /** @type {Record<string, Record<string, number>>} */
  const tables = { action: {} };
  for (const line of text.split("\n")) {
    const [what, ...words] = line.split(" ");
    if (what === "record") size = Number(words[0]);
    else if (what === "field") fields[words[0]] = { offset: Number(words[1]), type: words[2] };
    else if (what) tables[what] = Object.fromEntries(words.map((name, code) => [name, code])); // names in code order
  }
  const missing = [];
  const offsets = /** @type {RecordOffsets} */ ({});
  for (const [name, type] of Object.entries(FIELDS)) {
    const field = fields[name];
    const fits = field?.type === type && field.offset >= 0 && field.offset + (type === "f64" ? 8 : 4) <= size;
    if (fits) offsets[/** @type {keyof RecordOffsets} */ (name)] = field.offset;
    else missing.push(`field ${name} (${type})`);
  }
  /** @type {ActionKind[]} */
  const kinds = [];
  for (const name of KIND_NAMES) {
    const code = tables.action[name];
    if (Number.isInteger(code) && code >= 0 && code < 256) kinds[code] = name;
    else missing.push(`action ${name}`);
  }
  for (const [table, codes] of Object.entries(CODES)) {
    for (const [name, code] of Object.entries(codes)) if (tables[table]?.[name] !== code) missing.push(`${table} ${name} = ${code}`);
  }
  if (missing.length > 0) {
    throw new Error(`router.wasm's ABI (cpp/src/abi/abi_layout.def) lacks what shims/wasm-core.js reads: ${missing.join(", ")}; build router.wasm from the shim's commit (scripts/build-wasm.sh)`);
  }
  return { offsets, kinds };
}

export class RouterCore {
  /**
   * Instantiates synchronously (workerd allows that for a compiled module at module scope).
   * @param {WebAssembly.Module} module
   */
  static fromModule(module) {
    return new RouterCore(module);
  }

  /** @param {WebAssembly.Module} module */
  constructor(module) {
    this.module = module;
    this.imports = stubImports(module);
    this.generation = 0;
    /** @type {string[]} the backend bindings in index order */
    this.backends = [];
    /** @type {{json: string, now: number} | null} */
    this.lastConfigure = null;
    /** @type {Map<string, string>} binding -> the describe() answer (JSON) the core last took, replayed after a trap */
    this.goodDescriptions = new Map();
    /** @type {string[]} log lines produced on the JS side (traps) */
    this.pendingLogs = [];
    // Set by #instantiate(), declared here for the type checker.
    /** @type {any} the instance's exports */
    this.exports = null;
    /** @type {WebAssembly.Memory} */
    this.memory = new WebAssembly.Memory({ initial: 0 });
    this.router = 0;
    this.scratchPtr = 0;
    this.scratchSize = 0;
    /** @type {ArrayBuffer | null} the buffer the views below were made for */
    this.buffer = null;
    this.view = new DataView(new ArrayBuffer(0));
    this.u8 = new Uint8Array(0);
    this.#instantiate();
    const { offsets, kinds } = readAbiLayout(this.#layoutText());
    /** where #action() finds each field of the action record */
    this.offsets = offsets;
    /** action kind names by code (a code this shim does not perform is absent: it reads as "error") */
    this.kinds = kinds;
  }

  /** The module's description of the action record and codes (rt_abi_layout). */
  #layoutText() {
    if (typeof this.exports.rt_abi_layout !== "function") {
      throw new Error("router.wasm does not export rt_abi_layout: it predates shims/wasm-core.js; rebuild it (scripts/build-wasm.sh)");
    }
    if (this.exports.rt_abi_layout(this.router) < 0) throw new Error("rt_abi_layout failed");
    return this.#outText();
  }

  #instantiate() {
    const instance = new WebAssembly.Instance(this.module, /** @type {any} */ (this.imports));
    this.exports = instance.exports;
    this.memory = this.exports.memory;
    this.exports._initialize?.();
    this.router = this.exports.rt_router_new();
    this.scratchPtr = 0;
    this.scratchSize = 0;
    this.buffer = null; // views are re-made on first use
    this.generation++;
  }

  /** Memory views, re-created when the memory has grown (its old buffer is then detached). */
  #bytes() {
    if (this.buffer !== this.memory.buffer) {
      this.buffer = this.memory.buffer;
      this.view = new DataView(this.buffer);
      this.u8 = new Uint8Array(this.buffer);
    }
    return this.u8;
  }

  /** @param {number} size */
  #scratch(size) {
    if (size > this.scratchSize) {
      if (this.scratchPtr) this.exports.rt_free(this.scratchPtr);
      const grown = Math.max(size, this.scratchSize * 2, 4096);
      this.scratchPtr = this.exports.rt_alloc(grown);
      if (!this.scratchPtr) throw new Error(`router.wasm could not allocate ${grown} bytes`);
      this.scratchSize = grown;
    }
    return this.scratchPtr;
  }

  /** Copies a string into the scratch buffer; returns its byte length. @param {string} text */
  #putString(text) {
    const ptr = this.#scratch(text.length * 3);
    return encoder.encodeInto(text, this.#bytes().subarray(ptr, ptr + this.scratchSize)).written;
  }

  /** @param {Uint8Array} bytes */
  #putBytes(bytes) {
    const ptr = this.#scratch(bytes.length);
    this.#bytes().set(bytes, ptr);
    return bytes.length;
  }

  #outText() {
    const ptr = this.exports.rt_out_ptr(this.router);
    const len = this.exports.rt_out_len(this.router);
    return decoder.decode(this.#bytes().subarray(ptr, ptr + len));
  }

  /**
   * @param {ConfigureInput} input
   * @param {number} now epoch ms
   * @returns {ConfigureResult}
   */
  configure(input, now) {
    const json = configureJson(input);
    const before = this.backends.join("\n");
    const result = this.#guard(() => this.#configureRaw(json, now), null);
    if (!result) throw new Error("router.wasm trapped while configuring");
    this.lastConfigure = { json, now };
    if (result.backends.join("\n") !== before) this.goodDescriptions.clear(); // new backends need a new discovery
    return result;
  }

  /** @param {string} json @param {number} now */
  #configureRaw(json, now) {
    const len = this.#putString(json);
    const rc = this.exports.rt_router_configure(this.router, this.scratchPtr, len, now);
    if (rc < 0) throw new Error(`rt_router_configure failed (${rc})`);
    /** @type {ConfigureResult} */
    const result = JSON.parse(this.#outText());
    this.backends = result.backends;
    return result;
  }

  /**
   * Feeds describe() answers: binding -> the answer as JSON text (or {"error": ...}).
   * @param {Map<string, string>} answers
   * @param {number} now
   */
  describe(answers, now) {
    const json = describeJson(answers);
    const accepted = this.#guard(() => this.#describeRaw(json, now), null);
    if (!accepted) throw new Error("router.wasm trapped while reading describe() answers");
    for (const binding of accepted) this.goodDescriptions.set(binding, /** @type {string} */ (answers.get(binding)));
  }

  /** @param {string} json @param {number} now @returns {string[]} the bindings whose answer the core took */
  #describeRaw(json, now) {
    const len = this.#putString(json);
    const rc = this.exports.rt_router_describe(this.router, this.scratchPtr, len, now);
    if (rc < 0) throw new Error(`rt_router_describe failed (${rc}): answers must be an object keyed by binding`);
    const text = this.#outText();
    return text ? text.split("\n") : [];
  }

  /**
   * A sync with the control plane when one is due (docs/control-plane.md): the report to send,
   * how long the request at hand may wait for the answer, and how long the sync may take.
   * @param {number} now @returns {{waitMs: number, timeoutMs: number, report: string} | null}
   */
  syncReport(now) {
    const len = this.#guard(() => this.exports.rt_router_sync_report(this.router, now), 0);
    if (len <= 0) return null;
    const text = this.#outText();
    const eol = text.indexOf("\n");
    const [waitMs, timeoutMs] = text.slice(0, eol).split(" ").map(Number);
    return { waitMs, timeoutMs, report: text.slice(eol + 1) };
  }

  /** The control plane's answer (its snapshot); false when the core found it malformed. @param {string} snapshot @param {number} now */
  syncAnswer(snapshot, now) {
    return this.#guard(() => this.textCall("rt_router_sync_answer", snapshot, now) === 0, false);
  }

  /** The sync threw, timed out or answered something else than text. @param {number} now */
  syncFailed(now) {
    this.#guard(() => this.exports.rt_router_sync_failed(this.router, now), 0);
  }

  /**
   * Calls export `name(router, ptr, len, ...rest)` with `text` in the scratch buffer; its return
   * value. For ControlCore, which shares this instance's plumbing.
   * @param {string} name @param {string} text @param {...number} rest
   */
  textCall(name, text, ...rest) {
    const len = this.#putString(text);
    return this.exports[name](this.router, this.scratchPtr, len, ...rest);
  }

  /** The output buffer's text (the last call's answer). */
  outputText() {
    return this.#outText();
  }

  /** A fresh instance (after a trap): every state of the old one is gone. */
  restart() {
    this.#instantiate();
  }

  /** Pending log lines (JSON text, one per entry). @returns {string[]} */
  logs() {
    const lines = this.pendingLogs;
    this.pendingLogs = [];
    const len = this.#guard(() => this.exports.rt_router_logs(this.router), 0);
    if (len > 0) lines.push(...this.#outText().split("\n"));
    return lines;
  }

  /**
   * The Analytics Engine data points of the requests ended since the last call, as the core laid
   * them out ({indexes, blobs, doubles} JSON, one per entry). None without an ANALYTICS binding.
   * @returns {string[]}
   */
  dataPoints() {
    const len = this.#guard(() => this.exports.rt_router_data_points(this.router), 0);
    return len > 0 ? this.#outText().split("\n") : [];
  }

  /**
   * @param {RequestHead} head
   * @param {number} now epoch ms
   * @param {ArrayLike<number>} random 4 random uint32 (128 bits: the exchange's seed and a generated request id)
   * @returns {{exchange: number, action: Action}}
   */
  begin(head, now, random) {
    const text = [
      head.method,
      head.path,
      head.contentType ?? "",
      head.contentLength == null ? "" : String(head.contentLength),
      head.requestId ?? "",
      head.authHash ?? "",
      head.clientIp ?? "",
      head.authScheme ?? "",
    ]
      .map(oneLine)
      .join("\n");
    let handle = 0;
    const generation = this.generation;
    const action = this.#guard(() => {
      const len = this.#putString(text);
      handle = this.exports.rt_exchange_begin(this.router, this.scratchPtr, len, now, random[0], random[1], random[2],
        random[3]);
      return this.#action();
    }, null);
    return { exchange: generation * HANDLE_SPAN + handle, action: action ?? trapAction() };
  }

  /**
   * After a read_body action. how: 0 the whole body, 1 more than the limit arrived, 2 it did not arrive in time.
   * @param {number} exchange @param {Uint8Array} bytes @param {0|1|2} how @param {number} now
   */
  body(exchange, bytes, how, now) {
    return this.#exchangeCall(exchange, (h) => {
      const len = this.#putBytes(bytes);
      return this.exports.rt_exchange_body(h, this.scratchPtr, len, how, now);
    });
  }

  /** After discover (once describe() was fed) and after wait. @param {number} exchange @param {number} now */
  resume(exchange, now) {
    return this.#exchangeCall(exchange, (h) => this.exports.rt_exchange_resume(h, now));
  }

  /**
   * After rate_limit: 0 over the limit, 1 allowed, 2 the limiter threw or timed out.
   * @param {number} exchange @param {0|1|2} allowed @param {number} now
   */
  rateLimited(exchange, allowed, now) {
    return this.#exchangeCall(exchange, (h) => this.exports.rt_exchange_rate_limited(h, allowed, now));
  }

  /** After call. @param {number} exchange @param {Outcome} result @param {number} now */
  outcome(exchange, result, now) {
    return this.#exchangeCall(exchange, (h) => {
      const code = oneLine(result.errorCode ?? "").slice(0, 64);
      const usage = oneLine(result.usage ?? "").slice(0, 64);
      const ra = `${oneLine(result.retryAfter ?? "")}\n${oneLine(result.retryAfterMs ?? "")}\n${code}\n${usage}`;
      const len = this.#putString(ra);
      return this.exports.rt_exchange_outcome(h, result.outcome, result.status ?? 0, this.scratchPtr, len, now);
    });
  }

  /**
   * The exchange is over (END: completed, the upstream stream failed after its first byte, the
   * client went away). `tail`: a forwarded stream's last bytes (the core checks its [DONE] line).
   * Returns the SSE error event to write before closing when the stream failed, else null.
   * @param {number} exchange @param {0|1|2} how @param {Uint8Array | null} tail @param {number} now
   * @returns {Uint8Array | null}
   */
  end(exchange, how, tail, now) {
    const handle = this.#handle(exchange);
    if (handle === null) return how === END.upstreamFailed ? sseError() : null;
    return this.#guard(() => {
      const tailLen = tail ? this.#putBytes(tail) : 0;
      const len = this.exports.rt_exchange_end(handle, how, tailLen ? this.scratchPtr : 0, tailLen, now);
      if (len <= 0) return null;
      const ptr = this.exports.rt_out_ptr(this.router);
      return this.#bytes().slice(ptr, ptr + len);
    }, how === END.upstreamFailed ? sseError() : null);
  }

  /**
   * Whether one whole SSE event (a "usage" object in it) of a stream whose FORWARD said
   * usageInjected is its usage-only event: the core counts its tokens, and the client does not
   * get it. False on any failure (the client then gets the event).
   * @param {number} exchange @param {Uint8Array} event @returns {boolean}
   */
  usageEvent(exchange, event) {
    const handle = this.#handle(exchange);
    if (handle === null) return false;
    return this.#guard(() => {
      const len = this.#putBytes(event);
      return this.exports.rt_exchange_usage_event(handle, this.scratchPtr, len) === 1;
    }, false);
  }

  /**
   * Ends an exchange the shim failed on (a bug): the 500 reply, with the request's x-request-id.
   * @param {number} exchange @param {number} now @returns {Action}
   */
  fail(exchange, now) {
    const handle = this.#handle(exchange);
    const out = handle === null ? null : this.#guard(() => {
      const len = this.exports.rt_exchange_end(handle, END.internalError, 0, 0, now);
      const ptr = this.exports.rt_out_ptr(this.router);
      return len > 0 ? this.#bytes().slice(ptr, ptr + len) : null;
    }, null);
    if (!out) return trapAction();
    const action = trapAction();
    parseReply(out, action);
    action.status = 500;
    return action;
  }

  /** The Wasm handle of an exchange of the current instance, or null. @param {number} exchange */
  #handle(exchange) {
    if (Math.floor(exchange / HANDLE_SPAN) !== this.generation) return null;
    return exchange % HANDLE_SPAN;
  }

  /**
   * @param {number} exchange @param {(handle: number) => number} call an rt_exchange_* export's answer
   * @returns {Action | null} null when the core has no such exchange: it ended (the core ends one
   *   whose request is surely gone, docs/architecture.md "The Wasm ABI")
   */
  #exchangeCall(exchange, call) {
    const handle = this.#handle(exchange);
    if (handle === null) return trapAction(); // it belonged to an instance that trapped
    const action = this.#guard(() => (call(handle) === NO_EXCHANGE ? null : this.#action()), undefined);
    return action === undefined ? trapAction() : action;
  }

  /** Reads the action record (its offsets from cpp/src/abi/abi_layout.def, via rt_abi_layout). @returns {Action} */
  #action() {
    const u8 = this.#bytes();
    const view = this.view;
    const at = this.offsets;
    const p = this.exports.rt_action_ptr(this.router);
    const kind = this.kinds[view.getUint32(p + at.kind, true)] ?? "error";
    const word = view.getUint32(p + at.status_or_stream, true);
    const backend = view.getUint32(p + at.backend, true);
    const timeoutOrLimit = view.getFloat64(p + at.timeout_or_limit, true);
    const time = view.getFloat64(p + at.time, true);
    const outPtr = view.getUint32(p + at.out_ptr, true);
    const outLen = view.getUint32(p + at.out_len, true);
    const out = outLen > 0 ? u8.subarray(outPtr, outPtr + outLen) : NO_BYTES;
    /** @type {Action} */
    const action = {
      kind,
      status: kind === "call" ? 0 : word,
      backend,
      binding: kind === "call" || kind === "forward" ? this.backends[backend] ?? "" : "",
      attempt: view.getUint32(p + at.attempt, true),
      timeoutMs: kind === "call" || kind === "discover" || kind === "rate_limit" || kind === "forward" ? timeoutOrLimit : 0,
      limit: kind === "read_body" ? timeoutOrLimit : 0,
      deadline: kind === "call" || kind === "read_body" ? time : 0,
      attemptDeadline: kind === "call" ? view.getFloat64(p + at.attempt_deadline, true) : 0,
      wakeBy: kind === "read_body" ? view.getFloat64(p + at.attempt_deadline, true) : 0,
      until: kind === "wait" || kind === "discover" ? time : 0,
      bindings: kind === "discover" && outLen > 0 ? decoder.decode(out).split("\n") : NO_BINDINGS,
      stream: kind === "call" && word === 1,
      requestId: "",
      model: "",
      path: "",
      key: kind === "rate_limit" ? decoder.decode(out) : "",
      headers: kind === "reply" || kind === "forward" ? {} : NO_HEADERS,
      body: NO_BYTES,
      backendBody: "",
      usageInjected: kind === "forward" && time !== 0,
    };
    if (kind === "call") {
      // requestId \n model \n path [\n the body edited for this model]
      const text = decoder.decode(out);
      const first = text.indexOf("\n");
      const second = text.indexOf("\n", first + 1);
      const third = text.indexOf("\n", second + 1);
      action.requestId = text.slice(0, first);
      action.model = text.slice(first + 1, second);
      action.path = third < 0 ? text.slice(second + 1) : text.slice(second + 1, third);
      if (third >= 0) action.backendBody = text.slice(third + 1);
    } else if (kind === "reply" || kind === "forward") {
      parseReply(out, action);
    }
    return action;
  }

  /**
   * Runs `work`; on a trap drops the instance, starts a fresh one, replays the last configuration
   * and discovery, and answers `fallback`. Other errors propagate.
   * @template T @param {() => T} work @param {T} fallback @returns {T}
   */
  #guard(work, fallback) {
    return guarded(work, fallback, this.pendingLogs, () => {
      this.#instantiate();
      if (this.lastConfigure) this.#configureRaw(this.lastConfigure.json, this.lastConfigure.now);
      if (this.goodDescriptions.size) this.#describeRaw(describeJson(this.goodDescriptions), this.lastConfigure?.now ?? 0);
    });
  }
}

/**
 * Runs `work`; on a Wasm trap logs it (core_trapped), runs `recover` (a fresh instance, its state
 * replayed) and answers `fallback`. Other errors propagate.
 * @template T @param {() => T} work @param {T} fallback @param {string[]} logs @param {() => void} recover @returns {T}
 */
function guarded(work, fallback, logs, recover) {
  try {
    return work();
  } catch (error) {
    if (!(error instanceof WebAssembly.RuntimeError)) throw error;
    logs.push(JSON.stringify({ level: "error", event: "core_trapped", message: String(error.message) }));
    recover();
    return fallback;
  }
}

/**
 * A field of a line-based record: line breaks become spaces. (Header values never hold them, so
 * the test is all that runs per request.) @param {string} field
 */
function oneLine(field) {
  return field.includes("\n") || field.includes("\r") ? field.replace(/[\r\n]/g, " ") : field;
}

/**
 * A reply's or forward's output: header lines, then (reply only) a blank line and the body.
 * @param {Uint8Array} out @param {Action} action
 */
function parseReply(out, action) {
  let headEnd = out.length;
  if (action.kind === "reply") {
    for (let i = 0; i + 1 < out.length; i++) {
      if (out[i] === 10 && out[i + 1] === 10) {
        headEnd = i;
        break;
      }
    }
    action.body = out.slice(Math.min(headEnd + 2, out.length));
  }
  for (const line of decoder.decode(out.subarray(0, headEnd)).split("\n")) {
    const colon = line.indexOf(":");
    if (colon > 0) action.headers[line.slice(0, colon)] = line.slice(colon + 1).trim();
  }
}

/** rt_router_configure's (and rt_control_configure's) input. @param {ConfigureInput} input */
function configureJson(input) {
  return JSON.stringify({
    routerConfig: input.routerConfig ?? null,
    apiKeyHashes: input.apiKeyHashes ?? [],
    adminKeyHash: input.adminKeyHash ?? null,
    envNames: input.envNames ?? [],
    apiKeysSet: input.apiKeysSet ?? false,
    ...(input.isolateId ? { isolateId: input.isolateId } : {}),
    ...(input.dashboardPage ? { dashboardPage: input.dashboardPage, dashboardScript: input.dashboardScript ?? "",
      dashboardStyle: input.dashboardStyle ?? "" } : {}),
  });
}

/**
 * The control-plane Durable Object's core (docs/control-plane.md): merges isolates' reports,
 * answers snapshots, plans discovery, and gives its state to store. Runs on a router.wasm instance
 * of its own; after a trap it starts again from the last configuration and the last state stored.
 */
export class ControlCore {
  /** @param {WebAssembly.Module} module */
  static fromModule(module) {
    return new ControlCore(RouterCore.fromModule(module));
  }

  /** @param {RouterCore} core */
  constructor(core) {
    this.core = core;
    /** @type {{json: string, now: number} | null} */
    this.lastConfigure = null;
    /** @type {string | null} the last state persist() gave or restore() took */
    this.lastState = null;
    /** @type {string[]} */
    this.pendingLogs = [];
  }

  /** @template T @param {() => T} work @param {T} fallback @returns {T} */
  #guard(work, fallback) {
    return guarded(work, fallback, this.pendingLogs, () => {
      this.core.restart();
      const { lastConfigure: c, lastState: state } = this;
      if (c) this.core.textCall("rt_control_configure", c.json, c.now);
      if (c && state) this.core.textCall("rt_control_restore", state, c.now);
    });
  }

  /** Same input as RouterCore.configure. @param {ConfigureInput} input @param {number} now @returns {ConfigureResult} */
  configure(input, now) {
    const json = configureJson(input);
    const result = this.#guard(() => {
      const rc = this.core.textCall("rt_control_configure", json, now);
      if (rc < 0) throw new Error(`rt_control_configure failed (${rc})`);
      return JSON.parse(this.core.outputText());
    }, null);
    if (!result) throw new Error("router.wasm trapped while configuring the control plane");
    this.lastConfigure = { json, now };
    return result;
  }

  /** Merges an isolate's report; its snapshot. @param {string} report @param {number} now @returns {string} */
  sync(report, now) {
    const snapshot = this.#guard(() => (this.core.textCall("rt_control_sync", report, now) >= 0 ? this.core.outputText() : null), null);
    if (snapshot === null) throw new Error("the control plane's core could not answer this sync");
    return snapshot;
  }

  /** Bindings to describe() now (at most 25). @param {number} now @returns {string[]} */
  discovery(now) {
    return this.#guard(() => {
      const len = this.core.exports.rt_control_discovery(this.core.router, now);
      return len > 0 ? this.core.outputText().split("\n") : [];
    }, []);
  }

  /** describe() answers, binding -> JSON text. @param {Map<string, string>} answers @param {number} now */
  describe(answers, now) {
    this.#guard(() => this.core.textCall("rt_control_describe", describeJson(answers), now), 0);
  }

  /** The state stored before a restart; false when the core refused it. @param {string} state @param {number} now */
  restore(state, now) {
    const ok = this.#guard(() => this.core.textCall("rt_control_restore", state, now) === 0, false);
    if (ok) this.lastState = state;
    return ok;
  }

  /** The state to store now, or null (unchanged, or stored less than a second ago). @param {number} now */
  persist(now) {
    const state = this.#guard(() => (this.core.exports.rt_control_persist(this.core.router, now) > 0 ? this.core.outputText() : null), null);
    if (state !== null) this.lastState = state;
    return state;
  }

  /** When the alarm should fire next (epoch ms); 0: nothing to do. @param {number} now @returns {number} */
  nextAlarm(now) {
    return this.#guard(() => this.core.exports.rt_control_next_alarm(this.core.router, now), now + 1000);
  }

  /** @returns {string[]} */
  logs() {
    const lines = this.pendingLogs;
    this.pendingLogs = [];
    const len = this.#guard(() => this.core.exports.rt_control_logs(this.core.router), 0);
    if (len > 0) lines.push(...this.core.outputText().split("\n"));
    return lines;
  }
}

/** {binding: answer} as JSON, from answers already serialized one by one. @param {Map<string, string>} answers */
function describeJson(answers) {
  let json = "{";
  for (const [binding, answer] of answers) json += `${json.length > 1 ? "," : ""}${JSON.stringify(binding)}:${answer}`;
  return `${json}}`;
}

/** 32 hex digits from the CSPRNG: the request id of a reply the core could not make. */
function freshRequestId() {
  return [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** The 500 answer for a request whose core instance trapped. */
function trapAction() {
  return internalErrorAction("The router core failed while handling this request", "core_trapped");
}

/**
 * A 500 answer made without the core (it trapped, or could not start): OpenAI's error shape, with
 * a fresh x-request-id.
 * @param {string} message @param {string} code @returns {Action}
 */
export function internalErrorAction(message, code) {
  return {
    kind: "reply",
    status: 500,
    backend: 0,
    binding: "",
    attempt: 0,
    timeoutMs: 0,
    limit: 0,
    deadline: 0,
    attemptDeadline: 0,
    wakeBy: 0,
    until: 0,
    bindings: [],
    stream: false,
    requestId: "",
    model: "",
    path: "",
    key: "",
    // Server-Timing is on every answer (contract section 3); the core that would time it failed.
    headers: { "content-type": "application/json", "x-request-id": freshRequestId(), "server-timing": 'router;desc="core failed"' },
    body: encoder.encode(JSON.stringify({ error: { message, type: "server_error", param: null, code } })),
    backendBody: "",
    usageInjected: false,
  };
}

function sseError() {
  return encoder.encode(
    `data: ${JSON.stringify({ error: { message: "The router core failed during the stream", type: "server_error", param: null, code: "core_trapped" } })}\n\n`,
  );
}
