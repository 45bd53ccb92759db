// Chaos, end to end: a few hundred client requests through the deployed orchestrator bundle to four
// backends (tests/fixture-workers/chaos-backend.js) that answer each attempt with a behaviour drawn from a
// seed: valid answers, odd statuses, headers and bodies, broken or stalled streams, throws, hangs,
// late answers. Whatever the backends do, every client answer must be a valid OpenAI success or an
// OpenAI error, carry its x-request-id and end in time; afterwards nothing is left in flight.
// Draws repeat from run to run (CHAOS_SEED, CHAOS_REQUESTS override them); what timing decides
// (which backend gets an attempt, health state) may vary.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { seededRandom } from "../support/backend-control.mjs";
import { openAiError, sleep, sseEvents } from "../support/fault-cases.mjs";
import { startStack } from "../support/stack.mjs";
import { createChaosControl, hash } from "./chaos-control.mjs";

// Unset or empty variables take the defaults; CHAOS_SEED may be hex ("0x1f").
const SEED = Number(process.env.CHAOS_SEED || 0xc4a05);
const REQUESTS = Number(process.env.CHAOS_REQUESTS || 400);
if (!Number.isInteger(SEED) || !Number.isInteger(REQUESTS) || REQUESTS < 1) throw new Error("CHAOS_SEED and CHAOS_REQUESTS are integers");
const CONCURRENCY = 8;
const TIMEOUTS = { perTryMs: 300, firstByteMs: 300, requestMs: 2500, streamIdleMs: 400 };
// A client gives up this long after requestMs: room for a busy 2-core machine, far below a hang.
const CLIENT_MARGIN_MS = 2500;
const ROUTER_CONFIG = {
  timeouts: TIMEOUTS,
  // Every request may use its three attempts (the default budget of 3 retries in flight would
  // turn many into retry_budget_exhausted at concurrency 8): the odd answers of second and third
  // attempts are where the chaos is.
  retry: { maxAttempts: 3, budgetMinRetries: CONCURRENCY, retryAfterCapMs: 300 },
  // Eject after 3 failures in a row, for 250 ms to 1 s: with most attempts misbehaving, backends
  // are ejected, come back and hit panic (all ejected) many times in one run, so those transitions
  // meet the chaos too. Behaviours are drawn per request and attempt, not per backend, so ejections
  // change who answers, not what is answered.
  health: { consecutiveFailures: 3, baseEjectionMs: 250, maxEjectionMs: 1000 },
};
// describe() weights: absent, valid, NaN, negative (the last two are kept at weight 1).
const BACKENDS = [["BACKEND_A", undefined], ["BACKEND_B", 2], ["BACKEND_C", "NaN"], ["BACKEND_D", -1]];
/** The `object` of a success, and of a stream chunk, by path. */
const OBJECT = { "/v1/chat/completions": "chat.completion", "/v1/completions": "text_completion", "/v1/embeddings": "list" };
const CHUNK_OBJECT = { "/v1/chat/completions": "chat.completion.chunk", "/v1/completions": "text_completion" };

/**
 * @typedef {{i: number, requestId: string, path: keyof typeof OBJECT, stream: boolean, leaves: boolean, body: object}} Plan
 * @typedef {{kind: string, detail?: string}} Verdict  kind: an answer class, or "FAIL: ..." for a failure
 */

/** What the i-th client request sends: the same in every run for a seed. @returns {Plan} */
function planFor(/** @type {number} */ i) {
  const random = seededRandom(hash(`${SEED}/client/${i}`));
  const r = random();
  const path = r < 0.82 ? "/v1/chat/completions" : r < 0.92 ? "/v1/completions" : "/v1/embeddings";
  const stream = path !== "/v1/embeddings" && random() < 0.4;
  const leaves = stream && random() < 0.05; // a client that leaves after the first chunk
  const model = "chaos-1";
  const body = path === "/v1/chat/completions" ? { model, messages: [{ role: "user", content: `chaos ${i}` }] }
    : path === "/v1/completions" ? { model, prompt: `chaos ${i}` } : { model, input: `chaos ${i}` };
  return { i, requestId: `chaos-${SEED.toString(16)}-${i}`, path, stream, leaves, body: stream ? { ...body, stream } : body };
}

const fail = (/** @type {string} */ kind, detail = "") => ({ kind: `FAIL: ${kind}`, detail });
const short = (/** @type {string} */ text) => JSON.stringify(text.length > 160 ? `${text.slice(0, 160)}...` : text);
function parse(/** @type {string} */ text) { try { return JSON.parse(text); } catch { return undefined; } }

/** A 2xx event stream: chunks then [DONE], or chunks then one OpenAI error event. @returns {Verdict} */
function classifyStream(/** @type {Plan} */ plan, /** @type {string} */ text) {
  const events = sseEvents(text).filter(Boolean);
  const last = events.at(-1);
  const chunks = events.slice(0, -1).map(parse);
  if (!chunks.every((c) => c?.object === CHUNK_OBJECT[/** @type {keyof typeof CHUNK_OBJECT} */ (plan.path)])) {
    return fail("2xx stream holds an event that is not a chunk", short(text));
  }
  if (last === "[DONE]") return { kind: "stream [DONE]" };
  if (openAiError(parse(last ?? ""))) return { kind: "stream error event" };
  return fail(events.length ? "2xx stream ends with neither [DONE] nor an error event" : "2xx stream with no event", short(text));
}

/** The verdict on a whole answer's status and body. @param {Plan} plan @param {Response} res @param {string} text @returns {Verdict} */
function classifyBody(plan, res, text) {
  const type = res.headers.get("content-type") ?? "";
  if (res.status >= 200 && res.status < 300) {
    const isStream = type.startsWith("text/event-stream");
    if (isStream !== plan.stream) return fail(`2xx ${type || "without content-type"} for a ${plan.stream ? "stream" : "JSON"} request`, short(text));
    if (isStream) return classifyStream(plan, text);
    const object = parse(text)?.object;
    return object === OBJECT[plan.path] ? { kind: "success" } : fail(`2xx JSON that is not a ${OBJECT[plan.path]}`, short(text));
  }
  const json = parse(text);
  // The Worker threw: workerd's own plain-text 500, named by its first line (one class per cause).
  if (res.status === 500 && json === undefined) return fail(`plain-text 500 "${text.split("\n")[0].slice(0, 100)}"`);
  if (res.status < 400 || res.status > 599) return fail(`status ${res.status}`, short(text));
  // No API keys are configured: a 401 can only be a backend's own credentials failing, passed on.
  if (res.status === 401) return fail("401 reached the client", short(text));
  if (!openAiError(json)) return fail(`${res.status} that is not an OpenAI error`, short(text));
  return { kind: `error ${res.status}` };
}

/** The verdict on one whole answer, its x-request-id included. @param {Plan} plan @param {Response} res @param {string} text @returns {Verdict} */
function classify(plan, res, text) {
  const verdict = classifyBody(plan, res, text);
  if (res.headers.get("x-request-id") === plan.requestId) return verdict;
  const missing = `x-request-id ${res.headers.get("x-request-id") ?? "missing"}`;
  return verdict.kind.startsWith("FAIL") ? { ...verdict, kind: `${verdict.kind}, ${missing}` } : fail(missing, short(text));
}

/**
 * Reads the first chunk of a 2xx stream, then leaves: cancels the body and aborts the request, as
 * a client that goes away does (the connection closes). Null when the answer is no 2xx stream.
 * @param {Plan} plan @param {Response} res @param {AbortController} abort @returns {Promise<Verdict | null>}
 */
async function leaveAfterFirstChunk(plan, res, abort) {
  if (!res.ok || !(res.headers.get("content-type") ?? "").startsWith("text/event-stream")) return null;
  const reader = /** @type {ReadableStream<Uint8Array>} */ (res.body).getReader();
  const first = await reader.read();
  await reader.cancel();
  abort.abort();
  if (res.headers.get("x-request-id") !== plan.requestId) return fail("x-request-id missing or changed");
  return first.done ? fail("2xx stream with no event") : { kind: "left after first chunk" };
}

/** Sends one request and judges its answer. @returns {Promise<Verdict & {ms: number}>} */
async function send(/** @type {any} */ stack, /** @type {Plan} */ plan) {
  const limit = TIMEOUTS.requestMs + CLIENT_MARGIN_MS;
  const abort = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => { timedOut = true; abort.abort(); }, limit);
  const started = Date.now();
  try {
    const res = await stack.fetch(plan.path, { method: "POST", signal: abort.signal, body: JSON.stringify(plan.body),
      headers: { "content-type": "application/json", "x-request-id": plan.requestId } });
    const verdict = (plan.leaves && await leaveAfterFirstChunk(plan, res, abort)) || classify(plan, res, await res.text());
    return { ...verdict, ms: Date.now() - started };
  } catch (e) {
    const ms = Date.now() - started;
    return timedOut ? { ...fail(`no complete answer within ${limit} ms`), ms }
      : { ...fail("connection error", String(/** @type {any} */ (e)?.cause?.code ?? e)), ms };
  } finally {
    clearTimeout(timer);
  }
}

/** Counts of `items` by value, most frequent first, as "value ×n; ...". @param {string[]} items */
function tally(items) {
  /** @type {Map<string, number>} */
  const counts = new Map();
  for (const item of items) counts.set(item, (counts.get(item) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1]).map(([item, n]) => `${item} ×${n}`).join("; ");
}

/** GET /status until nothing is in flight beyond `baseline` requests, or `ms` passed; the last state. */
async function settledStatus(/** @type {any} */ stack, /** @type {number} */ baseline, ms = 4000) {
  const until = Date.now() + ms;
  for (;;) {
    const s = await (await stack.fetch("/status")).json();
    const busy = s.requestsInFlight > baseline || s.retriesInFlight !== 0 || s.backends.some((/** @type {any} */ b) => b.inFlight !== 0);
    if (!busy || Date.now() > until) return s;
    await sleep(100);
  }
}

const control = createChaosControl({ seed: SEED, timeouts: TIMEOUTS });
/** @type {Awaited<ReturnType<typeof startStack>>} */
let stack;
before(async () => {
  stack = await startStack({
    vars: { ROUTER_CONFIG: JSON.stringify(ROUTER_CONFIG) },
    backends: BACKENDS.map(([binding, weight]) => ({ binding, script: "chaos-backend.js",
      serviceBindings: { CONTROL: control.handler },
      vars: { BACKEND_NAME: binding, ...(weight === undefined ? {} : { DESCRIBE_WEIGHT: weight }) } })),
  });
});
after(async () => { control.releaseHangs(); await stack?.stop(); });

test(`chaos: ${REQUESTS} requests against misbehaving backends get valid answers, nothing left in flight`, { timeout: 55_000 }, async () => {
  // /status counts its own exchange (or not): what it says with no traffic is the idle figure.
  const baseline = (await (await stack.fetch("/status")).json()).requestsInFlight;
  /** @type {(Verdict & {ms: number, plan: Plan})[]} */
  const results = [];
  let next = 0;
  const started = Date.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    for (let i = next++; i < REQUESTS; i = next++) {
      const plan = planFor(i);
      results[i] = { ...(await send(stack, plan)), plan };
    }
  }));
  const elapsed = Date.now() - started;
  control.releaseHangs();
  const s = await settledStatus(stack, baseline);

  const failures = results.filter((r) => r.kind.startsWith("FAIL"));
  const leaked = [
    ...(s.requestsInFlight > baseline ? [`requestsInFlight ${s.requestsInFlight} (idle: ${baseline})`] : []),
    ...(s.retriesInFlight !== 0 ? [`retriesInFlight ${s.retriesInFlight}`] : []),
    ...s.backends.filter((/** @type {any} */ b) => b.inFlight !== 0).map((/** @type {any} */ b) => `${b.binding} inFlight ${b.inFlight}`),
  ];
  const slowest = Math.max(...results.map((r) => r.ms));
  console.log(`chaos: seed 0x${SEED.toString(16)}, ${REQUESTS} requests at concurrency ${CONCURRENCY} in ${elapsed} ms `
    + `(slowest ${slowest} ms); answers: ${tally(results.map((r) => r.kind.startsWith("FAIL") ? "FAIL" : r.kind))}; `
    + `left in flight: ${leaked.join(", ") || "nothing"}`);
  console.log(`chaos: ${failures.length} failures: ${tally(failures.map((r) => r.kind.slice(6))) || "none"}`);
  console.log(`chaos: behaviours drawn: ${Object.entries(control.drawn).sort((a, b) => b[1] - a[1]).map(([name, n]) => `${name} ×${n}`).join("; ")}`);
  for (const r of failures.slice(0, 12)) {
    console.log(`chaos failure #${r.plan.i} (${r.plan.requestId}, ${r.plan.path}${r.plan.stream ? " stream" : ""}): ${r.kind} ${r.detail ?? ""}`
      + `\n    attempts: ${(control.byRequest.get(r.plan.requestId) ?? []).join(" | ")}`);
  }

  assert.deepEqual(control.unknown, [], "every instruction was understood by the chaos backend");
  if (REQUESTS >= 200) assert.deepEqual(control.names.filter((name) => !control.drawn[name]), [], "every behaviour was drawn");
  assert.equal(failures.length, 0, `${failures.length} answers were neither a valid success nor an OpenAI error `
    + `(repeat the draws: CHAOS_SEED=0x${SEED.toString(16)} CHAOS_REQUESTS=${REQUESTS}): ${tally(failures.map((r) => r.kind.slice(6)))}`);
  assert.deepEqual(leaked, [], "nothing left in flight after the run");
});
