// @ts-check
// The action loop: performs what the routing core (router.wasm) decides, and nothing more.
// JS here reads bytes, awaits promises, measures time and answers with what the core returned;
// every status, header, retry, wait and routing choice comes from the core.

/** @typedef {import("./wasm-core.js").RouterCore} RouterCore */
/** @typedef {import("./wasm-core.js").Action} Action */
/** @typedef {import("./interfaces.js").BackendBinding} BackendBinding */
/** @typedef {Record<string, unknown>} Env */
/** @typedef {{body?: unknown, reader?: ReadableStreamDefaultReader<Uint8Array>, first?: Uint8Array}} Answer */

const TIMED_OUT = Symbol("timed out");
const OUTCOME = /** @type {const} */ ({ answered: 0, threw: 1, timedOut: 2, answeredStream: 3 });
const END = /** @type {const} */ ({ completed: 0, upstreamFailed: 1, clientGone: 2 });
const LIMIT = /** @type {const} */ ({ overLimit: 0, allowed: 1, limiterFailed: 2 });
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const ignore = () => {};

/** Random seeds for the core, drawn from the CSPRNG 64 at a time (a getRandomValues call per request cost about 3 µs). */
const seeds = new Uint32Array(64);
let seedsLeft = 0;
function nextSeed() {
  if (seedsLeft === 0) {
    crypto.getRandomValues(seeds);
    seedsLeft = seeds.length;
  }
  return seeds[--seedsLeft];
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
  const expired = new Promise((resolve) => { if (ms) timer = setTimeout(resolve, Math.max(0, ms), TIMED_OUT); });
  return { expired, clear: () => clearTimeout(timer) };
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

/** Reads a request body, stopping once it holds more than `limit` bytes. @param {Request} request @param {number} limit */
async function readBody(request, limit) {
  // With a Content-Length (the core already held it to the limit) the runtime frames the body
  // exactly, so one native read is safe and much cheaper than iterating over chunks in JS.
  if (request.headers.has("content-length")) {
    const bytes = new Uint8Array(await request.arrayBuffer());
    return { bytes: bytes.subarray(0, Math.min(bytes.byteLength, limit)), overLimit: bytes.byteLength > limit };
  }
  /** @type {Uint8Array[]} */
  const chunks = [];
  let size = 0;
  for await (const chunk of request.body ?? []) {
    chunks.push(chunk);
    size += chunk.byteLength;
    if (size > limit) break; // leaving the loop cancels the rest of the upload
  }
  const bytes = new Uint8Array(size);
  chunks.reduce((offset, c) => (bytes.set(c, offset), offset + c.byteLength), 0);
  return { bytes: bytes.subarray(0, Math.min(size, limit)), overLimit: size > limit };
}

/**
 * Calls infer() on a backend within the action's timeout (for a stream: until its first chunk).
 * Returns the outcome for the core and the answer to forward.
 * @param {BackendBinding} backend @param {Action} action @param {unknown} body
 */
async function callBackend(backend, action, body) {
  const timer = startTimer(action.timeoutMs);
  try {
    const { requestId, path, model, stream, deadline, attempt } = action;
    const pending = backend.infer(/** @type {any} */ ({ requestId, path, model, stream, body, deadline, attempt }));
    const resp = await Promise.race([pending, timer.expired]);
    if (resp === TIMED_OUT) {
      pending.then((late) => late?.stream?.cancel().catch(ignore), ignore);
      return { outcome: OUTCOME.timedOut };
    }
    /** @type {Answer} */
    const answer = { body: resp?.body };
    // A stream where JSON was asked for is never relayed: the core fails over from a 2xx in that
    // shape, and an error answer goes out with its JSON body.
    if (!stream && resp?.stream) resp.stream.cancel().catch(ignore);
    if (stream && resp?.stream) {
      answer.reader = resp.stream.getReader();
      const r = await Promise.race([answer.reader.read(), timer.expired]);
      if (r === TIMED_OUT || r.done) {
        answer.reader.cancel().catch(ignore);
        return { outcome: r === TIMED_OUT ? OUTCOME.timedOut : OUTCOME.threw };
      }
      answer.first = r.value;
    }
    const headers = resp?.headers ?? {};
    return { outcome: resp?.stream ? OUTCOME.answeredStream : OUTCOME.answered, status: Number(resp?.status) || 0, answer,
      retryAfter: headers["retry-after"] ?? "", retryAfterMs: headers["retry-after-ms"] ?? "" };
  } catch {
    return { outcome: OUTCOME.threw };
  } finally {
    timer.clear();
  }
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
 * The client's stream: the backend's first chunk, then the rest as it comes (no buffering).
 * A backend that sends nothing for `idleMs` (the core's streamIdleMs) while a read waits on it
 * has failed like one whose stream broke (a slow client is not the backend's gap: nothing is
 * read then). One timer watches: it is re-armed only when it fires, for what is left of the
 * current wait, so chunks themselves cost no timer calls.
 * @param {ReadableStreamDefaultReader<Uint8Array>} reader @param {Uint8Array} first
 * @param {(how: 0 | 1 | 2) => Uint8Array | null} end @param {number} idleMs
 */
function relay(reader, first, end, idleMs) {
  let readingSince = 0; // when the pending read() started; 0 when none is pending
  let stalled = false;
  /** @type {ReturnType<typeof setTimeout> | null} */
  let watchdog = null;
  const watch = (/** @type {number} */ ms) => {
    watchdog = setTimeout(() => {
      const waited = readingSince ? Date.now() - readingSince : 0;
      if (waited < idleMs) return watch(idleMs - waited);
      stalled = true;
      reader.cancel().catch(ignore); // the pending read() then ends
    }, ms);
  };
  if (idleMs > 0) watch(idleMs);
  return new ReadableStream({
    start(controller) { controller.enqueue(first); },
    async pull(controller) {
      try {
        readingSince = Date.now();
        const r = await reader.read();
        readingSince = 0;
        if (stalled) throw new Error("the backend's stream stalled");
        if (!r.done) return controller.enqueue(r.value);
        end(END.completed);
      } catch {
        const errorEvent = end(END.upstreamFailed);
        if (errorEvent) controller.enqueue(errorEvent);
      }
      clearTimeout(watchdog);
      controller.close();
    },
    cancel() {
      clearTimeout(watchdog);
      end(END.clientGone);
      return reader.cancel().catch(ignore);
    },
  }, { highWaterMark: 0 });
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
  /** @type {Promise<void> | undefined} */
  let discovery;
  const drainLogs = () => core.logs().forEach((line) => console.log(line));

  /** Configures the core once per isolate from the Worker's env. @param {Env} env */
  async function configure(env) {
    const keys = String(env.ROUTER_API_KEYS ?? "").split(",").map((k) => k.trim()).filter(Boolean);
    const admin = env.ROUTER_ADMIN_KEY ? String(env.ROUTER_ADMIN_KEY) : null;
    const raw = env.ROUTER_CONFIG;
    const result = core.configure({
      routerConfig: raw == null ? null : typeof raw === "string" ? raw : JSON.stringify(raw),
      apiKeyHashes: await Promise.all(keys.map((k) => sha256Hex(`Bearer ${k}`))),
      adminKeyHash: admin === null ? null : await sha256Hex(`Bearer ${admin}`),
      envNames: Object.keys(env),
    }, Date.now());
    drainLogs(); // an invalid ROUTER_CONFIG is among these lines, naming the field
    return result;
  }

  /** describe() on every backend the core listed, once for all concurrent requests. @param {Env} env @param {string[]} backends @param {number} timeoutMs */
  function discover(env, backends, timeoutMs) {
    discovery ??= Promise.all(backends.map(async (binding) => {
      const timer = startTimer(timeoutMs);
      try {
        const answer = await Promise.race([/** @type {BackendBinding} */ (env[binding]).describe(), timer.expired]);
        return answer === TIMED_OUT ? { error: "describe() timed out" } : answer;
      } catch (e) {
        return { error: String(/** @type {Error} */ (e)?.message ?? e) };
      } finally {
        timer.clear();
      }
    })).then((answers) => core.describe(answers, Date.now())).finally(() => (discovery = undefined));
    return discovery;
  }

  /** @param {Request} request @param {Env} env */
  return async function fetch(request, env) {
    const config = configuration ?? (configuration = await (configured ??= configure(env)));
    const authorization = request.headers.get("authorization");
    const head = {
      method: request.method,
      path: pathOf(request.url),
      contentType: request.headers.get("content-type") ?? "",
      contentLength: request.headers.get("content-length") ?? "",
      requestId: request.headers.get("x-request-id") ?? "",
      authHash: config.authRequired && authorization ? await sha256Hex(authorization) : "",
      clientIp: request.headers.get("cf-connecting-ip") ?? "",
    };
    let { exchange, action } = core.begin(head, Date.now(), nextSeed());
    let ended = false;
    const end = (/** @type {0 | 1 | 2} */ how) => {
      if (ended) return null;
      ended = true;
      const bytes = core.end(exchange, how, Date.now());
      drainLogs();
      return bytes;
    };
    /** @type {Uint8Array | undefined} */
    let bodyBytes;
    /** @type {unknown} */
    let body;
    /** @type {Answer | undefined} */
    let answer;
    // Aborted when the client goes away (with the enable_request_signal compatibility flag).
    request.signal?.addEventListener("abort", () => {
      end(END.clientGone);
      answer?.reader?.cancel().catch(ignore);
    });
    try {
      for (;;) {
        /** @type {() => Action} the core call that follows the awaited step */
        let next;
        switch (action.kind) {
          case "read_body": {
            const { bytes, overLimit } = await readBody(request, action.limit);
            bodyBytes = bytes;
            next = () => core.body(exchange, bytes, overLimit, Date.now());
            break;
          }
          case "rate_limit": {
            const allowed = await askRateLimiter(env, action.key, action.timeoutMs);
            next = () => core.rateLimited(exchange, allowed, Date.now());
            break;
          }
          case "discover":
            await discover(env, config.backends, action.timeoutMs);
            next = () => core.resume(exchange, Date.now());
            break;
          case "call": {
            answer?.reader?.cancel().catch(ignore);
            body ??= JSON.parse(decoder.decode(bodyBytes));
            const result = await callBackend(/** @type {BackendBinding} */ (env[action.binding]), action, body);
            answer = result.answer;
            next = () => core.outcome(exchange, result, Date.now());
            break;
          }
          case "wait": {
            const until = action.until;
            await new Promise((resolve) => setTimeout(resolve, Math.max(0, until - Date.now())));
            next = () => core.resume(exchange, Date.now());
            break;
          }
          case "reply":
          case "forward": {
            const init = { status: action.status, headers: action.headers };
            if (action.kind === "forward" && answer?.reader && answer.first) {
              return new Response(relay(answer.reader, answer.first, end, action.timeoutMs), init);
            }
            const response = new Response(action.kind === "reply" ? action.body : JSON.stringify(answer?.body ?? null), init);
            end(END.completed);
            return response;
          }
          default:
            throw new Error(`router core returned action ${action.kind}`);
        }
        // The client went away meanwhile: the exchange is over and nobody reads an answer.
        if (ended) return new Response(null);
        action = next();
      }
    } catch (e) {
      end(END.clientGone);
      throw e;
    }
  };
}
