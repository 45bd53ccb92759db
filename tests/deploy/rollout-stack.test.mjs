// The rollout's shell steps (.github/workflows/cf-deploy.yml), run as GitHub runs them against a
// router in Miniflare (tests/support/stack.mjs: the real orchestrator bundle and backends), with a
// stand-in wrangler that records what would be deployed. A passing orchestrator is promoted from
// 10 % to 100 %; an orchestrator that answers 500 (a ROUTER_CONFIG the core refuses), or a backend
// that cannot describe itself, is rolled back to the previous version, backends included, and the
// run fails with the reason; a failing first deploy has nothing to roll back to and fails.
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { after, before, test } from "node:test";
import { startStack } from "../support/stack.mjs";
import { scratchDir } from "./helpers.mjs";
import { workflowStep, workspace } from "./workflow-steps.mjs";

const NEW = "11111111-2222-4333-8444-555555555555";
const OLD = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee";
const OLD_BACKEND = "bbbbbbbb-cccc-4ddd-8eee-ffffffffffff";
const NEW_BACKEND = "cccccccc-dddd-4eee-8fff-000000000000";
const WORKER = "ai-router";
const serving = (id) => JSON.stringify({ id: "dep", versions: [{ version_id: id, percentage: 100 }] });

let scratch, stack, steps;
before(async () => {
  scratch = await scratchDir("rollout-stack");
  stack = await startStack();
  steps = {
    backend: await workflowStep("deploy-backends", "Deploy ${{ matrix.backend.name }} (bound as ${{ matrix.backend.binding }}) as a new version"),
    upload: await workflowStep("deploy-orchestrator", "Upload the new version and deploy it at 10 %"),
    smoke: await workflowStep("deploy-orchestrator", "Smoke-check the new version"),
    decide: await workflowStep("deploy-orchestrator", "Promote to 100 %, or roll back and fail"),
  };
});
after(async () => {
  await stack?.stop();
  await scratch?.remove();
});

/** A workspace with the plan of the running stack (its three template backends). */
async function rolloutWorkspace(label) {
  const ws = await workspace(path.join(scratch.dir, label));
  const backends = stack.bindings.map((binding) => ({ binding, name: binding.slice("BACKEND_".length).toLowerCase().replaceAll("_", "-") }));
  await writeFile(path.join(ws.dir, "build/config/plan.json"), JSON.stringify({ orchestrator: { name: WORKER }, backends }));
  await writeFile(path.join(ws.dir, "tmp/secrets.json"), "{}");
  return ws;
}

/** The three orchestrator steps of one rollout: upload at 10 %, smoke check, promote or roll back. */
async function rollout(ws, { previous = OLD } = {}) {
  const env = { WORKER, FAKE_WORKER: WORKER, FAKE_NEW_VERSION: NEW, FAKE_DEPLOYMENT: previous ? serving(previous) : "" };
  const upload = await ws.run(steps.upload, env);
  assert.equal(upload.code, 0, upload.stderr);
  const smoke = await ws.run(steps.smoke, {
    ...env, ROUTER_URL: stack.url, NEW_VERSION: upload.outputs.new, PREVIOUS_VERSION: upload.outputs.previous,
    SMOKE_ATTEMPTS: "2", SMOKE_INTERVAL_MS: "100",
  });
  assert.equal(smoke.code, 0, smoke.stderr);
  const decide = await ws.run(steps.decide, {
    ...env, ACTION: smoke.outputs.action, TARGET: smoke.outputs.target, REASON: smoke.outputs.reason, PREVIOUS_VERSION: upload.outputs.previous,
  });
  return { upload, smoke, decide };
}

test("a passing orchestrator: its new version goes up tagged, serves 10 %, passes the smoke check and is promoted to 100 %", async () => {
  const ws = await rolloutWorkspace("pass");
  const { upload, smoke, decide } = await rollout(ws);
  assert.deepEqual(upload.outputs, { previous: OLD, new: NEW, split: "true" });
  assert.equal(smoke.outputs.action, "promote");
  assert.match(smoke.stdout, /smoke check passed: http:\/\/127\.0\.0\.1:\d+ \(ai-router=1111.*\) is healthy and reaches 3 backend/);
  assert.equal(decide.code, 0, decide.stderr);
  assert.match(decide.stdout, /::notice::promoted: version 1111.* passed the smoke check/);
  const calls = await ws.calls();
  assert.deepEqual(calls.map((c) => c.slice(0, 2).join(" ")), ["deployments status", "versions upload", "versions deploy", "versions deploy"]);
  const upload10 = calls[1];
  assert.equal(upload10[2], "build/bundle/orchestrator/index.js");
  for (const flag of ["--no-bundle", "--tag", "--message", "--secrets-file"]) assert.ok(upload10.includes(flag), `${flag} in ${upload10}`);
  assert.equal(upload10[upload10.indexOf("--tag") + 1], "0123456");
  assert.match(upload10[upload10.indexOf("--message") + 1], /^cf-deploy run 4242\.1: 0123456789abcdef/);
  assert.deepEqual(calls[2].slice(0, 4), ["versions", "deploy", `${NEW}@10%`, `${OLD}@90%`]);
  assert.deepEqual(calls[3].slice(0, 3), ["versions", "deploy", `${NEW}@100%`]);
  assert.ok(!calls.flat().includes(`${OLD}@100%`), "no rollback");
});

test("an orchestrator answering 500 (ROUTER_CONFIG refused by the core): rolled back with its backends, and the run fails with the reason", async () => {
  const ws = await rolloutWorkspace("fail");
  // The backend job ran first and left its record: echo-a moved from OLD_BACKEND to NEW_BACKEND.
  const backend = await ws.run(steps.backend, {
    BACKEND: "echo-a", CONFIG_DIR: "build/config/backends/echo-a", FAKE_NEW_VERSION: NEW_BACKEND, FAKE_DEPLOYMENT: serving(OLD_BACKEND),
  });
  assert.equal(backend.code, 0, backend.stderr);
  await stack.reconfigure({ vars: { ROUTER_CONFIG: JSON.stringify({ strategy: "nonsense" }) } });
  try {
    const { smoke, decide } = await rollout(ws);
    assert.equal(smoke.outputs.action, "rollback");
    assert.equal(smoke.outputs.target, OLD);
    assert.match(smoke.outputs.reason, /failed the smoke check: \/healthz answered 500 .*; rolled back to aaaaaaaa-/);
    assert.equal(decide.code, 1);
    assert.match(decide.stdout, /^::error::version 1111\S* failed the smoke check: \/healthz answered 500/m);
    const deploys = (await ws.calls()).filter((c) => c[0] === "versions" && c[1] === "deploy").map((c) => [c[2], c[c.indexOf("--name") + 1]]);
    assert.deepEqual(deploys, [
      [`${NEW_BACKEND}@100%`, "echo-a"], // the backend job
      [`${NEW}@10%`, WORKER],
      [`${OLD}@100%`, WORKER], // the rollback
      [`${OLD_BACKEND}@100%`, "echo-a"],
    ]);
  } finally {
    await stack.reconfigure({});
  }
});

test("a backend that cannot describe itself fails the smoke check of a healthy orchestrator: rolled back", async () => {
  const ws = await rolloutWorkspace("backend");
  await stack.reconfigure({ backends: [
    { binding: "BACKEND_ECHO_A", config: "echo-a" }, { binding: "BACKEND_ECHO_B", config: "echo-b" },
    { binding: "BACKEND_ECHO_C", script: "fault-backend.js", vars: { BACKEND_NAME: "echo-c", DESCRIBE_MODE: "throw" } },
  ] });
  try {
    const { smoke, decide } = await rollout(ws);
    assert.equal(smoke.outputs.action, "rollback");
    assert.match(smoke.outputs.reason, /BACKEND_ECHO_C: describe\(\) failed/);
    assert.equal(decide.code, 1);
    assert.ok((await ws.calls()).some((c) => c[2] === `${OLD}@100%`));
  } finally {
    await stack.reconfigure({});
  }
});

test("a failing first deploy has nothing to roll back to: the run fails and nothing else is deployed", async () => {
  const ws = await rolloutWorkspace("first");
  await stack.reconfigure({ vars: { ROUTER_CONFIG: "{not json" } });
  try {
    const { upload, smoke, decide } = await rollout(ws, { previous: "" });
    assert.deepEqual(upload.outputs, { previous: "", new: NEW, split: "false" });
    assert.equal(smoke.outputs.action, "fail");
    assert.match(smoke.outputs.reason, /no previous version to roll back to/);
    assert.equal(decide.code, 1);
    const calls = await ws.calls();
    assert.deepEqual(calls.map((c) => c.slice(0, 2).join(" ")), ["deployments status", "deploy build/bundle/orchestrator/index.js"]);
  } finally {
    await stack.reconfigure({});
  }
});
