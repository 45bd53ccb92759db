// orchestrator.access: "keys" by default, "public" only when asked for by name (and then a
// warning); "keys" is refused when ROUTER_API_KEYS is known to hold no key.
import assert from "node:assert/strict";
import { test } from "node:test";
import { accessCheck, describeApiKeys } from "../../scripts/lib/access-check.mjs";
import { ManifestError, normalizeManifest } from "../../scripts/lib/backends-manifest.mjs";
import { takePreflightOptions } from "../../scripts/lib/preflight-options.mjs";

const withAccess = (access) => normalizeManifest({ orchestrator: access === undefined ? {} : { access }, backends: [{ name: "a" }] });

test("access defaults to keys; only keys and public are accepted", () => {
  assert.equal(withAccess(undefined).orchestrator.access, "keys");
  assert.equal(withAccess("public").orchestrator.access, "public");
  for (const bad of ["open", true, "", "PUBLIC", null]) {
    assert.throws(() => withAccess(bad), (e) => e instanceof ManifestError &&
      e.problems.some((p) => /^orchestrator\.access must be "keys" \(clients need a key of ROUTER_API_KEYS\) or "public"/.test(p)));
  }
});

test("keys without keys is refused when it is known; unknown is a note, never a pass in silence", () => {
  const keys = withAccess(undefined);
  const refused = accessCheck(keys, describeApiKeys(""));
  assert.deepEqual(refused.problems, ["orchestrator.access is \"keys\" but ROUTER_API_KEYS is empty: set the repository secret ROUTER_API_KEYS (comma-separated client keys), or make the router open to anyone on purpose with \"access\": \"public\""]);
  const blank = accessCheck(keys, describeApiKeys(" , ,"));
  assert.match(blank.problems.join("\n"), /ROUTER_API_KEYS is set but holds no key/);
  assert.deepEqual(accessCheck(keys, describeApiKeys("k1,k2")), { problems: [], warnings: [], notes: [] });
  const unknown = accessCheck(keys, undefined);
  assert.deepEqual(unknown.problems, []);
  assert.match(unknown.notes.join("\n"), /the deploy stops before uploading anything unless the repository secret ROUTER_API_KEYS holds a key/);
  assert.match(accessCheck(keys, describeApiKeys("k".repeat(6000))).problems.join("\n"), /ROUTER_API_KEYS is 6000 bytes; Cloudflare allows 5120 bytes/);
});

test("public is an explicit choice, always warned about", () => {
  const open = accessCheck(withAccess("public"), describeApiKeys(""));
  assert.deepEqual(open.problems, []);
  assert.deepEqual(open.warnings, ["orchestrator.access is \"public\": anyone who finds https://ai-router.<your-subdomain>.workers.dev can call the router and spend its backends' upstream keys"]);
  assert.equal(accessCheck(withAccess("public"), undefined).warnings.length, 1);
  assert.match(accessCheck(withAccess("public"), describeApiKeys("k1")).warnings.join("\n"), /"public" but ROUTER_API_KEYS holds keys/);
});

test("what the check knows of ROUTER_API_KEYS: the flag, else the environment (even empty), else nothing", () => {
  assert.deepEqual(takePreflightOptions(["--router-api-keys", "empty"], { ROUTER_API_KEYS: "k" }).options.apiKeys, { keys: 0, bytes: 0 });
  assert.deepEqual(takePreflightOptions(["--router-api-keys", "set"], {}).options.apiKeys, { keys: 1, bytes: 1 });
  assert.deepEqual(takePreflightOptions([], { ROUTER_API_KEYS: "" }).options.apiKeys, { keys: 0, bytes: 0 });
  assert.deepEqual(takePreflightOptions([], { ROUTER_API_KEYS: "a, b" }).options.apiKeys, { keys: 2, bytes: 4 });
  assert.equal(takePreflightOptions([], {}).options.apiKeys, undefined);
  assert.throws(() => takePreflightOptions(["--router-api-keys", "yes"], {}), /--router-api-keys must be "set" or "empty"/);
  assert.deepEqual(takePreflightOptions(["--manifest", "m.json", "--no-core"], {}).rest, ["--manifest", "m.json"]);
});
