// The routing-decision loop of bench/wasm/core-bench.mjs with no Node import, so the same code runs
// in Node (core-bench.mjs, bench/tools/decision-in-workerd.mjs) and in workerd
// (bench/workers/decision-bench.js). It needs no clock: the caller passes the `now` values (workerd
// freezes Date.now() during a request).
import { END, OUTCOME, RouterCore } from "../../shims/wasm-core.js";

export const T0 = 1_700_000_000_000;
/** How far simulated time moves per decision, in ms. */
export const STEP_MS = 0.01;

/** @param {number} n */
export const backendNames = (n) => Array.from({ length: n }, (_, i) => `BACKEND_${i}`);
/** describe() answers as the shim feeds them: binding -> the answer's JSON text. @param {string[]} bindings */
export const describeAnswers = (bindings) =>
  new Map(bindings.map((binding) => [binding, JSON.stringify({ name: `b${binding.slice(8)}`, models: ["m"] })]));
/** The 128 random bits begin() takes, from a counter (the shim draws them from the CSPRNG). */
export const randomWords = (/** @type {number} */ n) => Uint32Array.of(n >>> 0, 0x9e3779b1, n * 0x85ebca6b >>> 0, 7);

/**
 * A configured, discovered core with `backends` backends serving model "m".
 * @param {WebAssembly.Module} module @param {number} backends @param {any} [routerConfig]
 */
export function configuredCore(module, backends, routerConfig = null) {
  const core = RouterCore.fromModule(module);
  const result = core.configure({ routerConfig, envNames: backendNames(backends) }, T0);
  if (result.error || result.backends.length !== backends) throw new Error(`configure failed: ${JSON.stringify(result)}`);
  core.describe(describeAnswers(result.backends), T0);
  core.logs();
  return core;
}

/** An action of an exchange the core still has (it ends none of these: they never wait). @template T @param {T | null} action */
function live(action) {
  if (action === null) throw new Error("the core ended the exchange");
  return action;
}

/**
 * n routing decisions (begin, body, first CALL, outcome 200 with a JSON object body, FORWARD,
 * end, logs). Decision i runs at startNow + (i + 1) * STEP_MS (accumulated) with seed startSeed + i.
 * Throws when an action is not the expected one. Returns the sum of the chosen backends' indexes.
 * @param {RouterCore} core @param {Uint8Array} body @param {number} n @param {number} startNow @param {number} startSeed
 */
export function runDecisions(core, body, n, startNow, startSeed) {
  const head = { method: "POST", path: "/v1/chat/completions", contentType: "application/json",
    contentLength: String(body.length), requestId: "", authHash: "" };
  let now = startNow;
  let seed = startSeed;
  let checksum = 0;
  for (let i = 0; i < n; i++) {
    now += STEP_MS;
    const { exchange, action } = core.begin(head, now, randomWords(seed++));
    if (action.kind !== "read_body") throw new Error(`begin answered ${action.kind}`);
    let call = live(core.body(exchange, body, 0, now));
    if (call.kind === "discover") { // describe() due again (TTL passed): a real driver rediscovers
      core.describe(describeAnswers(call.bindings), now);
      call = live(core.resume(exchange, now));
    }
    if (call.kind !== "call") throw new Error(`body answered ${call.kind}`);
    checksum += call.backend;
    const forward = live(core.outcome(exchange, { outcome: OUTCOME.json, status: 200 }, now));
    if (forward.kind !== "forward") throw new Error(`outcome answered ${forward.kind}`);
    core.end(exchange, END.completed, null, now);
    core.logs();
  }
  return checksum;
}
