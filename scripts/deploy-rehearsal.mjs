#!/usr/bin/env node
// The whole deployment, offline: the deploy's checks (scripts/lib/deploy-preflight.mjs: the
// router config through the Wasm core, access, the account's limits), then render the configs
// for a manifest, `wrangler deploy --dry-run` every backend and the orchestrator, check that
// wrangler sees exactly the planned bindings, and report what a real deploy
// (.github/workflows/cf-deploy.yml) would upload and bind.
//
//   node scripts/deploy-rehearsal.mjs [--manifest backends.json | --count N --pattern name-{i}]
//        [--out build/config] [--bundles build/bundle/rehearsal] [--json]
//        [--workers-plan free|paid] [--router-api-keys set|empty] [--no-core]
// ROUTER_API_KEYS in the environment (even empty) is what the access check knows of that secret.
import path from "node:path";
import { pathToFileURL } from "node:url";
import { ManifestError } from "./lib/backends-manifest.mjs";
import { describePreflight, preflight } from "./lib/deploy-preflight.mjs";
import { takePreflightOptions } from "./lib/preflight-options.mjs";
import { dryRun, inPool } from "./lib/wrangler-dry-run.mjs";
import { ROOT, renderDeployment, resolveCli } from "./render-configs.mjs";

export const DEFAULT_BUNDLES = path.join(ROOT, "build/bundle/rehearsal");
// Two cores: more parallel esbuild runs only make each slower.
const PARALLEL_DRY_RUNS = 2;

/**
 * The bindings wrangler reports for a dry run ("env.BACKEND_A (echo-a)   Worker"), as
 * {name, detail, resource}. This is wrangler's own reading of the rendered config.
 */
export function wranglerBindings(output) {
  const bindings = [];
  for (const line of output.split("\n")) {
    const m = line.match(/^env\.([A-Za-z0-9_]+)(?: \((.*?)\))?\s{2,}(\S.*?)\s*$/);
    if (m) bindings.push({ name: m[1], detail: m[2] ?? "", resource: m[3] });
  }
  return bindings;
}

/** Problems when wrangler's reading of a dry run differs from the plan (empty = as planned). */
function compareBindings(worker, seen, expected) {
  const problems = [];
  // A var is compared by name (wrangler shows its value quoted, and may shorten it); others by target.
  const key = (b) => `${b.name} -> ${b.resource}${b.detail && b.resource !== "Environment Variable" ? ` (${b.detail})` : ""}`;
  const seenKeys = new Set(seen.map(key));
  const expectedKeys = new Set(expected.map(key));
  for (const k of expectedKeys) if (!seenKeys.has(k)) problems.push(`${worker}: wrangler does not bind ${k}`);
  for (const k of seenKeys) if (!expectedKeys.has(k)) problems.push(`${worker}: wrangler binds an unplanned ${k}`);
  return problems;
}

/** The bindings a rendered Worker must show in wrangler's dry-run table. */
function expectedBindings(plan, worker) {
  const variable = (name) => ({ name, detail: "", resource: "Environment Variable" });
  if (worker === "orchestrator") {
    return [
      ...plan.orchestrator.bindings.map((b) => ({ name: b.binding, detail: b.service, resource: "Worker" })),
      ...(plan.orchestrator.routerConfig ? [variable("ROUTER_CONFIG")] : []),
      ...(plan.orchestrator.durableObjects ?? []).map((d) => ({ name: d.binding, detail: d.className, resource: "Durable Object" })),
      ...(plan.orchestrator.analyticsDatasets ?? []).map((d) => ({ name: d.binding, detail: d.dataset, resource: "Analytics Engine Dataset" })),
    ];
  }
  const b = plan.backends.find((x) => x.name === worker);
  const vars = ["BACKEND_NAME", "PROVIDER", "MODELS", "WEIGHT", ...b.vars].map(variable);
  return [...(b.ai ? [{ name: "AI", detail: "", resource: "AI" }] : []), ...vars];
}

/**
 * Checks `manifest` (normalized) as a deploy does (`checks`: preflight()'s options), renders it
 * into `outDir` and dry-runs into `bundleDir`. `backends` limits the dry runs to those backend
 * names (all by default); the orchestrator is always dry-run. Resolves to the report; rejects
 * with a DeployCheckError before rendering anything when a check fails, and when wrangler refuses
 * a config or binds something unplanned.
 */
export async function rehearse(manifest, { outDir, bundleDir = DEFAULT_BUNDLES, source = "manifest", backends, root = ROOT, checks = {} } = {}) {
  const checked = await preflight(manifest, { ...checks, source });
  const plan = await renderDeployment(manifest, { outDir, source, root });
  const chosen = plan.backends.filter((b) => !backends || backends.includes(b.name));
  const jobs = [
    ...chosen.map((b) => ({ worker: b.name, config: path.join(outDir, b.config), outdir: path.join(bundleDir, "backends", b.name) })),
    { worker: "orchestrator", config: path.join(outDir, plan.orchestrator.config), outdir: path.join(bundleDir, "orchestrator") },
  ];
  const results = await inPool(jobs.map((job) => async () => ({ ...job, ...(await dryRun(job.config, job.outdir)) })), PARALLEL_DRY_RUNS);

  const problems = [];
  for (const r of results) problems.push(...compareBindings(r.worker, wranglerBindings(r.output), expectedBindings(plan, r.worker)));
  if (problems.length > 0) throw new Error(`the dry runs differ from the plan:\n  ${problems.join("\n  ")}`);

  const bundle = (r) => ({ dir: r.outdir, files: r.files });
  return {
    source,
    checks: checked,
    configDir: outDir,
    backends: chosen.map((b) => ({ ...b, bundle: bundle(results.find((r) => r.worker === b.name)) })),
    skipped: plan.backends.filter((b) => !chosen.includes(b)).map((b) => b.name),
    orchestrator: { ...plan.orchestrator, bundle: bundle(results.at(-1)) },
  };
}

const kib = (bytes) => `${(bytes / 1024).toFixed(1)} KiB`;
const rel = (p) => path.relative(process.cwd(), p) || ".";
const fileList = (files) => files.filter((f) => !f.name.endsWith(".map") && f.name !== "README.md")
  .map((f) => `${f.name} ${kib(f.bytes)}`).join(", ");

/** The human report of a rehearsal. */
export function formatReport(report) {
  const o = report.orchestrator;
  const lines = [
    `Deploy rehearsal from ${report.source}: dry runs only, nothing was uploaded.`,
    `Configs: ${rel(report.configDir)}/   Bundles: ${rel(path.dirname(o.bundle.dir))}/`,
    "",
    "0. the checks a deploy makes before uploading anything, passed:",
    ...describePreflight(report.checks).map((l) => `   ${l}`),
    "",
    `1. ${report.backends.length + report.skipped.length} backend Worker(s), private (workers_dev = false, preview_urls = false, no routes), uploaded in parallel as versions tagged with the commit, secrets included:`,
  ];
  for (const b of report.backends) {
    lines.push(`   ${b.name}: provider ${b.provider}, models ${b.models.join(",")}, weight ${b.weight}` +
      `${b.ai ? ", [ai] binding AI" : ""}${b.vars.length ? `, vars ${b.vars.join(",")}` : ""}` +
      `${b.upstreamApiKeySecret ? `, secret UPSTREAM_API_KEY from ${b.upstreamApiKeySecret}` : ""}`);
    lines.push(`      bundle: ${fileList(b.bundle.files)}`);
  }
  if (report.skipped.length) lines.push(`   (rendered but not dry-run: ${report.skipped.join(", ")})`);
  const access = report.checks.access === "public" ? "open to anyone" : "asking for a key of ROUTER_API_KEYS";
  lines.push("", `2. then the orchestrator ${o.name}, at https://${o.name}.<your-subdomain>.workers.dev, ${access}, as a new version serving 10 % of requests:`);
  lines.push(`      bundle: ${fileList(o.bundle.files)}`);
  lines.push(`      ROUTER_CONFIG: ${o.routerConfig ? "set from the manifest" : "not set (default policy)"}`);
  lines.push(`      secrets, uploaded when the repository secrets exist: ${o.secrets.join(", ")}`);
  lines.push(`      ${o.bindings.length} service binding(s), as wrangler reads them:`);
  for (const b of o.bindings) lines.push(`        env.${b.binding} -> Worker ${b.service}`);
  lines.push("", "3. then the smoke check of that version: GET /healthz, and GET /status listing every binding above described and healthy;",
    "   passed: the orchestrator is promoted to 100 %; failed: it and the backends go back to their previous versions and the run fails with the reason.");
  return lines.join("\n");
}

async function main(args) {
  let checks, argv;
  try {
    ({ options: checks, rest: argv } = takePreflightOptions(args));
  } catch (e) {
    process.stderr.write(`${e.message}\n`);
    return 2;
  }
  const bundlesAt = argv.indexOf("--bundles");
  if (bundlesAt >= 0 && !argv[bundlesAt + 1]) {
    process.stderr.write("--bundles needs a folder\n");
    return 2;
  }
  const bundleDir = bundlesAt >= 0 ? path.resolve(argv[bundlesAt + 1]) : DEFAULT_BUNDLES;
  const renderArgs = bundlesAt >= 0 ? argv.toSpliced(bundlesAt, 2) : argv;
  let options;
  try {
    options = await resolveCli(renderArgs);
  } catch (e) {
    // A manifest the checks refuse is a refused rehearsal (1), like one the deploy checks refuse.
    process.stderr.write(`${e instanceof ManifestError ? "deploy rehearsal failed: " : ""}${e.message}\n`);
    return e instanceof ManifestError ? 1 : 2;
  }
  if (options.help) {
    process.stdout.write("usage: node scripts/deploy-rehearsal.mjs [--manifest FILE | --count N --pattern NAME-{i}] [--out DIR] [--bundles DIR] [--json]\n" +
      "       [--workers-plan free|paid] [--router-api-keys set|empty] [--no-core]   (ROUTER_API_KEYS in the environment is read too)\n");
    return 0;
  }
  try {
    const report = await rehearse(options.manifest, { ...options, bundleDir, checks });
    process.stdout.write(options.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatReport(report)}\n`);
    return 0;
  } catch (e) {
    process.stderr.write(`deploy rehearsal failed: ${e instanceof ManifestError ? "" : "\n"}${e.message}\n`);
    return 1;
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  process.exitCode = await main(process.argv.slice(2));
}
