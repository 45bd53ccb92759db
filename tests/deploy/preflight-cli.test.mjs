// The commands a user and the workflow run: the rehearsal and scripts/deploy-preflight.mjs refuse
// each bad manifest before anything is rendered or dry-run, exit 1 and say why in one line; a good
// manifest passes, and a public one passes with a warning (a GitHub annotation in Actions).
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { ROOT, scratchDir } from "./helpers.mjs";

const exec = promisify(execFile);
let scratch;
before(async () => { scratch = await scratchDir("preflight-cli"); });
after(() => scratch.remove());

// The environment without ROUTER_API_KEYS, so that only what a test gives is known.
const { ROUTER_API_KEYS: _unused, GITHUB_ACTIONS: _gh, ...baseEnv } = process.env;

/** Runs a script of scripts/ with `args` and `env` added; resolves to {code, stdout, stderr}. */
async function run(script, args, env = {}) {
  const options = { cwd: ROOT, env: { ...baseEnv, WRANGLER_SEND_METRICS: "false", ...env }, maxBuffer: 8 << 20 };
  return exec(process.execPath, [`scripts/${script}`, ...args], options).then((r) => ({ code: 0, ...r }), (e) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }));
}

async function manifestFile(name, manifest) {
  const file = path.join(scratch.dir, `${name}.json`);
  await writeFile(file, JSON.stringify(manifest));
  return file;
}

const echo = (name) => ({ name, provider: "echo" });

describe("the rehearsal refuses before rendering or dry-running anything", () => {
  const cases = [
    ["invalid routerConfig", { orchestrator: { routerConfig: { strategy: "nonsense" } }, backends: [echo("a")] }, [], {},
      /- orchestrator\.routerConfig\.strategy: strategy must be "round-robin", "least-inflight" or "peak-ewma"/],
    ["a key secret named like the Cloudflare credentials", { backends: [{ name: "up", provider: "openai-compatible",
      vars: { UPSTREAM_BASE_URL: "https://attacker.invalid/v1" }, upstreamApiKeySecret: "CLOUDFLARE_API_TOKEN" }] }, [], {},
      /- backends\[0\] "up": upstreamApiKeySecret "CLOUDFLARE_API_TOKEN" is named like a Cloudflare credential/],
    ["access keys with ROUTER_API_KEYS empty in the environment", { backends: [echo("a")] }, [], { ROUTER_API_KEYS: "" },
      /- orchestrator\.access is "keys" but ROUTER_API_KEYS is empty/],
    ["access keys with --router-api-keys empty", { orchestrator: { access: "keys" }, backends: [echo("a")] }, ["--router-api-keys", "empty"], {},
      /- orchestrator\.access is "keys" but ROUTER_API_KEYS is empty/],
    ["over the Workers Free limit", { backends: { count: 100, pattern: "be-{i}" } }, [], {},
      /- account: 101 Workers \(100 backends \+ the orchestrator\) is over Workers Free's 100 Workers per account/],
    ["over the limit --workers-plan paid states", { account: { plan: "paid", otherWorkers: 450 }, backends: { count: 50, pattern: "be-{i}" } }, [], {},
      /- account: 501 Workers .* is over Workers Paid's 500 Workers per account/],
  ];
  for (const [what, manifest, args, env, expected] of cases) {
    test(what, async () => {
      const file = await manifestFile(what.replaceAll(/\W+/g, "-"), manifest);
      const out = path.join(scratch.dir, "out", what.replaceAll(/\W+/g, "-"));
      const r = await run("deploy-rehearsal.mjs", ["--manifest", file, "--out", `${out}/config`, "--bundles", `${out}/bundle`, ...args], env);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /^deploy rehearsal failed: .*\.json: (refused before deploying anything|invalid backends manifest):\n/);
      assert.match(r.stderr, expected);
      await assert.rejects(readdir(out), "nothing rendered, nothing dry-run");
    });
  }
});

describe("scripts/deploy-preflight.mjs, as the workflow runs it", () => {
  test("a good manifest passes and says what was checked", async () => {
    const file = await manifestFile("good", { orchestrator: { routerConfig: { strategy: "least-inflight" } }, backends: [echo("a"), echo("b")] });
    const r = await run("deploy-preflight.mjs", ["--manifest", file], { ROUTER_API_KEYS: "k1,k2" });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /: passed\n {2}routerConfig: accepted by the Wasm core\n {2}access: keys \(clients need a key of ROUTER_API_KEYS\)\n {2}account: 3 of 100 Workers \(Workers Free\)/);
    assert.ok(!r.stdout.includes("k1"), "the keys are never printed");
  });

  test("an empty ROUTER_API_KEYS secret stops a keys deploy, as a GitHub error annotation", async () => {
    const r = await run("deploy-preflight.mjs", ["--count", "2", "--no-core"], { ROUTER_API_KEYS: "", GITHUB_ACTIONS: "true" });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^::error::orchestrator\.access is "keys" but ROUTER_API_KEYS is empty/m);
  });

  test("public passes with a warning, a GitHub warning annotation in Actions", async () => {
    const file = await manifestFile("public", { orchestrator: { access: "public" }, backends: [echo("a")] });
    const local = await run("deploy-preflight.mjs", ["--manifest", file], { ROUTER_API_KEYS: "" });
    assert.equal(local.code, 0, local.stderr);
    assert.match(local.stdout, /\nwarning: orchestrator\.access is "public": anyone who finds/);
    const actions = await run("deploy-preflight.mjs", ["--manifest", file], { ROUTER_API_KEYS: "", GITHUB_ACTIONS: "true" });
    assert.match(actions.stdout, /\n::warning::orchestrator\.access is "public"/);
  });

  test("bad options exit 2 with the usage", async () => {
    const r = await run("deploy-preflight.mjs", ["--workers-plan", "enterprise"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--workers-plan must be "free" or "paid" \(got "enterprise"\)\nusage: /);
  });
});
