// The backends manifest (backends.json): which backend Workers to deploy and how the orchestrator
// binds them. Two forms are accepted and normalized to the same list:
//   {"backends": [{"name": "echo-a", "provider": "echo", ...}, ...]}          a list of backends
//   {"backends": {"count": 12, "pattern": "echo-{i}", "provider": "echo"}}    N alike backends
// Every problem is collected and reported at once, each naming the field it is about.

import { secretNameProblem } from "./secret-names.mjs";

export const PROVIDERS = ["echo", "workers-ai", "openai-compatible", "anthropic"];
// Who may call the router: "keys" (clients need a key of ROUTER_API_KEYS) or "public" (anyone).
export const ACCESS = ["keys", "public"];
// The account's Workers plan, for the limits checked before a deploy (scripts/lib/account-limits.mjs).
export const WORKERS_PLANS = ["free", "paid"];
export const DEFAULT_ORCHESTRATOR_NAME = "ai-router";
// GitHub Actions refuses a matrix of more than 256 jobs, and each backend is one deploy job.
export const MAX_BACKENDS = 256;
// Well above any sensible ratio; keeps the core's weighted round-robin sums far from overflow.
const MAX_WEIGHT = 1_000_000;

// What the Cloudflare API accepts as a Worker name (it also becomes a DNS label): lowercase
// letters, digits and dashes, 1-63 characters, no dash at either end.
const WORKER_NAME = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const BINDING_NAME = /^BACKEND_[A-Z0-9_]+$/;
const VAR_NAME = /^[A-Z_][A-Z0-9_]*$/;

// Vars the renderer derives from the backend's own fields; setting them in `vars` would be ambiguous.
const DERIVED_VARS = { BACKEND_NAME: "name", PROVIDER: "provider", MODELS: "models", WEIGHT: "weight" };
const BACKEND_FIELDS = ["name", "binding", "provider", "models", "weight", "vars", "upstreamApiKeySecret"];
const COUNT_FIELDS = ["count", "pattern", "start", ...BACKEND_FIELDS.filter((f) => f !== "name" && f !== "binding")];
const ORCHESTRATOR_FIELDS = ["name", "routerConfig", "access"];
const ACCOUNT_FIELDS = ["plan", "otherWorkers"];
const TOP_FIELDS = ["$schema", "$comment", "account", "orchestrator", "backends"];

/** A manifest that cannot be deployed; `problems` lists every reason, one per line in `message`. */
export class ManifestError extends Error {
  constructor(source, problems) {
    super(`${source}: invalid backends manifest:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ManifestError";
    this.problems = problems;
  }
}

/** The orchestrator binding a backend Worker name gets: "echo-a" -> "BACKEND_ECHO_A". */
export function bindingFor(name) {
  return `BACKEND_${name.toUpperCase().replaceAll("-", "_")}`;
}

/**
 * The orchestrator of a `--count` run: a Worker of its own. A count run deploys echo backends for
 * a test or a load run; bound to the production orchestrator they would replace (and orphan) its
 * real backends.
 */
export const COUNT_ORCHESTRATOR_NAME = "ai-router-echo";

/** The manifest of the CLI's `--count N --pattern name-{i}`: N echo backends behind their own orchestrator. */
export function countManifest(count, pattern) {
  return { orchestrator: { name: COUNT_ORCHESTRATOR_NAME }, backends: { count, pattern } };
}

/**
 * Validates a parsed manifest and returns its normalized form:
 * {account: {plan, otherWorkers}, orchestrator: {name, routerConfig, access}, backends: [{name,
 * binding, provider, models, weight, vars, upstreamApiKeySecret}]}. Throws a ManifestError naming
 * every problem.
 */
export function normalizeManifest(manifest, source = "manifest") {
  const problems = [];
  if (!isPlainObject(manifest)) throw new ManifestError(source, ["the manifest must be a JSON object"]);
  unknownFields(manifest, TOP_FIELDS, "the manifest", problems);

  const account = normalizeAccount(manifest.account, problems);
  const orchestrator = normalizeOrchestrator(manifest.orchestrator, problems);
  const entries = expandBackends(manifest.backends, problems);
  const backends = entries.map(({ entry, where }) => normalizeBackend(entry, where, problems));

  checkUnique(backends, "name", "Worker name", problems);
  checkUnique(backends, "binding", "binding", problems);
  if (orchestrator.name && backends.some((b) => b.name === orchestrator.name)) {
    problems.push(`orchestrator.name "${orchestrator.name}" is also a backend's name: every Worker needs its own name`);
  }
  if (problems.length > 0) throw new ManifestError(source, problems);
  return { account, orchestrator, backends };
}

/** The account the deploy goes to: its Workers plan (default "free", the smaller limits) and how many other Workers it holds. */
function normalizeAccount(value, problems) {
  const account = { plan: "free", otherWorkers: 0 };
  if (value === undefined) return account;
  if (!isPlainObject(value)) {
    problems.push("account must be an object like {\"plan\": \"paid\"}");
    return account;
  }
  unknownFields(value, ACCOUNT_FIELDS, "account", problems);
  if (value.plan !== undefined) {
    if (WORKERS_PLANS.includes(value.plan)) account.plan = value.plan;
    else problems.push(`account.plan must be "free" or "paid" (your account's Workers plan), got ${JSON.stringify(value.plan)}`);
  }
  if (value.otherWorkers !== undefined) {
    if (Number.isInteger(value.otherWorkers) && value.otherWorkers >= 0 && value.otherWorkers <= 100_000) account.otherWorkers = value.otherWorkers;
    else problems.push(`account.otherWorkers must be a whole number >= 0 (the Workers already in the account that this manifest does not deploy), got ${JSON.stringify(value.otherWorkers)}`);
  }
  return account;
}

function normalizeOrchestrator(value, problems) {
  const defaults = { name: DEFAULT_ORCHESTRATOR_NAME, routerConfig: null, access: "keys" };
  if (value === undefined) return defaults;
  if (!isPlainObject(value)) {
    problems.push("orchestrator must be an object like {\"name\": \"ai-router\"}");
    return defaults;
  }
  unknownFields(value, ORCHESTRATOR_FIELDS, "orchestrator", problems);
  const name = value.name ?? DEFAULT_ORCHESTRATOR_NAME;
  checkWorkerName(name, "orchestrator.name", problems);
  let routerConfig = null;
  if (value.routerConfig !== undefined && value.routerConfig !== null) {
    // An object is deployed as its JSON text; a string is taken as the JSON text itself. The core
    // validates the policy when the orchestrator starts; here it only has to be JSON.
    if (isPlainObject(value.routerConfig)) routerConfig = JSON.stringify(value.routerConfig);
    else if (typeof value.routerConfig === "string" && isJsonObjectText(value.routerConfig)) routerConfig = value.routerConfig;
    else problems.push("orchestrator.routerConfig must be a JSON object (the ROUTER_CONFIG policy), or its JSON text");
  }
  // Secure by default: a public router must be asked for by name.
  const access = value.access === undefined ? "keys" : value.access;
  if (!ACCESS.includes(access)) {
    problems.push(`orchestrator.access must be "keys" (clients need a key of ROUTER_API_KEYS) or "public" (anyone may call the router), got ${JSON.stringify(value.access)}`);
  }
  return { name, routerConfig, access };
}

/** The list of raw backend entries with where each came from (for messages). */
function expandBackends(value, problems) {
  if (value === undefined) {
    problems.push("backends is missing: list the backends, or give {\"count\": N, \"pattern\": \"name-{i}\"}");
    return [];
  }
  if (Array.isArray(value)) {
    if (value.length === 0) problems.push("backends is empty: deploy at least one backend");
    if (value.length > MAX_BACKENDS) problems.push(`backends lists ${value.length} backends; at most ${MAX_BACKENDS} (one GitHub Actions matrix)`);
    return value.map((entry, i) => ({ entry, where: `backends[${i}]` }));
  }
  if (!isPlainObject(value)) {
    problems.push("backends must be a list of backends, or {\"count\": N, \"pattern\": \"name-{i}\"}");
    return [];
  }
  unknownFields(value, COUNT_FIELDS, "backends", problems);
  const { count, pattern, start = 1, ...shared } = value;
  let ok = true;
  if (!Number.isInteger(count) || count < 1 || count > MAX_BACKENDS) {
    problems.push(count === 0
      ? "backends.count is 0: deploy at least one backend"
      : `backends.count must be a whole number from 1 to ${MAX_BACKENDS} (got ${JSON.stringify(count)})`);
    ok = false;
  }
  if (typeof pattern !== "string" || !pattern.includes("{i}")) {
    problems.push(`backends.pattern must be a Worker name containing "{i}", e.g. "echo-{i}" (got ${JSON.stringify(pattern)})`);
    ok = false;
  }
  if (!Number.isInteger(start) || start < 0) {
    problems.push(`backends.start must be a whole number >= 0 (got ${JSON.stringify(start)})`);
    ok = false;
  }
  if (!ok) return [];
  // A bad pattern is reported once, not once per backend: check its first and longest names.
  for (const i of [start, start + count - 1]) {
    const name = pattern.replaceAll("{i}", String(i));
    if (!WORKER_NAME.test(name)) {
      problems.push(`backends.pattern "${pattern}" gives "${name}", not a valid Worker name: use 1-63 lowercase letters, digits and dashes, not starting or ending with a dash`);
      return [];
    }
  }
  return Array.from({ length: count }, (_, k) => ({
    entry: { ...shared, name: pattern.replaceAll("{i}", String(start + k)) },
    where: `backends (pattern "${pattern}", i=${start + k})`,
  }));
}

function normalizeBackend(entry, where, problems) {
  if (!isPlainObject(entry)) {
    problems.push(`${where} must be an object like {"name": "echo-a", "provider": "echo"}`);
    return { name: undefined, binding: undefined };
  }
  unknownFields(entry, BACKEND_FIELDS, where, problems);
  const at = typeof entry.name === "string" ? `${where} "${entry.name}"` : where;

  const name = entry.name;
  if (name === undefined) problems.push(`${where}.name is missing: every backend needs a Worker name`);
  else checkWorkerName(name, `${where}.name`, problems);

  let binding = typeof name === "string" ? bindingFor(name) : undefined;
  if (entry.binding !== undefined) {
    if (typeof entry.binding === "string" && BINDING_NAME.test(entry.binding)) binding = entry.binding;
    else problems.push(`${at}: binding must look like "BACKEND_NAME" (BACKEND_ then capitals, digits, underscores), got ${JSON.stringify(entry.binding)}`);
  }

  const provider = entry.provider ?? "echo";
  if (!PROVIDERS.includes(provider)) {
    problems.push(`${at}: unknown provider ${JSON.stringify(provider)}; use one of ${PROVIDERS.join(", ")}`);
  }

  const models = normalizeModels(entry.models, at, problems);

  const weight = entry.weight === undefined ? 1 : entry.weight;
  if (typeof weight !== "number" || !Number.isFinite(weight) || weight <= 0 || weight > MAX_WEIGHT) {
    problems.push(`${at}: weight must be a number > 0 and <= ${MAX_WEIGHT} (got ${JSON.stringify(entry.weight)})`);
  }

  const vars = normalizeVars(entry.vars, at, problems);
  if (provider === "openai-compatible") {
    if (vars.UPSTREAM_BASE_URL === undefined) {
      problems.push(`${at}: provider openai-compatible needs vars.UPSTREAM_BASE_URL (e.g. "https://api.openai.com/v1")`);
    } else if (!isHttpUrl(vars.UPSTREAM_BASE_URL)) {
      problems.push(`${at}: vars.UPSTREAM_BASE_URL must be an http(s) URL (got ${JSON.stringify(vars.UPSTREAM_BASE_URL)})`);
    }
  }

  let upstreamApiKeySecret;
  if (entry.upstreamApiKeySecret !== undefined) {
    // The name is checked whatever the provider: a credential's name is worth a line of its own.
    const problem = secretNameProblem(entry.upstreamApiKeySecret, `${at}: upstreamApiKeySecret`);
    if (problem) problems.push(problem);
    if (provider !== "openai-compatible" && provider !== "anthropic") problems.push(`${at}: upstreamApiKeySecret is only used by provider openai-compatible or anthropic`);
    else if (!problem) upstreamApiKeySecret = entry.upstreamApiKeySecret;
  }

  return { name, binding, provider, models, weight, vars, upstreamApiKeySecret };
}

function normalizeModels(value, at, problems) {
  if (value === undefined || value === "*") return ["*"];
  const list = Array.isArray(value) ? value : null;
  if (!list || list.length === 0 || !list.every((m) => typeof m === "string" && m.trim() !== "" && !m.includes(","))) {
    problems.push(`${at}: models must be "*" or a non-empty list of model names without commas (got ${JSON.stringify(value)})`);
    return ["*"];
  }
  const models = list.map((m) => m.trim());
  return models.includes("*") ? ["*"] : models;
}

/** Extra vars as strings (wrangler [vars]); objects such as MODEL_MAP become their JSON text. */
function normalizeVars(value, at, problems) {
  if (value === undefined) return {};
  if (!isPlainObject(value)) {
    problems.push(`${at}: vars must be an object of NAME: value`);
    return {};
  }
  const vars = {};
  for (const [key, v] of Object.entries(value)) {
    if (Object.hasOwn(DERIVED_VARS, key)) {
      problems.push(`${at}: vars.${key} is set from the backend's "${DERIVED_VARS[key]}" field; set that instead`);
    } else if (key === "UPSTREAM_API_KEY") {
      problems.push(`${at}: UPSTREAM_API_KEY is a secret, never a var: name the GitHub secret holding it in "upstreamApiKeySecret"`);
    } else if (!VAR_NAME.test(key)) {
      problems.push(`${at}: var name ${JSON.stringify(key)} must be capitals, digits and underscores`);
    } else if (typeof v === "string") vars[key] = v;
    else if (typeof v === "number" && Number.isFinite(v)) vars[key] = String(v);
    else if (typeof v === "boolean") vars[key] = String(v);
    else if (isPlainObject(v)) vars[key] = JSON.stringify(v);
    else problems.push(`${at}: vars.${key} must be a string, number, boolean or object (got ${JSON.stringify(v)})`);
  }
  return vars;
}

function checkWorkerName(name, field, problems) {
  if (typeof name !== "string" || !WORKER_NAME.test(name)) {
    problems.push(`${field} ${JSON.stringify(name)} is not a valid Worker name: use 1-63 lowercase letters, digits and dashes, not starting or ending with a dash`);
  }
}

function checkUnique(backends, key, what, problems) {
  const seen = new Map();
  for (const b of backends) {
    if (typeof b[key] !== "string") continue;
    seen.set(b[key], (seen.get(b[key]) ?? 0) + 1);
  }
  for (const [value, n] of seen) {
    if (n > 1) problems.push(`${what} "${value}" is used by ${n} backends: each backend needs its own`);
  }
}

function unknownFields(object, known, where, problems) {
  for (const key of Object.keys(object)) {
    if (!known.includes(key)) problems.push(`${where}: unknown field "${key}" (known: ${known.filter((k) => !k.startsWith("$")).join(", ")})`);
  }
}

function isPlainObject(value) {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isJsonObjectText(text) {
  try {
    return isPlainObject(JSON.parse(text));
  } catch {
    return false;
  }
}

function isHttpUrl(text) {
  try {
    const url = new URL(text);
    return url.protocol === "http:" || url.protocol === "https:";
  } catch {
    return false;
  }
}
