// A running router for tests: the orchestrator's dry-run bundle plus N backend Workers in one
// Miniflare, wired by service bindings exactly as the rendered wrangler configs wire them.
// Backends are the template's bundle (with the vars of a rendered backend config, or test vars) or a
// test Worker script under tests/fixture-workers/; each test file picks its own set. With
// `controlPlane`, a second orchestrator from the same bundle shares the CONTROL_PLANE Durable
// Object with the first (tests/cluster/); without it, the default, there is no control plane.
import path from "node:path";
import { Log, LogLevel, Miniflare } from "miniflare";
import { unstable_readConfig as readConfig } from "wrangler";
import { buildBundle, renderConfigs, CONFIG_DIR, ROOT } from "./bundles.mjs";

/**
 * @typedef {object} BackendSpec
 * @property {string} binding        e.g. "BACKEND_A" (the orchestrator's binding name)
 * @property {string} [script]       a test Worker under tests/fixture-workers/ ("fault-backend.js"); default: the template bundle
 * @property {string} [config]       a rendered backend config name whose vars it takes (template only)
 * @property {Record<string, unknown>} [vars]  vars added over the config's
 * @property {Record<string, any>} [serviceBindings]  extra service bindings of the backend: a Node
 *                                   function { CONTROL: (request) => Response }, or the name of a
 *                                   Worker of `workers` (a stand-in AI binding for the template)
 *
 * @typedef {object} StackSpec
 * @property {Record<string, unknown>} [vars]  orchestrator vars/secrets added over the rendered config's
 * @property {BackendSpec[]} [backends]        default: the rendered backends with their bindings
 * @property {Record<string, unknown>} [orchestratorOptions]  extra Miniflare options of the
 *                                             orchestrator Worker, e.g. { ratelimits: {...} }
 * @property {Record<string, any>[]} [workers] more Miniflare Workers the backends may bind to
 *                                             (e.g. { name, modules, scriptPath } of a Workers AI stand-in)
 * @property {ControlPlaneSpec} [controlPlane] the CONTROL_PLANE Durable Object and a second
 *                                             orchestrator sharing it (off by default: without the
 *                                             binding each isolate routes alone, as before issue 12)
 *
 * @typedef {object} ControlPlaneSpec
 * @property {string} [script]  a test Worker under tests/fixture-workers/ whose ControlPlane class
 *                              replaces the orchestrator's (a control plane that throws or hangs)
 * @property {Record<string, unknown>} [vars]  that Worker's vars
 * @property {string} [persist] a folder for the object's storage (kept across stacks: a restart)
 */

const MODULE_RULES = [{ type: /** @type {const} */ ("CompiledWasm"), include: ["**/*.wasm"] }];
// A fixture Worker may import another (cluster-backend.js extends controlled-backend.js).
const FIXTURE_RULES = [{ type: /** @type {const} */ ("ESModule"), include: ["**/*.js"] }];

/** Reads a rendered wrangler config: name, compatibility settings, vars, service bindings. */
function readWorkerConfig(configPath) {
  const config = readConfig({ config: configPath }, { hideWarnings: true });
  return {
    name: config.name,
    compatibilityDate: config.compatibility_date,
    compatibilityFlags: config.compatibility_flags ?? [],
    vars: /** @type {Record<string, unknown>} */ (config.vars ?? {}),
    services: (config.services ?? []).map((s) => ({ binding: s.binding, service: s.service })),
  };
}

/** Everything the stack needs from disk, built once per process. */
let artifacts;
async function loadArtifacts() {
  artifacts ??= (async () => {
    await renderConfigs();
    const orchestratorConfig = path.join(CONFIG_DIR, "orchestrator/wrangler.toml");
    const orchestrator = readWorkerConfig(orchestratorConfig);
    const backendConfigs = Object.fromEntries(orchestrator.services.map(({ service }) => {
      const file = path.join(CONFIG_DIR, "backends", service, "wrangler.toml");
      return [service, { file, ...readWorkerConfig(file) }];
    }));
    const firstBackend = Object.values(backendConfigs)[0];
    const [orchestratorBundle, templateBundle] = await Promise.all([
      buildBundle("orchestrator", orchestratorConfig),
      buildBundle("backend-template", firstBackend.file),
    ]);
    return { orchestrator, backendConfigs, orchestratorBundle, templateBundle };
  })();
  return artifacts;
}

/** Miniflare options for a stack spec. */
async function miniflareOptions(spec, logs) {
  const a = await loadArtifacts();
  const backends = spec.backends ?? a.orchestrator.services.map(({ binding, service }) => ({ binding, config: service }));
  const workers = backends.map((b) => {
    const name = `test-${b.binding.toLowerCase().replaceAll("_", "-")}`;
    if (b.script) {
      return { name, modules: true, scriptPath: path.join(ROOT, "tests/fixture-workers", b.script), modulesRules: FIXTURE_RULES,
        compatibilityDate: a.orchestrator.compatibilityDate, compatibilityFlags: a.orchestrator.compatibilityFlags,
        bindings: { ...b.vars }, ...(b.serviceBindings ? { serviceBindings: b.serviceBindings } : {}) };
    }
    const config = a.backendConfigs[b.config ?? Object.keys(a.backendConfigs)[0]];
    return { name, modules: true, scriptPath: path.join(a.templateBundle, "index.js"), modulesRules: MODULE_RULES,
      compatibilityDate: config.compatibilityDate, compatibilityFlags: config.compatibilityFlags,
      bindings: { ...config.vars, ...b.vars }, ...(b.serviceBindings ? { serviceBindings: b.serviceBindings } : {}) };
  });
  /** One orchestrator Worker; with a control plane each calls its backends with props {caller}. */
  const orchestratorWorker = (/** @type {string} */ name, /** @type {string} */ caller) => ({
    name, modules: true, modulesRules: MODULE_RULES,
    scriptPath: path.join(a.orchestratorBundle, "index.js"),
    compatibilityDate: a.orchestrator.compatibilityDate, compatibilityFlags: a.orchestrator.compatibilityFlags,
    bindings: { ...a.orchestrator.vars, ...spec.vars },
    serviceBindings: Object.fromEntries(backends.map((b, i) =>
      [b.binding, spec.controlPlane ? { name: workers[i].name, props: { caller } } : workers[i].name])),
    ...spec.orchestratorOptions,
  });
  const orchestrator = orchestratorWorker(a.orchestrator.name, "a");
  const cluster = spec.controlPlane ? clusterWorkers(spec.controlPlane, orchestrator, orchestratorWorker(`${a.orchestrator.name}-b`, "b")) : [];
  return {
    host: "127.0.0.1", port: 0, cf: false,
    log: new Log(LogLevel.WARN),
    structuredWorkerdLogs: true,
    handleStructuredLogs: (/** @type {{message: string}} */ entry) => { logs.push(entry.message); },
    ...(spec.controlPlane?.persist ? { durableObjectsPersist: spec.controlPlane.persist } : {}),
    workers: [orchestrator, ...workers, ...cluster, ...(spec.workers ?? [])],
    bindingNames: backends.map((b) => b.binding),
  };
}

const CONTROL_PLANE_WORKER = "test-control-plane";

/**
 * The Workers a control plane adds: orchestrator B (same bundle, its own socket) and, for a
 * fixture control plane, the Worker hosting it. Orchestrator A (`first`) hosts the object itself
 * unless a fixture does; both orchestrators bind CONTROL_PLANE to the same class.
 * @param {ControlPlaneSpec} cp @param {Record<string, any>} first @param {Record<string, any>} second
 */
function clusterWorkers(cp, first, second) {
  const host = cp.script ? CONTROL_PLANE_WORKER : first.name;
  const designator = { className: "ControlPlane", useSQLite: true };
  first.durableObjects = { CONTROL_PLANE: cp.script ? { ...designator, scriptName: host } : designator };
  second.durableObjects = { CONTROL_PLANE: { ...designator, scriptName: host } };
  second.unsafeDirectSockets = [{ host: "127.0.0.1", port: 0 }];
  if (!cp.script) return [second];
  return [second, { name: CONTROL_PLANE_WORKER, modules: true, scriptPath: path.join(ROOT, "tests/fixture-workers", cp.script),
    compatibilityDate: first.compatibilityDate, compatibilityFlags: first.compatibilityFlags,
    bindings: { ...cp.vars }, durableObjects: { CONTROL_PLANE: designator } }];
}

/**
 * The router's log lines (JSON, one per line) of one event, parsed, from line `from` on: tests check
 * fields, never the serialisation.
 * @param {string[]} logs @param {string} event @param {number} [from]
 * @returns {Record<string, any>[]}
 */
export function loggedEvents(logs, event, from = 0) {
  return logs.slice(from).flatMap((line) => {
    try {
      const entry = JSON.parse(line);
      return entry?.event === event ? [entry] : [];
    } catch {
      return [];
    }
  });
}

/**
 * Starts the stack. `fetch(path, init)` talks to the orchestrator over real HTTP; `logs` collects
 * every Worker's console output; `calls(binding)` / `reset(binding)` reach a fault backend's test API.
 * @param {StackSpec} [spec]
 */
export async function startStack(spec = {}) {
  /** @type {string[]} */
  const logs = [];
  const { bindingNames, ...options } = await miniflareOptions(spec, logs);
  const mf = new Miniflare(options);
  let url = await mf.ready;
  let names = bindingNames;
  const nameB = `${(await loadArtifacts()).orchestrator.name}-b`;
  let urlB = spec.controlPlane ? await mf.unsafeGetDirectURL(nameB) : null;
  const workerName = (binding) => `test-${binding.toLowerCase().replaceAll("_", "-")}`;
  return {
    get url() { return url.origin; },
    /** The orchestrator's compatibility flags, as the rendered config sets them. */
    compatibilityFlags: [...(await loadArtifacts()).orchestrator.compatibilityFlags],
    /** The orchestrator's backend binding names, in spec order. */
    get bindings() { return [...names]; },
    logs,
    /** @param {string} p @param {RequestInit} [init] */
    fetch: (p, init) => fetch(new URL(p, url), init),
    /** Orchestrator B, which shares the control plane (only with `controlPlane`). @param {string} p @param {RequestInit} [init] */
    fetchB: (p, init) => {
      if (!urlB) throw new Error("no orchestrator B: start the stack with controlPlane");
      return fetch(new URL(p, urlB), init);
    },
    /** Restarts with another spec (same process, new isolates: router state starts fresh). */
    async reconfigure(/** @type {StackSpec} */ next) {
      const { bindingNames: nextNames, ...nextOptions } = await miniflareOptions(next, logs);
      await mf.setOptions(nextOptions);
      url = await mf.ready;
      names = nextNames;
      urlB = next.controlPlane ? await mf.unsafeGetDirectURL(nameB) : null;
    },
    async calls(binding) {
      if (!names.includes(binding)) throw new Error(`no backend ${binding}`);
      const worker = await mf.getWorker(workerName(binding));
      return (await worker.fetch("http://backend/calls")).json();
    },
    async reset(binding) {
      const worker = await mf.getWorker(workerName(binding));
      await (await worker.fetch("http://backend/reset", { method: "POST" })).arrayBuffer();
    },
    stop: () => mf.dispose(),
  };
}
