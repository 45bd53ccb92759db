// Cloudflare lets one invocation call at most 32 Workers (Miniflare does not enforce it, so this
// counts). With 100 backends and the control plane:
// - no client request invokes more than 32 Workers: its infer() calls, the describe() calls it
//   starts (its waitUntil work included) and its sync RPC to the control plane (at most one per
//   request: tests/cluster/driver-sync.test.mjs);
// - no alarm of the ControlPlane object calls describe() on more than 25 backends, and its alarms
//   describe all 100.
// Only orchestrator B serves clients; A hosts the object, so every describe() from caller "a" is
// the object's. describe() answers after 150 ms, so the calls of one alarm overlap and two alarms
// never do (overlappingGroups).
import assert from "node:assert/strict";
import { test } from "node:test";
import { status } from "../support/backend-control.mjs";
import { overlappingGroups, startCluster } from "../support/cluster.mjs";
import { sleep } from "../support/fault-cases.mjs";

const LIMIT = 32;
const PER_ALARM = 25;
const BINDINGS = Array.from({ length: 100 }, (_, i) => `BACKEND_${String(i).padStart(3, "0")}`);

/** Waits until no describe() has started for a while: a request's waitUntil work is over. @param {{describes: unknown[]}} h */
async function quiet(h) {
  for (let seen = -1; seen !== h.describes.length; await sleep(250)) seen = h.describes.length;
}

test("with 100 backends no client request invokes more than 32 Workers, no alarm describes more than 25", async () => {
  const bindings = BINDINGS;
  const h = await startCluster({ bindings });
  try {
    h.control.setDescribe({ delayMs: 150 });
    const perRequest = [];
    for (let i = 0; i < 8; i++) {
      const from = h.describes.length;
      const r = await h.ask("b", { label: "hundred" });
      assert.equal(r.status, 200, r.text);
      await quiet(h); // background describe() calls belong to this request's waitUntil
      const describes = h.describes.slice(from).filter((d) => d.caller === "b").length;
      perRequest.push(h.control.callsFor(r.requestId).length + describes + 1);
    }
    console.log(`# Workers invoked per client request (infer + describe + 1 sync): ${perRequest}`);
    assert.ok(perRequest.every((n) => n <= LIMIT), `Workers invoked per request: ${perRequest}`);

    for (const deadline = Date.now() + 20_000; ; await sleep(200)) {
      const described = new Set(h.describes.filter((d) => d.caller === "a").map((d) => d.binding));
      if (described.size === bindings.length) break;
      assert.ok(Date.now() < deadline, `the control plane described ${described.size} of 100`);
    }
    const alarms = overlappingGroups(h.describes.filter((d) => d.caller === "a")).map((g) => g.length);
    console.log(`# describe() calls per alarm: ${alarms}`);
    assert.ok(alarms.every((n) => n <= PER_ALARM), `describe() calls per alarm: ${alarms}`);
    const s = await h.status("b");
    assert.ok(s.backends.every((/** @type {any} */ b) => b.described), "B has all 100 in its catalog");
  } finally {
    await h.stop();
  }
});

// The worst case: the request that discovers also uses every attempt. With CONTROL_PLANE bound
// the core leaves discovery 32 - maxAttempts - 1 describe() calls per request (28): its attempts
// and its sync RPC make the rest.
test("with 100 backends a request that discovers and uses every attempt still invokes at most 32 Workers", async () => {
    const h = await startCluster({ bindings: BINDINGS });
    try {
      h.control.setAll(status(503));
      const r = await h.ask("b", { label: "worst" });
      await quiet(h);
      const invoked = h.control.callsFor(r.requestId).length + h.describes.filter((d) => d.caller === "b").length + 1;
      console.log(`# Workers invoked by a request that discovers and fails 3 attempts (+ 1 sync): ${invoked}`);
      assert.ok(invoked <= LIMIT, `${invoked} Workers invoked`);
    } finally {
      await h.stop();
    }
  });
