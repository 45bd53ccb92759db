// The manifest's orchestrator.routerConfig, checked by the Wasm core exactly as the live router
// checks ROUTER_CONFIG when it starts (rt_router_configure through shims/wasm-core.js). A config
// the core refuses makes the deployed router answer every request with 500, so it must never ship.
import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { RouterCore } from "../../shims/wasm-core.js";

export const DEFAULT_WASM = path.resolve(fileURLToPath(new URL("../../build/wasm/router.wasm", import.meta.url)));
// A stand-in key hash: with keys configured the core reports only what is wrong with the config.
const SOME_KEY_HASH = "0".repeat(64);

/** The core's path of a field, under the manifest's: "strategy" -> "orchestrator.routerConfig.strategy". */
function fieldPath(param) {
  if (!param) return "orchestrator.routerConfig";
  return `orchestrator.routerConfig${param.startsWith("[") ? "" : "."}${param}`;
}

/** A RouterCore on the module at `wasmPath`; throws a line saying how to build it when it is missing. */
async function loadCore(wasmPath) {
  let bytes;
  try {
    bytes = await readFile(wasmPath);
  } catch (e) {
    throw new Error(`the Wasm core ${path.relative(process.cwd(), wasmPath) || wasmPath} cannot be read (${e.code ?? e.message}): build it with scripts/build-wasm.sh (npm test builds it too)`);
  }
  return RouterCore.fromModule(new WebAssembly.Module(bytes));
}

/**
 * {problems, warnings} of a normalized manifest's routerConfig, as the core sees it with the
 * manifest's bindings. No routerConfig: nothing to check (the core's defaults apply).
 */
export async function routerConfigCheck(manifest, { wasmPath = DEFAULT_WASM } = {}) {
  const text = manifest.orchestrator.routerConfig;
  if (text === null) return { problems: [], warnings: [] };
  const core = await loadCore(wasmPath);
  const envNames = [...manifest.backends.map((b) => b.binding), "ROUTER_CONFIG", "ROUTER_API_KEYS"];
  let result;
  try {
    result = core.configure({ routerConfig: text, envNames, apiKeysSet: true, apiKeyHashes: [SOME_KEY_HASH] }, Date.now());
  } catch (e) {
    return { problems: [`orchestrator.routerConfig: the Wasm core failed while reading it (${e.message})`], warnings: [] };
  }
  const problems = [];
  if (result.error) {
    problems.push(`${fieldPath(result.error.param)}: ${result.error.message} (the core's ${result.error.code}: the deployed router would answer every request with 500)`);
  }
  const warnings = (result.warnings ?? []).map((w) => `orchestrator.routerConfig: ${w.replace(/^ROUTER_CONFIG\./, "")}`);
  return { problems, warnings };
}
