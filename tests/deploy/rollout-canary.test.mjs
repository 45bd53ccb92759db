// A canary run's steps (.github/workflows/cf-deploy.yml), run as GitHub runs them: the plan renders
// the manifest plus "<name>-canary" (BACKEND_<NAME>_CANARY, its weight an override in routerConfig);
// then, against a router in Miniflare taking traffic, the canary job samples /status over a window
// and promotes a canary that fails no more than the incumbent (the incumbent takes the new version)
// or rolls back one that answers 500s. Either way the orchestrator returns to its previous version
// and the canary Worker is deleted; a rollback fails the run with the reason.
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { after, before, test } from "node:test";
import { parse as parseToml } from "smol-toml";
import { startStack } from "../support/stack.mjs";
import { scratchDir } from "./helpers.mjs";
import { workflowStep, workspace } from "./workflow-steps.mjs";

const OLD = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee";
const OLD_BACKEND = "bbbbbbbb-cccc-4ddd-8eee-ffffffffffff";
const NEW_BACKEND = "cccccccc-dddd-4eee-8fff-000000000000";

let scratch, steps;
before(async () => {
  scratch = await scratchDir("rollout-canary");
  steps = {
    render: await workflowStep("plan", "Render every wrangler config from the manifest"),
    judge: await workflowStep("canary", "Compare the canary's failure rate with the incumbent's"),
    settle: await workflowStep("canary", "Promote or roll back the canary"),
  };
});
after(() => scratch?.remove());

test("the plan of a canary run: the canary twin bound beside the incumbent at a tenth of its weight, deployed alone", async () => {
  const ws = await workspace(path.join(scratch.dir, "render"));
  await writeFile(path.join(ws.dir, "manifest.json"), JSON.stringify({
    backends: [{ name: "llama", provider: "echo", weight: 2 }, { name: "other", provider: "echo" }],
  }));
  const r = await ws.run(steps.render, { MANIFEST: "manifest.json", COUNT: "", PATTERN: "echo-{i}", CANARY: "llama", CANARY_SHARE: "0.1" });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.outputs.backends), [{ name: "llama-canary", binding: "BACKEND_LLAMA_CANARY", dir: "build/config/backends/llama-canary", upstreamApiKeySecret: "" }]);
  assert.deepEqual([r.outputs.canary, r.outputs.canary_binding, r.outputs.incumbent, r.outputs.incumbent_binding], ["llama-canary", "BACKEND_LLAMA_CANARY", "llama", "BACKEND_LLAMA"]);
  const orchestrator = parseToml(await readFile(path.join(ws.dir, "build/config/orchestrator/wrangler.toml"), "utf8"));
  assert.deepEqual(orchestrator.services.map((s) => s.binding), ["BACKEND_LLAMA", "BACKEND_OTHER", "BACKEND_LLAMA_CANARY"]);
  assert.deepEqual(JSON.parse(orchestrator.vars.ROUTER_CONFIG), { backends: { BACKEND_LLAMA_CANARY: { weight: 0.2 } } });
});

/** A router with an incumbent and a canary (fault-backend.js, the canary's behaviour in `canaryVars`). */
function canaryStack(canaryVars) {
  return startStack({
    // Equal weights here so that a short window gets both enough attempts.
    vars: { ROUTER_CONFIG: JSON.stringify({ backends: { BACKEND_X_CANARY: { weight: 1 } } }) },
    backends: [
      { binding: "BACKEND_X", script: "fault-backend.js", vars: { BACKEND_NAME: "x" } },
      { binding: "BACKEND_X_CANARY", script: "fault-backend.js", vars: { BACKEND_NAME: "x-canary", ...canaryVars } },
    ],
  });
}

/** Runs the canary job's two steps while clients keep sending requests. */
async function judgeAndSettle(stack, label) {
  const ws = await workspace(path.join(scratch.dir, label));
  const env = {
    ROUTER_URL: stack.url, CANARY_BINDING: "BACKEND_X_CANARY", INCUMBENT_BINDING: "BACKEND_X", WINDOW_SECONDS: "2",
    ORCHESTRATOR: "ai-router", CANARY: "x-canary", INCUMBENT: "x",
  };
  let judging = true;
  const traffic = (async () => {
    while (judging) {
      const response = await stack.fetch("/v1/chat/completions", { method: "POST", headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: "m", messages: [{ role: "user", content: "hi" }] }) });
      await response.arrayBuffer();
    }
  })();
  const judged = await ws.run(steps.judge, env).finally(() => { judging = false; });
  await traffic;
  assert.equal(judged.code, 0, judged.stderr);
  const settled = await ws.run(steps.settle, {
    ...env, ACTION: judged.outputs.action, REASON: judged.outputs.reason, ORCHESTRATOR_PREVIOUS: OLD,
    FAKE_DEPLOYMENT: JSON.stringify({ versions: [{ version_id: OLD_BACKEND, percentage: 100 }] }), FAKE_NEW_VERSION: NEW_BACKEND,
  });
  return { judged, settled, calls: await ws.calls() };
}

test("a healthy canary is promoted: the incumbent takes the new version, the router drops the canary binding", async () => {
  const stack = await canaryStack({});
  try {
    const { judged, settled, calls } = await judgeAndSettle(stack, "healthy");
    assert.equal(judged.outputs.action, "promote", judged.outputs.reason);
    assert.match(judged.outputs.reason, /^canary BACKEND_X_CANARY is no worse: canary 0\/\d+ bad \(0\.0 %\) vs incumbent 0\/\d+ bad/);
    assert.equal(settled.code, 0, settled.stderr);
    assert.match(settled.stdout, /::notice::promoted: canary BACKEND_X_CANARY is no worse/);
    assert.deepEqual(calls.map((c) => [c[0], c[1], c.includes("--name") ? c[c.indexOf("--name") + 1] : null]), [
      ["deployments", "status", "x"],
      ["versions", "upload", null], // -c build/config/backends/x/wrangler.toml
      ["versions", "deploy", "x"],
      ["versions", "deploy", "ai-router"],
      ["delete", "--name", "x-canary"],
    ]);
    assert.equal(calls[1][calls[1].indexOf("-c") + 1], "build/config/backends/x/wrangler.toml");
    assert.equal(calls[2][2], `${NEW_BACKEND}@100%`);
    assert.equal(calls[3][2], `${OLD}@100%`);
  } finally {
    await stack.stop();
  }
});

test("a canary answering 500s next to a healthy incumbent is rolled back and the run fails with the reason", async () => {
  const stack = await canaryStack({ INFER_MODE: "status", INFER_STATUS: "500" });
  try {
    const { judged, settled, calls } = await judgeAndSettle(stack, "failing");
    assert.equal(judged.outputs.action, "rollback", judged.outputs.reason);
    assert.match(judged.outputs.reason, /^canary BACKEND_X_CANARY fails more: canary (\d+)\/\1 bad \(100\.0 %\) vs incumbent 0\/\d+ bad \(0\.0 %\)/);
    assert.equal(settled.code, 1);
    assert.match(settled.stdout, /^::error::canary rolled back: canary BACKEND_X_CANARY fails more/m);
    // The incumbent is left alone; the router returns to its previous version; the canary goes.
    assert.deepEqual(calls.map((c) => c.slice(0, 3)), [["versions", "deploy", `${OLD}@100%`], ["delete", "--name", "x-canary"]]);
  } finally {
    await stack.stop();
  }
});
