// The shim's discovery (shims/driver.js discover() and describeOne()), with the real router.wasm
// and a hand-moved clock: a request waits for describe() only as long as the core says, each
// describe() call is bounded by describeTimeoutMs whoever waits for it, a batch in flight is shared
// by the requests of the isolate, and what is left running after the answer is kept alive by
// waitUntil and ends by itself.
// POLICY: describeTimeoutMs 200, requestMs 10000.
import assert from "node:assert/strict";
import { test } from "node:test";
import { POLICY, chat, completion, deferred, harness, post, readAll, sse } from "./harness.mjs";

const json = () => post("/v1/chat/completions", chat());

test("the first request waits for describe(): it goes on as soon as the answer arrives, and every timer (the request's, the wait, the describe() call) is cleared", async (t) => {
  const h = await harness(t);
  const described = deferred();
  const a = h.backend("BACKEND_A", { describe: () => described.promise });
  const answer = h.fetch(json());
  await h.clock.advance(150);
  assert.equal(a.calls.length, 0, "no backend call before discovery");
  assert.equal(h.clock.pending().length, 3, "the request's (for its body and first attempt), the wait and the describe() call");
  described.resolve({ name: "a", models: ["m"] });
  const res = await answer;
  assert.equal(res.status, 200);
  await res.arrayBuffer();
  assert.deepEqual(a.calls.map((c) => c.at), [150]);
  assert.equal(h.clock.count("fired"), 0);
  await h.assertClean();
});

test("describe() that never answers: the request waits describeTimeoutMs, then 503; the failure is logged", async (t) => {
  const h = await harness(t);
  const a = h.backend("BACKEND_A", { describe: () => new Promise(() => {}) });
  let res = /** @type {Response | undefined} */ (undefined);
  const answer = h.fetch(json()).then((r) => (res = r));
  await h.clock.advance(199);
  assert.equal(res, undefined);
  await h.clock.advance(1);
  await answer;
  assert.equal(res?.status, 503);
  assert.match(String((await /** @type {Response} */ (res).json()).error.message), /could not be discovered/);
  assert.equal(a.calls.length, 0);
  assert.deepEqual(h.events("describe_failed").map((l) => l.detail), ["BACKEND_A: describe() timed out"]);
  await h.assertClean();
});

/** @param {string} what @param {() => unknown} describe @param {string} detail */
function describeFails(what, describe, detail) {
  test(`describe() that ${what}: logged as "${detail}", the request answered 503 at once`, async (t) => {
    const h = await harness(t);
    h.backend("BACKEND_A", { describe });
    const res = await h.fetch(json());
    assert.equal(res.status, 503);
    await res.arrayBuffer();
    assert.deepEqual(h.events("describe_failed").map((l) => l.detail), [`BACKEND_A: ${detail}`]);
    assert.equal(h.clock.count("fired"), 0);
    await h.assertClean();
  });
}

describeFails("throws a TypeError", () => { throw new TypeError("no such method"); }, "describe() failed (TypeError)");
describeFails("rejects with a string", () => Promise.reject("nope"), "describe() failed (string)");
describeFails("throws an error whose name cannot be read", () => {
  throw Object.create(Error.prototype, { name: { get() { throw new Error("no name"); } } });
}, "describe() failed (unknown)");
describeFails("answers nothing", () => undefined, "describe() answered nothing");

test("a binding without describe() at all is a failed describe(), not a crash", async (t) => {
  const h = await harness(t);
  h.env.BACKEND_A = { infer: async () => ({ status: 200, body: completion() }) };
  const res = await h.fetch(json());
  assert.equal(res.status, 503);
  await res.arrayBuffer();
  assert.deepEqual(h.events("describe_failed").map((l) => l.detail), ["BACKEND_A: describe() failed (TypeError)"]);
  await h.assertClean();
});

test("a request whose deadline comes before describeTimeoutMs waits only until its deadline; the describe() call goes on under waitUntil and ends at its own timeout", async (t) => {
  const h = await harness(t, { config: { ...POLICY, timeouts: { ...POLICY.timeouts, requestMs: 100 } } });
  h.backend("BACKEND_A", { describe: () => new Promise(() => {}) });
  const answer = h.fetch(json());
  await h.clock.advance(100);
  const res = await answer;
  assert.equal(res.status, 504);
  await res.arrayBuffer();
  assert.deepEqual(h.clock.pending().map((p) => p.dueIn), [100], "only the describe() call's own timer is left");
  assert.ok(!h.waits.every((w) => w.settled), "kept alive by waitUntil");
  await h.clock.advance(100);
  await h.assertClean();
});

test("requests that arrive while a describe() batch is in flight wait for that same batch (describe() is called once)", async (t) => {
  const h = await harness(t);
  const described = deferred();
  const a = h.backend("BACKEND_A", { describe: () => described.promise });
  const first = h.fetch(json());
  await h.clock.advance(50);
  const second = h.fetch(json());
  await h.clock.advance(50);
  described.resolve({ name: "a", models: ["*"] });
  const answers = await Promise.all([first, second]);
  assert.deepEqual(answers.map((r) => r.status), [200, 200]);
  await Promise.all(answers.map((r) => r.arrayBuffer()));
  assert.equal(a.describes, 1);
  assert.equal(h.waits.length, 1, "the second request started no background work of its own");
  assert.deepEqual(a.calls.map((c) => c.at), [100, 100]);
  await h.assertClean();
});

test("a later request's wait for a batch in flight is bounded by its own describeTimeoutMs", async (t) => {
  const h = await harness(t);
  h.backend("BACKEND_A", { describe: () => new Promise(() => {}) });
  const first = h.fetch(json());
  await h.clock.advance(150);
  const second = h.fetch(json());
  await h.clock.advance(50);
  assert.equal((await first).status, 503);
  await h.clock.advance(1);
  assert.equal((await second).status, 503, "the batch it waited for is over: it answers then, not at its own timeout");
  await h.assertClean();
});

test("GET /v1/models waits for discovery and lists what describe() said", async (t) => {
  const h = await harness(t);
  const described = deferred();
  h.backend("BACKEND_A", { describe: () => described.promise });
  const answer = h.fetch("/v1/models");
  await h.clock.advance(20);
  described.resolve({ name: "a", models: ["model-x", "model-y"] });
  const res = await answer;
  assert.equal(res.status, 200);
  const ids = (await res.json()).data.map((/** @type {any} */ m) => m.id).sort();
  assert.deepEqual(ids, ["model-x", "model-y"]);
  await h.assertClean();
});

test("a refresh after the describe() TTL runs in the background: the request does not wait for it, waitUntil keeps it, its timer ends it, the last good description stays", async (t) => {
  const h = await harness(t, { config: { ...POLICY, discovery: { describeTimeoutMs: 200, describeTtlMs: 1000 } } });
  let hang = false;
  const a = h.backend("BACKEND_A", { describe: () => (hang ? new Promise(() => {}) : { name: "a", models: ["*"] }) });
  const first = await h.fetch(json());
  assert.equal(first.status, 200);
  await first.arrayBuffer();
  await h.clock.advance(1000);
  hang = true;
  const second = await h.fetch(json());
  assert.equal(second.status, 200, "answered without waiting for the refresh");
  await second.arrayBuffer();
  assert.equal(a.describes, 2);
  assert.equal(h.clock.pending().length, 1, "the refresh's describe() timer");
  assert.ok(!h.waits.every((w) => w.settled));
  await h.clock.advance(200);
  assert.deepEqual(h.events("describe_failed").map((l) => l.detail), ["BACKEND_A: describe() timed out"], "logged when the refresh ends, not at the next request");
  const third = await h.fetch(json());
  assert.equal(third.status, 200, "a failed refresh keeps the last good description");
  await third.arrayBuffer();
  await h.assertClean();
});

test("without an ExecutionContext discovery and streaming still work (nothing is handed to waitUntil)", async (t) => {
  const h = await harness(t);
  const s = h.stream(sse(2));
  h.backend("BACKEND_A", { infer: () => ({ status: 200, stream: s.stream }) });
  const res = await h.fetchWithoutCtx(post("/v1/chat/completions", chat({ stream: true })));
  assert.equal(res.status, 200);
  assert.equal(await readAll(res), sse(2).join(""));
  await h.assertClean();
});

test("a failure while feeding describe() answers to the core is logged; the request goes on and nothing is left pending", async (t) => {
  // The only way to reach this branch: the core's describe() throwing (a minimal patch of the real core).
  const h = await harness(t);
  h.backend("BACKEND_A");
  h.core.describe = () => { throw new RangeError("core refused the answers"); };
  const res = await h.fetch(json());
  assert.equal(res.status, 503);
  await res.arrayBuffer();
  assert.deepEqual(h.events("describe_feed_failed"), [{ level: "error", event: "describe_feed_failed", error: "RangeError" }]);
  await h.assertClean();
});
