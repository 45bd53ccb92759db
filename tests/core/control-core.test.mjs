// The control plane through router.wasm and shims/wasm-core.js in plain Node: two isolates'
// RouterCores syncing through one ControlCore (docs/control-plane.md), the stored state across a
// restart, and a ControlCore recovering from a real trap with its last configuration and state.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { ControlCore, OUTCOME, END, RouterCore } from "../../shims/wasm-core.js";

const module = new WebAssembly.Module(readFileSync(fileURLToPath(new URL("../../build/wasm/router.wasm", import.meta.url))));
const T0 = 1_700_000_000_000;
const ENV = ["BACKEND_A", "BACKEND_B", "BACKEND_C", "CONTROL_PLANE"];
const ROUTER_CONFIG = JSON.stringify({ retry: { maxAttempts: 1 }, health: { consecutiveFailures: 2 } });
const DESCRIPTIONS = new Map(["BACKEND_A", "BACKEND_B", "BACKEND_C"].map((b) => [b, JSON.stringify({ name: b.toLowerCase(), models: ["m"] })]));
const encoder = new TextEncoder();
const chat = encoder.encode(JSON.stringify({ model: "m", messages: [{ role: "user", content: "hi" }] }));
const head = { method: "POST", path: "/v1/chat/completions", contentType: "application/json", contentLength: String(chat.length) };

function controlPlane(now = T0) {
  const cp = ControlCore.fromModule(module);
  const configured = cp.configure({ envNames: ENV, routerConfig: ROUTER_CONFIG }, now);
  assert.equal(configured.describeTimeoutMs, 5000, "the alarm's describe() bound comes from the core");
  assert.deepEqual(cp.discovery(now), ["BACKEND_A", "BACKEND_B", "BACKEND_C"]);
  cp.describe(DESCRIPTIONS, now);
  return cp;
}

function isolate(id) {
  const core = RouterCore.fromModule(module);
  core.configure({ envNames: ENV, routerConfig: ROUTER_CONFIG, isolateId: id }, T0);
  return core;
}

/** One sync of `core` through `cp`; false when none was due. */
function sync(core, cp, now) {
  const request = core.syncReport(now);
  if (!request) return false;
  assert.ok(core.syncAnswer(cp.sync(request.report, now), now));
  return true;
}

/** One request: the backend it was sent to, which answers with `outcome(binding)`. */
function serve(core, now, outcome, seed) {
  const { exchange } = core.begin(head, now, [seed, 1, 2, 3]);
  const call = core.body(exchange, chat, 0, now);
  assert.equal(call.kind, "call", JSON.stringify(call));
  core.outcome(exchange, outcome(call.binding), now);
  core.end(exchange, END.completed, null, now);
  return call.binding;
}

const status = (core, now) => {
  const { action } = core.begin({ method: "GET", path: "/status" }, now, [9, 9, 9, 9]);
  return JSON.parse(new TextDecoder().decode(action.body));
};

test("a backend isolate A ejects is avoided by isolate B, whose first sync brought the catalog", () => {
  const cp = controlPlane();
  const a = isolate("a");
  const b = isolate("b");
  const first = b.syncReport(T0);
  assert.equal(first?.waitMs, 50, "only the first sync may hold a request");
  assert.equal(first?.timeoutMs, 1000);
  assert.ok(b.syncAnswer(cp.sync(first.report, T0), T0));
  assert.ok(sync(a, cp, T0));
  const failing = (binding) => (binding === "BACKEND_A" ? { outcome: OUTCOME.threw } : { outcome: OUTCOME.json, status: 200 });
  let now = T0;
  for (let i = 0; status(a, now).backends[0].state !== "ejected"; i++) serve(a, (now += 10), failing, i + 1);
  now = T0 + 1000;
  assert.ok(sync(a, cp, now));
  assert.ok(sync(b, cp, now));
  const seen = new Set();
  for (let i = 0; i < 12; i++) seen.add(serve(b, now + i, failing, 100 + i));
  assert.deepEqual([...seen].sort(), ["BACKEND_B", "BACKEND_C"], "B never calls the backend A ejected");
  const cluster = status(b, now).cluster;
  assert.equal(cluster.controlPlane, "synced");
  assert.equal(cluster.isolates, 2);
  assert.equal(cluster.backends.find((x) => x.binding === "BACKEND_A").state, "ejected");
});

test("the stored state brings a restarted control plane back with its ejections and catalog", () => {
  const cp = controlPlane();
  const report = JSON.stringify({ isolate: "a", backends: { BACKEND_B: { ejectedUntil: T0 + 30000, timesEjected: 1 } } });
  cp.sync(report, T0);
  const state = cp.persist(T0);
  assert.ok(state, "changed state is given to store");
  assert.equal(cp.persist(T0 + 1), null, "at most once a second");
  const again = ControlCore.fromModule(module);
  again.configure({ envNames: ENV, routerConfig: ROUTER_CONFIG }, T0 + 5000);
  assert.ok(again.restore(state, T0 + 5000));
  const fresh = isolate("c");
  assert.ok(sync(fresh, again, T0 + 5000));
  const backends = status(fresh, T0 + 5000).backends;
  assert.equal(backends[1].state, "ejected");
  assert.ok(backends.every((x) => x.described), "the catalog came with the snapshot");
  assert.equal(again.restore("{broken", T0), false);
});

test("a trapped ControlCore starts again from its configuration and last state", () => {
  const cp = controlPlane();
  cp.sync(JSON.stringify({ isolate: "a", backends: { BACKEND_C: { cooldownUntil: T0 + 5000 } } }), T0);
  assert.ok(cp.persist(T0));
  const real = cp.core.exports.rt_control_sync;
  cp.core.exports = { ...cp.core.exports, rt_control_sync: (r, _p, len, now) => real(r, 0xfffffff0, 64 + len, now) };
  assert.throws(() => cp.sync("{}", T0 + 10), /could not answer/);
  assert.ok(cp.logs().some((line) => JSON.parse(line).event === "core_trapped"));
  const snapshot = JSON.parse(cp.sync(JSON.stringify({ isolate: "a", catalogVersion: 0 }), T0 + 20));
  assert.equal(snapshot.backends.BACKEND_C.cooldownUntil, T0 + 5000, "the stored cooldown survived");
  assert.deepEqual(Object.keys(snapshot.catalog ?? {}), ["BACKEND_A", "BACKEND_B", "BACKEND_C"]);
});

test("an unreachable control plane: the isolate routes alone and says so", () => {
  const core = isolate("a");
  core.describe(DESCRIPTIONS, T0);
  const request = core.syncReport(T0);
  assert.ok(request);
  core.syncFailed(T0 + 1000);
  assert.equal(core.syncAnswer("not a snapshot", T0 + 1000), false);
  assert.equal(status(core, T0 + 1000).cluster.controlPlane, "unreachable");
  assert.ok(core.logs().some((line) => JSON.parse(line).event === "control_plane_unreachable"));
  assert.equal(serve(core, T0 + 1001, () => ({ outcome: OUTCOME.json, status: 200 }), 5).startsWith("BACKEND_"), true);
});
