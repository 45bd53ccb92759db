// The control plane is down (docs/control-plane.md, "When the control plane is away"): its sync
// throws, or never answers (tests/fixture-workers/broken-control-plane.js). Both orchestrators
// keep serving every request, no request waits for the sync past the first one's short wait, and
// /status says "unreachable".
import assert from "node:assert/strict";
import { test } from "node:test";
import { startCluster } from "../support/cluster.mjs";
import { loggedEvents } from "../support/stack.mjs";
import { sleep } from "../support/fault-cases.mjs";

const TIMEOUT_MS = 1500;
// Far below the sync's timeout: a request that waited for a hanging sync would take longer.
const REQUEST_BOUND_MS = 1000;

for (const mode of ["throw", "hang"]) {
  test(`a control plane whose sync ${mode === "throw" ? "throws" : "hangs"}: both orchestrators serve every request, /status says "unreachable"`, async () => {
    const h = await startCluster({ bindings: ["BACKEND_A", "BACKEND_B"],
      routerConfig: { controlPlane: { timeoutMs: TIMEOUT_MS } },
      controlPlane: { script: "broken-control-plane.js", vars: { MODE: mode } } });
    try {
      /** @type {Record<string, number[]>} */
      const elapsed = { a: [], b: [] };
      const until = Date.now() + TIMEOUT_MS + 1200; // past the first sync's timeout, and a few intervals
      while (Date.now() < until) {
        for (const which of /** @type {const} */ (["a", "b"])) {
          const r = await h.ask(which, { label: `down-${mode}` });
          assert.equal(r.status, 200, r.text);
          elapsed[which].push(r.elapsed);
        }
        await sleep(150);
      }
      for (const which of /** @type {const} */ (["a", "b"])) {
        assert.ok(Math.max(...elapsed[which]) < REQUEST_BOUND_MS, `${which}: no request waited for the sync: ${elapsed[which]}`);
        const s = await h.status(which);
        assert.equal(s.cluster.controlPlane, "unreachable", JSON.stringify(s.cluster));
      }
      assert.ok(loggedEvents(h.stack.logs, "control_plane_unreachable").length >= 2, "each orchestrator logs it");
      console.log(`# ${mode}: slowest request ${Math.max(...elapsed.a, ...elapsed.b)} ms over ${elapsed.a.length + elapsed.b.length}`);
    } finally {
      await h.stop();
    }
  });
}
