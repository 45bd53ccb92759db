#!/usr/bin/env node
// The benchmark suite (issue 6; method and results in BENCHMARKS.md):
//   1. core microbenchmarks: Google Benchmark natively (cpp/bench) and router.wasm through
//      shims/wasm-core.js in Node (bench/wasm/core-bench.mjs), per routing decision
//   2. size of the .wasm and of the orchestrator bundle; instantiation; first request vs warm
//   3. Wasm linear memory after 1 000 and 100 000 mixed requests
//   4. HTTP on loopback with wrk against plain `workerd serve` (direct, forwarder, the contract's
//      floor, router, each also streaming) and the peer @portkey-ai/gateway (vs its upstream
//      directly), interleaved rounds, median of round medians
// Everything runs on 127.0.0.1, in bounded time, and stops by itself.
//
//   node bench/run.mjs [--quick] [--write] [--only native,wasm,size,cold,http]
//     --quick  a smoke run (1 round of 1 s, few iterations): checks the suite, not the numbers
//     --write  replaces the results section of BENCHMARKS.md with this run's tables
//     --no-build  measures build/wasm/router.wasm as it is (default: scripts/build-wasm.sh first)
//     --before DIR  also serves the orchestrator of checkout DIR (its own router.wasm, built there) as
//                 router-before, router-1-before and router-stream-before: before and after in one run
//     --scenarios a,b  only these HTTP scenarios;  --rounds N, --seconds S  HTTP rounds and their length
import { execFile, execFileSync } from "node:child_process";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { cpus, loadavg } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { parseArgs } from "node:util";
import { gzipSync } from "node:zlib";
import { buildBeforeBundle, buildBenchBundles, bundleModules, compatibilityOf, requestBodies, BENCH_DIR, ROOT } from "./http/bundles.mjs";
import { coldStart } from "./http/cold-start.mjs";
import { cpuTimeMs, freePort, pinned, startProcess, stopAll } from "./http/processes.mjs";
import { workerdConfig } from "./http/workerd-config.mjs";
import { wrk } from "./http/wrk.mjs";
import { portkeyArgs, portkeyHeaders } from "./peer/portkey.mjs";
import { checkTargets } from "./report/targets.mjs";
import { renderReport } from "./report/render.mjs";
import { median } from "./report/median.mjs";

const run = promisify(execFile);
const { values: opts } = parseArgs({ options: {
  quick: { type: "boolean", default: false },
  write: { type: "boolean", default: false },
  only: { type: "string" },
  "no-build": { type: "boolean", default: false },
  before: { type: "string" },
  scenarios: { type: "string" },
  rounds: { type: "string" },
  seconds: { type: "string" },
} });
const QUICK = opts.quick;
const PARTS = new Set((opts.only ?? "native,wasm,size,cold,http").split(","));
const WORKERD = path.join(ROOT, "node_modules/workerd/bin/workerd");
const LOG_DIR = path.join(BENCH_DIR, "logs");
const HTTP = QUICK ? { rounds: 1, seconds: 1, warmupSeconds: 1 } : { rounds: 5, seconds: 4, warmupSeconds: 1 };
if (opts.rounds) HTTP.rounds = Number(opts.rounds);
if (opts.seconds) HTTP.seconds = Number(opts.seconds);
// Nothing may run away: the whole suite is bounded (the default run takes about 10 minutes; more
// rounds or seconds than the default's 5 x 4 s allow proportionally more).
const HARD_LIMIT_MS = (QUICK ? 5 : 14 * Math.max(1, (HTTP.rounds * HTTP.seconds) / 20)) * 60_000;
setTimeout(() => { console.error(`bench: over ${HARD_LIMIT_MS / 60_000} minutes, stopping`); stopAll(); process.exit(2); }, HARD_LIMIT_MS).unref();

const log = (/** @type {string} */ msg) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}`);

function machine() {
  const cpuModel = cpus()[0]?.model ?? "unknown";
  // `wrk -v` prints its version and exits 1, hence the output of a failed run counts too.
  const version = (cmd, args) => {
    let text;
    try { text = execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }); } catch (e) { text = `${e.stdout ?? ""}${e.stderr ?? ""}`; }
    return text.split("\n")[0].trim() || "unknown";
  };
  return { nproc: cpus().length, cpuModel, node: process.version, workerd: version(WORKERD, ["--version"]),
    wrk: version("wrk", ["-v"]).replace(/ Copyright.*/, ""), loadAvg: loadavg().map((x) => Number(x.toFixed(2))) };
}

/** The short commit of a checkout, with "+" when its tree has changes. @param {string} dir */
function gitCommit(dir) {
  const git = (/** @type {string[]} */ args) => execFileSync("git", ["-C", dir, ...args], { encoding: "utf8" }).trim();
  try {
    return `${git(["rev-parse", "--short", "HEAD"])}${git(["status", "--porcelain", "--untracked-files=no"]) ? "+" : ""}`;
  } catch {
    return "unknown";
  }
}

/** Google Benchmark, native Release build of cpp/bench; median over repetitions. */
async function nativeBench() {
  const build = path.join(ROOT, "build/bench-native");
  log("native: cmake build of cpp/bench (Release)");
  await run("cmake", ["-S", ROOT, "-B", build, "-DCMAKE_BUILD_TYPE=Release", "-DROUTER_BUILD_BENCHMARKS=ON", "-DROUTER_BUILD_TESTS=OFF"]);
  await run("cmake", ["--build", build, "--target", "router_bench", "-j", "2"], { maxBuffer: 16 << 20 });
  log("native: running router_bench");
  const { stdout } = await run(path.join(build, "cpp/bench/router_bench"), [
    "--benchmark_format=json", `--benchmark_min_time=${QUICK ? 0.05 : 0.5}`,
    `--benchmark_repetitions=${QUICK ? 1 : 5}`, "--benchmark_report_aggregates_only=false",
  ], { maxBuffer: 16 << 20 });
  const runs = JSON.parse(stdout).benchmarks.filter((b) => b.run_type === "iteration");
  const byName = Map.groupBy ? Map.groupBy(runs, (b) => b.run_name) : groupBy(runs, (b) => b.run_name);
  return [...byName.entries()].map(([name, reps]) => {
    const [, backends, body] = name.match(/backends:(\d+)\/body:(\d+)/);
    return { backends: Number(backends), bodyBytes: Number(body), medianUs: median(reps.map((r) => r.real_time)) };
  });
}

/** @template T @param {T[]} xs @param {(x: T) => string} key */
function groupBy(xs, key) {
  const m = new Map();
  for (const x of xs) m.set(key(x), [...(m.get(key(x)) ?? []), x]);
  return m;
}

/** The Node harness on router.wasm, in its own process (a fresh V8 heap and JIT). */
async function wasmBench() {
  log("wasm: decisions, instantiation and memory through shims/wasm-core.js");
  const args = [path.join(ROOT, "bench/wasm/core-bench.mjs"), "--json", ...(QUICK ? ["--quick"] : [])];
  const { stdout } = await run(process.execPath, args, { maxBuffer: 16 << 20 });
  return JSON.parse(stdout);
}

async function sizes(built) {
  const gz = (buf) => gzipSync(buf, { level: 9 }).length;
  const wasm = await readFile(path.join(ROOT, "build/wasm/router.wasm"));
  const files = await Promise.all((await bundleModules(built.bundles.orchestrator)).map(async (m) => {
    const bytes = await readFile(m.file);
    return { name: m.name, raw: bytes.length, gzip: gz(bytes) };
  }));
  return {
    wasm: { raw: wasm.length, gzip: gz(wasm) },
    bundle: { files, raw: files.reduce((a, f) => a + f.raw, 0), gzip: files.reduce((a, f) => a + f.gzip, 0) },
  };
}


/**
 * Interleaved rounds of every scenario at every concurrency: the median per scenario of wrk's
 * figures and of the servers' CPU time per request (user + system, from /proc: a measure of cost
 * that other load on the machine disturbs much less than latency), with the CPU range over rounds.
 * @param {{name: string, url: string, body: "plain"|"stream", servers: number[], headers?: Record<string, string>}[]} scenarios
 * @param {number[]} connections @param {{plain: string, stream: string}} bodyFiles
 */
async function measureRounds(scenarios, connections, bodyFiles) {
  const measure = async (s, c, seconds) => {
    const cpuBefore = s.servers.reduce((a, pid) => a + cpuTimeMs(pid), 0);
    const r = await wrk({ url: s.url, bodyFile: bodyFiles[s.body], connections: c, seconds, headers: s.headers });
    const cpuMs = s.servers.reduce((a, pid) => a + cpuTimeMs(pid), 0) - cpuBefore;
    return { ...r, cpuUsPerRequest: (cpuMs * 1000) / Math.max(1, r.requests) };
  };
  log(`http: warm-up, ${HTTP.warmupSeconds} s per scenario and concurrency`);
  for (const s of scenarios) for (const c of connections) await measure(s, c, HTTP.warmupSeconds);
  /** @type {Record<string, {p50Us: number, p99Us: number, rps: number, errors: number, cpuUsPerRequest: number}[]>} */
  const samples = {};
  for (let round = 0; round < HTTP.rounds; round++) {
    // Rotate the order each round so slow drift (other load, thermal) spreads over all scenarios.
    const order = scenarios.map((_, i) => scenarios[(i + round) % scenarios.length]);
    log(`http: round ${round + 1}/${HTTP.rounds} (${order.length * connections.length} runs of ${HTTP.seconds} s)`);
    for (const c of connections) {
      for (const s of order) {
        const r = await measure(s, c, HTTP.seconds);
        if (r.errors) throw new Error(`${s.name} c=${c}: ${JSON.stringify(r.errorDetail)} errors in ${r.requests} requests`);
        (samples[`${s.name}@${c}`] ??= []).push(r);
      }
    }
  }
  const results = {};
  for (const [key, rs] of Object.entries(samples)) {
    const [name, c] = key.split("@");
    const cpu = rs.map((r) => r.cpuUsPerRequest);
    (results[name] ??= {})[c] = { p50Us: median(rs.map((r) => r.p50Us)), p99Us: median(rs.map((r) => r.p99Us)),
      rps: median(rs.map((r) => r.rps)), cpuUsPerRequest: median(cpu), cpuMin: Math.min(...cpu), cpuMax: Math.max(...cpu), rounds: rs.length };
  }
  return results;
}

/**
 * The HTTP scenarios: name, URL, body, and the processes whose CPU time its requests consume.
 * `before` adds the other checkout's routers; `only` keeps the named scenarios.
 * @param {Record<string, number>} ports @param {string} upstreamBase @param {number} portkeyPort
 * @param {{workerd: number[], upstream: number[], portkey: number[]}} pids @param {string[] | null} only
 */
function httpScenarios(ports, upstreamBase, portkeyPort, pids, only) {
  const chat = "/v1/chat/completions";
  const local = (/** @type {string} */ name, /** @type {string} */ service, /** @type {"plain"|"stream"} */ body) =>
    ({ name, url: `http://127.0.0.1:${ports[service]}${chat}`, body, servers: pids.workerd });
  /** @type {{name: string, url: string, body: "plain"|"stream", servers: number[], headers?: Record<string, string>}[]} */
  const scenarios = [
    local("direct", "direct", "plain"), local("forwarder", "forwarder", "plain"), local("forwarder-3", "forwarder-3", "plain"),
    local("floor", "floor", "plain"), local("floor-3", "floor-3", "plain"), local("router", "router", "plain"), local("router-alone", "router-alone", "plain"), local("router-1", "router-1", "plain"),
    local("direct-stream", "direct", "stream"), local("forwarder-stream", "forwarder", "stream"), local("floor-stream", "floor-3", "stream"),
    local("router-stream", "router", "stream"),
    { name: "peer-direct", url: `${upstreamBase}/chat/completions`, body: "plain", servers: pids.upstream },
    { name: "peer-portkey", url: `http://127.0.0.1:${portkeyPort}${chat}`, body: "plain", servers: pids.portkey, headers: portkeyHeaders(upstreamBase) },
  ];
  if (ports["router-before"]) {
    scenarios.push(local("router-before", "router-before", "plain"), local("router-1-before", "router-1-before", "plain"),
      local("router-stream-before", "router-before", "stream"));
  }
  return only ? scenarios.filter((s) => only.includes(s.name)) : scenarios;
}

async function httpBench(built, bodies) {
  const dir = BENCH_DIR;
  const services = ["direct", "forwarder", "forwarder-3", "floor", "floor-3", "router", "router-alone", "router-1", ...(built.bundles.before ? ["router-before", "router-1-before"] : [])];
  /** @type {Record<string, number>} */
  const ports = {};
  for (const service of services) ports[service] = await freePort();
  const upstreamPort = await freePort();
  const portkeyPort = await freePort();
  const configFile = path.join(dir, "workerd.capnp");
  await writeFile(configFile, await workerdConfig(built, ports, dir));
  const bodyFiles = { plain: path.join(dir, "body.json"), stream: path.join(dir, "body-stream.json") };
  await writeFile(bodyFiles.plain, bodies.plain);
  await writeFile(bodyFiles.stream, bodies.stream);

  log(`http: workerd serve (${Object.entries(ports).map(([k, v]) => `${k} :${v}`).join(", ")}), echo upstream :${upstreamPort}, portkey :${portkeyPort}`);
  const workerd = await startProcess(...pinned("server", WORKERD, ["serve", configFile]), { logFile: path.join(LOG_DIR, "workerd.log"), ports: Object.values(ports) });
  const upstream = await startProcess(...pinned("server", process.execPath, [path.join(ROOT, "bench/peer/echo-upstream.mjs"), String(upstreamPort)]),
    { logFile: path.join(LOG_DIR, "echo-upstream.log"), ports: [upstreamPort] });
  const portkey = await startProcess(...pinned("server", process.execPath, portkeyArgs(portkeyPort)), { logFile: path.join(LOG_DIR, "portkey.log"), ports: [portkeyPort], timeoutMs: 30_000 });
  const servers = [workerd, upstream, portkey];
  const pids = { workerd: [workerd.child.pid], upstream: [upstream.child.pid], portkey: [portkey.child.pid, upstream.child.pid] };
  const upstreamBase = `http://127.0.0.1:${upstreamPort}/v1`;
  const scenarios = httpScenarios(ports, upstreamBase, portkeyPort, pids, opts.scenarios ? opts.scenarios.split(",") : null);
  try {
    // Every scenario must answer 200 before anything is timed.
    for (const s of scenarios) {
      const res = await fetch(s.url, { method: "POST", headers: { "content-type": "application/json", ...s.headers }, body: bodies[s.body] });
      const text = await res.text();
      if (res.status !== 200) throw new Error(`${s.name} answered ${res.status}: ${text.slice(0, 300)}`);
    }
    const connections = [1, 16];
    const results = await measureRounds(scenarios, connections, bodyFiles);
    return { rounds: HTTP.rounds, seconds: HTTP.seconds, connections, results };
  } finally {
    for (const s of servers) await s.stop();
  }
}

async function main() {
  const started = Date.now();
  await mkdir(LOG_DIR, { recursive: true });
  const result = { date: new Date().toISOString(), quick: QUICK, machine: machine() };
  log(`machine: ${result.machine.nproc} CPUs (${result.machine.cpuModel}), load ${result.machine.loadAvg.join(" ")}`);
  if (!opts["no-build"]) {
    log("build: router.wasm (scripts/build-wasm.sh)");
    await run(path.join(ROOT, "scripts/build-wasm.sh"), [], { maxBuffer: 16 << 20 });
  }

  if (PARTS.has("native")) result.native = await nativeBench();
  if (PARTS.has("wasm")) result.wasm = await wasmBench();
  if (PARTS.has("size") || PARTS.has("cold") || PARTS.has("http")) {
    log("build: rendered configs and wrangler dry-run bundles");
    const built = await buildBenchBundles();
    if (opts.before) {
      log(`build: the orchestrator of ${opts.before} (router-before)`);
      built.bundles.before = await buildBeforeBundle(opts.before);
      built.beforeCompatibility = await compatibilityOf(opts.before);
      result.before = { dir: opts.before, commit: gitCommit(opts.before), after: gitCommit(ROOT) };
    }
    const bodies = requestBodies(built);
    if (PARTS.has("size")) result.size = await sizes(built);
    if (PARTS.has("cold")) {
      log("cold: first request vs warm on fresh workerd processes");
      const trials = QUICK ? 1 : 5;
      result.cold = [];
      for (const service of /** @type {const} */ (["router", "forwarder"])) {
        result.cold.push(await coldStart({ built, service, workerd: WORKERD, dir: BENCH_DIR, body: bodies.plain, trials, warm: QUICK ? 5 : 30 }));
      }
    }
    if (PARTS.has("http")) result.http = await httpBench(built, bodies);
  }
  result.machine.loadAvgAfter = loadavg().map((x) => Number(x.toFixed(2)));
  result.durationS = Math.round((Date.now() - started) / 1000);
  result.targets = checkTargets(result);

  await writeFile(path.join(BENCH_DIR, "results.json"), JSON.stringify(result, null, 2));
  const report = renderReport(result);
  await writeFile(path.join(BENCH_DIR, "results.md"), report);
  console.log(report);
  if (opts.write) await writeBenchmarksMd(report);
  log(`done in ${result.durationS} s; build/bench/results.{json,md}${opts.write ? ", BENCHMARKS.md" : ""}`);
}

const START = "<!-- bench:results:start -->";
const END = "<!-- bench:results:end -->";
/** Replaces the generated section of BENCHMARKS.md. @param {string} report */
async function writeBenchmarksMd(report) {
  const file = path.join(ROOT, "BENCHMARKS.md");
  const text = await readFile(file, "utf8");
  const a = text.indexOf(START);
  const b = text.indexOf(END);
  if (a < 0 || b < a) throw new Error(`BENCHMARKS.md has no ${START} ... ${END} section`);
  await writeFile(file, `${text.slice(0, a + START.length)}\n${report}\n${text.slice(b)}`);
}

try {
  await main();
} finally {
  stopAll();
}
