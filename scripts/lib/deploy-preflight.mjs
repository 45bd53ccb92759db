// Every check a deploy makes before it uploads anything, on a normalized manifest: the router
// config through the Wasm core, who may call the router, and the account's documented limits.
// Run by scripts/deploy-preflight.mjs (the workflow's first steps) and by the rehearsal.
import { accessCheck } from "./access-check.mjs";
import { PLAN_LIMITS, accountLimitProblems, workerCount } from "./account-limits.mjs";
import { ManifestError } from "./backends-manifest.mjs";
import { routerConfigCheck } from "./router-config-check.mjs";

/** A manifest that passed the manifest check but not the deploy checks; `problems` as ManifestError's. */
export class DeployCheckError extends ManifestError {
  constructor(source, problems) {
    super(source, problems);
    this.name = "DeployCheckError";
    this.message = `${source}: refused before deploying anything:\n${problems.map((p) => `  - ${p}`).join("\n")}`;
  }
}

/**
 * Resolves to {plan, workers, workerLimit, access, warnings, notes} when the manifest may be
 * deployed; rejects with a DeployCheckError naming every problem otherwise.
 * Options: `plan` overrides account.plan; `apiKeys` is what is known of ROUTER_API_KEYS
 * (access-check.mjs); `core: false` skips the routerConfig check (when no Wasm build is at hand);
 * `wasmPath` is the core to check it with.
 */
export async function preflight(manifest, { source = "manifest", plan, apiKeys, core = true, wasmPath } = {}) {
  const workersPlan = plan ?? manifest.account.plan;
  const problems = [];
  const warnings = [];
  const notes = [];
  if (core) {
    try {
      const config = await routerConfigCheck(manifest, { wasmPath });
      problems.push(...config.problems);
      warnings.push(...config.warnings);
    } catch (e) {
      problems.push(e.message);
    }
  } else if (manifest.orchestrator.routerConfig !== null) {
    notes.push("orchestrator.routerConfig was not checked by the Wasm core here (--no-core)");
  }
  const access = accessCheck(manifest, apiKeys);
  problems.push(...access.problems, ...accountLimitProblems(manifest, workersPlan));
  warnings.push(...access.warnings);
  notes.push(...access.notes);
  if (problems.length > 0) throw new DeployCheckError(source, problems);
  return {
    plan: workersPlan,
    workers: workerCount(manifest),
    workerLimit: PLAN_LIMITS[workersPlan].workers,
    access: manifest.orchestrator.access,
    routerConfig: manifest.orchestrator.routerConfig === null ? "not set" : core ? "accepted by the Wasm core" : "not checked",
    warnings,
    notes,
  };
}

/** The lines a preflight result prints, one per check. */
export function describePreflight(result) {
  const limits = PLAN_LIMITS[result.plan];
  return [
    `routerConfig: ${result.routerConfig}`,
    `access: ${result.access}${result.access === "keys" ? " (clients need a key of ROUTER_API_KEYS)" : " (anyone may call the router)"}`,
    `account: ${result.workers} of ${result.workerLimit} Workers (${limits.label}); names, variables and their sizes within Cloudflare's limits`,
    ...result.warnings.map((w) => `warning: ${w}`),
    ...result.notes.map((n) => `note: ${n}`),
  ];
}
