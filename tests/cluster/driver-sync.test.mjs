// The driver's side of the sync (shims/cluster-sync.js), in plain Node with the real router.wasm
// and a clock moved by hand (tests/shim/harness.mjs). CONTROL_PLANE is a fake namespace whose
// object answers with a real ControlCore, throws, hangs or answers garbage. Proves: only the
// isolate's first request waits for a sync, and at most controlPlane.firstSyncWaitMs; a request
// starts at most one sync, and syncs come at most once per interval; a sync that fails or hangs
// changes no answer, is bounded by controlPlane.timeoutMs, and /status says "unreachable".
import assert from "node:assert/strict";
import { test } from "node:test";
import { ControlCore } from "../../shims/wasm-core.js";
import { POLICY, START, chat, harness, post, readAll, wasmModule } from "../shim/harness.mjs";

const FIRST_WAIT_MS = 50;
const INTERVAL_MS = 1000;
const TIMEOUT_MS = 400;
const CONFIG = { ...POLICY, controlPlane: { firstSyncWaitMs: FIRST_WAIT_MS, syncIntervalMs: INTERVAL_MS, timeoutMs: TIMEOUT_MS } };

/**
 * A CONTROL_PLANE namespace whose object's sync() does what `answer` says; every call recorded.
 * @param {(report: string, control: ControlCore) => Promise<unknown>} answer
 */
function fakeControlPlane(answer) {
  const control = ControlCore.fromModule(wasmModule);
  control.configure({ routerConfig: JSON.stringify(CONFIG), envNames: ["BACKEND_A", "CONTROL_PLANE"] }, START);
  /** @type {{report: unknown, at: number}[]} */
  const calls = [];
  const namespace = {
    idFromName: (/** @type {string} */ name) => ({ name }),
    get: () => ({ sync: (/** @type {string} */ report) => { calls.push({ report, at: Date.now() - START }); return answer(report, control); } }),
  };
  return { namespace, calls };
}

/** A real snapshot after `ms` of the fake clock. @param {number} ms */
const answerAfter = (ms) => (/** @type {string} */ report, /** @type {ControlCore} */ control) =>
  new Promise((resolve) => setTimeout(() => resolve(control.sync(report, Date.now())), ms));

/** @param {import("node:test").TestContext} t @param {(report: string, control: ControlCore) => Promise<unknown>} answer */
async function cluster(t, answer) {
  const cp = fakeControlPlane(answer);
  const h = await harness(t, { config: CONFIG, env: { CONTROL_PLANE: cp.namespace } });
  h.backend("BACKEND_A");
  return { h, calls: cp.calls };
}

test("only the first request waits for a sync, at most firstSyncWaitMs; then one sync per interval at most", async (t) => {
  const { h, calls } = await cluster(t, answerAfter(20));
  const first = h.fetch(post("/v1/chat/completions", chat()));
  await h.clock.advance(20);
  assert.equal((await first).status, 200);
  assert.equal(calls.length, 1, "the first request started one sync");
  assert.equal(calls[0].at, 0, "before the request was served");
  const waitsBefore = h.waits.length;
  for (let i = 0; i < 25; i++) {
    const res = await h.fetch(post("/v1/chat/completions", chat()));
    assert.equal(res.status, 200);
    await readAll(res);
    await h.clock.advance(100);
  }
  const elapsed = h.clock.now - START;
  assert.ok(calls.length <= 1 + Math.ceil(elapsed / INTERVAL_MS), `${calls.length} syncs in ${elapsed} ms`);
  assert.ok(calls.length >= 2, "syncs go on while the isolate serves");
  assert.equal(h.waits.length - waitsBefore, calls.length - 1, "a request without a sync hands waitUntil nothing");
  const gaps = calls.slice(1).map((c, i) => c.at - calls[i].at);
  assert.ok(gaps.every((g) => g >= INTERVAL_MS), `syncs ${gaps} ms apart`);
  assert.equal((await h.status()).cluster.controlPlane, "synced");
  await h.assertClean();
});

test("a sync that hangs: the first request waits only firstSyncWaitMs, the sync is given up after timeoutMs", async (t) => {
  const { h, calls } = await cluster(t, () => new Promise(() => {}));
  const first = h.fetch(post("/v1/chat/completions", chat()));
  await h.clock.advance(FIRST_WAIT_MS);
  const res = await first;
  assert.equal(res.status, 200);
  assert.equal(h.clock.now - START, FIRST_WAIT_MS, "answered once the first wait was over");
  await h.clock.advance(TIMEOUT_MS);
  assert.equal(calls.length, 1);
  assert.equal((await h.status()).cluster.controlPlane, "unreachable");
  await h.assertClean();
});

for (const [what, answer] of /** @type {const} */ ([
  ["throws", () => Promise.reject(new Error("down"))],
  ["answers something other than text", () => Promise.resolve({ not: "a snapshot" })],
  ["answers text that is not a snapshot", () => Promise.resolve("{")],
])) {
  test(`a sync that ${what} changes no answer and /status says "unreachable"`, async (t) => {
    const { h, calls } = await cluster(t, answer);
    for (let i = 0; i < 4; i++) {
      const res = await h.fetch(post("/v1/chat/completions", chat()));
      assert.equal(res.status, 200);
      await readAll(res);
      await h.clock.advance(600);
    }
    assert.ok(calls.length >= 2, "the isolate keeps trying");
    assert.equal((await h.status()).cluster.controlPlane, "unreachable");
    await h.assertClean();
  });
}

test("without a CONTROL_PLANE binding no sync is attempted and /status says \"absent\"", async (t) => {
  const h = await harness(t, { config: CONFIG });
  h.backend("BACKEND_A");
  for (let i = 0; i < 3; i++) assert.equal((await h.fetch(post("/v1/chat/completions", chat()))).status, 200);
  assert.equal((await h.status()).cluster.controlPlane, "absent");
  await h.assertClean();
});
