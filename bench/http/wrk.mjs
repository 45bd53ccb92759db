// Runs one wrk measurement (closed loop, one wrk thread) with bench/http/post.lua and returns
// p50/p90/p99 latency (µs), requests/s and error counts.
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { pinned } from "./processes.mjs";

const run = promisify(execFile);
const SCRIPT = fileURLToPath(new URL("./post.lua", import.meta.url));

/**
 * @param {{url: string, bodyFile: string, connections: number, seconds: number, headers?: Record<string, string>}} o
 */
export async function wrk({ url, bodyFile, connections, seconds, headers = {} }) {
  const args = ["-t1", `-c${connections}`, `-d${seconds}s`, "--timeout", "5s", "-s", SCRIPT, url];
  const env = { ...process.env, BENCH_BODY: bodyFile,
    BENCH_HEADERS: Object.entries(headers).map(([k, v]) => `${k}: ${v}`).join("\n") };
  const { stdout } = await run(...pinned("client", "wrk", args), { env, timeout: (seconds + 30) * 1000, maxBuffer: 1 << 20 });
  const line = stdout.split("\n").find((l) => l.startsWith("BENCH_JSON "));
  if (!line) throw new Error(`wrk printed no summary:\n${stdout}`);
  const r = JSON.parse(line.slice("BENCH_JSON ".length));
  const errors = Object.values(r.errors).reduce((a, b) => a + b, 0);
  return { p50Us: r.p50_us, p90Us: r.p90_us, p99Us: r.p99_us, meanUs: r.mean_us, requests: r.requests,
    rps: r.requests / (r.duration_us / 1e6), errors, errorDetail: r.errors };
}
