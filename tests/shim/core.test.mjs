// shims/wasm-core.js as the driver uses it, with the real router.wasm: a trap anywhere (configure,
// describe, begin, end) costs at most the requests then in the old instance, never the isolate;
// a stream in flight when the instance is replaced still ends properly; strings and bodies larger
// than the first scratch buffer and than the initial Wasm memory arrive whole; line breaks in a
// backend's header cannot forge a field of the core's records.
// A trap here is a genuine one: the instance reads far outside its linear memory.
import assert from "node:assert/strict";
import { test } from "node:test";
import { chat, client, completion, errorOf, harness, post, readAll, sse } from "./harness.mjs";

const json = () => post("/v1/chat/completions", chat());
const streaming = () => post("/v1/chat/completions", chat({ stream: true }));
const CORE_TRAPPED_EVENT = `data: ${JSON.stringify({ error: { message: "The router core failed during the stream", type: "server_error", param: null, code: "core_trapped" } })}\n\n`;

/**
 * Makes the next call of one of the instance's exports trap for real (a read outside linear
 * memory inside the instance); the instance that replaces it has its own, unpatched exports.
 * @param {import("../../shims/wasm-core.js").RouterCore} core @param {string} name
 */
function trapNext(core, name) {
  const exports = core.exports;
  core.exports = {
    ...exports,
    [name]: () => exports.rt_exchange_begin(core.router, 0xfffffff0, 64, 0, 0, 0, 0, 0),
  };
}

test("a trap while configuring: 500 router_start_failed, both logged, and the next request configures a fresh instance", async (t) => {
  const h = await harness(t);
  h.backend("BACKEND_A");
  trapNext(h.core, "rt_router_configure");
  const first = await h.fetch("/healthz");
  assert.equal(first.status, 500);
  assert.deepEqual(await errorOf(first), {
    message: "The router could not start; it retries on the next request", type: "server_error", param: null, code: "router_start_failed",
  });
  assert.deepEqual(h.events("configure_failed"), [{ level: "error", event: "configure_failed", error: "Error" }]);
  const second = await h.fetch(json());
  assert.equal(second.status, 200);
  await second.arrayBuffer();
  // (The trap's own line waits in the core wrapper until the next drain, the next request's.)
  assert.deepEqual(h.events("core_trapped").map((l) => l.level), ["error"]);
  await h.assertClean();
});

test("a trap while feeding describe() answers: logged, the waiting request answered 500 core_trapped, the next request discovers again", async (t) => {
  const h = await harness(t);
  const a = h.backend("BACKEND_A");
  const first = await h.fetch("/healthz"); // configured
  await first.arrayBuffer();
  trapNext(h.core, "rt_router_describe");
  const res = await h.fetch(json());
  assert.equal(res.status, 500);
  assert.deepEqual(await errorOf(res), {
    message: "The router core failed while handling this request", type: "server_error", param: null, code: "core_trapped",
  });
  assert.match(res.headers.get("x-request-id") ?? "", /^[0-9a-f]{32}$/);
  assert.deepEqual(h.events("describe_feed_failed"), [{ level: "error", event: "describe_feed_failed", error: "Error" }]);
  assert.equal(h.events("core_trapped").length, 1);
  const next = await h.fetch(json());
  assert.equal(next.status, 200);
  await next.arrayBuffer();
  assert.equal(a.describes, 2);
  await h.assertClean();
});

test("after a trap the fresh instance has the configuration and the good descriptions replayed: no new describe()", async (t) => {
  const h = await harness(t, { config: { discovery: { describeTimeoutMs: 200 }, retry: { maxAttempts: 2 } } });
  const a = h.backend("BACKEND_A");
  const warm = await h.fetch(json());
  await warm.arrayBuffer();
  trapNext(h.core, "rt_exchange_begin");
  const trapped = await h.fetch(json());
  assert.equal(trapped.status, 500);
  assert.equal((await errorOf(trapped)).code, "core_trapped");
  const next = await h.fetch(json());
  assert.equal(next.status, 200);
  await next.arrayBuffer();
  assert.equal(a.describes, 1, "the description was replayed, not asked again");
  const status = await h.assertClean();
  assert.equal(status.policy.retry.maxAttempts, 2, "the configuration was replayed");
});

test("a trap after a describe() that failed: the fresh instance serves the next request", async (t) => {
  const h = await harness(t);
  let good = false;
  h.backend("BACKEND_A", { describe: () => (good ? { name: "a", models: ["*"] } : undefined) });
  const first = await h.fetch(json());
  assert.equal(first.status, 503, "the backend could not be discovered");
  await first.arrayBuffer();
  trapNext(h.core, "rt_exchange_begin");
  const trapped = await h.fetch("/healthz");
  assert.equal(trapped.status, 500);
  await trapped.arrayBuffer();
  good = true;
  const next = await h.fetch(json());
  assert.equal(next.status, 200);
  await next.arrayBuffer();
  await h.assertClean();
});

test("a stream in flight when the instance is replaced still ends with the error event if it breaks", async (t) => {
  const h = await harness(t);
  const events = sse(2);
  const s = h.stream([events[0]], { end: "hang" });
  h.backend("BACKEND_A", { infer: () => ({ status: 200, stream: s.stream }) });
  const res = await h.fetch(streaming());
  const c = client(res);
  assert.equal(await c.next(), events[0]);
  trapNext(h.core, "rt_exchange_begin");
  assert.equal((await h.fetch("/healthz")).status, 500, "another request traps the instance");
  const next = c.next();
  s.finish(new Error("connection reset"));
  assert.equal(await next, CORE_TRAPPED_EVENT);
  assert.equal(await c.next(), null);
  await h.assertClean();
});

test("a stream in flight when the instance is replaced ends cleanly if it completes", async (t) => {
  const h = await harness(t);
  const events = sse(2);
  const s = h.stream([events[0]], { end: "hang" });
  h.backend("BACKEND_A", { infer: () => ({ status: 200, stream: s.stream }) });
  const res = await h.fetch(streaming());
  const c = client(res);
  assert.equal(await c.next(), events[0]);
  trapNext(h.core, "rt_exchange_begin");
  assert.equal((await h.fetch("/healthz")).status, 500);
  s.push(events[1], events[2]);
  s.finish("close");
  assert.equal(await c.rest(), events[1] + events[2]);
  await h.assertClean();
});

test("a trap while ending a broken stream: the client still gets an error event", async (t) => {
  const h = await harness(t);
  const events = sse(2);
  const s = h.stream([events[0]], { end: new Error("connection reset") });
  h.backend("BACKEND_A", { infer: () => ({ status: 200, stream: s.stream }) });
  const res = await h.fetch(streaming());
  const c = client(res);
  assert.equal(await c.next(), events[0]);
  trapNext(h.core, "rt_exchange_end");
  assert.equal(await c.next(), CORE_TRAPPED_EVENT);
  assert.equal(await c.next(), null);
  assert.equal(h.events("core_trapped").length, 1);
  await h.assertClean();
});

test("a trap while ending a completed stream: the stream ends cleanly, no error event", async (t) => {
  const h = await harness(t);
  const s = h.stream(sse(2));
  h.backend("BACKEND_A", { infer: () => ({ status: 200, stream: s.stream }) });
  const res = await h.fetch(streaming());
  trapNext(h.core, "rt_exchange_end");
  assert.equal(await readAll(res), sse(2).join(""));
  assert.equal(h.events("core_trapped").length, 1);
  await h.assertClean();
});

test("a trap while ending a JSON answer: the client's answer is intact", async (t) => {
  const h = await harness(t);
  h.backend("BACKEND_A", { infer: () => ({ status: 200, body: completion("intact") }) });
  const warm = await h.fetch(json());
  await warm.arrayBuffer();
  trapNext(h.core, "rt_exchange_end");
  const res = await h.fetch(json());
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), completion("intact"));
  assert.equal(h.events("core_trapped").length, 1);
  await h.assertClean();
});

test("an exception in an ABI call that is not a trap is the shim's error (500 internal_error): the instance is kept", async (t) => {
  const h = await harness(t);
  h.backend("BACKEND_A");
  const exports = h.core.exports;
  h.core.exports = { ...exports, rt_exchange_resume: () => { throw new TypeError("not a trap"); } };
  const res = await h.fetch("/v1/models");
  assert.equal(res.status, 500);
  assert.equal((await errorOf(res)).code, "internal_error");
  assert.deepEqual(h.events("core_trapped"), []);
  assert.deepEqual(h.events("shim_error").map((l) => l.error), ["TypeError"]);
  h.core.exports = exports;
  await h.assertClean();
});

test("a describe() answer far larger than the first scratch buffer, in 3-byte characters, arrives whole", async (t) => {
  const h = await harness(t);
  const models = Array.from({ length: 120 }, (_, i) => `模型-${String(i).padStart(3, "0")}-${"字".repeat(20)}`);
  h.backend("BACKEND_A", { describe: () => ({ name: "a", models }) });
  const res = await h.fetch("/v1/models");
  assert.equal(res.status, 200);
  const ids = (await res.json()).data.map((/** @type {any} */ m) => m.id);
  assert.deepEqual(ids.sort(), [...models].sort());
  await h.assertClean();
});

test("a request body larger than the Wasm memory the instance started with reaches the backend unchanged", async (t) => {
  const h = await harness(t);
  const a = h.backend("BACKEND_A");
  const body = JSON.stringify({ ...chat(), messages: [{ role: "user", content: "ä".repeat(500_000) }] });
  assert.ok(Buffer.byteLength(body) > 1_000_000 && Buffer.byteLength(body) < 1_048_576);
  const res = await h.fetch(post("/v1/chat/completions", body));
  assert.equal(res.status, 200);
  await res.arrayBuffer();
  assert.equal(a.calls[0].req.body, body);
  assert.ok(h.core.memory.buffer.byteLength > 1_048_576, "the memory grew");
  assert.deepEqual(h.events("core_trapped"), []);
  await h.assertClean();
});

/**
 * A 429 whose headers carry line breaks, then a 200: the retry starts after `waited` ms.
 * @param {string} what @param {Record<string, string>} headers @param {number} waited
 */
function lineBreakCase(what, headers, waited) {
  test(`a line break in a backend's header cannot forge a field of the core's record: ${what}`, async (t) => {
    const h = await harness(t);
    const a = h.backend("BACKEND_A", {
      infer: (_req, n) => (n === 1 ? { status: 429, headers, body: { error: { message: "later" } } } : { status: 200, body: completion() }),
    });
    const answer = h.fetch(json());
    await h.clock.advance(waited);
    const res = await answer;
    assert.equal(res.status, 200);
    await res.arrayBuffer();
    assert.deepEqual(a.calls.map((c) => c.at), [0, waited]);
    await h.assertClean();
  });
}

lineBreakCase("Retry-After \"2\\nsoon\" is one invalid value, not \"2\" (retried at once)", { "retry-after": "2\nsoon" }, 0);
lineBreakCase("Retry-After \"2\\n\" is the value 2 (2 s)", { "retry-after": "2\n" }, 2000);
lineBreakCase("retry-after-ms \"150\\r\\n\" is the value 150", { "retry-after-ms": "150\r\n" }, 150);
