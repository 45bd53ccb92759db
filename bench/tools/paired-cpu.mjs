#!/usr/bin/env node
// Paired comparison of two orchestrator checkouts, for differences smaller than the round-to-round
// noise of bench/run.mjs. Each checkout's router runs in its own `workerd serve` (with its own
// copies of the backends), both on CPU 0, and both are loaded at the same time by their own wrk
// on CPU 1: whatever slows the machine during a round slows both. Prints, per concurrency, the
// median server CPU per request of each and the median and range of the per-round ratio B/A.
//   node bench/tools/paired-cpu.mjs <checkout A> <checkout B> [--service router] [--service-a S]
//        [--stream] [--connections 1,16] [--rounds 8] [--seconds 3]
// --service-a: A serves another service than B (e.g. `. . --service-a forwarder-3`: the router
// against its forwarder, paired).
// Each checkout needs its own build/wasm/router.wasm (scripts/build-wasm.sh run there) and
// node_modules (a symlink will do); see BENCHMARKS.md, "Commands".
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { parseArgs } from "node:util";
import { buildBeforeBundle, buildBenchBundles, compatibilityOf, requestBodies, BENCH_DIR, ROOT } from "../http/bundles.mjs";
import { cpuTimeMs, freePort, pinned, startProcess, stopAll } from "../http/processes.mjs";
import { workerdConfig } from "../http/workerd-config.mjs";
import { wrk } from "../http/wrk.mjs";
import { median } from "../report/median.mjs";

const { values: o, positionals: checkouts } = parseArgs({ allowPositionals: true, options: {
  service: { type: "string", default: "router" }, "service-a": { type: "string" }, stream: { type: "boolean", default: false },
  connections: { type: "string", default: "1,16" }, rounds: { type: "string", default: "8" }, seconds: { type: "string", default: "3" },
} });
if (checkouts.length !== 2) throw new Error("usage: node bench/tools/paired-cpu.mjs <checkout A> <checkout B> [options]");

/** One checkout's `service` in a workerd process of its own, on CPU 0. @param {any} built @param {string} dir @param {string} tag @param {string} service */
async function serve(built, dir, tag, service) {
  const orchestrator = await buildBeforeBundle(dir, `paired-${tag}`);
  const own = { ...built, orchestrator: { ...built.orchestrator, ...(await compatibilityOf(dir)) }, bundles: { ...built.bundles, orchestrator } };
  const port = await freePort();
  const file = path.join(BENCH_DIR, `paired-${tag}.capnp`);
  await writeFile(file, await workerdConfig(own, { [service]: port }, BENCH_DIR));
  const server = await startProcess(...pinned("server", path.join(ROOT, "node_modules/workerd/bin/workerd"), ["serve", file]),
    { logFile: path.join(BENCH_DIR, `logs/paired-${tag}.log`), ports: [port] });
  return { dir: `${dir} ${service}`, pid: /** @type {number} */ (server.child.pid), url: `http://127.0.0.1:${port}/v1/chat/completions` };
}

/** Both loaded at once for `seconds`: CPU µs per request and p50 of each. */
function round(servers, bodyFile, connections, seconds) {
  return Promise.all(servers.map(async (s) => {
    const before = cpuTimeMs(s.pid);
    const r = await wrk({ url: s.url, bodyFile, connections, seconds });
    if (r.errors) throw new Error(`${s.dir}: ${JSON.stringify(r.errorDetail)}`);
    return { cpu: ((cpuTimeMs(s.pid) - before) * 1000) / r.requests, p50: r.p50Us };
  }));
}

async function main() {
  const built = await buildBenchBundles();
  const servers = [await serve(built, checkouts[0], "a", o["service-a"] ?? o.service), await serve(built, checkouts[1], "b", o.service)];
  const bodyFile = path.join(BENCH_DIR, "paired-body.json");
  await writeFile(bodyFile, requestBodies(built)[o.stream ? "stream" : "plain"]);
  for (const c of o.connections.split(",").map(Number)) {
    await round(servers, bodyFile, c, 2); // warm-up
    const rows = [];
    for (let i = 0; i < Number(o.rounds); i++) rows.push(await round(servers, bodyFile, c, Number(o.seconds)));
    const ratios = rows.map(([a, b]) => b.cpu / a.cpu);
    const cpu = (/** @type {number} */ i) => median(rows.map((r) => r[i].cpu)).toFixed(0);
    console.log(`${o["service-a"] ? `${o["service-a"]} (A) vs ` : ""}${o.service}${o.stream ? " stream" : ""} c=${c}: CPU/request A ${cpu(0)} µs, B ${cpu(1)} µs; B/A per round: median ${median(ratios).toFixed(3)}, ` +
      `range ${Math.min(...ratios).toFixed(3)}-${Math.max(...ratios).toFixed(3)} (${rows.length} rounds of ${o.seconds} s); p50 ${median(rows.map((r) => r[0].p50))} vs ${median(rows.map((r) => r[1].p50))} µs`);
  }
}

try {
  await main();
} finally {
  stopAll();
}
