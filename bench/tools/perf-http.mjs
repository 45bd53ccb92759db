#!/usr/bin/env node
// Where a Worker's CPU per request goes, as the whole workerd process spends it: `perf record` of
// one `workerd serve` (V8 writing its JIT symbols, --perf-basic-prof) while wrk loads one service
// at a time. Unlike the V8 profiler (bench/tools/profile-http.mjs), it sees the runtime's C++
// (HTTP, RPC, jsg bindings), V8's own runtime and GC, the kernel and the Wasm code, and it does not
// charge the backends' isolates to the router's frames. Prints µs per request by category, and
// the symbols whose µs per request differ most between the first service and each other one.
//   node bench/tools/perf-http.mjs [--services forwarder-3,router] [--stream] [--connections 1]
//        [--rounds 3] [--seconds 3] [--top 40]
// Needs `perf` (apt linux-perf) and perf_event access (root, or kernel.perf_event_paranoid <= 1).
import { execFile } from "node:child_process";
import { rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { parseArgs } from "node:util";
import { buildBenchBundles, requestBodies, BENCH_DIR, ROOT } from "../http/bundles.mjs";
import { cpuTimeMs, freePort, pinned, startProcess, stopAll } from "../http/processes.mjs";
import { workerdConfig } from "../http/workerd-config.mjs";
import { wrk } from "../http/wrk.mjs";
import { median } from "../report/median.mjs";

const run = promisify(execFile);
const { values: o } = parseArgs({ options: {
  services: { type: "string", default: "forwarder-3,router" }, stream: { type: "boolean", default: false },
  connections: { type: "string", default: "1" }, rounds: { type: "string", default: "3" },
  seconds: { type: "string", default: "3" }, top: { type: "string", default: "40" },
} });
const services = o.services.split(",");

/** The category of a sampled symbol (dso as perf names it). @param {string} dso @param {string} sym */
function category(dso, sym) {
  if (dso.includes("kernel")) return "kernel";
  // V8 names Wasm code `JS:<name or wasm-function[i]>-<i>-<tier>`, JavaScript `JS:*'name file:line`.
  if (dso.startsWith("[JIT]")) return /-\d+-(turbofan|liftoff)$/.test(sym) ? "wasm (JIT)" : "JS (JIT)";
  if (!dso.startsWith("workerd")) return `other (${dso})`;
  if (/^Builtins_/.test(sym)) return /Wasm|JSToWasm|WasmTo/.test(sym) ? "wasm (builtins)" : "V8 builtins";
  if (/Heap|Scaveng|MarkCompact|Sweep|Marking|Evacuat|GC|Minor|Concurrent|Allocation/.test(sym)) return "V8 GC and allocation";
  if (/^v8::|^v8_inspector|^cppgc|^Runtime_|^unibrow/.test(sym)) return /wasm/i.test(sym) ? "wasm (V8 runtime)" : "V8 runtime";
  if (/^workerd::/.test(sym)) return "workerd C++";
  if (/^kj::|^capnp::/.test(sym)) return "kj and capnp";
  return "workerd other";
}

/**
 * Samples of one perf.data by dso and symbol. @param {string} file
 * @returns {Promise<Map<string, {dso: string, sym: string, share: number}>>} share of all samples
 */
async function report(file) {
  const { stdout } = await run("perf", ["report", "-i", file, "--no-children", "--sort", "dso,sym", "--stdio", "-q", "--percent-limit", "0", "-t", "\t"],
    { maxBuffer: 1 << 28 });
  const rows = new Map();
  for (const line of stdout.split("\n")) {
    const m = /^\s*([\d.]+)%\s*\t([^\t]+?)\s*\t\[[^\]]+\]\s+(.*)$/.exec(line);
    if (!m) continue;
    const [, pct, dso, sym] = m;
    const key = `${dso} ${sym.trim()}`;
    const prev = rows.get(key);
    rows.set(key, { dso, sym: sym.trim(), share: (prev?.share ?? 0) + Number(pct) / 100 });
  }
  return rows;
}

/**
 * One service loaded for `seconds` under perf: µs per request by symbol key.
 * @param {number} pid @param {string} url @param {string} bodyFile @param {number} connections @param {number} seconds @param {string} tag
 */
async function measure(pid, url, bodyFile, connections, seconds, tag) {
  const file = path.join(BENCH_DIR, `perf-${tag}.data`);
  const before = cpuTimeMs(pid);
  const recording = run("perf", ["record", "-F", "2999", "-p", String(pid), "-o", file, "--", "sleep", String(seconds + 0.5)]);
  const r = await wrk({ url, bodyFile, connections, seconds });
  const cpuUs = (cpuTimeMs(pid) - before) * 1000; // the load's CPU (perf's last half second is idle)
  await recording;
  if (r.errors) throw new Error(`${url}: ${JSON.stringify(r.errorDetail)}`);
  const perRequest = new Map();
  for (const [key, row] of await report(file)) perRequest.set(key, { ...row, us: (row.share * cpuUs) / r.requests });
  return { cpu: cpuUs / r.requests, perRequest };
}

/** @type {string | null} */
let perfMap = null;

async function main() {
  const built = await buildBenchBundles();
  const ports = Object.fromEntries(await Promise.all(services.map(async (s) => [s, await freePort()])));
  const file = path.join(BENCH_DIR, "perf.capnp");
  await writeFile(file, await workerdConfig(built, ports, BENCH_DIR, { v8Flags: ["--perf-basic-prof", "--no-logfile-per-isolate", "--logfile=/dev/null"] }));
  const server = await startProcess(...pinned("server", path.join(ROOT, "node_modules/workerd/bin/workerd"), ["serve", file]),
    { logFile: path.join(BENCH_DIR, "logs/perf.log"), ports: Object.values(ports) });
  const pid = /** @type {number} */ (server.child.pid);
  perfMap = `/tmp/perf-${pid}.map`; // V8's JIT symbols, which perf report reads: removed at the end
  const bodyFile = path.join(BENCH_DIR, "perf-body.json");
  await writeFile(bodyFile, requestBodies(built)[o.stream ? "stream" : "plain"]);
  const c = Number(o.connections);
  const url = (/** @type {string} */ s) => `http://127.0.0.1:${ports[s]}/v1/chat/completions`;
  for (const s of services) await wrk({ url: url(s), bodyFile, connections: c, seconds: 3 }); // warm-up
  /** @type {Record<string, Awaited<ReturnType<typeof measure>>[]>} */
  const rounds = Object.fromEntries(services.map((s) => [s, []]));
  for (let i = 0; i < Number(o.rounds); i++) {
    for (const s of services) rounds[s].push(await measure(pid, url(s), bodyFile, c, Number(o.seconds), `${s}-${i}`));
  }
  print(rounds, c);
}

/** Medians over rounds, by category and by symbol. */
function print(rounds, c) {
  /** @param {string} s @param {(row: {dso: string, sym: string}) => string} keyOf */
  const totals = (s, keyOf) => {
    const perRound = rounds[s].map((r) => {
      const sums = new Map();
      for (const row of r.perRequest.values()) sums.set(keyOf(row), (sums.get(keyOf(row)) ?? 0) + row.us);
      return sums;
    });
    const keys = new Set(perRound.flatMap((sums) => [...sums.keys()]));
    return new Map([...keys].map((k) => [k, median(perRound.map((sums) => sums.get(k) ?? 0))]));
  };
  const cat = (/** @type {{dso: string, sym: string}} */ row) => category(row.dso, row.sym);
  const sym = (/** @type {{dso: string, sym: string}} */ row) => `${row.dso.startsWith("[JIT]") ? "[JIT]" : row.dso} ${row.sym}`; // [JIT] tid N: one name
  console.log(`perf: ${o.stream ? "streamed" : "JSON"} requests, c=${c}, ${o.rounds} rounds of ${o.seconds} s, µs of CPU per request (median over rounds)`);
  const byCat = services.map((s) => totals(s, cat));
  const cats = [...new Set(byCat.flatMap((m) => [...m.keys()]))].sort((a, b) => (byCat.at(-1).get(b) ?? 0) - (byCat.at(-1).get(a) ?? 0));
  console.log(`\n| category | ${services.join(" | ")} |\n|---|${services.map(() => "---|").join("")}`);
  console.log(`| all (from /proc) | ${services.map((s) => median(rounds[s].map((r) => r.cpu)).toFixed(0)).join(" | ")} |`);
  for (const k of cats) console.log(`| ${k} | ${byCat.map((m) => (m.get(k) ?? 0).toFixed(1)).join(" | ")} |`);
  const bySym = services.map((s) => totals(s, sym));
  for (let i = 1; i < services.length; i++) {
    const keys = new Set([...bySym[0].keys(), ...bySym[i].keys()]);
    const diffs = [...keys].map((k) => ({ k, a: bySym[0].get(k) ?? 0, b: bySym[i].get(k) ?? 0 })).sort((x, y) => Math.abs(y.b - y.a) - Math.abs(x.b - x.a));
    console.log(`\n${services[i]} minus ${services[0]}, largest symbols (µs per request):`);
    for (const d of diffs.slice(0, Number(o.top))) console.log(`${(d.b - d.a).toFixed(1).padStart(7)}  ${d.a.toFixed(1).padStart(6)} -> ${d.b.toFixed(1).padStart(6)}  ${d.k.slice(0, 150)}`);
  }
}

try {
  await main();
} finally {
  stopAll();
  if (perfMap) await rm(perfMap, { force: true });
}
