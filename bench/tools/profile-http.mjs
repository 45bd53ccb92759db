#!/usr/bin/env node
// V8 CPU profile of one bench service under wrk load, self time per request by function: where
// the router's own CPU goes (BENCHMARKS.md, "Where the router's CPU goes").
//   node bench/tools/profile-http.mjs [--service router] [--body plain|stream] [--connections 1] [--seconds 8] [--top 30]
// Serves the same bundles and workerd config as `bench/run.mjs --only http` (build/wasm/router.wasm
// as it is), with the inspector on; writes build/bench/<service>.cpuprofile.
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { parseArgs } from "node:util";
import { buildBenchBundles, requestBodies, BENCH_DIR, ROOT } from "../http/bundles.mjs";
import { freePort, startProcess, stopAll } from "../http/processes.mjs";
import { workerdConfig } from "../http/workerd-config.mjs";
import { wrk } from "../http/wrk.mjs";
import { startProfile } from "./workerd-profile.mjs";
import { selfTimes } from "./profile-summary.mjs";

const { values: o } = parseArgs({ options: {
  service: { type: "string", default: "router" }, body: { type: "string", default: "plain" },
  connections: { type: "string", default: "1" }, seconds: { type: "string", default: "8" }, top: { type: "string", default: "30" },
} });

async function main() {
  const built = await buildBenchBundles();
  const ports = { [o.service]: await freePort() };
  const inspector = await freePort();
  const config = path.join(BENCH_DIR, "workerd-profile.capnp");
  await writeFile(config, await workerdConfig(built, ports, BENCH_DIR));
  const bodyFile = path.join(BENCH_DIR, "profile-body.json");
  await writeFile(bodyFile, requestBodies(built)[o.body === "stream" ? "stream" : "plain"]);
  const workerd = path.join(ROOT, "node_modules/workerd/bin/workerd");
  await startProcess(workerd, ["serve", config, `--inspector-addr=127.0.0.1:${inspector}`],
    { logFile: path.join(BENCH_DIR, "logs/workerd-profile.log"), ports: [ports[o.service]] });
  const url = `http://127.0.0.1:${ports[o.service]}/v1/chat/completions`;
  const load = { url, bodyFile, connections: Number(o.connections) };
  await wrk({ ...load, seconds: 2 }); // warm: tiered up before the profile starts
  const stop = await startProfile(inspector, o.service);
  const r = await wrk({ ...load, seconds: Number(o.seconds) });
  const file = await stop(path.join(BENCH_DIR, `${o.service}.cpuprofile`));
  console.log(`${o.service} ${o.body} c=${o.connections}: ${r.requests} requests, p50 ${r.p50Us} µs; self time per request (profiler on):`);
  for (const { name, us } of selfTimes(file).slice(0, Number(o.top))) {
    console.log(`${(us / r.requests).toFixed(2).padStart(8)} µs  ${name}`);
  }
}

try {
  await main();
} finally {
  stopAll();
}
