// Generates the workerd capnp config the HTTP benchmark serves with plain `workerd serve`:
//   direct     the bench-only direct backend (template + HTTP face)
//   forwarder  bench/workers/forwarder.js -> one RPC infer() on the first backend
//   forwarder-3  the same forwarder taking turns over every rendered backend (the router's topology)
//   floor-3    bench/workers/contract-floor.js over the same backends: the least the contract asks
//              of a router per request, in plain JS (a floor, not a router); floor: over one backend
//   router     the orchestrator bundle with one Service Binding per rendered backend and, as
//              deployed, its control-plane Durable Object (CONTROL_PLANE, SQLite in build/bench/control-plane)
//   router-alone  the same without the control plane (what the control plane costs per request)
//   router-1   the same orchestrator bound to the first backend only (the forwarder's topology)
//   router-before, router-1-before  router and router-1 built from another checkout (--before)
// plus one private service per backend (the template bundle with that backend's vars). Only the
// sockets listed get a port, all on 127.0.0.1.
import { mkdir, rm } from "node:fs/promises";
import path from "node:path";
import { bundleModules, ROOT } from "./bundles.mjs";

/** A capnp string literal. @param {string} s */
const str = (s) => JSON.stringify(s);

/** A binding for one wrangler var: text as text, anything else as JSON. */
function varBinding(name, value) {
  return typeof value === "string" ? `(name = ${str(name)}, text = ${str(value)})`
    : `(name = ${str(name)}, json = ${str(JSON.stringify(value))})`;
}

/** capnp `embed` takes paths relative to the config file. */
let configDir = ROOT;

/** @param {{name: string, file: string}[]} modules */
function modulesOf(modules) {
  return modules.map((m) => {
    const file = str(path.relative(configDir, m.file));
    return m.name.endsWith(".wasm") ? `(name = ${str(m.name)}, wasm = embed ${file})`
      : `(name = ${str(m.name)}, esModule = embed ${file})`;
  }).join(",\n      ");
}

function worker({ modules, compatibilityDate, compatibilityFlags, bindings, extra = "" }) {
  return `(
    modules = [
      ${modulesOf(modules)}
    ],
    compatibilityDate = ${str(compatibilityDate)},
    compatibilityFlags = [${compatibilityFlags.map(str).join(", ")}],
    bindings = [
      ${bindings.join(",\n      ")}
    ]${extra}
  )`;
}

// The orchestrator's Durable Object (wrangler.toml.in): the class it exports and its binding.
const CONTROL_PLANE_BINDING = `(name = "CONTROL_PLANE", durableObjectNamespace = "ControlPlane")`;
// SQLite storage needs a disk (workerd's in-memory storage has no SQL): a folder under build/bench.
const CONTROL_PLANE_DISK = "control-plane-disk";
const controlPlaneStorage = (/** @type {string} */ key) => `,
    durableObjectNamespaces = [(className = "ControlPlane", uniqueKey = ${str(key)}, enableSql = true)],
    durableObjectStorage = (localDisk = ${str(CONTROL_PLANE_DISK)})`;

/**
 * @param {Awaited<ReturnType<typeof import("./bundles.mjs").buildBenchBundles>>} built
 * @param {Record<string, number>} ports  sockets to open, by service name
 * @param {string} dir  the folder the config file will be written to
 * @param {{v8Flags?: string[]}} [options]  V8 flags for the whole process (profiling tools only)
 * @returns {Promise<string>} capnp text
 */
export async function workerdConfig(built, ports, dir, { v8Flags = [] } = {}) {
  configDir = dir;
  const { orchestrator, backends, bundles } = built;
  const [templateModules, orchestratorModules, directModules] = await Promise.all(
    [bundles.backend, bundles.orchestrator, bundles.direct].map(bundleModules));
  const services = [];
  for (const b of backends) {
    services.push(`(name = ${str(b.name)}, worker = ${worker({ ...b, modules: templateModules,
      bindings: Object.entries(b.vars).map(([k, v]) => varBinding(k, v)) })})`);
  }
  const router = (/** @type {{binding: string, service: string}[]} */ bound, /** @type {string} */ controlPlaneKey = "", modules = orchestratorModules,
    settings = {}) =>
    worker({ ...orchestrator, ...settings, modules,
      bindings: [...Object.entries(orchestrator.vars).map(([k, v]) => varBinding(k, v)),
        ...bound.map((s) => `(name = ${str(s.binding)}, service = ${str(s.service)})`),
        ...(controlPlaneKey ? [CONTROL_PLANE_BINDING] : [])],
      extra: controlPlaneKey ? controlPlaneStorage(controlPlaneKey) : "" });
  services.push(`(name = "router", worker = ${router(orchestrator.services, "bench-router-control-plane")})`);
  services.push(`(name = "router-alone", worker = ${router(orchestrator.services)})`);
  services.push(`(name = "router-1", worker = ${router(orchestrator.services.slice(0, 1), "bench-router-1-control-plane")})`);
  if (bundles.before) {
    const before = await bundleModules(bundles.before);
    const settings = built.beforeCompatibility ?? {}; // the before checkout's own flags
    services.push(`(name = "router-before", worker = ${router(orchestrator.services, "bench-router-before-control-plane", before, settings)})`);
    services.push(`(name = "router-1-before", worker = ${router(orchestrator.services.slice(0, 1), "bench-router-1-before-control-plane", before, settings)})`);
  }
  services.push(`(name = "direct", worker = ${worker({ ...backends[0], modules: directModules,
    bindings: Object.entries(backends[0].vars).map(([k, v]) => varBinding(k, v)) })})`);
  // A bench-only Worker (bench/workers/) bound to `bound` as BACKEND_1, BACKEND_2, ...
  const benchWorker = (/** @type {string} */ name, /** @type {typeof backends} */ bound) => worker({ ...backends[0],
    modules: [{ name, file: path.join(ROOT, "bench/workers", name) }],
    bindings: bound.map((b, i) => `(name = "BACKEND_${i + 1}", service = ${str(b.name)})`) });
  services.push(`(name = "forwarder", worker = ${benchWorker("forwarder.js", backends.slice(0, 1))})`);
  services.push(`(name = "forwarder-3", worker = ${benchWorker("forwarder.js", backends)})`);
  services.push(`(name = "floor", worker = ${benchWorker("contract-floor.js", backends.slice(0, 1))})`);
  services.push(`(name = "floor-3", worker = ${benchWorker("contract-floor.js", backends)})`);

  const disk = path.join(dir, "control-plane");
  await rm(disk, { recursive: true, force: true });
  await mkdir(disk, { recursive: true });
  services.push(`(name = ${str(CONTROL_PLANE_DISK)}, disk = (path = ${str(disk)}, writable = true))`);
  const sockets = Object.entries(ports).filter(([, port]) => port)
    .map(([service, port]) => `(name = ${str(service)}, address = "127.0.0.1:${port}", http = (), service = ${str(service)})`);
  return `# Generated by bench/http/workerd-config.mjs: do not edit.
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    ${services.join(",\n    ")}
  ],
  sockets = [
    ${sockets.join(",\n    ")}
  ]${v8Flags.length ? `,\n  v8Flags = [${v8Flags.map(str).join(", ")}]` : ""}
);
`;
}
