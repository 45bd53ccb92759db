// Pruning removed backends (.github/workflows/cf-deploy.yml, job prune): the list step's script
// names only the prefixed Workers the plan no longer deploys, from a Workers listing as the
// Cloudflare API gives it; the delete step deletes them only when the run says "delete", else it
// only lists them.
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { after, before, test } from "node:test";
import { scratchDir } from "./helpers.mjs";
import { workflowStep, workspace } from "./workflow-steps.mjs";

let scratch, ws, del;
before(async () => {
  scratch = await scratchDir("rollout-prune");
  ws = await workspace(path.join(scratch.dir, "ws"));
  del = await workflowStep("prune", "Delete them (only with prune_confirm = delete)");
});
after(() => scratch?.remove());

test("prune lists the removed backends, and deletes them only when confirmed", async () => {
  await writeFile(path.join(ws.dir, "workers.json"), JSON.stringify({ success: true, result: ["echo-a", "echo-b", "echo-c", "ai-router", "billing"].map((id) => ({ id })) }));
  await writeFile(path.join(ws.dir, "build/config/plan.json"), JSON.stringify({
    orchestrator: { name: "ai-router", bindings: [{ binding: "BACKEND_ECHO_A", service: "echo-a" }] }, backends: [{ name: "echo-a", binding: "BACKEND_ECHO_A" }],
  }));
  const list = await ws.run({ env: {}, run: 'node scripts/deploy/prune-plan.mjs --workers workers.json --plan build/config/plan.json --prefix echo- --github-output "$GITHUB_OUTPUT"' }, {});
  assert.equal(list.code, 0, list.stderr);
  assert.equal(list.stdout, "Workers named echo-*: 1 deployed by the plan, 2 not:\n  would delete echo-b\n  would delete echo-c\n");
  assert.deepEqual(list.outputs, { names: "echo-b\necho-c", count: "2" });

  const listed = await ws.run(del, { CONFIRM: "", NAMES: list.outputs.names });
  assert.equal(listed.code, 0, listed.stderr);
  assert.match(listed.stdout, /::notice::listed only; run again with prune_confirm = delete to delete: echo-b echo-c/);
  assert.deepEqual(await ws.calls(), []);

  const deleted = await ws.run(del, { CONFIRM: "delete", NAMES: list.outputs.names });
  assert.equal(deleted.code, 0, deleted.stderr);
  assert.deepEqual(await ws.calls(), [["delete", "--name", "echo-b"], ["delete", "--name", "echo-c"]]);

  const nothing = await ws.run(del, { CONFIRM: "delete", NAMES: "" });
  assert.match(nothing.stdout, /nothing to delete/);
  assert.equal((await ws.calls()).length, 2);
});
