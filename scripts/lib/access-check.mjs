// Who may call the deployed router: the manifest's orchestrator.access ("keys" by default, or
// "public" asked for by name) against what is known of the ROUTER_API_KEYS secret. Known in the
// workflow (the secret is given to the check, empty when unset); locally only when the caller says.
import { ENV_VAR_MAX_BYTES } from "./account-limits.mjs";

/**
 * What the check knows of ROUTER_API_KEYS, from its text (the orchestrator's own splitting:
 * comma-separated, blanks ignored): {keys, bytes}. The keys themselves are never kept.
 */
export function describeApiKeys(text) {
  const value = String(text);
  return { keys: value.split(",").map((k) => k.trim()).filter(Boolean).length, bytes: Buffer.byteLength(value, "utf8") };
}

/**
 * {problems, warnings, notes} of a normalized manifest's access. `apiKeys`: undefined when
 * nothing is known of the secret, else describeApiKeys()'s answer ({keys: 0, bytes: 0}: unset).
 */
export function accessCheck(manifest, apiKeys) {
  const { access, name } = manifest.orchestrator;
  const problems = [];
  const warnings = [];
  const notes = [];
  if (apiKeys && apiKeys.bytes > 0 && apiKeys.keys === 0) {
    problems.push("ROUTER_API_KEYS is set but holds no key (comma-separated keys, blanks ignored): the router would refuse every request");
  }
  if (apiKeys && apiKeys.bytes > ENV_VAR_MAX_BYTES) {
    problems.push(`ROUTER_API_KEYS is ${apiKeys.bytes} bytes; Cloudflare allows ${ENV_VAR_MAX_BYTES} bytes (5 KB) per environment variable`);
  }
  if (access === "keys") {
    if (apiKeys === undefined) {
      notes.push("orchestrator.access is \"keys\": the deploy stops before uploading anything unless the repository secret ROUTER_API_KEYS holds a key (not known here: give ROUTER_API_KEYS in the environment, or --router-api-keys set|empty)");
    } else if (apiKeys.bytes === 0) {
      problems.push("orchestrator.access is \"keys\" but ROUTER_API_KEYS is empty: set the repository secret ROUTER_API_KEYS (comma-separated client keys), or make the router open to anyone on purpose with \"access\": \"public\"");
    }
  } else {
    warnings.push(`orchestrator.access is "public": anyone who finds https://${name}.<your-subdomain>.workers.dev can call the router and spend its backends' upstream keys`);
    if (apiKeys && apiKeys.keys > 0) {
      warnings.push("orchestrator.access is \"public\" but ROUTER_API_KEYS holds keys: they are uploaded, and the router asks for them");
    }
  }
  return { problems, warnings, notes };
}
