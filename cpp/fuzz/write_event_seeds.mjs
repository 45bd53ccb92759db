// Writes the seed inputs of fuzz_exchange_events (cpp/fuzz/corpus/fuzz_exchange_events/): byte
// programs in the order fuzz_exchange_events.cpp reads its choices, one per scenario worth starting
// from. Run it again after changing how the harness decodes its input:
//   node cpp/fuzz/write_event_seeds.mjs
import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const out = join(dirname(fileURLToPath(import.meta.url)), "corpus", "fuzz_exchange_events");

// Event opcodes (value % 16 in Harness::run).
const OP = { begin: 0, proper: 3, improper: 11, badHandles: 12, advance: 13, logs: 15 };
// Indices into the harness's option tables.
const ROUTE = { chat: [0, 0], completions: [0, 1], embeddings: [0, 2], models: [10], healthz: [11], status: [12], unknown: [13], wrongMethod: [14, 0] };
const MODEL = { "m-a": 0, "m-b": 1, "m-c": 2 };
const STATUS = { 200: 0, 201: 3, 400: 4, 401: 5, 404: 6, 413: 7, 422: 8, 429: 9, 500: 11, 502: 12, 503: 13, 504: 14,
  403: 15, 204: 16, 205: 17, 304: 18, 302: 19, 199: 20 };
// The shape of an answer (kAnswerShapes): rt_exchange_outcome's codes for a JSON object body, a
// stream, no body, a body that is not a JSON object, a stream that ended before its first chunk,
// a first chunk that is not bytes.
const SHAPE = { json: 0, stream: 1, noBody: 2, notObject: 3, emptyStream: 4, notBytes: 5 };
// Stream tails at rt_exchange_end (kTails): 0..3 end with `data: [DONE]`, 4.. do not.
const TAIL = { done: 0, empty: 4, noDone: 5, eventAfterDone: 6 };
// Describe timeouts (kDescribeTimeouts): 0 not given (5000), 1 1 ms, 2 50 ms, 3 5000 ms, 4 60000 ms.
// apiKeysSet (configure): 0 = as the keys are, 1 true, 2 false, 3 a non-boolean first (refused), 4.. absent.
const STEP = { 0: 0, 1: 2, 25: 4, 100: 5, 1000: 7, 5000: 8, 30000: 9, 300000: 11 };

class Program {
  bytes = [];
  u8(...values) { for (const v of values) this.bytes.push(v & 255); return this; }
  u16(v) { return this.u8(v >> 8, v); }

  // letters: BACKEND_<A..H> by index; sections: ROUTER_CONFIG parts as the harness decodes them.
  configure({ letters, ai = false, bare = false, rateLimiter = false, config = {}, keys = false, admin = false, keysSet = 4, describe, start = 0 }) {
    this.u8(letters.length - 1, ...letters, ai ? 1 : 0, bare ? 1 : 0, rateLimiter ? 1 : 0);
    let sections = 0;
    const parts = [];
    if (config.strategy) { sections |= 1; parts.push(["round-robin", "least-inflight", "peak-ewma"].indexOf(config.strategy)); }
    if (config.retry) {
      const r = config.retry;  // base/cap/raCap/budget are table indices
      sections |= 2;
      parts.push(r.base ?? 2, r.cap ?? 3, r.maxAttempts - 1, r.raCap ?? 3, r.budget ?? 1, r.minRetries ?? 3);
    }
    if (config.timeouts) { sections |= 4; parts.push(config.timeouts.perTry, config.timeouts.firstByte, config.timeouts.request); }
    if (config.health) {
      const h = config.health;
      sections |= 8;
      parts.push(h.base ?? 2, h.max ?? 3, h.failures - 1, h.percent ?? 2, h.panic ? 1 : 0);
    }
    if (config.limits) { sections |= 16; parts.push(config.limits.body, config.limits.depth); }
    if (config.ttl !== undefined) {
      sections |= 32;
      parts.push(config.ttl, config.describeTimeout ?? 0,
        ...(config.rateLimitSeconds === undefined ? [0] : [1, config.rateLimitSeconds]));
    }
    if (config.overrides) { sections |= 64; parts.push(...config.overrides); }
    if (config.mistake !== undefined) { sections |= 128; parts.push(0, config.mistake); }
    this.u8(sections, ...parts);
    if (sections === 0) this.u8(1);  // routerConfig: null
    this.u8(keys ? 1 : 0, admin ? 1 : 0, keysSet);
    // describe(): per backend in sorted order, {error} (0), 7 (1), models not strings (2), weight 0
    // (3: a weight out of range), an empty model name (4), or the models it serves (bit 0 m-a,
    // bit 1 m-b, bit 2 "*") with a weight index (0 none, 1 0.25, 2 1, 3 5, 4 1e6, 5 2e6, 6 -1).
    const special = { error: 0, number: 1, broken: 2, zeroWeight: 3, emptyModel: 4 };
    for (const d of describe) {
      if (typeof d === "string") this.u8(special[d]);
      else this.u8(9, d.serves, d.weight ?? 0);
    }
    return this.u16(start);
  }

  // auth: 0 none, 1 wrong, 2 the admin key, 3 the API key; clientIp: 0 none, 1 IPv4, 2 IPv6, 3 a list.
  begin({ route, model = "m-a", stream = 0, raw, contentLength = 4, requestId = 0, auth = 3, clientIp = 0, contentType = 0, seed = 7 }) {
    this.u8(OP.begin, ...route);
    if (raw !== undefined) this.u8(0, raw.length, ...Buffer.from(raw));
    else this.u8(1, MODEL[model], stream);
    return this.u8(contentLength, requestId, auth, clientIp, contentType).u16(seed);
  }

  // The event exchange `index` (in the live list) waits for, with its own choices. A Retry-After
  // is [not a date (1), index into the seconds table, no retry-after-ms (0)].
  proper(index, ...choices) { return this.u8(OP.proper, index, ...choices); }
  body(index) { return this.proper(index, 1); }
  bodyLate(index) { return this.proper(index, 15); }  // the body did not arrive by the deadline
  // mode: bit 0..2 not all zero (else a refused answer first, "[]" with bit 3, else 7), bit 1 an
  // answer for an unknown binding too, bit 4 the old array form, bit 5 answers after the resume,
  // bit 6 wait until the wait-until time, bit 7 failed answers are lost instead. failed: per
  // position in the batch, a failed answer.
  discover(index, mode = 1, failed = 0) { return this.proper(index, mode, failed); }
  rateLimited(index, allowed) { return this.proper(index, allowed); }  // 0 over the limit, 1 allowed, 2 failed
  answer(index, status, retryAfter = [1, 0, 0]) { return this.proper(index, 0, STATUS[status], 1, ...retryAfter); }
  answerShaped(index, status, shape, retryAfter = [1, 0, 0]) {
    return this.proper(index, 10, STATUS[status], SHAPE[shape], ...retryAfter);
  }
  threw(index) { return this.proper(index, 7, 1, 0, 0); }
  timedOut(index) { return this.proper(index, 8, 1, 0, 0); }
  resume(index, waitFully = true) { return this.proper(index, waitFully ? 1 : 0); }
  end(index, how = 0) { return this.proper(index, how === 2 ? 0 : how === 3 ? 3 : 1); }  // 3: the shim failed
  endForward(index, how = 0, tail = TAIL.done) { return this.proper(index, how, tail); }
  improper(index, choice, ...extra) { return this.u8(OP.improper, index, choice, ...extra); }
  advance(ms) { return this.u8(OP.advance, STEP[ms]); }
  badHandles() { return this.u8(OP.badHandles); }
  logs() { return this.u8(OP.logs); }
}

const seeds = {
  // Two backends serve m-a: one chat request answered 200 and forwarded.
  "chat-ok": new Program()
    .configure({ letters: [0, 1], describe: [{ serves: 1 }, { serves: 1 }] })
    .begin({ route: ROUTE.chat }).body(0).discover(0).answer(0, 200).endForward(0).logs(),
  // Three backends: 503, a throw and a timeout, then 502 with the attempt trace.
  "failover-502": new Program()
    .configure({ letters: [0, 1, 2], config: { retry: { maxAttempts: 3 } }, describe: [{ serves: 4 }, { serves: 4 }, { serves: 4 }] })
    .begin({ route: ROUTE.completions, model: "m-b" }).body(0).discover(0)
    .answer(0, 503).threw(0).timedOut(0).end(0).logs(),
  // peak-ewma: a failure sampled as its timeout, then a slow and a fast answer, then more picks.
  "peak-ewma": new Program()
    .configure({ letters: [0, 1, 2], config: { strategy: "peak-ewma", retry: { maxAttempts: 3 } }, describe: [{ serves: 4 }, { serves: 4 }, { serves: 4 }] })
    .begin({ route: ROUTE.chat }).body(0).discover(0)
    .threw(0).advance(1000).answer(0, 200).endForward(0)
    .begin({ route: ROUTE.chat, seed: 7 }).begin({ route: ROUTE.chat, seed: 8 }).body(1).body(2)
    .answer(1, 200).advance(1000).answer(2, 200).endForward(1).endForward(2),
  // One backend answers 429 with Retry-After: 1; the retry waits for it, then succeeds.
  "retry-after-wait": new Program()
    .configure({ letters: [3], config: { retry: { maxAttempts: 3, raCap: 3 } }, describe: [{ serves: 1 }] })
    .begin({ route: ROUTE.chat }).body(0).discover(0)
    .answer(0, 429, [1, 3, 0]).resume(0, false).resume(0, true).answer(0, 200).endForward(0),
  // A stream forwarded, then broken after its first byte: the SSE error event.
  "stream-broken": new Program()
    .configure({ letters: [0, 1], config: { timeouts: { perTry: 1, firstByte: 2, request: 3 } }, describe: [{ serves: 3 }, { serves: 4 }] })
    .begin({ route: ROUTE.chat, stream: 2 }).body(0).discover(0).answer(0, 500).answer(0, 200).endForward(0, 1),
  // A short deadline: time runs out between attempts (504).
  "deadline-504": new Program()
    .configure({ letters: [0, 1], config: { timeouts: { perTry: 2, firstByte: 2, request: 1 } }, describe: [{ serves: 1 }, { serves: 1 }] })
    .begin({ route: ROUTE.chat }).body(0).discover(0).advance(1000).answer(0, 502).end(0),
  // Three concurrent exchanges interleaved, five failures in a row eject a backend, bad handles,
  // out-of-order events, logs.
  "concurrent-eject": new Program()
    .configure({ letters: [0, 1, 2], config: { retry: { maxAttempts: 2, budget: 3 }, health: { failures: 1, percent: 3 } }, describe: [{ serves: 4 }, { serves: 4 }, "error"] })
    .begin({ route: ROUTE.chat }).begin({ route: ROUTE.embeddings, seed: 99 }).begin({ route: ROUTE.completions, seed: 5 })
    .body(0).body(1).body(2).discover(0).discover(1).discover(2)
    .improper(0, 0).answer(0, 503).answer(1, 504).threw(2).badHandles()
    .answer(0, 200).answer(1, 400).answer(2, 200).advance(1000)
    .endForward(0).endForward(1, 2).endForward(2).badHandles().logs(),
  // An invalid ROUTER_CONFIG: every request answers 500 naming the field.
  "invalid-config": new Program()
    .configure({ letters: [0], config: { mistake: 0 }, describe: [{ serves: 1 }] })
    .begin({ route: ROUTE.chat }).begin({ route: ROUTE.healthz }).end(0).end(0),
  // API keys and an admin key: a wrong key (401), /v1/models after discovery, /status, 404, 405.
  "auth-models-status": new Program()
    .configure({ letters: [0, 4], ai: true, keys: true, admin: true, describe: [{ serves: 3, weight: 2 }, "number"] })
    .begin({ route: ROUTE.chat, auth: 1 }).begin({ route: ROUTE.models }).discover(1).begin({ route: ROUTE.status, auth: 2 })
    .begin({ route: ROUTE.unknown }).begin({ route: ROUTE.wrongMethod })
    .end(0).end(0).end(0).end(0).end(0),
  // A RATE_LIMITER binding: allowed, over the limit (429), the limiter failing (let through),
  // keyed by API key hash prefix.
  "rate-limited": new Program()
    .configure({ letters: [1], rateLimiter: true, keys: true, config: { ttl: 2, rateLimitSeconds: 0 }, describe: [{ serves: 4 }] })
    .begin({ route: ROUTE.chat }).rateLimited(0, 1).body(0).discover(0).answer(0, 200)
    .begin({ route: ROUTE.embeddings, clientIp: 1 }).rateLimited(1, 0)
    .begin({ route: ROUTE.models }).rateLimited(2, 2)
    .endForward(0).end(0).end(0).logs(),
  // The same without API keys: the bucket is the client's address.
  "rate-limited-by-ip": new Program()
    .configure({ letters: [2, 3], rateLimiter: true, admin: true, describe: [{ serves: 1 }, { serves: 2 }] })
    .begin({ route: ROUTE.completions, clientIp: 2, auth: 0 }).rateLimited(0, 1).body(0).discover(0).answer(0, 404)
    .begin({ route: ROUTE.status, auth: 2 }).endForward(0).end(0),
  // Raw body bytes, a tiny body limit and an over-limit body (413), a model nobody serves (404).
  // describe() TTL 1 s: the refresh fails for both backends, their last good description keeps routing.
  "describe-last-good": new Program()
    .configure({ letters: [0, 1], config: { ttl: 1 }, describe: [{ serves: 1, weight: 3 }, { serves: 5 }] })
    .begin({ route: ROUTE.chat }).body(0).discover(0).answer(0, 200).endForward(0)
    .advance(1000).begin({ route: ROUTE.chat, seed: 3 }).body(0).discover(0, 1, 3).answer(0, 200).endForward(0)
    .advance(5000).begin({ route: ROUTE.models }).discover(0, 17).end(0).logs(),
  // Discovery that never answers: the request waits until the describe() timeout, then 503.
  "discovery-lost": new Program()
    .configure({ letters: [2, 5], config: { ttl: 2, describeTimeout: 2 }, describe: [{ serves: 1 }, "zeroWeight"] })
    .begin({ route: ROUTE.chat }).body(0).discover(0, 1 | 64 | 128, 255).end(0)
    .advance(1000).advance(1000).begin({ route: ROUTE.chat, model: "m-b" }).body(0).discover(0, 1 | 2).end(0).logs(),
  // Backend answers outside the contract: 204, a 2xx without a body, 403 (retried), then a 400
  // without a JSON body (the core's own error, same status).
  "answer-shapes": new Program()
    .configure({ letters: [0, 1, 2, 3], config: { retry: { maxAttempts: 5, budget: 3 } }, describe: [{ serves: 4 }, { serves: 4 }, { serves: 4 }, "emptyModel"] })
    .begin({ route: ROUTE.chat }).body(0).discover(0).answer(0, 204).answerShaped(0, 200, "noBody")
    .answer(0, 403).resume(0).answerShaped(0, 400, "notObject").end(0).logs(),
  // A stream that completes without its [DONE] line fails like a broken one; an internal error.
  "stream-without-done": new Program()
    .configure({ letters: [3], describe: [{ serves: 1 }] })
    .begin({ route: ROUTE.chat, stream: 2 }).body(0).discover(0).answerShaped(0, 200, "emptyStream").resume(0).answer(0, 200)
    .endForward(0, 0, TAIL.noDone).begin({ route: ROUTE.healthz }).end(0, 3).logs(),
  // A body that never arrives (504); ROUTER_API_KEYS set but empty (every request 500).
  "body-late": new Program()
    .configure({ letters: [0], describe: [{ serves: 1 }] })
    .begin({ route: ROUTE.embeddings }).bodyLate(0).end(0).logs(),
  "keys-unusable": new Program()
    .configure({ letters: [0, 1], keysSet: 1, describe: [{ serves: 1 }, { serves: 2 }] })
    .begin({ route: ROUTE.chat, auth: 0 }).begin({ route: ROUTE.status, auth: 0 }).end(0).end(0),
  "bad-bodies": new Program()
    .configure({ letters: [0], config: { limits: { body: 0, depth: 1 } }, describe: [{ serves: 1 }] })
    .begin({ route: ROUTE.chat, raw: '{"model":"m-a","messages":[{"role":"user"}]}' }).body(0)
    .begin({ route: ROUTE.embeddings, model: "m-c" }).body(1).discover(1)
    .begin({ route: ROUTE.completions, model: "m-c", contentLength: 2 }).end(0).end(0).end(0),
  // Found by the fuzzer (a CI run, 2026-12-05), kept as it came: raw body bytes that happen to be
  // a request for m-a, whose fallback chain (m-c, m-x) the harness does not read from raw bytes;
  // a 400 with context_length_exceeded moves it on to models no backend serves (404).
  "raw-request-fallback": { bytes: [...Buffer.from("AF4AAAAAEAABAAAECQEAAAAAAAAALHsibW9kZWwiOiJtLWEiLCJtZXNzYWdlcyI6W3sicm9sZSI6InVzZXIifV19" +
    "BAADAAAABwMAAQAAAgECAAQAAwAAAAcDXQEBBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEAwEBAAAAAQECAAIAAwAAAAcDAAEDAAEDAAE=", "base64")] },
};

mkdirSync(out, { recursive: true });
for (const file of readdirSync(out)) rmSync(join(out, file));
for (const [name, program] of Object.entries(seeds)) writeFileSync(join(out, name), Uint8Array.from(program.bytes));
console.log(`wrote ${Object.keys(seeds).length} seeds to ${out}`);
