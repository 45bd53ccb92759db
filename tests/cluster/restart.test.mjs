// The ControlPlane object restarts (a new Miniflare over the same persisted storage): it restores
// the ejection and the catalog its alarm saved to SQLite, so a new isolate's first sync brings both:
// the new orchestrator B avoids the ejected backend and never calls describe().
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { test } from "node:test";
import { OK, status } from "../support/backend-control.mjs";
import { startCluster } from "../support/cluster.mjs";
import { sleep } from "../support/fault-cases.mjs";
import { loggedEvents } from "../support/stack.mjs";

const BINDINGS = ["BACKEND_A", "BACKEND_B", "BACKEND_C"];
const ROUTER_CONFIG = {
  controlPlane: { firstSyncWaitMs: 1000 }, // this test is about what the first sync brings
  health: { baseEjectionMs: 60_000 },
  backends: { BACKEND_A: { models: ["echo-1", "a-or-c"] }, BACKEND_B: { models: ["echo-1"] },
    BACKEND_C: { models: ["echo-1", "a-or-c"] } },
};

/** Waits for `check` to hold (polled), or fails with `what`. @param {() => Promise<boolean>} check @param {string} what */
async function eventually(check, what, timeoutMs = 8000) {
  for (const deadline = Date.now() + timeoutMs; !(await check()); await sleep(100)) {
    assert.ok(Date.now() < deadline, what);
  }
}

/** Orchestrator A ejects BACKEND_A; waits until the object has it and saved it. Returns the ejection's end. */
async function ejectAndSave(/** @type {Awaited<ReturnType<typeof startCluster>>} */ h) {
  h.control.set("BACKEND_A", (call) => (/** @type {any} */ (call).caller === "a" ? status(503) : OK));
  let until = 0;
  await eventually(async () => {
    await h.ask("a", { label: "eject" });
    const a = (await h.status("a")).byBinding.BACKEND_A;
    until = a.until ?? 0;
    return a.state === "ejected";
  }, "A never ejected BACKEND_A");
  // A reports only while it serves (here: /status). The object has the ejection once B gets it;
  // an alarm after its merge (logged cluster_ejected) saves it.
  await eventually(async () => (await h.status("a")) && (await h.status("b")).byBinding.BACKEND_A.state === "ejected",
    "B never saw the ejection");
  const merged = h.stack.logs.findIndex((line) => line.includes('"cluster_ejected"'));
  assert.ok(merged >= 0, "the object logged the ejection it merged");
  await eventually(async () => loggedEvents(h.stack.logs, "control_plane_persisted", merged).length > 0, "the object never saved its state");
  return until;
}

test("a restarted control plane still knows the ejection and the catalog", async () => {
  const persist = await mkdtemp(path.join(tmpdir(), "control-plane-"));
  const spec = { bindings: BINDINGS, routerConfig: ROUTER_CONFIG, controlPlane: { persist } };
  try {
    const before = await startCluster(spec);
    const until = await ejectAndSave(before).finally(() => before.stop());
    const h = await startCluster(spec);
    try {
      assert.equal((await h.ask("b", { label: "after-restart", model: "a-or-c" })).status, 200);
      const s = await h.status("b");
      assert.equal(s.cluster.controlPlane, "synced", JSON.stringify(s.cluster));
      assert.equal(s.byBinding.BACKEND_A.state, "ejected", JSON.stringify(s.byBinding.BACKEND_A));
      assert.equal(s.byBinding.BACKEND_A.until, until, "the same ejection");
      assert.ok(s.backends.every((/** @type {any} */ b) => b.described), JSON.stringify(s.backends));
      for (let i = 0; i < 4; i++) assert.equal((await h.ask("b", { label: "after-restart", model: "a-or-c" })).status, 200);
      assert.deepEqual(h.callsBy("b").map((c) => c.binding).filter((b) => b !== "BACKEND_C"), [], "B avoids BACKEND_A");
      assert.deepEqual(h.describes, [], "nobody described anything: the catalog came from storage");
    } finally {
      await h.stop();
    }
  } finally {
    await rm(persist, { recursive: true, force: true });
  }
});
