// The shim's side of a client request (shims/driver.js readBody(), requestHead(), the rate
// limiter, configure(), an exchange the core ended, and the shim's own errors), with the real
// router.wasm and a hand-moved clock: each path answers what it should and leaves nothing behind
// (no timer, no unread stream, its exchange ended exactly once).
// POLICY: requestMs 10000 (the body's deadline), perTryMs 1000.
import assert from "node:assert/strict";
import { test } from "node:test";
import { POLICY, START, chat, completion, deferred, errorOf, harness, post, readAll, sse } from "./harness.mjs";

const json = (/** @type {Parameters<typeof post>[2]} */ options = {}) => post("/v1/chat/completions", chat(), options);
const small = { ...POLICY, limits: { maxBodyBytes: 100 } };

/** Splits text into pieces of `size` characters. @param {string} text @param {number} size */
const pieces = (text, size) => Array.from({ length: Math.ceil(text.length / size) }, (_, i) => text.slice(i * size, (i + 1) * size));

test("a body uploaded in chunks without Content-Length reaches the backend byte for byte; the upload is read to its end", async (t) => {
  const h = await harness(t);
  const a = h.backend("BACKEND_A");
  const body = JSON.stringify({ ...chat(), user: "ünïcødé".repeat(5) });
  const upload = h.stream(pieces(body, 7), { label: "upload" });
  const res = await h.fetch(post("/v1/chat/completions", upload));
  assert.equal(res.status, 200);
  await res.arrayBuffer();
  assert.equal(a.calls[0].req.body, body);
  assert.ok(upload.drained);
  await h.assertClean();
});

test("a body with Content-Length is read whole and reaches the backend unchanged", async (t) => {
  const h = await harness(t);
  const a = h.backend("BACKEND_A");
  const body = JSON.stringify(chat());
  const upload = h.stream(pieces(body, 10), { label: "upload" });
  const res = await h.fetch(post("/v1/chat/completions", upload, { contentLength: Buffer.byteLength(body) }));
  assert.equal(res.status, 200);
  await res.arrayBuffer();
  assert.equal(a.calls[0].req.body, body);
  assert.ok(upload.drained);
  await h.assertClean();
});

test("a body of exactly maxBodyBytes is accepted", async (t) => {
  const h = await harness(t, { config: small });
  const a = h.backend("BACKEND_A");
  const base = JSON.stringify(chat());
  const body = `${base.slice(0, -1)},"pad":"${"x".repeat(100 - base.length - 9)}"}`;
  assert.equal(body.length, 100);
  const upload = h.stream(pieces(body, 30), { label: "upload" });
  const res = await h.fetch(post("/v1/chat/completions", upload));
  assert.equal(res.status, 200);
  await res.arrayBuffer();
  assert.equal(a.calls[0].req.body, body);
  await h.assertClean();
});

test("a body that grows past maxBodyBytes without Content-Length: 413 once the limit is passed, the rest of the upload cancelled, no backend called", async (t) => {
  const h = await harness(t, { config: small });
  const a = h.backend("BACKEND_A");
  const upload = h.stream(["x".repeat(60), "y".repeat(41), "z".repeat(60), "w".repeat(60)], { label: "upload" });
  const res = await h.fetch(post("/v1/chat/completions", upload));
  assert.equal(res.status, 413);
  assert.equal((await errorOf(res)).code, "request_too_large");
  assert.equal(upload.reads, 2, "reading stopped at the chunk that passed the limit");
  assert.ok(upload.cancelled, "the rest of the upload is cancelled");
  assert.equal(a.calls.length, 0);
  await h.assertClean();
});

test("a Content-Length over maxBodyBytes: 413 before anything is read", async (t) => {
  const h = await harness(t, { config: small });
  const upload = h.stream(["{}"], { label: "upload" });
  const res = await h.fetch(post("/v1/chat/completions", upload, { contentLength: 101 }));
  assert.equal(res.status, 413);
  assert.equal(upload.reads, 0);
  upload.cancelled = true; // never read, by design: the runtime discards an unread request body
  await h.assertClean();
});

test("an upload that does not arrive before the request deadline: 504 at the deadline, the upload cancelled", async (t) => {
  const h = await harness(t);
  const a = h.backend("BACKEND_A");
  const upload = h.stream(['{"model":'], { end: "hang", label: "upload" });
  let res = /** @type {Response | undefined} */ (undefined);
  const answer = h.fetch(post("/v1/chat/completions", upload)).then((r) => (res = r));
  await h.clock.advance(9999);
  assert.equal(res, undefined);
  await h.clock.advance(1);
  await answer;
  assert.equal(res?.status, 504);
  assert.equal((await errorOf(/** @type {Response} */ (res))).code, "deadline_exceeded");
  assert.ok(upload.cancelled, "the slow upload is cancelled");
  assert.equal(a.calls.length, 0);
  await h.assertClean();
});

test("an upload with Content-Length that does not arrive before the request deadline: 504 at the deadline, the upload cancelled", {
  todo: "shims/driver.js readBody(): with Content-Length the body is read by request.arrayBuffer(), which locks it, so the cancel() at the deadline fails silently and the upload is read on after the 504",
}, async (t) => {
  const h = await harness(t);
  h.backend("BACKEND_A");
  const upload = h.stream(['{"model":'], { end: "hang", label: "upload" });
  const answer = h.fetch(post("/v1/chat/completions", upload, { contentLength: 60 }));
  await h.clock.advance(10_000);
  const res = await answer;
  assert.equal(res.status, 504);
  assert.ok(upload.cancelled, "the slow upload is cancelled");
});

test("an upload with Content-Length that breaks after the deadline's 504: no unhandled rejection, nothing left behind", async (t) => {
  const h = await harness(t);
  h.backend("BACKEND_A");
  const upload = h.stream(['{"model":'], { end: "hang", label: "upload" });
  const answer = h.fetch(post("/v1/chat/completions", upload, { contentLength: 60 }));
  await h.clock.advance(10_000);
  assert.equal((await answer).status, 504);
  upload.finish(new Error("the client gave up"));
  await h.clock.advance(10);
  await h.assertClean();
});

test("an upload that breaks mid-way (the client went away): the exchange ends, no backend is called", async (t) => {
  const h = await harness(t);
  const a = h.backend("BACKEND_A");
  const upload = h.stream(['{"model":'], { end: new Error("connection reset"), label: "upload" });
  const res = await h.fetch(post("/v1/chat/completions", upload));
  assert.equal(await res.text(), "");
  assert.equal(a.calls.length, 0);
  await h.assertClean();
});

test("an upload with Content-Length that breaks mid-way: the same", async (t) => {
  const h = await harness(t);
  const a = h.backend("BACKEND_A");
  const upload = h.stream(['{"model":'], { end: new Error("connection reset"), label: "upload" });
  const res = await h.fetch(post("/v1/chat/completions", upload, { contentLength: 50 }));
  assert.equal(await res.text(), "");
  assert.equal(a.calls.length, 0);
  await h.assertClean();
});

test("an empty body is read as empty: 400", async (t) => {
  const h = await harness(t);
  const res = await h.fetch(new Request("http://router.test/v1/chat/completions", { method: "POST", headers: { "content-type": "application/json" } }));
  assert.equal(res.status, 400);
  assert.match((await errorOf(res)).message, /empty/);
  await h.assertClean();
});

test("the request head reaches the core: Content-Type (415), Content-Length (413), x-request-id, the path without its query", async (t) => {
  const h = await harness(t);
  const a = h.backend("BACKEND_A");
  const wrongType = await h.fetch(post("/v1/chat/completions", chat(), { headers: { "content-type": "text/plain", "x-request-id": "abc-1" } }));
  assert.equal(wrongType.status, 415);
  assert.equal(wrongType.headers.get("x-request-id"), "abc-1");
  const tooLong = await h.fetch(post("/v1/chat/completions", "{}", { contentLength: 2_000_000 }));
  assert.equal(tooLong.status, 413);
  const withQuery = await h.fetch(post("/v1/chat/completions?x=1#y", chat()));
  assert.equal(withQuery.status, 200);
  await withQuery.arrayBuffer();
  assert.equal(a.calls[0].req.path, "/v1/chat/completions");
  await h.assertClean();
});

/** @param {string} url @param {number} status */
function pathCase(url, status) {
  test(`the path of ${url} is routed (${status})`, async (t) => {
    const h = await harness(t);
    const res = await h.fetch(new Request(url));
    assert.equal(res.status, status);
    await res.arrayBuffer();
    await h.assertClean();
  });
}

pathCase("http://router.test/healthz", 200);
pathCase("http://router.test/healthz?probe=1", 200);
pathCase("http://router.test/healthz#top", 200);
pathCase("http://router.test/healthz?a=1#top", 200);
pathCase("http://router.test/healthz#top?a=1", 200);
pathCase("http://router.test/healthz/x?/healthz", 404);
pathCase("http://router.test", 404);
pathCase("http://router.test?/healthz", 404);

test("configuration: ROUTER_CONFIG may be an object (a wrangler JSON var); an invalid one is a 500 naming the field, logged", async (t) => {
  const h = await harness(t, { config: null, env: { ROUTER_CONFIG: { retry: { maxAttempts: 2 } } } });
  const status = await h.status();
  assert.equal(status.policy.retry.maxAttempts, 2);
  const bad = await harness(t, { config: { retry: { maxAttempts: 0 } } });
  const res = await bad.fetch("/healthz");
  assert.equal(res.status, 500);
  const error = await errorOf(res);
  assert.deepEqual([error.code, error.param], ["invalid_router_config", "retry.maxAttempts"]);
  assert.equal(bad.events("invalid_router_config").length, 1, "logged once, at configuration");
});

test("configuration: ROUTER_CONFIG set to null (a JSON variable) means all defaults, like an unset one", async (t) => {
  const h = await harness(t, { config: null, env: { ROUTER_CONFIG: null } });
  const res = await h.fetch("/healthz");
  assert.equal(res.status, 200);
  const status = await h.status();
  assert.equal(status.policy.retry.maxAttempts, 3);
});

test("configuration: the backends are the env's BACKEND_* bindings", async (t) => {
  const h = await harness(t);
  h.backend("BACKEND_ONE");
  h.backend("BACKEND_TWO");
  const res = await h.fetch(json());
  assert.equal(res.status, 200);
  await res.arrayBuffer();
  const status = await h.assertClean();
  assert.deepEqual(status.backends.map((/** @type {any} */ b) => b.binding), ["BACKEND_ONE", "BACKEND_TWO"]);
});

test("configuration that fails to start is answered 500 and tried again by the next request", async (t) => {
  const h = await harness(t, { config: null });
  let failures = 1;
  Object.defineProperty(h.env, "ROUTER_API_KEYS", {
    enumerable: true,
    get() {
      if (failures-- > 0) throw new TypeError("secret store unavailable");
      return undefined;
    },
  });
  const first = await h.fetch("/healthz");
  assert.equal(first.status, 500);
  assert.deepEqual(await errorOf(first), {
    message: "The router could not start; it retries on the next request", type: "server_error", param: null, code: "router_start_failed",
  });
  assert.deepEqual(h.events("configure_failed"), [{ level: "error", event: "configure_failed", error: "TypeError" }]);
  assert.equal((await h.fetch("/healthz")).status, 200);
  await h.assertClean();
});

test("API keys: entries are trimmed, empty ones ignored, each key opens /v1; a wrong or missing key is 401", async (t) => {
  const h = await harness(t, { env: { ROUTER_API_KEYS: " key-one , ,key-two," } });
  h.backend("BACKEND_A");
  for (const key of ["key-one", "key-two"]) {
    const res = await h.fetch(json({ headers: { authorization: `Bearer ${key}` } }));
    assert.equal(res.status, 200, key);
    await res.arrayBuffer();
  }
  for (const authorization of ["Bearer key-three", "Bearer  key-one", "bearer key-one", "Bearer key-one,key-two", ""]) {
    const res = await h.fetch(json({ headers: authorization ? { authorization } : {} }));
    assert.equal(res.status, 401, authorization);
    assert.equal(res.headers.get("www-authenticate"), "Bearer");
    const { message } = await errorOf(res);
    assert.match(message, authorization ? /^Invalid API key/ : /^Missing API key/, authorization);
  }
  const status = await h.fetch(new Request("http://router.test/status", { headers: { authorization: "Bearer key-two" } }));
  assert.equal(status.status, 200, "without an admin key, a client key opens /status");
  assert.equal((await h.fetch("/status")).status, 401);
  assert.deepEqual(h.clock.pending(), []);
});

test("API keys: ROUTER_API_KEYS set but empty is a configuration error, never an open router", async (t) => {
  const h = await harness(t, { env: { ROUTER_API_KEYS: "" } });
  const res = await h.fetch("/healthz");
  assert.equal(res.status, 500);
  assert.equal((await errorOf(res)).code, "invalid_api_keys");
});

test("the admin key opens /status and only it", async (t) => {
  const h = await harness(t, { env: { ROUTER_ADMIN_KEY: "admin" } });
  h.backend("BACKEND_A");
  const open = await h.fetch(json());
  assert.equal(open.status, 200, "no client keys: /v1 is open");
  await open.arrayBuffer();
  assert.equal((await h.fetch("/status")).status, 401);
  assert.equal((await h.fetch(new Request("http://router.test/status", { headers: { authorization: "Bearer other" } }))).status, 401);
  const status = await h.fetch(new Request("http://router.test/status", { headers: { authorization: "Bearer admin" } }));
  assert.equal(status.status, 200);
  assert.equal(JSON.parse(await status.text()).requestsInFlight, 1);
});

/**
 * A RATE_LIMITER binding whose limit() answers with `answer(key)`.
 * @param {(key: string) => unknown} answer
 */
function limiter(answer) {
  /** @type {{key: string, at: number}[]} */
  const calls = [];
  return {
    calls,
    /** @param {{key: string}} options */
    limit(options) {
      calls.push({ key: options.key, at: Date.now() - START });
      return answer(options.key);
    },
  };
}

test("rate limiter: an allowed request goes on, keyed by the client's address; the limiter's timer is cleared", async (t) => {
  const rl = limiter(async () => ({ success: true }));
  const h = await harness(t, { env: { RATE_LIMITER: rl } });
  h.backend("BACKEND_A");
  const res = await h.fetch(json({ headers: { "cf-connecting-ip": "203.0.113.9" } }));
  assert.equal(res.status, 200);
  await res.arrayBuffer();
  assert.deepEqual(rl.calls, [{ key: "ip:203.0.113.9", at: 0 }]);
  assert.equal(h.clock.count("fired"), 0);
  assert.equal((await h.fetch("/healthz")).status, 200);
  assert.equal(rl.calls.length, 1, "/healthz and /status are not limited");
  await h.assertClean();
});

test("rate limiter: with API keys the key is a hash prefix, never the key itself", async (t) => {
  const rl = limiter(async () => ({ success: true }));
  const h = await harness(t, { env: { RATE_LIMITER: rl, ROUTER_API_KEYS: "secret-key" } });
  h.backend("BACKEND_A");
  const res = await h.fetch(json({ headers: { authorization: "Bearer secret-key" } }));
  assert.equal(res.status, 200);
  await res.arrayBuffer();
  assert.match(rl.calls[0].key, /^key:[0-9a-f]{16}$/);
});

test("rate limiter: over the limit is 429 with Retry-After, and no backend is called", async (t) => {
  const rl = limiter(async () => ({ success: false }));
  const h = await harness(t, { env: { RATE_LIMITER: rl }, config: { ...POLICY, rateLimit: { retryAfterSeconds: 7 } } });
  const a = h.backend("BACKEND_A");
  const res = await h.fetch(json());
  assert.equal(res.status, 429);
  assert.equal(res.headers.get("retry-after"), "7");
  assert.equal((await errorOf(res)).type, "rate_limit_error");
  assert.equal(a.calls.length, 0);
  await h.assertClean();
});

/** @param {string} what @param {() => unknown} answer */
function limiterFails(what, answer) {
  test(`rate limiter: a limiter that ${what} lets the request through and is logged`, async (t) => {
    const rl = limiter(answer);
    const h = await harness(t, { env: { RATE_LIMITER: rl } });
    const a = h.backend("BACKEND_A");
    const res = await h.fetch(json());
    assert.equal(res.status, 200);
    await res.arrayBuffer();
    assert.equal(a.calls.length, 1);
    assert.equal(h.events("rate_limiter_failed").length, 1);
    await h.assertClean();
  });
}

limiterFails("throws", () => { throw new Error("limiter down"); });
limiterFails("rejects", () => Promise.reject(new Error("limiter down")));

test("rate limiter: a RATE_LIMITER binding without limit() lets the request through and is logged", async (t) => {
  const h = await harness(t, { env: { RATE_LIMITER: {} } });
  h.backend("BACKEND_A");
  const res = await h.fetch(json());
  assert.equal(res.status, 200);
  await res.arrayBuffer();
  assert.equal(h.events("rate_limiter_failed").length, 1);
  await h.assertClean();
});

test("rate limiter: a limiter that never answers lets the request through after its 1 s timeout", async (t) => {
  const rl = limiter(() => new Promise(() => {}));
  const h = await harness(t, { env: { RATE_LIMITER: rl } });
  const a = h.backend("BACKEND_A");
  let res = /** @type {Response | undefined} */ (undefined);
  const answer = h.fetch(json()).then((r) => (res = r));
  await h.clock.advance(999);
  assert.equal(res, undefined);
  assert.equal(a.calls.length, 0);
  await h.clock.advance(1);
  await answer;
  assert.equal(res?.status, 200);
  assert.deepEqual(a.calls.map((c) => c.at), [1000]);
  assert.equal(h.events("rate_limiter_failed").length, 1);
  await h.assertClean();
});

test("rate limiter: the limiter is given no longer than what is left of the request", async (t) => {
  const rl = limiter(() => new Promise(() => {}));
  const h = await harness(t, { env: { RATE_LIMITER: rl }, config: { ...POLICY, timeouts: { ...POLICY.timeouts, requestMs: 400 } } });
  const a = h.backend("BACKEND_A");
  const answer = h.fetch(json());
  await h.clock.advance(400);
  const res = await answer;
  assert.equal(res.status, 504);
  assert.equal(a.calls.length, 0);
  await h.assertClean();
});

test("an exchange the core ended meanwhile (its request gone: waiting 10 s past its deadline): the late answer is dropped, its stream cancelled, nothing logged or ended twice", async (t) => {
  const h = await harness(t);
  const answer = deferred();
  const s = h.stream(sse(2));
  h.backend("BACKEND_A", { infer: () => answer.promise });
  const pending = h.fetch(post("/v1/chat/completions", chat({ stream: true })));
  await h.clock.advance(100);
  const [gone] = h.endings.keys();
  // As on Cloudflare, where the runtime drops the awaits of a request whose client left: time
  // passes and none of its timers runs; the next request's begin() lets the core end it.
  h.clock.now += POLICY.timeouts.requestMs + 10_000;
  assert.equal((await h.status()).requestsInFlight, 1, "only /status itself: the core ended the exchange left behind");
  answer.resolve({ status: 200, stream: s.stream });
  const res = await pending;
  assert.equal(await res.text(), "");
  assert.ok(s.cancelled, "the stream nobody will read is cancelled");
  assert.equal(h.endings.get(gone), 0, "the shim does not end what the core ended");
  h.endings.delete(gone);
  assert.deepEqual(h.events("shim_error"), []);
  const status = await h.assertClean();
  assert.equal(status.backends[0].failures, 0, "a client gone is not the backend's failure");
});

test("the client goes away during its upload: no backend is called, the exchange ends once", async (t) => {
  const h = await harness(t);
  const a = h.backend("BACKEND_A");
  const upload = h.stream(['{"model":'], { end: "hang", label: "upload" });
  const pending = h.fetch(post("/v1/chat/completions", upload));
  await h.clock.advance(10);
  upload.finish(new Error("the connection is gone")); // as the runtime breaks the upload of a client that left
  const res = await pending;
  assert.equal(await res.text(), "");
  assert.equal(a.calls.length, 0);
  await h.assertClean();
});

test("an error in the shim itself (here: waitUntil throws) is a 500 internal_error with the request's id, logged by name, the exchange ended once", async (t) => {
  const h = await harness(t);
  h.backend("BACKEND_A");
  h.ctx.waitUntil = () => { throw new RangeError("no waitUntil here"); };
  const res = await h.fetch(json({ headers: { "x-request-id": "req-9" } }));
  assert.equal(res.status, 500);
  assert.equal(res.headers.get("x-request-id"), "req-9");
  assert.equal((await errorOf(res)).code, "internal_error");
  assert.deepEqual(h.events("shim_error"), [{ level: "error", event: "shim_error", error: "RangeError" }]);
  assert.equal(h.events("internal_error").length, 1);
  await h.assertClean();
});

test("an error in the shim while a stream is being forwarded: 500, the backend's stream cancelled, the relay's watchdog gone within streamIdleMs", async (t) => {
  const h = await harness(t);
  const s = h.stream(sse(2));
  h.backend("BACKEND_A", { infer: (_req, n) => (n === 1 ? { status: 200, body: completion() } : { status: 200, stream: s.stream }) });
  const warm = await h.fetch(json()); // discovery done (its waitUntil is not the one that throws)
  await warm.arrayBuffer();
  h.ctx.waitUntil = () => { throw new Error("no waitUntil here"); };
  const res = await h.fetch(post("/v1/chat/completions", chat({ stream: true })));
  assert.equal(res.status, 500);
  assert.equal((await errorOf(res)).code, "internal_error");
  assert.ok(s.cancelled, "the stream that was not forwarded is cancelled");
  // The relay had armed its watchdog before waitUntil threw; nothing clears it but its own firing.
  await h.clock.advance(300);
  await h.assertClean();
});

test("an error in the shim after the exchange ended: a 500 made without the core, the exchange not ended twice", async (t) => {
  const h = await harness(t);
  h.backend("BACKEND_A");
  const end = h.core.end;
  h.core.end = (...args) => {
    end(...args);
    h.core.end = end;
    throw new Error("after the end");
  };
  const res = await h.fetch(json());
  assert.equal(res.status, 500);
  assert.match(res.headers.get("x-request-id") ?? "", /^[0-9a-f]{32}$/);
  assert.deepEqual(await errorOf(res), {
    message: "The router failed while handling this request", type: "server_error", param: null, code: "internal_error",
  });
  assert.equal(h.events("internal_error").length, 0, "the core was not asked to fail an exchange already over");
  await h.assertClean();
});

test("generated request ids differ from request to request (128 random bits each)", async (t) => {
  const h = await harness(t);
  const ids = new Set();
  for (let i = 0; i < 200; i++) {
    const res = await h.fetch("/healthz");
    ids.add(res.headers.get("x-request-id"));
  }
  assert.equal(ids.size, 200);
  for (const id of ids) assert.match(String(id), /^[0-9a-f]{32}$/);
});


test("an action the shim does not know (the core's answer to a call out of order) is a shim error: 500, logged, the exchange ended once", async (t) => {
  // The real core returns the action kind "error" only when called out of order, which the shim
  // never does: a minimal patch makes the body step ask for resume() instead.
  const h = await harness(t);
  h.backend("BACKEND_A");
  const resume = h.core.resume.bind(h.core);
  h.core.body = (exchange, _bytes, _how, now) => resume(exchange, now);
  const res = await h.fetch(json());
  assert.equal(res.status, 500);
  assert.equal((await errorOf(res)).code, "internal_error");
  assert.deepEqual(h.events("shim_error"), [{ level: "error", event: "shim_error", error: "Error" }]);
  await h.assertClean();
});

test("an ExecutionContext without waitUntil: discovery and streaming still work", async (t) => {
  const h = await harness(t);
  const s = h.stream(sse(2));
  h.backend("BACKEND_A", { infer: () => ({ status: 200, stream: s.stream }) });
  const res = await h.fetch(post("/v1/chat/completions", chat({ stream: true })), h.env, {});
  assert.equal(res.status, 200);
  assert.equal(await readAll(res), sse(2).join(""));
  await h.assertClean();
});
