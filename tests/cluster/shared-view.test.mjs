// Two orchestrators, one control plane (docs/control-plane.md): what orchestrator A learns reaches
// orchestrator B through the ControlPlane Durable Object, with the default sync interval.
// - B's first request starts from the cluster's catalog: B never calls describe() itself.
// - A backend A ejects (5 failures in a row) is avoided by B within 2 s, though B never called it.
// - A backend that answers A 429 + Retry-After is avoided by B within 2 s, though B never called it.
// B's traffic goes to model "other-1" (served by BACKEND_C and BACKEND_D only), so it never reaches
// BACKEND_A or BACKEND_B; once B has seen the ejection (the cooldown), its requests for "a-or-c"
// ("b-or-d"), which the failing backend serves with one healthy one, must all go to the healthy one.
// The tests run in order on one cluster.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { OK, status } from "../support/backend-control.mjs";
import { startCluster } from "../support/cluster.mjs";
import { sleep } from "../support/fault-cases.mjs";

const BINDINGS = ["BACKEND_A", "BACKEND_B", "BACKEND_C", "BACKEND_D"];
const WITHIN_MS = 2000;
const ROUTER_CONFIG = {
  // A generous first-sync wait: on a busy test machine the object's first answer may take more
  // than the default 50 ms, and this test is about the catalog it brings, not about that wait.
  controlPlane: { firstSyncWaitMs: 1000 },
  backends: { BACKEND_A: { models: ["echo-1", "a-or-c"] }, BACKEND_B: { models: ["echo-1", "b-or-d"] },
    BACKEND_C: { models: ["echo-1", "other-1", "a-or-c"] }, BACKEND_D: { models: ["echo-1", "other-1", "b-or-d"] } },
};

/** @type {Awaited<ReturnType<typeof startCluster>>} */
let h;
before(async () => { h = await startCluster({ bindings: BINDINGS, routerConfig: ROUTER_CONFIG }); });
after(() => h?.stop());

/** Both orchestrators serve a steady trickle (A: echo-1, B: other-1) until stopped; every answer is a 200. */
function trickle() {
  let running = true;
  /** @type {number[]} */
  const statuses = [];
  const loop = async (/** @type {"a" | "b"} */ which, /** @type {string} */ model) => {
    while (running) {
      statuses.push((await h.ask(which, { label: `trickle-${which}`, model })).status);
      await sleep(100);
    }
  };
  const loops = [loop("a", "echo-1"), loop("b", "other-1")];
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      assert.ok(statuses.every((s) => s === 200), `every trickle request answered 200: ${statuses}`);
    },
  };
}

/** Polls B's /status until `seen(backend)` holds; returns when (Node clock). @param {string} binding @param {(b: any) => boolean} seen */
async function whenBSees(binding, seen, timeoutMs = 6000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (seen((await h.status("b")).byBinding[binding])) return Date.now();
    await sleep(50);
  }
  throw new Error(`orchestrator B never saw ${binding} change: ${JSON.stringify((await h.status("b")).byBinding[binding])}`);
}

/** When A's `nth` call to `binding` from now on arrived, waiting for it (Node clock). @param {string} binding @param {number} nth */
async function whenACalls(binding, nth) {
  const before = h.callsBy("a").filter((c) => c.binding === binding).length;
  for (const deadline = Date.now() + 10_000; Date.now() < deadline; await sleep(20)) {
    const calls = h.callsBy("a").filter((c) => c.binding === binding).slice(before);
    if (calls.length >= nth) return calls[nth - 1].at;
  }
  throw new Error(`A did not call ${binding} ${nth} times`);
}

test("B's first request starts from the cluster's catalog: B never calls describe()", async () => {
  // A serves only /status, which syncs but never discovers: every describe() from caller "a" is the
  // object's alarm. Once it has described every backend (and fed the answers), B's first request.
  for (const deadline = Date.now() + 8000; ; await sleep(100)) {
    const s = await h.status("a");
    const described = new Set(h.describes.filter((d) => d.caller === "a").map((d) => d.binding));
    if (s.cluster.controlPlane === "synced" && described.size === BINDINGS.length) break;
    assert.ok(Date.now() < deadline, `the control plane described ${[...described]}: ${JSON.stringify(s.cluster)}`);
  }
  await sleep(100);
  const first = await h.ask("b", { label: "b-first", model: "other-1" });
  assert.equal(first.status, 200, first.text);
  for (let i = 0; i < 5; i++) {
    assert.equal((await h.ask("b", { label: "b-more", model: "other-1" })).status, 200);
    await sleep(250);
  }
  assert.deepEqual(h.describes.filter((d) => d.caller === "b"), [], "B called describe() on no backend");
  const s = await h.status("b");
  assert.equal(s.cluster.controlPlane, "synced");
  assert.ok(s.backends.every((/** @type {any} */ b) => b.described && b.name === b.binding), JSON.stringify(s.backends));
});

test("a backend A ejects is avoided by B within 2 s, though B never called it", async () => {
  h.control.set("BACKEND_A", (call) => (/** @type {any} */ (call).caller === "a" ? status(503) : OK));
  const fifthFailure = whenACalls("BACKEND_A", 5);
  const flow = trickle();
  try {
    const ejectedAt = await fifthFailure;
    const seenAt = await whenBSees("BACKEND_A", (b) => b.state === "ejected");
    console.log(`# B saw A's ejection ${seenAt - ejectedAt} ms after A's 5th failure`);
    assert.ok(seenAt - ejectedAt <= WITHIN_MS, `B saw the ejection ${seenAt - ejectedAt} ms after it`);
  } finally {
    await flow.stop();
  }
  const [a, b] = [(await h.status("a")).byBinding.BACKEND_A, (await h.status("b")).byBinding.BACKEND_A];
  assert.equal(a.state, "ejected");
  assert.equal(b.until, a.until, "B avoids it as long as A does");
  for (let i = 0; i < 6; i++) assert.equal((await h.ask("b", { label: "b-avoids-a", model: "a-or-c" })).status, 200);
  const byB = h.callsBy("b").map((c) => c.binding);
  assert.ok(byB.includes("BACKEND_C") && !byB.includes("BACKEND_A"), `B never called BACKEND_A: ${byB}`);
});

test("a backend that answers A 429 + Retry-After is avoided by B within 2 s, though B never called it", async () => {
  h.control.set("BACKEND_B", (call) => (/** @type {any} */ (call).caller === "a" ? status(429, { "retry-after": "8" }) : OK));
  assert.equal(h.callsBy("b").filter((c) => c.binding === "BACKEND_B").length, 0, "B has not called BACKEND_B yet");
  const first429 = whenACalls("BACKEND_B", 1);
  const flow = trickle();
  try {
    const limitedAt = await first429;
    const seenAt = await whenBSees("BACKEND_B", (b) => b.state === "cooldown");
    console.log(`# B saw A's 429 cooldown ${seenAt - limitedAt} ms after it`);
    assert.ok(seenAt - limitedAt <= WITHIN_MS, `B saw the cooldown ${seenAt - limitedAt} ms after the 429`);
  } finally {
    await flow.stop();
  }
  for (let i = 0; i < 6; i++) assert.equal((await h.ask("b", { label: "b-avoids-b", model: "b-or-d" })).status, 200);
  const byB = h.callsBy("b").map((c) => c.binding);
  assert.ok(byB.includes("BACKEND_D") && !byB.includes("BACKEND_A") && !byB.includes("BACKEND_B"), `B never called BACKEND_A or BACKEND_B: ${byB}`);
});
