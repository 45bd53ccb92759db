#!/usr/bin/env node
// The canary decision for a new backend version bound beside the incumbent (the canary binding,
// scripts/deploy/canary-manifest.mjs): sample GET /status at the start and at the end of a window,
// and compare the two bindings' failure rates over that window (counter deltas, never totals, so
// what happened before the canary was bound does not count).
//   bad outcomes = failures (throws, timeouts, 502-504, broken streams) + serverErrors (500 answers)
//   rate = bad / attempts over the window
// Promote when the canary made at least --min-attempts attempts and its rate is no worse than the
// incumbent's plus --tolerance (an absolute rate, 0.05 = 5 points); roll back otherwise, and when the
// window cannot be measured (too little traffic, counters that went backwards, a binding missing).
// The cluster-wide counters of the control plane are used when both samples come from a synced
// one; otherwise the answering isolate's own counters (docs/control-plane.md).
//
//   node scripts/deploy/canary-decision.mjs --canary BACKEND_X_CANARY --incumbent BACKEND_X
//        (--url URL [--window-seconds 600] | --before before.json --after after.json)
//        [--min-attempts 20] [--tolerance 0.05] [--github-output FILE]
// ROUTER_ADMIN_KEY from the environment when /status needs it. Exit 0 whatever the decision (the
// workflow acts on the output `action`), 2 on bad arguments or when /status cannot be read.
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { appendGithubOutputs } from "./github-output.mjs";
import { getJson } from "../smoke-check.mjs";
import { isMain } from "./is-main.mjs";

const COUNTERS = ["attempts", "failures", "serverErrors"];

/** The counters of `binding` in one /status body from `source`; a string says why there are none. */
export function bindingCounters(status, binding, source) {
  const list = source === "cluster" ? status?.cluster?.backends : status?.backends;
  if (!Array.isArray(list)) return `/status has no ${source === "cluster" ? "cluster." : ""}backends list`;
  const entry = list.find((b) => b && typeof b === "object" && b.binding === binding);
  if (!entry) return `${binding} is not listed by /status${source === "cluster" ? " (cluster)" : ""}`;
  const counters = { state: typeof entry.state === "string" ? entry.state : "unknown" };
  for (const name of COUNTERS) {
    if (!Number.isSafeInteger(entry[name]) || entry[name] < 0) return `${binding}.${name} is not a count (${JSON.stringify(entry[name] ?? null)})`;
    counters[name] = entry[name];
  }
  return counters;
}

/** "cluster" when both samples come from a synced control plane, else "isolate". */
export function counterSource(before, after) {
  const synced = (s) => s?.cluster?.controlPlane === "synced" && Array.isArray(s.cluster.backends);
  return synced(before) && synced(after) ? "cluster" : "isolate";
}

/** One binding's attempts and bad outcomes over the window; a string says why it cannot be told. */
export function windowCounts(before, after, binding, source) {
  const start = bindingCounters(before, binding, source);
  const end = bindingCounters(after, binding, source);
  if (typeof start === "string") return `at the start: ${start}`;
  if (typeof end === "string") return `at the end: ${end}`;
  const attempts = end.attempts - start.attempts;
  const bad = end.failures + end.serverErrors - start.failures - start.serverErrors;
  // Another isolate answered, or the control plane restarted: the two samples do not compare.
  if (attempts < 0 || bad < 0 || bad > attempts) return `${binding}'s counters went backwards between the samples (another isolate or a restart): no comparable window`;
  return { attempts, bad, rate: attempts === 0 ? 0 : bad / attempts, state: end.state };
}

const percent = (rate) => `${(rate * 100).toFixed(1)} %`;
const describe = (name, w) => `${name} ${w.bad}/${w.attempts} bad (${percent(w.rate)})`;

/**
 * @returns {{action: "promote" | "rollback", reason: string, source: string, canary?: object, incumbent?: object}}
 */
export function canaryDecision({ before, after, canary, incumbent, minAttempts = 20, tolerance = 0.05 }) {
  const source = counterSource(before, after);
  const c = windowCounts(before, after, canary, source);
  const i = windowCounts(before, after, incumbent, source);
  const rollback = (reason) => ({ action: "rollback", reason, source, ...(typeof c === "object" ? { canary: c } : {}), ...(typeof i === "object" ? { incumbent: i } : {}) });
  if (typeof c === "string") return rollback(`canary ${canary}: ${c}`);
  if (typeof i === "string") return rollback(`incumbent ${incumbent}: ${i}`);
  if (c.state === "ejected") return rollback(`canary ${canary} is ejected at the end of the window (${describe("canary", c)})`);
  if (c.attempts < minAttempts) {
    return rollback(`canary ${canary} made ${c.attempts} attempt(s) in the window, fewer than ${minAttempts}: not enough traffic to judge (raise its weight or the window)`);
  }
  // An incumbent that saw too little traffic is no baseline: then the canary must be nearly clean.
  const baseline = i.attempts >= minAttempts ? i.rate : 0;
  const against = i.attempts >= minAttempts ? describe("incumbent", i) : `no baseline (incumbent ${i.attempts} attempt(s) < ${minAttempts}), so against 0 %`;
  const summary = `${describe("canary", c)} vs ${against}, tolerance ${percent(tolerance)}, ${source} counters`;
  if (c.rate <= baseline + tolerance) return { action: "promote", reason: `canary ${canary} is no worse: ${summary}`, source, canary: c, incumbent: i };
  return rollback(`canary ${canary} fails more: ${summary}`);
}

/** GET /status, as JSON; throws with the status line when it is not a 200 JSON object. */
export async function sampleStatus(url, adminKey, fetchImpl = fetch) {
  const { status, body, text } = await getJson(fetchImpl, `${url.replace(/\/+$/, "")}/status`, adminKey);
  if (status !== 200 || !body || typeof body !== "object") throw new Error(`/status answered ${status} ${text.slice(0, 200)}`);
  return body;
}

/** Samples /status, waits `windowMs`, samples again, decides. */
export async function canaryWindow({ url, adminKey, windowMs, fetch: fetchImpl = fetch, ...rest }) {
  const before = await sampleStatus(url, adminKey, fetchImpl);
  await new Promise((resolve) => setTimeout(resolve, windowMs));
  const after = await sampleStatus(url, adminKey, fetchImpl);
  return canaryDecision({ before, after, ...rest });
}

const USAGE = `usage: node scripts/deploy/canary-decision.mjs --canary BINDING --incumbent BINDING
       (--url URL [--window-seconds 600] | --before FILE --after FILE)
       [--min-attempts 20] [--tolerance 0.05] [--github-output FILE]\n`;

/** The CLI's numbers and bindings, checked; a string says what is wrong. */
function readOptions(values) {
  const binding = /^BACKEND_[A-Z0-9_]+$/;
  if (!binding.test(values.canary ?? "") || !binding.test(values.incumbent ?? "")) return `--canary and --incumbent must be BACKEND_* bindings\n${USAGE}`;
  if (values.canary === values.incumbent) return "--canary and --incumbent must differ\n";
  if (!values.url === !(values.before && values.after)) return USAGE;
  const minAttempts = Number(values["min-attempts"]);
  const tolerance = Number(values.tolerance);
  const windowSeconds = Number(values["window-seconds"]);
  if (!Number.isInteger(minAttempts) || minAttempts < 1) return "--min-attempts must be a whole number >= 1\n";
  if (!(tolerance >= 0 && tolerance < 1)) return "--tolerance must be a rate in [0, 1)\n";
  if (!(windowSeconds >= 0 && windowSeconds <= 6 * 3600)) return "--window-seconds must be between 0 and 21600\n";
  return { canary: values.canary, incumbent: values.incumbent, minAttempts, tolerance, windowMs: windowSeconds * 1000 };
}

async function main(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      canary: { type: "string" }, incumbent: { type: "string" }, url: { type: "string" },
      before: { type: "string" }, after: { type: "string" }, "window-seconds": { type: "string", default: "600" },
      "min-attempts": { type: "string", default: "20" }, tolerance: { type: "string", default: "0.05" },
      "github-output": { type: "string" },
    },
  });
  const options = readOptions(values);
  if (typeof options === "string") {
    process.stderr.write(options);
    return 2;
  }
  let decision;
  try {
    if (values.url) {
      process.stdout.write(`sampling ${values.url}/status now and in ${options.windowMs / 1000} s\n`);
      decision = await canaryWindow({ url: values.url, adminKey: process.env.ROUTER_ADMIN_KEY || undefined, ...options });
    } else {
      const [before, after] = await Promise.all([values.before, values.after].map(async (f) => JSON.parse(await readFile(f, "utf8"))));
      decision = canaryDecision({ before, after, ...options });
    }
  } catch (e) {
    process.stderr.write(`cannot sample /status: ${e.message}\n`);
    return 2;
  }
  process.stdout.write(`${decision.action}: ${decision.reason}\n`);
  await appendGithubOutputs(values["github-output"], { action: decision.action, reason: decision.reason });
  return 0;
}

if (isMain(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
