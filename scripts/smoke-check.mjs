#!/usr/bin/env node
// Smoke check of a deployed router: GET /healthz answers {"status":"ok"}, and GET /status lists
// every backend of the deploy plan, reached through its binding (describe() answered with the
// backend's own name) and not ejected. GET /v1/models first makes the orchestrator discover its
// backends. Retried for a while: a new workers.dev URL and fresh isolates take a moment.
//
//   node scripts/smoke-check.mjs --url https://ai-router.example.workers.dev
//        [--plan build/config/plan.json] [--attempts 12] [--interval-ms 5000]
// Keys come from the environment, never from arguments: ROUTER_API_KEYS (the first key is used)
// and ROUTER_ADMIN_KEY, when the router has them.
import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

const ROOT = path.resolve(fileURLToPath(new URL("..", import.meta.url)));
const REQUEST_TIMEOUT_MS = 15_000;

/** Why a /status body does not show the plan's backends as reachable (empty = all reachable). */
export function statusProblems(status, plan) {
  if (!status || !Array.isArray(status.backends)) return ["/status has no backends list"];
  const problems = [];
  const byBinding = new Map(status.backends.map((b) => [b.binding, b]));
  for (const planned of plan.backends) {
    const b = byBinding.get(planned.binding);
    if (!b) problems.push(`${planned.binding}: not bound (the orchestrator does not list it)`);
    else if (b.describeError) problems.push(`${planned.binding}: describe() failed: ${b.describeError}`);
    else if (b.name !== planned.name) problems.push(`${planned.binding}: describe() has not answered as "${planned.name}" (name ${JSON.stringify(b.name ?? null)})`);
    else if (b.state === "ejected") problems.push(`${planned.binding}: ejected until ${b.until}`);
  }
  const plannedBindings = new Set(plan.backends.map((b) => b.binding));
  for (const b of status.backends) {
    if (!plannedBindings.has(b.binding)) problems.push(`${b.binding}: bound but not in the plan`);
  }
  return problems;
}

async function getJson(fetchImpl, url, key) {
  const response = await fetchImpl(url, {
    headers: key ? { authorization: `Bearer ${key}` } : {},
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const text = await response.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: response.status, body, text: text.slice(0, 300) };
}

/**
 * Checks the router at `url` against `plan` (plan.json's object). Resolves to the last /status
 * body when every planned backend is reachable; rejects with every remaining problem otherwise.
 */
export async function smokeCheck({ url, plan, apiKey, adminKey, attempts = 12, intervalMs = 5000, fetch: fetchImpl = fetch, log = () => {} }) {
  const base = url.replace(/\/+$/, "");
  let problems = [];
  for (let attempt = 1; attempt <= attempts; attempt++) {
    if (attempt > 1) await new Promise((resolve) => setTimeout(resolve, intervalMs));
    try {
      const health = await getJson(fetchImpl, `${base}/healthz`);
      if (health.status !== 200 || health.body?.status !== "ok") {
        problems = [`/healthz answered ${health.status} ${health.text}`];
      } else {
        const models = await getJson(fetchImpl, `${base}/v1/models`, apiKey);
        const status = await getJson(fetchImpl, `${base}/status`, adminKey);
        if (models.status !== 200) problems = [`/v1/models answered ${models.status} ${models.text}`];
        else if (status.status !== 200) problems = [`/status answered ${status.status} ${status.text}`];
        else problems = statusProblems(status.body, plan);
        if (problems.length === 0) return status.body;
      }
    } catch (e) {
      problems = [`${base} unreachable: ${e.cause?.message ?? e.message}`];
    }
    log(`attempt ${attempt}/${attempts}: ${problems.join("; ")}`);
  }
  throw new Error(`smoke check of ${base} failed:\n  ${problems.join("\n  ")}`);
}

async function main(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      url: { type: "string" },
      plan: { type: "string", default: path.join(ROOT, "build/config/plan.json") },
      attempts: { type: "string", default: "12" },
      "interval-ms": { type: "string", default: "5000" },
    },
  });
  if (!values.url) {
    process.stderr.write("usage: node scripts/smoke-check.mjs --url URL [--plan build/config/plan.json] [--attempts N] [--interval-ms MS]\n");
    return 2;
  }
  const attempts = Number(values.attempts);
  const intervalMs = Number(values["interval-ms"]);
  if (!Number.isInteger(attempts) || attempts < 1 || !Number.isFinite(intervalMs) || intervalMs < 0) {
    process.stderr.write("--attempts must be a whole number >= 1 and --interval-ms a number >= 0\n");
    return 2;
  }
  const plan = JSON.parse(await readFile(values.plan, "utf8"));
  const apiKey = (process.env.ROUTER_API_KEYS ?? "").split(",").map((k) => k.trim()).find(Boolean);
  try {
    const status = await smokeCheck({
      url: values.url,
      plan,
      apiKey,
      adminKey: process.env.ROUTER_ADMIN_KEY || undefined,
      attempts,
      intervalMs,
      log: (line) => process.stdout.write(`${line}\n`),
    });
    process.stdout.write(`smoke check passed: ${values.url} is healthy and reaches ${plan.backends.length} backend(s):\n`);
    for (const b of status.backends) process.stdout.write(`  ${b.binding} -> ${b.name} (${b.state})\n`);
    return 0;
  } catch (e) {
    process.stderr.write(`${e.message}\n`);
    return 1;
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  process.exitCode = await main(process.argv.slice(2));
}
