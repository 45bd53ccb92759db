// The backend template's entrypoint, compiled with esbuild and run in node itself: the fast
// counterpart of tests/backend/*.test.mjs (which bundle it with wrangler and run it in Miniflare).
// The tests here call the Backend's RPC methods as the orchestrator does, minus the transport, so
// a run takes about a second: mutation testing (scripts/mutation/template.stryker.config.mjs) runs
// them first, and the Miniflare suites only for what they did not catch.
import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

const ROOT = resolve(import.meta.dirname, "../../..");
/**
 * Compiled bundles by the hash of their sources: mutation testing compiles the same sources for
 * every mutant. Entries older than a day are pruned when a new one is written.
 */
const CACHE_DIR = join(ROOT, "node_modules/.cache/backend-template-unit");
const DAY_MS = 24 * 60 * 60 * 1000;

/** `cloudflare:workers` outside workerd: a WorkerEntrypoint is constructed with (ctx, env). */
const CLOUDFLARE_WORKERS = `export class WorkerEntrypoint {
  constructor(ctx, env) { this.ctx = ctx; this.env = env; }
}`;

/** The template's default export (the Backend class), compiled from backend-worker-template/src. */
export async function loadBackendClass() {
  const key = await sourcesHash();
  const cached = join(CACHE_DIR, `${key}.mjs`);
  try {
    return (await import(pathToFileURL(cached).href)).default;
  } catch (err) {
    if (err?.code !== "ERR_MODULE_NOT_FOUND") throw err;
  }
  const code = await compile();
  await mkdir(CACHE_DIR, { recursive: true });
  for (const entry of await readdir(CACHE_DIR)) {
    const { mtimeMs } = await stat(join(CACHE_DIR, entry)).catch(() => ({ mtimeMs: Date.now() }));
    if (Date.now() - mtimeMs > DAY_MS) await rm(join(CACHE_DIR, entry), { force: true });
  }
  // Written aside and renamed: concurrent runs never import a half-written file.
  const aside = `${cached}.${process.pid}.tmp`;
  await writeFile(aside, code);
  await rename(aside, cached);
  return (await import(pathToFileURL(cached).href)).default;
}

/** A hash of every source the bundle is made of (the template and the shared interfaces). */
async function sourcesHash() {
  const hash = createHash("sha256").update(CLOUDFLARE_WORKERS);
  const dirs = [resolve(ROOT, "backend-worker-template/src"), resolve(ROOT, "shims")];
  for (const dir of dirs) {
    const files = (await readdir(dir, { recursive: true })).filter((f) => /\.[cm]?[jt]s$/.test(f)).sort();
    for (const file of files) hash.update(`\0${dir}/${file}\0`).update(await readFile(join(dir, file)));
  }
  return hash.digest("hex").slice(0, 32);
}

async function compile() {
  const { build } = await import("esbuild");
  const result = await build({
    entryPoints: [resolve(ROOT, "backend-worker-template/src/index.ts")],
    bundle: true,
    format: "esm",
    platform: "neutral",
    target: "es2022",
    write: false,
    logLevel: "silent",
    plugins: [
      {
        name: "cloudflare-workers",
        setup(b) {
          b.onResolve({ filter: /^cloudflare:workers$/ }, () => ({ path: "cloudflare:workers", namespace: "stub" }));
          b.onLoad({ filter: /.*/, namespace: "stub" }, () => ({ contents: CLOUDFLARE_WORKERS, loader: "js" }));
        },
      },
    ],
  });
  return result.outputFiles[0].text;
}

/**
 * Each unit file's bound: it takes well under a second, so a suite still running after this hangs
 * (a test waiting on an answer that never comes fails instead of running on).
 */
export const SUITE_TIMEOUT_MS = 15_000;

let backendClass;

/** A Backend with these vars and bindings, as a Worker deployed with them would run. */
export async function backend(env = {}) {
  backendClass ??= await loadBackendClass();
  return new backendClass({ waitUntil() {} }, env);
}

export { inferenceRequest } from "../inference-request.mjs";

/** More chunks than any answer here has: a stream that goes on past it never ends. */
export const ENDLESS_CHUNKS = 100_000;

/** The whole text of a byte stream, how many chunks carried it, and the error that ended it (or "endless"). */
export async function readStream(stream) {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let text = "";
  let chunks = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      assertBytes(value);
      if (++chunks > ENDLESS_CHUNKS) throw new Error("endless stream");
      text += decoder.decode(value, { stream: true });
    }
    return { text: text + decoder.decode(), chunks, error: null };
  } catch (err) {
    return { text, chunks, error: err instanceof Error ? err.message : String(err) };
  }
}

function assertBytes(value) {
  if (!(value instanceof Uint8Array)) throw new TypeError(`a stream chunk that is not bytes: ${Object.prototype.toString.call(value)}`);
}

/** The data payloads of an SSE text, each event checked to be `data: <payload>\n\n`; "[DONE]" kept as the string. */
export function sseData(text) {
  const events = text.split("\n\n");
  if (events.pop() !== "") throw new Error(`SSE text does not end with a blank line: ${JSON.stringify(text.slice(-40))}`);
  return events.map((event) => {
    if (!event.startsWith("data: ") || event.includes("\n")) throw new Error(`not a one-line data event: ${JSON.stringify(event)}`);
    const data = event.slice("data: ".length);
    return data === "[DONE]" ? data : JSON.parse(data);
  });
}

/** Whether `usage` has the contract's properties: integer counts >= 0, total = prompt + completion. */
export function isConsistentUsage(usage) {
  const counts = [usage?.prompt_tokens, usage?.completion_tokens, usage?.total_tokens];
  return counts.every((n) => Number.isInteger(n) && n >= 0) && usage.total_tokens === usage.prompt_tokens + usage.completion_tokens;
}

/**
 * The events of an SSE text as the SSE specification reads them (lines end with \r\n, \r or \n;
 * a blank line ends an event; `data:` lines joined by \n): each event's data, as text. An
 * unterminated last event is reported as `{ unterminated }`.
 */
export function sseEvents(text) {
  const lines = text.split(/\r\n|\r|\n/);
  const trailing = lines.pop();
  const events = [];
  let data = [];
  for (const line of lines) {
    if (line === "") {
      if (data.length > 0) events.push(data.join("\n"));
      data = [];
    } else if (line.startsWith("data:")) {
      data.push(line.slice(line.startsWith("data: ") ? 6 : 5));
    }
  }
  if (data.length > 0 || trailing !== "") events.push({ unterminated: [...data, trailing].join("\n") });
  return events;
}

/** Checks an answer is an error in OpenAI's shape with this status and these fields. */
export function assertError(answer, status, { type, code, param } = {}) {
  const where = JSON.stringify(answer);
  if (answer.status !== status) throw new Error(`status ${answer.status}, wanted ${status}: ${where}`);
  if (answer.stream !== undefined) throw new Error(`an error answer carries a stream: ${where}`);
  const error = answer.body?.error;
  const keys = Object.keys(answer.body ?? {});
  if (keys.length !== 1 || typeof error !== "object" || error === null) throw new Error(`not an OpenAI error body: ${where}`);
  if (Object.keys(error).sort().join() !== "code,message,param,type") throw new Error(`error fields ${Object.keys(error)}: ${where}`);
  if (typeof error.message !== "string" || error.message.trim() === "") throw new Error(`error without a message: ${where}`);
  if (typeof error.type !== "string" || error.type === "") throw new Error(`error without a type: ${where}`);
  if (!(typeof error.code === "string" || error.code === null) || !(typeof error.param === "string" || error.param === null)) {
    throw new Error(`error code and param must be strings or null: ${where}`);
  }
  if (!/^application\/json/.test(answer.headers?.["content-type"] ?? "")) throw new Error(`error answer not labelled JSON: ${where}`);
  if (type !== undefined && error.type !== type) throw new Error(`error.type ${error.type}, wanted ${type}: ${where}`);
  if (code !== undefined && error.code !== code) throw new Error(`error.code ${error.code}, wanted ${code}: ${where}`);
  if (param !== undefined && error.param !== param) throw new Error(`error.param ${error.param}, wanted ${param}: ${where}`);
  return error;
}

/** Collects what the template logs with console.error / console.log instead of printing it. */
export function captureLogs() {
  const lines = [];
  const saved = { error: console.error, log: console.log, warn: console.warn };
  for (const level of Object.keys(saved)) console[level] = (...args) => lines.push(args.map(String).join(" "));
  return { lines, restore: () => Object.assign(console, saved) };
}

export const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The error fetch() rejects with when its signal aborts. */
export const abortError = () => new DOMException("This operation was aborted", "AbortError");

/**
 * A fake fetch()'s answer as the Workers runtime gives it, for what matters here: in a later turn,
 * after timers already due (an abort set for "now" wins), and rejected when `signal` aborts.
 */
export function networkAnswer(answer, signal) {
  const later = pause(1).then(answer);
  if (!signal) return later;
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(abortError());
    signal.addEventListener("abort", () => reject(abortError()), { once: true });
    later.then(resolve, reject);
  });
}

/**
 * A timer set now, and whether it has fired: a clock to compare with that holds on a loaded
 * machine. Node fires timers in the order they fall due, all from one clock, so "the answer came
 * after a timer of n ms set before the call" is exact where elapsed Date.now() time is not (a timer
 * may fire a few ms before Date.now() reaches its due time, and a busy machine delays everything).
 */
export function timerFlag(ms) {
  const flag = { fired: false };
  const timer = setTimeout(() => (flag.fired = true), ms);
  flag.clear = () => clearTimeout(timer);
  return flag;
}

/** Polls `check` until it holds or `ms` pass (in-process events take microseconds; 2 s is for a loaded machine). */
export async function eventually(check, ms = 2000) {
  for (const until = Date.now() + ms; Date.now() < until; await pause(5)) if (await check()) return true;
  return check();
}
