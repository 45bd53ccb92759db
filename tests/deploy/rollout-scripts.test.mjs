// The smaller pieces of the rollout: the smoke check's per-backend verdict and its version override,
// the secrets file a version is uploaded with, the router's URL, and the backends a rollback
// returns. Each input is treated as hostile: nothing unchecked reaches a header or a command line.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import { after, before, test } from "node:test";
import { promisify } from "node:util";
import { smokeCheck, statusProblems, versionOverrideHeader } from "../../scripts/smoke-check.mjs";
import { pickSecrets } from "../../scripts/deploy/secrets-file.mjs";
import { routerUrl } from "../../scripts/deploy/router-url.mjs";
import { backendRollbacks } from "../../scripts/deploy/backend-rollbacks.mjs";
import { ROOT, scratchDir } from "./helpers.mjs";

const exec = promisify(execFile);
const NEW = "11111111-2222-4333-8444-555555555555";
const OLD = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee";
const plan = { backends: [{ name: "a", binding: "BACKEND_A" }] };
const good = { binding: "BACKEND_A", described: true, name: "a", models: ["m"], state: "healthy", until: null };

let scratch;
before(async () => { scratch = await scratchDir("rollout-scripts"); });
after(() => scratch?.remove());

test("smoke check: a bound backend must be described, with models, and healthy", () => {
  assert.deepEqual(statusProblems({ backends: [good] }, plan), []);
  const cases = [
    [{ ...good, described: false, name: null }, /describe\(\) has not answered as "a"/],
    [{ ...good, models: [] }, /no models known/],
    [{ ...good, state: "cooldown", until: 99 }, /not healthy \(state "cooldown", until 99\)/],
    [{ ...good, state: "ejected", until: 5 }, /ejected until 5/],
    [{ ...good, describeError: "boom\n::error::forged" }, /^BACKEND_A: describe\(\) failed: boom ::error::forged$/],
  ];
  for (const [backend, problem] of cases) assert.match(statusProblems({ backends: [backend] }, plan).join("\n"), problem);
  assert.deepEqual(statusProblems({ backends: [good, null] }, plan), ["/status lists a backend without a binding name"]);
});

test("smoke check: every request carries the version override, which only a Worker name and a version id can fill", async () => {
  const seen = [];
  const fake = async (url, init) => {
    seen.push([new URL(url).pathname, init.headers["cloudflare-workers-version-overrides"]]);
    const body = url.endsWith("/healthz") ? { status: "ok" } : url.endsWith("/status") ? { backends: [good] } : { data: [] };
    return new Response(JSON.stringify(body));
  };
  await smokeCheck({ url: "https://r.example", plan, versionOverride: `ai-router=${NEW}`, attempts: 1, fetch: fake });
  assert.deepEqual(seen, ["/healthz", "/v1/models", "/status"].map((p) => [p, `ai-router="${NEW}"`]));
  for (const bad of [`ai-router=${NEW}\r\nx: y`, `ai-router="${NEW}"`, `AI=${NEW}`, "ai-router=latest", `=${NEW}`]) {
    assert.throws(() => versionOverrideHeader(bad), /WORKER=VERSION-ID/, bad);
  }
});

test("secrets file: only the non-empty secrets, owner-readable, and the CLI prints names, never values", async () => {
  assert.deepEqual(pickSecrets(["A", "B", "C"], { A: "x", B: "" }), { A: "x" });
  assert.throws(() => pickSecrets(["a;b"], {}), /not a secret name/);
  const out = path.join(scratch.dir, "secrets.json");
  const r = await exec("node", [path.join(ROOT, "scripts/deploy/secrets-file.mjs"), "--out", out, "ROUTER_API_KEYS", "ROUTER_ADMIN_KEY"],
    { env: { ...process.env, ROUTER_API_KEYS: "k-123,k-456", ROUTER_ADMIN_KEY: "" } });
  assert.equal(r.stdout, "secrets uploaded with the version: ROUTER_API_KEYS\n");
  assert.deepEqual(JSON.parse(await readFile(out, "utf8")), { ROUTER_API_KEYS: "k-123,k-456" });
  assert.equal((await stat(out)).mode & 0o777, 0o600);
});

test("router URL: the variable when set (https, no credentials), else <worker>.<subdomain>.workers.dev", () => {
  assert.equal(routerUrl({ url: "https://ai.example.com/" }), "https://ai.example.com");
  assert.throws(() => routerUrl({ url: "http://ai.example.com" }), /https URL/);
  assert.throws(() => routerUrl({ url: "https://u:p@ai.example.com" }), /without credentials/);
  assert.equal(routerUrl({ worker: "ai-router", subdomainAnswer: { success: true, result: { subdomain: "acme" } } }), "https://ai-router.acme.workers.dev");
  assert.throws(() => routerUrl({ worker: "ai-router", subdomainAnswer: { success: true, result: { subdomain: "evil.com/x" } } }), /no workers\.dev subdomain/);
  assert.throws(() => routerUrl({ worker: "ai-router", subdomainAnswer: { success: false } }), /no workers\.dev subdomain/);
});

test("backend rollbacks: each backend with a previous version returns to it; one created by the run stays", () => {
  assert.deepEqual(backendRollbacks([
    { worker: "echo-a", previous: OLD, new: NEW },
    { worker: "echo-new", previous: "", new: NEW },
    { worker: "echo-same", previous: NEW, new: NEW },
  ]), [{ worker: "echo-a", version: OLD }]);
  assert.throws(() => backendRollbacks([{ worker: "echo-a; rm", previous: OLD, new: NEW }]), /names no Worker/);
  assert.throws(() => backendRollbacks([{ worker: "echo-a", previous: "$(id)", new: NEW }]), /previous version is not a version id/);
});
