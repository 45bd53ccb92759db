#!/usr/bin/env node
// Smoke check of a deployed router: GET /healthz answers {"status":"ok"}, and GET /status lists
// every backend of the deploy plan, reached through its binding (describe() answered with the
// backend's own name and its models), healthy (neither ejected nor cooling down), and no binding the
// plan does not have. GET /v1/models first makes the orchestrator discover its backends. Retried for
// a while: a new workers.dev URL and fresh isolates take a moment.
//
//   node scripts/smoke-check.mjs --url https://ai-router.example.workers.dev
//        [--plan build/config/plan.json] [--attempts 12] [--interval-ms 5000]
//        [--version-override ai-router=<version id>] [--result smoke.json]
// --version-override sends every request to that version of the Worker while it is part of a
// gradual deployment (Cloudflare's Cloudflare-Workers-Version-Overrides header), so a version at
// 10 % is checked itself, not the 90 % beside it. --result writes {ok, url, version, problems} for
// scripts/deploy/rollback-decision.mjs.
// Keys come from the environment, never from arguments: ROUTER_API_KEYS (the first key is used)
// and ROUTER_ADMIN_KEY, when the router has them.
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { isMain } from "./deploy/is-main.mjs";

const ROOT = path.resolve(fileURLToPath(new URL("..", import.meta.url)));
const REQUEST_TIMEOUT_MS = 15_000;

/**
 * Text from the router, made one printable line: it ends up in logs and GitHub annotations, where
 * a line break could start a workflow command of the router's choosing.
 */
export function oneLine(text, max = 300) {
  return String(text).slice(0, max).replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, " ");
}

/** Why one listed backend is not usable (undefined = usable). */
function backendProblem(b, planned) {
  if (b.describeError) return `describe() failed: ${oneLine(b.describeError, 200)}`;
  if (b.described !== true || b.name !== planned.name) {
    return `describe() has not answered as "${planned.name}" (name ${oneLine(JSON.stringify(b.name ?? null), 80)})`;
  }
  if (!Array.isArray(b.models) || b.models.length === 0 || !b.models.every((m) => typeof m === "string" && m)) {
    return "no models known";
  }
  if (b.state === "ejected") return `ejected until ${oneLine(b.until, 40)}`;
  if (b.state !== "healthy") return `not healthy (state ${oneLine(JSON.stringify(b.state ?? null), 40)}, until ${oneLine(b.until ?? null, 40)})`;
  return undefined;
}

/** Why a /status body does not show the plan's backends as reachable (empty = all reachable). */
export function statusProblems(status, plan) {
  if (!status || !Array.isArray(status.backends)) return ["/status has no backends list"];
  const listed = status.backends.filter((b) => b && typeof b === "object" && typeof b.binding === "string");
  if (listed.length !== status.backends.length) return ["/status lists a backend without a binding name"];
  const problems = [];
  const byBinding = new Map(listed.map((b) => [b.binding, b]));
  for (const planned of plan.backends) {
    const b = byBinding.get(planned.binding);
    const problem = b ? backendProblem(b, planned) : "not bound (the orchestrator does not list it)";
    if (problem) problems.push(`${planned.binding}: ${problem}`);
  }
  const plannedBindings = new Set(plan.backends.map((b) => b.binding));
  for (const b of listed) {
    if (!plannedBindings.has(b.binding)) problems.push(`${oneLine(b.binding, 100)}: bound but not in the plan`);
  }
  return problems;
}

/**
 * The Cloudflare-Workers-Version-Overrides header for "worker=version-id" (a structured-header
 * dictionary). Both parts are checked, so nothing but a Worker name and a version id reaches a header.
 */
export function versionOverrideHeader(spec) {
  const match = /^([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)=([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/.exec(spec ?? "");
  if (!match) throw new Error(`a version override is WORKER=VERSION-ID (a Worker name and a version UUID), got ${JSON.stringify(spec)}`);
  return { "cloudflare-workers-version-overrides": `${match[1]}="${match[2]}"` };
}

/** GET `url` with the key: {status, body (parsed JSON, else undefined), text (one line)}. */
export async function getJson(fetchImpl, url, key, headers = {}) {
  const response = await fetchImpl(url, {
    headers: { ...headers, ...(key ? { authorization: `Bearer ${key}` } : {}) },
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const text = await response.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: response.status, body, text: oneLine(text) };
}

/**
 * Checks the router at `url` against `plan` (plan.json's object). Resolves to the last /status
 * body when every planned backend is reachable; rejects with every remaining problem otherwise.
 */
export async function smokeCheck({ url, plan, apiKey, adminKey, versionOverride, attempts = 12, intervalMs = 5000, fetch: fetchImpl = fetch, log = () => {} }) {
  const base = url.replace(/\/+$/, "");
  const pin = versionOverride ? versionOverrideHeader(versionOverride) : {};
  let problems = [];
  for (let attempt = 1; attempt <= attempts; attempt++) {
    if (attempt > 1) await new Promise((resolve) => setTimeout(resolve, intervalMs));
    try {
      const health = await getJson(fetchImpl, `${base}/healthz`, undefined, pin);
      if (health.status !== 200 || health.body?.status !== "ok") {
        problems = [`/healthz answered ${health.status} ${health.text}`];
      } else {
        const models = await getJson(fetchImpl, `${base}/v1/models`, apiKey, pin);
        const status = await getJson(fetchImpl, `${base}/status`, adminKey, pin);
        if (models.status !== 200) problems = [`/v1/models answered ${models.status} ${models.text}`];
        else if (status.status !== 200) problems = [`/status answered ${status.status} ${status.text}`];
        else problems = statusProblems(status.body, plan);
        if (problems.length === 0) return status.body;
      }
    } catch (e) {
      problems = [`${base} unreachable: ${oneLine(e.cause?.message ?? e.message)}`];
    }
    log(`attempt ${attempt}/${attempts}: ${problems.join("; ")}`);
  }
  const error = new Error(`smoke check of ${base} failed:\n  ${problems.join("\n  ")}`);
  error.problems = problems;
  throw error;
}

const USAGE = "usage: node scripts/smoke-check.mjs --url URL [--plan build/config/plan.json] [--attempts N] [--interval-ms MS]\n" +
  "       [--version-override WORKER=VERSION-ID] [--result FILE]\n";

/** The CLI's options, checked; a string says what is wrong. */
async function readOptions(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      url: { type: "string" },
      plan: { type: "string", default: path.join(ROOT, "build/config/plan.json") },
      attempts: { type: "string", default: "12" },
      "interval-ms": { type: "string", default: "5000" },
      "version-override": { type: "string" },
      result: { type: "string" },
    },
  });
  if (!values.url) return USAGE;
  const attempts = Number(values.attempts);
  const intervalMs = Number(values["interval-ms"]);
  if (!Number.isInteger(attempts) || attempts < 1 || !Number.isFinite(intervalMs) || intervalMs < 0) {
    return "--attempts must be a whole number >= 1 and --interval-ms a number >= 0\n";
  }
  if (values["version-override"]) versionOverrideHeader(values["version-override"]);
  const plan = JSON.parse(await readFile(values.plan, "utf8"));
  if (!Array.isArray(plan?.backends) || !plan.backends.every((b) => typeof b?.binding === "string" && typeof b?.name === "string")) {
    return `${values.plan} has no backends list of {name, binding}\n`;
  }
  return { ...values, attempts, intervalMs, plan };
}

async function main(argv) {
  let options;
  try {
    options = await readOptions(argv);
  } catch (e) {
    options = `${e.message}\n`;
  }
  if (typeof options === "string") {
    process.stderr.write(options);
    return 2;
  }
  const { url, plan, result } = options;
  const version = options["version-override"] ?? null;
  const apiKey = (process.env.ROUTER_API_KEYS ?? "").split(",").map((k) => k.trim()).find(Boolean);
  let outcome;
  try {
    const status = await smokeCheck({
      url, plan, apiKey, adminKey: process.env.ROUTER_ADMIN_KEY || undefined, versionOverride: version ?? undefined,
      attempts: options.attempts, intervalMs: options.intervalMs, log: (line) => process.stdout.write(`${line}\n`),
    });
    process.stdout.write(`smoke check passed: ${url}${version ? ` (${version})` : ""} is healthy and reaches ${plan.backends.length} backend(s):\n`);
    for (const b of status.backends) process.stdout.write(`  ${b.binding} -> ${b.name} (${b.state})\n`);
    outcome = { ok: true, url, version, problems: [] };
  } catch (e) {
    process.stderr.write(`${e.message}\n`);
    outcome = { ok: false, url, version, problems: e.problems ?? [e.message] };
  }
  if (result) await writeFile(result, `${JSON.stringify(outcome, null, 2)}\n`);
  return outcome.ok ? 0 : 1;
}

if (isMain(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
