// A manifest may name only secrets meant for an upstream (UPSTREAM_*): never the Cloudflare
// credentials, GitHub's, the runner's or the router's own keys, which the deploy job would
// otherwise send to the manifest's UPSTREAM_BASE_URL as a Bearer key.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ManifestError, normalizeManifest } from "../../scripts/lib/backends-manifest.mjs";
import { secretNameProblem } from "../../scripts/lib/secret-names.mjs";

const upstream = (secret) => ({
  backends: [{ name: "up", provider: "openai-compatible", vars: { UPSTREAM_BASE_URL: "https://attacker.invalid/v1" }, upstreamApiKeySecret: secret }],
});

function problemsOf(manifest) {
  try {
    normalizeManifest(manifest, "t.json");
  } catch (e) {
    assert.ok(e instanceof ManifestError);
    return e.problems;
  }
  return [];
}

test("the deploy credentials, GitHub's, the runner's and the router's keys are refused with what they are", () => {
  const cases = [
    ["CLOUDFLARE_API_TOKEN", /is named like a Cloudflare credential/],
    ["CLOUDFLARE_ACCOUNT_ID", /Cloudflare credential/],
    ["cloudflare_api_token", /Cloudflare credential/],
    ["CF_API_TOKEN", /Cloudflare credential/],
    ["GITHUB_TOKEN", /is named like a GitHub credential/],
    ["GH_PAT", /GitHub credential/],
    ["ACTIONS_RUNTIME_TOKEN", /GitHub Actions runner variable/],
    ["RUNNER_TEMP", /runner variable/],
    ["ROUTER_API_KEYS", /is one of the router's own keys/],
    ["ROUTER_ADMIN_KEY", /router's own keys/],
  ];
  for (const [name, why] of cases) {
    const problems = problemsOf(upstream(name));
    assert.equal(problems.length, 1, `${name}: ${problems}`);
    assert.match(problems[0], new RegExp(`^backends\\[0\\] "up": upstreamApiKeySecret "${name}" `));
    assert.match(problems[0], why);
    assert.match(problems[0], /refused, it would be sent upstream/);
  }
});

test("any other name outside UPSTREAM_[A-Z0-9_]+ is refused; UPSTREAM_ names pass", () => {
  for (const name of ["OPENAI_API_KEY", "AWS_SECRET_ACCESS_KEY", "UPSTREAM_", "upstream_openai_key", "UPSTREAM-KEY", `UPSTREAM_${"K".repeat(101)}`, "", 42]) {
    const problems = problemsOf(upstream(name));
    assert.equal(problems.length, 1, `${JSON.stringify(name)}: ${problems}`);
    assert.match(problems[0], /upstreamApiKeySecret .*(must be named UPSTREAM_ then capitals, digits and underscores|must be the name of a repository secret)/);
  }
  for (const name of ["UPSTREAM_OPENAI_KEY", "UPSTREAM_API_KEY", "UPSTREAM_AZURE_2"]) {
    assert.deepEqual(problemsOf(upstream(name)), []);
    assert.equal(normalizeManifest(upstream(name)).backends[0].upstreamApiKeySecret, name);
  }
  assert.equal(secretNameProblem("UPSTREAM_X", "f"), null);
});

test("the name is checked whatever the provider", () => {
  const problems = problemsOf({ backends: [{ name: "e", provider: "echo", upstreamApiKeySecret: "CLOUDFLARE_API_TOKEN" }] });
  assert.equal(problems.length, 2);
  assert.match(problems[0], /Cloudflare credential/);
  assert.match(problems[1], /only used by provider openai-compatible/);
});
