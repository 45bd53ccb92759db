// The deploy workflow's check steps, run as GitHub runs them (bash -eo pipefail, the step's env):
// the first job refuses a keys deploy whose ROUTER_API_KEYS secret is empty before anything else
// runs; the plan job checks routerConfig with the Wasm core before rendering; a backend's secret
// is read only under an UPSTREAM_ name.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { after, before, test } from "node:test";
import { promisify } from "node:util";
import { ROOT, scratchDir } from "./helpers.mjs";
import { workflowStep } from "./workflow-steps.mjs";

const exec = promisify(execFile);
const WORKFLOW = path.join(ROOT, ".github/workflows/cf-deploy.yml");
let text;
let scratch;
before(async () => {
  text = await readFile(WORKFLOW, "utf8");
  scratch = await scratchDir("workflow-checks");
});
after(() => scratch.remove());

/** The lines of job `job` (from its key at two spaces to the next job). */
function jobLines(job) {
  const lines = text.split("\n");
  const start = lines.indexOf(`  ${job}:`);
  assert.ok(start >= 0, `no job ${job}`);
  const end = lines.findIndex((l, i) => i > start && /^ {2}[a-z-]+:$/.test(l));
  return lines.slice(start, end < 0 ? undefined : end);
}

/** Runs a step's script as GitHub does, with `env` for its env; resolves to {code, stdout, stderr}. */
async function runStep({ run }, env) {
  const { ROUTER_API_KEYS: _unset, ...base } = process.env;
  const options = { cwd: ROOT, env: { ...base, GITHUB_ACTIONS: "true", WRANGLER_SEND_METRICS: "false", ...env } };
  return exec("bash", ["--noprofile", "--norc", "-eo", "pipefail", "-c", run], options)
    .then((r) => ({ code: 0, ...r }), (e) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }));
}

const needs = (job) => /^ {4}needs: (.*)$/m.exec(jobLines(job).join("\n"))?.[1] ?? null;

test("the deploy checks are the first job: everything else waits for them", () => {
  assert.equal(needs("preflight"), null, "preflight needs nothing");
  assert.equal(needs("build-and-test"), "preflight");
  assert.equal(needs("plan"), "build-and-test");
  assert.equal(needs("deploy-backends"), "plan");
  assert.equal(needs("deploy-orchestrator"), "[plan, deploy-backends]");
});

test("the first job refuses a keys deploy with an empty ROUTER_API_KEYS secret, and passes with keys or public", async () => {
  const checks = await workflowStep("preflight", "Access, key secret names and account limits of the manifest");
  assert.equal(checks.env.ROUTER_API_KEYS, "${{ secrets.ROUTER_API_KEYS }}");
  assert.match(checks.run, /node scripts\/deploy-preflight\.mjs "\$\{source\[@\]\}" --no-core/);
  const keys = path.join(scratch.dir, "keys.json");
  const open = path.join(scratch.dir, "public.json");
  await writeFile(keys, JSON.stringify({ backends: [{ name: "a" }] }));
  await writeFile(open, JSON.stringify({ orchestrator: { access: "public" }, backends: [{ name: "a" }] }));
  const inputs = { COUNT: "", PATTERN: "echo-{i}", WORKERS_PLAN: "" };

  const refused = await runStep(checks, { ...inputs, MANIFEST: keys, ROUTER_API_KEYS: "" });
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /^::error::orchestrator\.access is "keys" but ROUTER_API_KEYS is empty/m);
  const passed = await runStep(checks, { ...inputs, MANIFEST: keys, ROUTER_API_KEYS: "client-key-1" });
  assert.equal(passed.code, 0, passed.stderr);
  assert.ok(!passed.stdout.includes("client-key-1"));
  const warned = await runStep(checks, { ...inputs, MANIFEST: open, ROUTER_API_KEYS: "" });
  assert.equal(warned.code, 0, warned.stderr);
  assert.match(warned.stdout, /^::warning::orchestrator\.access is "public"/m);
  const counted = await runStep(checks, { ...inputs, COUNT: "150", MANIFEST: "", ROUTER_API_KEYS: "k" });
  assert.match(counted.stderr, /::error::account: 151 Workers/);
  const paid = await runStep(checks, { ...inputs, COUNT: "150", WORKERS_PLAN: "paid", ROUTER_API_KEYS: "k" });
  assert.equal(paid.code, 0, paid.stderr);
});

test("the plan job checks routerConfig with the Wasm core before it renders", async () => {
  const lines = jobLines("plan").join("\n");
  const check = "      - name: Check the router config with the Wasm core, and every other deploy check";
  assert.ok(lines.indexOf("name: router-wasm") < lines.indexOf(check) && lines.indexOf(check) < lines.indexOf("- name: Render every wrangler config"));
  const checks = await workflowStep("plan", "Check the router config with the Wasm core, and every other deploy check");
  assert.doesNotMatch(checks.run, /--no-core/);
  const bad = path.join(scratch.dir, "bad-config.json");
  await writeFile(bad, JSON.stringify({ orchestrator: { routerConfig: { strategy: "nonsense" } }, backends: [{ name: "a" }] }));
  const r = await runStep(checks, { MANIFEST: bad, COUNT: "", PATTERN: "echo-{i}", WORKERS_PLAN: "" });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^::error::orchestrator\.routerConfig\.strategy: strategy must be "round-robin", "least-inflight" or "peak-ewma"/m);
});

test("a secret is read by name only under UPSTREAM_", () => {
  const reads = [...text.matchAll(/\$\{\{[^}]*secrets\[[^}]*\}\}/g)].map((m) => m[0]);
  assert.ok(reads.length >= 1); // the backend job reads it once, into the version's secrets file
  for (const read of reads) {
    assert.equal(read, "${{ startsWith(matrix.backend.upstreamApiKeySecret, 'UPSTREAM_') && secrets[matrix.backend.upstreamApiKeySecret] || '' }}");
  }
});
