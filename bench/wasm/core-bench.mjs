// Benchmarks router.wasm through shims/wasm-core.js in Node, i.e. including the JS<->Wasm
// marshalling the orchestrator pays: one routing decision (begin, body, first CALL, outcome 200
// with a JSON object body, FORWARD, end, logs), instantiation (Instance + _initialize + configure), and linear memory
// under a long mixed load. Run: node bench/wasm/core-bench.mjs [--quick] [--json]
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { END, OUTCOME, RouterCore } from "../../shims/wasm-core.js";
import { chatBody } from "./chat-body.mjs";
import { backendNames, configuredCore, describeAnswers, randomWords, runDecisions, STEP_MS, T0 } from "./decision-loop.mjs";

export { configuredCore };

export const WASM_PATH = fileURLToPath(new URL("../../build/wasm/router.wasm", import.meta.url));
const encoder = new TextEncoder();
// A forwarded stream's last bytes: it must end with its [DONE] line or the core counts it failed.
const STREAM_TAIL = encoder.encode('data: {"choices":[]}\n\ndata: [DONE]\n\n');

/** @param {number[]} xs */
function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}
/** @param {number[]} xs @param {number} q */
function quantile(xs, q) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}

export function loadModule(path = WASM_PATH) {
  return new WebAssembly.Module(readFileSync(path));
}

/**
 * Median time of one routing decision, in µs, each iteration timed on its own after a warm-up.
 * @param {WebAssembly.Module} module @param {number} backends @param {number} bodySize
 * @param {{iterations: number, warmup: number}} counts
 */
export function benchDecision(module, backends, bodySize, { iterations, warmup }) {
  const core = configuredCore(module, backends);
  const body = encoder.encode(chatBody(bodySize));
  let now = T0;
  let seed = 1;
  const samples = new Float64Array(iterations);
  for (let i = -warmup; i < iterations; i++) {
    const start = process.hrtime.bigint();
    runDecisions(core, body, 1, now, seed);
    const ns = Number(process.hrtime.bigint() - start);
    now += STEP_MS;
    seed++;
    if (i >= 0) samples[i] = ns / 1000;
  }
  const xs = Array.from(samples);
  return { backends, bodyBytes: body.length, iterations, medianUs: median(xs), p99Us: quantile(xs, 0.99) };
}

/**
 * Time to a usable core in a new isolate: new WebAssembly.Instance + _initialize + rt_router_new
 * (RouterCore.fromModule) + configure with 3 backends. Compilation is listed apart: workerd
 * receives an already compiled module.
 */
export function benchInstantiation(module, { iterations }) {
  const compileSamples = [];
  const bytes = readFileSync(WASM_PATH);
  for (let i = 0; i < Math.min(20, iterations); i++) {
    const t = process.hrtime.bigint();
    new WebAssembly.Module(bytes);
    compileSamples.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  const samples = [];
  for (let i = 0; i < iterations + 5; i++) {
    const t = process.hrtime.bigint();
    const core = RouterCore.fromModule(module);
    core.configure({ routerConfig: null, envNames: backendNames(3) }, T0);
    const ms = Number(process.hrtime.bigint() - t) / 1e6;
    if (i >= 5) samples.push(ms);
  }
  return { medianMs: median(samples), p99Ms: quantile(samples, 0.99), compileMedianMs: median(compileSamples) };
}

/**
 * Drives `total` requests through one core with a mix of outcomes, several exchanges in flight,
 * simulated time (so describe() expiry, waits, ejections and recoveries all happen), and records
 * the linear memory size at the checkpoints.
 */
export function memoryUnderLoad(module, { total, checkpoints }) {
  const BACKENDS = 3;
  const core = configuredCore(module, BACKENDS);
  const bodies = [chatBody(1024), chatBody(8 * 1024), chatBody(1024, true)].map((b) => encoder.encode(b));
  const broken = encoder.encode('{"model":"m","messages":[');
  const unknownModel = encoder.encode('{"model":"nope","messages":[{"role":"user","content":"hi"}]}');
  const head = { method: "POST", path: "/v1/chat/completions", contentType: "application/json" };
  const kinds = {};
  const sizes = {};
  let now = T0;
  let seed = 1;
  let rng = 12345;
  const random = () => ((rng = (rng * 1103515245 + 12345) >>> 0) / 2 ** 32);
  // What a backend answers on one attempt: mostly 200 (a stream when one was asked for), some
  // throws, 503s, 429s, 401s (retried) and timeouts, a few answers without a body.
  const attemptOutcome = (/** @type {boolean} */ stream) => {
    const r = random();
    if (r < 0.80) return { outcome: stream ? OUTCOME.stream : OUTCOME.json, status: 200 };
    if (r < 0.86) return { outcome: OUTCOME.threw };
    if (r < 0.90) return { outcome: OUTCOME.json, status: 503 };
    if (r < 0.93) return { outcome: OUTCOME.json, status: 429, retryAfter: "1" };
    if (r < 0.94) return { outcome: OUTCOME.json, status: 401 };
    if (r < 0.96) return { outcome: OUTCOME.timedOut };
    if (r < 0.97) return { outcome: OUTCOME.noBody, status: stream ? 200 : 400 };
    return { outcome: OUTCOME.json, status: 400 };
  };
  /** @type {{exchange: number, action: any}[]} */
  let inFlight = [];
  const checkpointSet = new Set(checkpoints);
  for (let n = 1; n <= total; n++) {
    now += 1;
    const r = random();
    const bytes = r < 0.03 ? broken : r < 0.05 ? unknownModel : bodies[n % bodies.length];
    const { exchange, action } = core.begin({ ...head, contentLength: String(bytes.length) }, now, randomWords(seed++));
    let next = action.kind === "read_body" ? core.body(exchange, bytes, 0, now) : action;
    inFlight.push({ exchange, action: next });
    // Advance every exchange in flight by one step; keep up to 8 open at once.
    const still = [];
    for (const entry of inFlight) {
      let a = entry.action;
      for (let steps = 0; steps < 2 && inFlight.length > 8 - steps; steps++) {
        if (a.kind === "discover") {
          if (a.bindings.length) core.describe(describeAnswers(a.bindings), now);
          a = core.resume(entry.exchange, now);
        } else if (a.kind === "wait") {
          a = core.resume(entry.exchange, Math.max(now, a.until));
        } else if (a.kind === "call") {
          a = core.outcome(entry.exchange, attemptOutcome(a.stream), now);
        } else break;
      }
      if (a.kind === "reply" || a.kind === "forward" || a.kind === "error") {
        kinds[a.kind === "forward" ? "forward" : `${a.kind}_${a.status}`] = (kinds[a.kind === "forward" ? "forward" : `${a.kind}_${a.status}`] ?? 0) + 1;
        const stream = a.kind === "forward" && a.headers["content-type"] === "text/event-stream";
        if (stream && random() < 0.02) core.end(entry.exchange, END.upstreamFailed, null, now);
        else core.end(entry.exchange, END.completed, stream ? STREAM_TAIL : null, now);
      } else {
        still.push({ exchange: entry.exchange, action: a });
      }
    }
    inFlight = still;
    core.logs();
    if (checkpointSet.has(n)) sizes[n] = core.memory.buffer.byteLength;
  }
  // Drain what is left so the run ends clean.
  for (const entry of inFlight) core.end(entry.exchange, END.clientGone, null, now);
  return { sizes, outcomes: kinds };
}

async function main() {
  const { values } = parseArgs({ options: { quick: { type: "boolean" }, json: { type: "boolean" } } });
  const quick = Boolean(values.quick);
  const module = loadModule();
  const decisions = [];
  for (const backends of [3, 16, 128]) {
    for (const size of [1024, 100 * 1024]) {
      const small = size <= 1024;
      const counts = quick ? { iterations: small ? 2000 : 50, warmup: small ? 500 : 10 }
        : { iterations: small ? 20000 : 400, warmup: small ? 5000 : 50 };
      decisions.push(benchDecision(module, backends, size, counts));
    }
  }
  const instantiation = benchInstantiation(module, { iterations: quick ? 50 : 500 });
  const memory = memoryUnderLoad(module, { total: quick ? 10_000 : 100_000, checkpoints: quick ? [1000, 10_000] : [1000, 10_000, 100_000] });
  const result = { decisions, instantiation, memory };
  if (values.json) {
    console.log(JSON.stringify(result, null, 2));
    return;
  }
  console.log("routing decision through wasm-core.js (µs):");
  for (const d of decisions) console.log(`  ${String(d.backends).padStart(3)} backends, ${String(d.bodyBytes).padStart(6)} B body: median ${d.medianUs.toFixed(2)}  p99 ${d.p99Us.toFixed(2)}`);
  console.log(`instantiation + configure: median ${instantiation.medianMs.toFixed(3)} ms (compile ${instantiation.compileMedianMs.toFixed(2)} ms)`);
  console.log(`linear memory: ${JSON.stringify(memory.sizes)} outcomes ${JSON.stringify(memory.outcomes)}`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
