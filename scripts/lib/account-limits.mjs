// Cloudflare's documented Workers limits a manifest can break before anything is uploaded
// (https://developers.cloudflare.com/workers/platform/limits/): Workers per account, environment
// variables per Worker (vars and secrets together) and the size of each variable. Worker names
// (1-63 lowercase letters, digits and dashes) are checked with the manifest itself.
// A deploy that breaks one of these fails half-way, with some Workers already replaced.

/** Per Workers plan: Workers per account, environment variables (text and secrets) per Worker. */
export const PLAN_LIMITS = {
  free: { label: "Workers Free", workers: 100, envVars: 64 },
  paid: { label: "Workers Paid", workers: 500, envVars: 128 },
};
/** "Environment variable size: 5 KB", on both plans; counted as 5 KiB of UTF-8. */
export const ENV_VAR_MAX_BYTES = 5 * 1024;
// The orchestrator's secrets (uploaded when set) count as variables too.
const ORCHESTRATOR_SECRETS = ["ROUTER_API_KEYS", "ROUTER_ADMIN_KEY"];

const bytes = (text) => Buffer.byteLength(text, "utf8");

/** The Workers a normalized manifest puts in the account: its backends, the orchestrator, the others there. */
export function workerCount(manifest) {
  return manifest.backends.length + 1 + manifest.account.otherWorkers;
}

/** The [vars] a backend Worker gets, as scripts/render-configs.mjs renders them, plus its secret. */
function backendVariables(b) {
  const vars = { BACKEND_NAME: b.name, PROVIDER: b.provider, MODELS: b.models.join(","), WEIGHT: String(b.weight), ...b.vars };
  return { vars, secrets: b.upstreamApiKeySecret ? 1 : 0 };
}

/** Problems of one Worker's variables: too many for the plan, or one too large. */
function variableProblems(worker, vars, secrets, limits) {
  const problems = [];
  const count = Object.keys(vars).length + secrets;
  if (count > limits.envVars) {
    problems.push(`${worker}: ${count} environment variables (vars and secrets); ${limits.label} allows ${limits.envVars} per Worker`);
  }
  for (const [name, value] of Object.entries(vars)) {
    const size = bytes(value);
    if (size > ENV_VAR_MAX_BYTES) {
      problems.push(`${worker}: var ${name} is ${size} bytes; Cloudflare allows ${ENV_VAR_MAX_BYTES} bytes (5 KB) per environment variable`);
    }
  }
  return problems;
}

/**
 * Problems of a normalized manifest against the limits of `plan` ("free" or "paid"; default the
 * manifest's account.plan), each one line naming the limit and the fix.
 */
export function accountLimitProblems(manifest, plan = manifest.account.plan) {
  const limits = PLAN_LIMITS[plan];
  if (!limits) return [`the Workers plan must be "free" or "paid", got ${JSON.stringify(plan)}`];
  const problems = [];
  const total = workerCount(manifest);
  if (total > limits.workers) {
    const others = manifest.account.otherWorkers ? ` + ${manifest.account.otherWorkers} other Workers in the account` : "";
    const fix = plan === "free" ? `; if the account is on Workers Paid, say so with "account": {"plan": "paid"} (or --workers-plan paid)` : "";
    problems.push(`account: ${total} Workers (${manifest.backends.length} backends + the orchestrator${others}) is over ${limits.label}'s ${limits.workers} Workers per account${fix}, or deploy fewer backends`);
  }
  for (const b of manifest.backends) {
    const { vars, secrets } = backendVariables(b);
    problems.push(...variableProblems(`backend ${b.name}`, vars, secrets, limits));
  }
  const routerVars = manifest.orchestrator.routerConfig === null ? {} : { ROUTER_CONFIG: manifest.orchestrator.routerConfig };
  problems.push(...variableProblems(`orchestrator ${manifest.orchestrator.name}`, routerVars, ORCHESTRATOR_SECRETS.length, limits)
    .map((p) => p.replace("var ROUTER_CONFIG", "orchestrator.routerConfig (the ROUTER_CONFIG var)")));
  return problems;
}
