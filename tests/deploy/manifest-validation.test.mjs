// Bad manifests fail before anything is rendered, with a message naming the field and the fix.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { ManifestError, normalizeManifest } from "../../scripts/lib/backends-manifest.mjs";
import { ROOT, scratchDir } from "./helpers.mjs";

const run = promisify(execFile);

/** Asserts `manifest` is refused with problems matching every pattern of `expected`. */
function refused(manifest, ...expected) {
  let error;
  try {
    normalizeManifest(manifest, "test.json");
  } catch (e) {
    error = e;
  }
  assert.ok(error instanceof ManifestError, `refused: ${JSON.stringify(manifest)}`);
  assert.match(error.message, /^test\.json: invalid backends manifest:/);
  for (const pattern of expected) assert.ok(error.problems.some((p) => pattern.test(p)), `${pattern} in:\n${error.message}`);
  return error;
}

const echo = (name, extra = {}) => ({ name, provider: "echo", ...extra });

describe("manifest validation", () => {
  test("zero backends", () => {
    refused({ backends: [] }, /backends is empty: deploy at least one backend/);
    refused({ backends: { count: 0, pattern: "x-{i}" } }, /backends\.count is 0/);
    refused({}, /backends is missing/);
  });

  test("duplicate names and bindings", () => {
    refused({ backends: [echo("a-1"), echo("b"), echo("a-1")] }, /Worker name "a-1" is used by 2 backends/);
    refused({ backends: [echo("a", { binding: "BACKEND_X" }), echo("b", { binding: "BACKEND_X" })] }, /binding "BACKEND_X" is used by 2 backends/);
    refused({ backends: [echo("x", { binding: "BACKEND_Y" }), echo("y")] }, /binding "BACKEND_Y" is used by 2 backends/);
    refused({ orchestrator: { name: "same" }, backends: [echo("same")] }, /orchestrator\.name "same" is also a backend's name/);
  });

  test("names wrangler and Cloudflare would reject", () => {
    for (const name of ["Echo-A", "echo_a", "-echo", "echo-", "e".repeat(64), "", "ech o", "écho"]) {
      refused({ backends: [echo(name)] }, /is not a valid Worker name: use 1-63 lowercase letters, digits and dashes/);
    }
    refused({ backends: [{ provider: "echo" }] }, /backends\[0\]\.name is missing/);
    refused({ orchestrator: { name: "My Router" }, backends: [echo("a")] }, /orchestrator\.name "My Router" is not a valid Worker name/);
    refused({ backends: [echo("a", { binding: "ECHO_A" })] }, /binding must look like "BACKEND_NAME"/);
    const error = refused({ backends: { count: 40, pattern: "Bad-{i}" } }, /backends\.pattern "Bad-\{i\}" gives "Bad-1"/);
    assert.equal(error.problems.length, 1, "a bad pattern is reported once, not per backend");
    refused({ backends: { count: 10, pattern: `${"x".repeat(62)}{i}` } }, /gives "x{62}10", not a valid Worker name/);
    refused({ backends: { count: 3, pattern: "no-index" } }, /backends\.pattern must be a Worker name containing "\{i\}"/);
  });

  test("unknown provider", () => {
    refused({ backends: [echo("a", { provider: "bedrock" })] }, /backends\[0\] "a": unknown provider "bedrock"; use one of echo, workers-ai, openai-compatible, anthropic/);
  });

  test("anthropic is a provider, its key named by upstreamApiKeySecret (UPSTREAM_BASE_URL optional)", () => {
    const { backends } = normalizeManifest({ backends: [{ name: "claude", provider: "anthropic", models: ["claude-sonnet"], upstreamApiKeySecret: "UPSTREAM_ANTHROPIC_KEY" }] });
    assert.equal(backends[0].provider, "anthropic");
    assert.equal(backends[0].upstreamApiKeySecret, "UPSTREAM_ANTHROPIC_KEY");
  });

  test("openai-compatible needs an http(s) UPSTREAM_BASE_URL", () => {
    refused({ backends: [{ name: "up", provider: "openai-compatible" }] }, /provider openai-compatible needs vars\.UPSTREAM_BASE_URL/);
    refused({ backends: [{ name: "up", provider: "openai-compatible", vars: { UPSTREAM_BASE_URL: "ftp://x" } }] }, /UPSTREAM_BASE_URL must be an http\(s\) URL/);
  });

  test("bad weights", () => {
    for (const weight of [0, -1, "2", null, 1e9, true]) {
      refused({ backends: [echo("a", { weight })] }, /"a": weight must be a number > 0 and <= 1000000/);
    }
  });

  test("bad models, vars, secrets and unknown fields", () => {
    refused({ backends: [echo("a", { models: [] })] }, /models must be "\*" or a non-empty list/);
    refused({ backends: [echo("a", { models: ["a,b"] })] }, /without commas/);
    refused({ backends: [echo("a", { vars: { PROVIDER: "echo" } })] }, /vars\.PROVIDER is set from the backend's "provider" field/);
    refused({ backends: [echo("a", { vars: { UPSTREAM_API_KEY: "sk-123" } })] }, /UPSTREAM_API_KEY is a secret, never a var/);
    refused({ backends: [echo("a", { vars: { "lower-case": "x" } })] }, /var name "lower-case"/);
    refused({ backends: [echo("a", { upstreamApiKeySecret: "KEY" })] }, /upstreamApiKeySecret is only used by provider openai-compatible/);
    refused({ backends: [echo("a", { weigth: 2 })] }, /backends\[0\]: unknown field "weigth"/);
    refused({ orchestrator: { routerConfig: "[1]" }, backends: [echo("a")] }, /orchestrator\.routerConfig must be a JSON object/);
    refused({ backends: { count: 300, pattern: "x-{i}" } }, /backends\.count must be a whole number from 1 to 256/);
  });

  test("every problem is reported at once", () => {
    const error = refused({ backends: [echo("A"), { name: "b", provider: "nope" }, echo("c", { weight: 0 })] },
      /"A" is not a valid Worker name/, /unknown provider "nope"/, /"c": weight must be/);
    assert.equal(error.problems.length, 3);
  });

  test("a good manifest passes, normalized", () => {
    const manifest = normalizeManifest({ backends: [{ name: "a" }, { name: "b-2", models: ["m1", "*"] }] });
    assert.deepEqual(manifest.backends.map((b) => [b.name, b.binding, b.provider, b.models, b.weight]),
      [["a", "BACKEND_A", "echo", ["*"], 1], ["b-2", "BACKEND_B_2", "echo", ["*"], 1]]);
  });
});

describe("render-configs CLI on a bad manifest", () => {
  let scratch;
  before(async () => { scratch = await scratchDir("validation"); });
  after(() => scratch.remove());

  test("exits 2 with the problems on stderr and renders nothing", async () => {
    const file = path.join(scratch.dir, "bad.json");
    await writeFile(file, JSON.stringify({ backends: [echo("dup"), echo("dup")] }));
    const out = path.join(scratch.dir, "out");
    const failure = await run(process.execPath, ["scripts/render-configs.mjs", "--manifest", file, "--out", out], { cwd: ROOT })
      .then(() => null, (e) => e);
    assert.ok(failure, "the CLI failed");
    assert.equal(failure.code, 2);
    assert.match(failure.stderr, /bad\.json: invalid backends manifest:\n {2}- Worker name "dup" is used by 2 backends/);
    await assert.rejects(readdir(out), "nothing rendered");
  });

  test("invalid JSON is named as such", async () => {
    const file = path.join(scratch.dir, "broken.json");
    await writeFile(file, "{ \"backends\": [ }");
    const failure = await run(process.execPath, ["scripts/render-configs.mjs", "--manifest", file, "--out", path.join(scratch.dir, "o2")], { cwd: ROOT })
      .then(() => null, (e) => e);
    assert.equal(failure?.code, 2);
    assert.match(failure.stderr, /broken\.json: invalid backends manifest:\n {2}- not valid JSON/);
  });
});
