#!/usr/bin/env node
// The manifest of a backend canary: the normalized manifest (build/config/manifest.json) plus one
// more backend, "<name>-canary", alike in every field, bound as BACKEND_<NAME>_CANARY and given a
// low weight through a per-binding override in routerConfig (docs/configuration.md), so it takes a
// small share of the incumbent's traffic. render-configs.mjs renders it like any manifest; the
// canary decision (canary-decision.mjs) then compares the two bindings.
//
//   node scripts/deploy/canary-manifest.mjs --manifest build/config/manifest.json --backend NAME
//        [--share 0.1] --out canary-manifest.json [--config-dir build/config] [--github-output FILE]
// --share: the canary's weight as a fraction of the incumbent's (0 < share <= 1).
// Outputs: canary and incumbent (Worker names), canary_binding, incumbent_binding, and backends:
// the deploy matrix of a canary run, the canary alone (its folder as render-configs.mjs lays out
// --config-dir), in render-configs.mjs's --github-output shape.
import { readFile, writeFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { bindingFor } from "../lib/backends-manifest.mjs";
import { appendGithubOutputs } from "./github-output.mjs";
import { isMain } from "./is-main.mjs";

const MAX_NAME = 63;

/** routerConfig as an object ({} when unset); throws on anything else. */
function routerConfigObject(value) {
  const parsed = typeof value === "string" ? JSON.parse(value) : value ?? {};
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("orchestrator.routerConfig is not a JSON object");
  if (parsed.backends !== undefined && (!parsed.backends || typeof parsed.backends !== "object" || Array.isArray(parsed.backends))) {
    throw new Error("orchestrator.routerConfig.backends is not an object");
  }
  return parsed;
}

/**
 * The canary manifest for `backend` of `manifest` (normalized list form).
 * @returns {{manifest: object, canary: {name: string, binding: string, weight: number}, incumbent: {name: string, binding: string, weight: number}}}
 */
export function canaryManifest(manifest, backend, share = 0.1) {
  if (!(share > 0 && share <= 1)) throw new Error(`the canary's share must be in (0, 1], got ${share}`);
  if (!Array.isArray(manifest?.backends)) throw new Error("the manifest has no backends list (give build/config/manifest.json)");
  const incumbent = manifest.backends.find((b) => b?.name === backend);
  if (!incumbent) throw new Error(`no backend "${backend}" in the manifest`);
  const name = `${backend}-canary`;
  if (name.length > MAX_NAME) throw new Error(`"${name}" is longer than ${MAX_NAME} characters: shorten the backend's name`);
  const binding = bindingFor(name);
  if (manifest.backends.some((b) => b?.name === name || b?.binding === binding)) throw new Error(`the manifest already has ${name} / ${binding}`);
  const incumbentWeight = Number.isFinite(incumbent.weight) && incumbent.weight > 0 ? incumbent.weight : 1;
  const weight = Number((incumbentWeight * share).toPrecision(6));
  const routerConfig = routerConfigObject(manifest.orchestrator?.routerConfig);
  const canary = { ...structuredClone(incumbent), name, binding, weight };
  const next = structuredClone(manifest);
  next.backends.push(canary);
  next.orchestrator = { ...next.orchestrator, routerConfig: { ...routerConfig, backends: { ...routerConfig.backends, [binding]: { weight } } } };
  return { manifest: next, canary: { name, binding, weight }, incumbent: { name: incumbent.name, binding: incumbent.binding, weight: incumbentWeight } };
}

async function main(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      manifest: { type: "string" }, backend: { type: "string" }, share: { type: "string", default: "0.1" }, out: { type: "string" },
      "config-dir": { type: "string", default: "build/config" }, "github-output": { type: "string" },
    },
  });
  if (!values.manifest || !values.backend || !values.out) {
    process.stderr.write("usage: node scripts/deploy/canary-manifest.mjs --manifest build/config/manifest.json --backend NAME [--share 0.1] --out FILE [--github-output FILE]\n");
    return 2;
  }
  try {
    const result = canaryManifest(JSON.parse(await readFile(values.manifest, "utf8")), values.backend, Number(values.share));
    await writeFile(values.out, `${JSON.stringify(result.manifest, null, 2)}\n`);
    process.stdout.write(`canary ${result.canary.name} (${result.canary.binding}, weight ${result.canary.weight}) beside ${result.incumbent.name} (${result.incumbent.binding}, weight ${result.incumbent.weight}): ${values.out}\n`);
    const twin = result.manifest.backends.at(-1);
    const matrix = [{ name: twin.name, binding: twin.binding, dir: `${values["config-dir"]}/backends/${twin.name}`, upstreamApiKeySecret: twin.upstreamApiKeySecret ?? "" }];
    await appendGithubOutputs(values["github-output"], {
      canary: result.canary.name, canary_binding: result.canary.binding,
      incumbent: result.incumbent.name, incumbent_binding: result.incumbent.binding, backends: JSON.stringify(matrix),
    });
    return 0;
  } catch (e) {
    process.stderr.write(`${e.message}\n`);
    return 1;
  }
}

if (isMain(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
