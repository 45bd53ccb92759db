// The deploy workflow's shape that the rollout relies on (issue 14): deploy jobs in the production
// environment (GitHub records the deployment), a concurrency group per ref that never cancels a
// run in progress, the gate on the fast tests only, one build of the bundles (no npm ci per
// backend), and wrangler run by the steps themselves (no third-party action holds the token).
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { test } from "node:test";
import { ROOT } from "./helpers.mjs";

const read = (file) => readFile(path.join(ROOT, file), "utf8");

/** The text of job `job` in a workflow's text. */
function job(text, name) {
  const start = text.indexOf(`\n  ${name}:\n`);
  assert.ok(start >= 0, `no job ${name}`);
  const next = text.slice(start + 1).search(/\n {2}[a-z-]+:\n/);
  return next < 0 ? text.slice(start) : text.slice(start, start + 1 + next);
}

test("deploy jobs run in the production environment; concurrency per ref, never cancelling", async () => {
  const text = await read(".github/workflows/cf-deploy.yml");
  for (const name of ["deploy-backends", "canary", "prune"]) assert.match(job(text, name), /\n {4}environment: production\n/, name);
  assert.match(job(text, "deploy-orchestrator"), /\n {4}environment:\n {6}name: production\n {6}url: \$\{\{ steps\.url\.outputs\.url \}\}\n/);
  assert.match(text, /\nconcurrency:\n {2}group: cf-deploy-\$\{\{ github\.ref \}\}\n {2}cancel-in-progress: false\n/);
  assert.match(job(text, "plan"), /if \[ "\$REF" != refs\/heads\/main \]/);
});

test("the gate is the fast tests: ci.yml without fuzzing, and scripts/test.sh stops before the fuzzers", async () => {
  const deploy = await read(".github/workflows/cf-deploy.yml");
  assert.match(job(deploy, "build-and-test"), /uses: \.\/\.github\/workflows\/ci\.yml\n {4}with:\n {6}fuzz: false\n/);
  const ci = await read(".github/workflows/ci.yml");
  assert.match(ci, /SKIP_FUZZ: \$\{\{ format\('\{0\}', inputs\.fuzz\) == 'false' && '1' \|\| '0' \}\}/);
  const script = await read("scripts/test.sh");
  const skip = script.indexOf('if [ "${SKIP_FUZZ:-0}" = 1 ]');
  assert.ok(skip > 0 && skip < script.indexOf("node --test tests/fuzz/"), "SKIP_FUZZ is honoured before the fuzzers run");
});

test("one build of the bundles: the plan job builds them, the deploy jobs install only wrangler", async () => {
  const text = await read(".github/workflows/cf-deploy.yml");
  assert.match(job(text, "plan"), /--outdir build\/bundle\/backend[\s\S]*--outdir build\/bundle\/orchestrator[\s\S]*name: bundles/);
  for (const name of ["deploy-backends", "deploy-orchestrator", "canary", "prune"]) {
    assert.doesNotMatch(job(text, name), /run: npm ci/, name);
  }
  assert.match(job(text, "deploy-backends"), /upload-version\.sh "\$BACKEND" "\$CONFIG_DIR\/wrangler\.toml" build\/bundle\/backend\/index\.js 100/);
  assert.match(job(text, "deploy-orchestrator"), /upload-version\.sh "\$WORKER" build\/config\/orchestrator\/wrangler\.toml build\/bundle\/orchestrator\/index\.js 10\n/);
  assert.doesNotMatch(text, /wrangler-action/);
});
