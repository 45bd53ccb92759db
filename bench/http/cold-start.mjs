// First request versus warm in workerd: a fresh `workerd serve` per trial; the time until its
// socket accepts connections, the first request's latency (isolate's first fetch: the router
// configures its core and runs discovery, code runs cold) and the median of the next ones.
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { freePort, startProcess } from "./processes.mjs";
import { timedPost } from "./request.mjs";
import { workerdConfig } from "./workerd-config.mjs";
import { median } from "../report/median.mjs";


/**
 * @param {object} o
 * @param {any} o.built  buildBenchBundles() result
 * @param {"router"|"forwarder"|"direct"} o.service
 * @param {string} o.workerd binary
 * @param {string} o.dir  where configs and logs go
 * @param {string} o.body request body
 * @param {number} o.trials
 * @param {number} o.warm  warm requests per trial
 */
export async function coldStart({ built, service, workerd, dir, body, trials, warm }) {
  const results = [];
  for (let t = 0; t < trials; t++) {
    const port = await freePort();
    const configFile = path.join(dir, `cold-${service}.capnp`);
    await writeFile(configFile, await workerdConfig(built, { [service]: port }, dir));
    const started = process.hrtime.bigint();
    const server = await startProcess(workerd, ["serve", configFile], { logFile: path.join(dir, "logs", `cold-${service}.log`), ports: [port] });
    const listeningMs = Number(process.hrtime.bigint() - started) / 1e6;
    try {
      const first = await timedPost(port, "/v1/chat/completions", body);
      if (first.status !== 200) throw new Error(`${service} first request answered ${first.status}`);
      const warmMs = [];
      for (let i = 0; i < warm; i++) warmMs.push((await timedPost(port, "/v1/chat/completions", body)).ms);
      results.push({ listeningMs, firstMs: first.ms, warmMedianMs: median(warmMs) });
    } finally {
      await server.stop();
    }
  }
  return {
    service, trials,
    listeningMs: median(results.map((r) => r.listeningMs)),
    firstMs: median(results.map((r) => r.firstMs)),
    warmMs: median(results.map((r) => r.warmMedianMs)),
  };
}
