// @ts-check
// The action loop: performs what the routing core (router.wasm) decides, and nothing more.
// JS here reads bytes, awaits promises, measures time and answers with what the core returned;
// every status, header, retry, wait and routing choice comes from the core.

import { END, OUTCOME, internalErrorAction } from "./wasm-core.js";

/** @typedef {import("./wasm-core.js").RouterCore} RouterCore */
/** @typedef {import("./wasm-core.js").Action} Action */
/** @typedef {import("./wasm-core.js").Outcome} Outcome */
/** @typedef {import("./interfaces.js").BackendBinding} BackendBinding */
/** @typedef {Record<string, unknown>} Env */
/** @typedef {{bodyText?: string, reader?: ReadableStreamDefaultReader<Uint8Array>, first?: Uint8Array}} Answer */

const TIMED_OUT = Symbol("timed out");
const LIMIT = /** @type {const} */ ({ overLimit: 0, allowed: 1, limiterFailed: 2 });
const BODY = /** @type {const} */ ({ complete: 0, overLimit: 1, timedOut: 2 });
// How many of a stream's last bytes the core gets to check its `data: [DONE]` line.
const TAIL_BYTES = 64;
const encoder = new TextEncoder();
const decoder = new TextDecoder();
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

/**
 * A timer whose `expired` promise resolves to TIMED_OUT after `ms`; 0 (no timeout from the core)
 * never expires. One timer bounds every await of one action.
 * @param {number} ms
 */
function startTimer(ms) {
  /** @type {ReturnType<typeof setTimeout> | null} */
  let timer = null;
  /** @type {Promise<typeof TIMED_OUT>} */
  const expired = new Promise((resolve) => { if (ms) timer = setTimeout(resolve, Math.max(1, ms), TIMED_OUT); });
  return { expired, clear: () => clearTimeout(timer) };
}

/** @param {unknown} value @returns {value is Record<string, unknown>} */
function isObject(value) {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The name of a thrown value, never its message (which may quote a request). @param {unknown} e */
function errorName(e) {
  try {
    return e instanceof Error ? e.name : typeof e;
  } catch {
    return "unknown";
  }
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
 * @param {Request} request @param {number} limit @param {number} deadline
 * @returns {Promise<{bytes: Uint8Array, how: 0 | 1 | 2} | null>}
 */
async function readBody(request, limit, deadline) {
  /** @type {ReadableStreamDefaultReader<Uint8Array> | null} */
  let reader = null;
  const reading = (async () => {
    // With a Content-Length (the core already held it to the limit) the runtime frames the body
    // exactly, so one native read is safe and much cheaper than iterating over chunks in JS.
    if (request.headers.has("content-length")) return new Uint8Array(await request.arrayBuffer());
    /** @type {Uint8Array[]} */
    const chunks = [];
    let size = 0;
    reader = request.body?.getReader() ?? null;
    for (let r = await reader?.read(); r && !r.done; r = await reader?.read()) {
      chunks.push(r.value);
      size += r.value.byteLength;
      if (size > limit) break;
    }
    if (size > limit) reader?.cancel().catch(ignore); // the rest of the upload is not wanted
    const bytes = new Uint8Array(size);
    chunks.reduce((offset, c) => (bytes.set(c, offset), offset + c.byteLength), 0);
    return bytes;
  })();
  const timer = startTimer(Math.max(1, deadline - Date.now()));
  try {
    const bytes = await Promise.race([reading, timer.expired]);
    if (bytes === TIMED_OUT) {
      reading.catch(ignore);
      (reader ?? request.body)?.cancel().catch(ignore);
      return { bytes: new Uint8Array(0), how: BODY.timedOut };
    }
    return { bytes: bytes.subarray(0, Math.min(bytes.byteLength, limit)), how: bytes.byteLength > limit ? BODY.overLimit : BODY.complete };
  } catch {
    return null;
  } finally {
    timer.clear();
  }
}

/**
 * What the core needs of a request before its body.
 * @param {Request} request @param {boolean} authRequired
 * @returns {Promise<import("./wasm-core.js").RequestHead>}
 */
async function requestHead(request, authRequired) {
  const authorization = request.headers.get("authorization");
  return {
    method: request.method,
    path: pathOf(request.url),
    contentType: request.headers.get("content-type") ?? "",
    contentLength: request.headers.get("content-length") ?? "",
    requestId: request.headers.get("x-request-id") ?? "",
    authHash: authRequired && authorization ? await sha256Hex(authorization) : "",
    clientIp: request.headers.get("cf-connecting-ip") ?? "",
  };
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
 * @param {BackendBinding} backend @param {Action} action @param {string} bodyText
 * @returns {Promise<Outcome & {answer?: Answer}>}
 */
async function callBackend(backend, action, bodyText) {
  const timer = startTimer(action.timeoutMs);
  try {
    const { requestId, path, model, stream, deadline, attemptDeadline, attempt } = action;
    const pending = backend.infer(/** @type {any} */ ({ requestId, path, model, stream, body: bodyText, deadline, attemptDeadline, attempt }));
    const resp = await Promise.race([pending, timer.expired]);
    if (resp === TIMED_OUT) {
      pending.then(cancelStream, ignore); // a late stream is not left generating
      return { outcome: OUTCOME.timedOut };
    }
    return await readAnswer(resp, stream, timer.expired);
  } catch {
    return { outcome: OUTCOME.threw };
  } finally {
    timer.clear();
  }
}

/**
 * The facts of one answer: status (an integer, else 0), Retry-After headers as text, and what it
 * carried; for a streaming request, the stream's first chunk.
 * @param {unknown} resp @param {boolean} wantStream @param {Promise<typeof TIMED_OUT>} expired
 * @returns {Promise<Outcome & {answer?: Answer}>}
 */
async function readAnswer(resp, wantStream, expired) {
  const answer = isObject(resp) ? resp : {};
  const headers = isObject(answer.headers) ? answer.headers : {};
  const status = typeof answer.status === "number" && Number.isInteger(answer.status) && answer.status >= 0 && answer.status < 1000 ? answer.status : 0;
  const facts = { status, retryAfter: headerText(headers["retry-after"]), retryAfterMs: headerText(headers["retry-after-ms"]) };
  if (!(answer.stream instanceof ReadableStream)) {
    /** @type {string | undefined} */
    let bodyText;
    try {
      bodyText = isObject(answer.body) ? JSON.stringify(answer.body) : undefined;
    } catch { /* a cycle or a BigInt: not a JSON object */ }
    const outcome = bodyText !== undefined ? OUTCOME.json : answer.body === undefined ? OUTCOME.noBody : OUTCOME.bodyNotObject;
    return { ...facts, outcome, answer: { bodyText } };
  }
  if (!wantStream) {
    answer.stream.cancel().catch(ignore); // never relayed: the core fails over or answers the error itself
    return { ...facts, outcome: OUTCOME.stream };
  }
  const reader = answer.stream.getReader();
  let r;
  do r = await Promise.race([reader.read(), expired]);
  while (r !== TIMED_OUT && !r.done && r.value instanceof Uint8Array && r.value.byteLength === 0);
  if (r === TIMED_OUT || r.done || !(r.value instanceof Uint8Array)) {
    reader.cancel().catch(ignore);
    const outcome = r === TIMED_OUT ? OUTCOME.timedOut : r.done ? OUTCOME.emptyStream : OUTCOME.streamNotBytes;
    return { ...facts, outcome };
  }
  return { ...facts, outcome: OUTCOME.stream, answer: { reader, first: r.value } };
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
 * What to keep of a stream after `chunk` so that its last TAIL_BYTES are at hand: the chunk itself
 * when it is long enough (no copy), else the end of the previous tail joined with it.
 * @param {Uint8Array} tail @param {Uint8Array} chunk
 */
function keepTail(tail, chunk) {
  if (chunk.byteLength >= TAIL_BYTES) return chunk;
  const kept = tail.subarray(Math.max(0, tail.byteLength - (TAIL_BYTES - chunk.byteLength)));
  const joined = new Uint8Array(kept.byteLength + chunk.byteLength);
  joined.set(kept);
  joined.set(chunk, kept.byteLength);
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
 * `done` settles when the relay is over (for waitUntil, which keeps the watchdog alive).
 * @param {ReadableStreamDefaultReader<Uint8Array>} reader @param {Uint8Array} first
 * @param {(how: 0 | 1 | 2, tail?: Uint8Array) => Uint8Array | null} end @param {number} idleMs
 */
function relay(reader, first, end, idleMs) {
  let readingSince = 0; // when the pending read() started; 0 when none is pending
  let askedAt = Date.now(); // when the client last asked for more (or the answer started)
  let stalled = false;
  let tail = first;
  /** @type {ReadableStreamDefaultController<Uint8Array> | null} */
  let client = null;
  /** @type {ReturnType<typeof setTimeout> | null} */
  let watchdog = null;
  /** @type {() => void} */
  let finish = ignore;
  const done = new Promise((resolve) => { finish = () => { clearTimeout(watchdog); resolve(undefined); }; });
  const watch = (/** @type {number} */ ms) => {
    watchdog = setTimeout(() => {
      const waited = Date.now() - (readingSince || askedAt);
      if (waited < idleMs) return watch(idleMs - waited);
      if (readingSince) {
        stalled = true;
        reader.cancel().catch(ignore); // the pending read() then ends
        return;
      }
      end(END.clientGone);
      reader.cancel().catch(ignore);
      client?.error(new Error("the client read nothing"));
      finish();
    }, ms);
  };
  if (idleMs > 0) watch(idleMs);
  const stream = new ReadableStream({
    start(controller) {
      client = controller;
      controller.enqueue(first);
    },
    async pull(controller) {
      try {
        readingSince = askedAt = Date.now();
        const r = await reader.read();
        readingSince = 0;
        if (stalled) throw new Error("the backend's stream stalled");
        if (!r.done) {
          if (!(r.value instanceof Uint8Array)) throw new Error("the backend's stream sent something other than bytes");
          tail = keepTail(tail, r.value);
          askedAt = Date.now();
          return controller.enqueue(r.value);
        }
        // The error event when [DONE] is missing.
        const errorEvent = end(END.completed, tail.subarray(Math.max(0, tail.byteLength - TAIL_BYTES)));
        if (errorEvent) controller.enqueue(errorEvent);
      } catch {
        reader.cancel().catch(ignore);
        const errorEvent = end(END.upstreamFailed);
        if (errorEvent) controller.enqueue(errorEvent);
      }
      finish();
      controller.close();
    },
    cancel() {
      finish();
      end(END.clientGone);
      return reader.cancel().catch(ignore);
    },
  }, { highWaterMark: 0 });
  return { stream, done };
}

/**
 * Builds the Worker's fetch handler around one RouterCore (one per isolate).
 * @param {RouterCore} core
 */
export function createRouterFetch(core) {
  /** @type {Promise<{backends: string[], authRequired: boolean}> | undefined} */
  let configured;
  /** @type {{backends: string[], authRequired: boolean} | undefined} once `configured` resolved */
  let configuration;
  /** describe() batches in flight, by binding, shared by every request of the isolate. @type {Map<string, Promise<void>>} */
  const describing = new Map();
  const drainLogs = () => core.logs().forEach((line) => console.log(line));

  /** Configures the core once per isolate from the Worker's env. @param {Env} env */
  async function configure(env) {
    const keysVar = env.ROUTER_API_KEYS;
    const keys = String(keysVar ?? "").split(",").map((k) => k.trim()).filter(Boolean);
    const admin = env.ROUTER_ADMIN_KEY ? String(env.ROUTER_ADMIN_KEY) : null;
    const raw = env.ROUTER_CONFIG;
    const result = core.configure({
      routerConfig: raw == null ? null : typeof raw === "string" ? raw : JSON.stringify(raw),
      apiKeyHashes: await Promise.all(keys.map((k) => sha256Hex(`Bearer ${k}`))),
      apiKeysSet: keysVar != null,
      adminKeyHash: admin === null ? null : await sha256Hex(`Bearer ${admin}`),
      envNames: Object.keys(env),
    }, Date.now());
    drainLogs(); // an invalid ROUTER_CONFIG is among these lines, naming the field
    return result;
  }

  /** The configuration, made once; a failure is retried by the next request. @param {Env} env */
  async function configuredFor(env) {
    try {
      return configuration ?? (configuration = await (configured ??= configure(env)));
    } catch (e) {
      configured = undefined;
      console.log(JSON.stringify({ level: "error", event: "configure_failed", error: errorName(e) }));
      return null;
    }
  }

  /** One describe() answer as JSON text, within `timeoutMs`; a failure as {"error": ...}. @param {BackendBinding} backend @param {number} timeoutMs */
  async function describeOne(backend, timeoutMs) {
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
   * Starts describe() on the bindings the core handed out (each with the core's timeout, whoever
   * asked), kept alive past the response; waits for every describe() in flight only until
   * `action.until` (0: not at all).
   * @param {Env} env @param {ExecutionContext | undefined} ctx @param {Action} action
   */
  function discover(env, ctx, action) {
    const { bindings, timeoutMs, until } = action;
    if (bindings.length > 0) {
      const batch = Promise.all(bindings.map((b) => describeOne(/** @type {BackendBinding} */ (env[b]), timeoutMs)))
        .then((answers) => core.describe(new Map(bindings.map((b, i) => [b, answers[i]])), Date.now()))
        .catch((e) => console.log(JSON.stringify({ level: "error", event: "describe_feed_failed", error: errorName(e) })))
        .finally(() => {
          drainLogs();
          for (const b of bindings) if (describing.get(b) === batch) describing.delete(b);
        });
      for (const b of bindings) describing.set(b, batch);
      ctx?.waitUntil?.(batch);
    }
    if (!until) return Promise.resolve();
    const timer = startTimer(Math.max(1, until - Date.now()));
    return Promise.race([Promise.all(describing.values()), timer.expired]).finally(timer.clear);
  }

  /** @param {Action} action */
  const respond = (action) => new Response(action.body, { status: action.status, headers: action.headers });

  /** @param {Request} request @param {Env} env @param {ExecutionContext} [ctx] */
  return async function fetch(request, env, ctx) {
    const config = await configuredFor(env);
    if (!config) return respond(internalErrorAction("The router could not start; it retries on the next request", "router_start_failed"));
    const { exchange, action } = core.begin(await requestHead(request, config.authRequired), Date.now(), nextRandom());
    return serve(request, env, ctx, exchange, action);
  };

  /**
   * One client request: performs the core's actions until one of them answers the client.
   * @param {Request} request @param {Env} env @param {ExecutionContext | undefined} ctx
   * @param {number} exchange @param {Action} first
   */
  async function serve(request, env, ctx, exchange, first) {
    let ended = false;
    const end = (/** @type {0 | 1 | 2} */ how, /** @type {Uint8Array | undefined} */ tail = undefined) => {
      if (ended) return null;
      ended = true;
      const bytes = core.end(exchange, how, tail ?? null, Date.now());
      drainLogs();
      return bytes;
    };
    /** @type {Uint8Array | undefined} */
    let bodyBytes;
    /** @type {string | undefined} */
    let bodyText;
    /** @type {Answer | undefined} */
    let answer;
    const dropAnswer = () => answer?.reader?.cancel().catch(ignore);
    // Aborted when the client goes away (with the enable_request_signal compatibility flag).
    request.signal?.addEventListener("abort", () => {
      end(END.clientGone);
      dropAnswer();
    });

    /**
     * Performs one action: the client's answer, or the core call that follows the awaited step.
     * @param {Action} action @returns {Promise<Response | (() => Action)>}
     */
    async function perform(action) {
      switch (action.kind) {
        case "read_body": {
          const read = await readBody(request, action.limit, action.deadline);
          if (!read) end(END.clientGone);
          bodyBytes = read?.bytes;
          return () => core.body(exchange, read?.bytes ?? new Uint8Array(0), read?.how ?? BODY.complete, Date.now());
        }
        case "rate_limit": {
          const allowed = await askRateLimiter(env, action.key, action.timeoutMs);
          return () => core.rateLimited(exchange, allowed, Date.now());
        }
        case "discover":
          await discover(env, ctx, action);
          return () => core.resume(exchange, Date.now());
        case "call": {
          dropAnswer();
          bodyText ??= decoder.decode(bodyBytes); // the client's exact text: no number is rounded
          const result = await callBackend(/** @type {BackendBinding} */ (env[action.binding]), action, bodyText);
          answer = result.answer;
          return () => core.outcome(exchange, result, Date.now());
        }
        case "wait": {
          const until = action.until;
          await new Promise((resolve) => setTimeout(resolve, Math.max(0, until - Date.now())));
          return () => core.resume(exchange, Date.now());
        }
        case "reply":
        case "forward":
          return respondWith(action);
        default:
          throw new Error(`router core returned action ${action.kind}`);
      }
    }

    /** The client's answer: the core's reply, or the backend's answer it forwards. @param {Action} action */
    function respondWith(action) {
      const init = { status: action.status, headers: action.headers };
      if (action.kind === "forward" && answer?.reader && answer.first) {
        const { stream, done } = relay(answer.reader, answer.first, end, action.timeoutMs);
        ctx?.waitUntil?.(done);
        return new Response(stream, init);
      }
      dropAnswer(); // a stream the core did not forward (an error answered in its own words)
      const response = new Response(action.kind === "reply" ? action.body : answer?.bodyText ?? null, init);
      end(END.completed);
      return response;
    }

    try {
      for (let action = first; ;) {
        const next = await perform(action);
        if (next instanceof Response) return next;
        // The client went away meanwhile: the exchange is over, nobody reads an answer, and a
        // stream that arrived is cancelled rather than left generating.
        if (ended) {
          dropAnswer();
          return new Response(null);
        }
        action = next();
      }
    } catch (e) {
      dropAnswer();
      console.log(JSON.stringify({ level: "error", event: "shim_error", error: errorName(e) }));
      if (ended) return respond(internalErrorAction("The router failed while handling this request", "internal_error"));
      ended = true;
      const reply = core.fail(exchange, Date.now());
      drainLogs();
      return respond(reply);
    }
  }
}
