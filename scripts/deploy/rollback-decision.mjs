#!/usr/bin/env node
// The rollback decision after a new orchestrator version was smoke-checked (scripts/smoke-check.mjs
// --result): promote it, or roll back to the version that served before, with the reason. The
// workflow runs `wrangler versions deploy <target>@100%` either way and fails the run on a rollback.
//
//   node scripts/deploy/rollback-decision.mjs --smoke smoke.json --new <version id>
//        [--previous <version id>] [--github-output FILE]
// Prints "promote: ..." / "rollback: ..." / "fail: ..." and writes the outputs action, target and
// reason. Exit 0 whatever the decision (the workflow acts on `action`), 2 on bad arguments.
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { appendGithubOutputs } from "./github-output.mjs";
import { isVersionId } from "./version-id.mjs";
import { isMain } from "./is-main.mjs";

/** The smoke result's problems, or why the result itself cannot be trusted. */
function smokeProblems(smoke) {
  if (!smoke || typeof smoke !== "object") return ["the smoke check left no readable result"];
  // One line each: the reason becomes a GitHub annotation, where a line break could start a command.
  const problems = Array.isArray(smoke.problems)
    ? smoke.problems.filter((p) => typeof p === "string").map((p) => p.slice(0, 300).replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, " "))
    : null;
  if (smoke.ok === true && problems?.length === 0) return [];
  if (smoke.ok === true) return ["the smoke result says ok but does not list zero problems"];
  return problems?.length ? problems : ["the smoke check failed without saying why"];
}

/**
 * @param {{smoke: unknown, newVersion: unknown, previousVersion?: unknown}} input
 * @returns {{action: "promote" | "rollback" | "fail", target: string | null, reason: string}}
 *   promote: deploy `target` (the new version) at 100 %; rollback: deploy `target` (the previous
 *   version) at 100 % and fail; fail: nothing to deploy (no version to roll back to), fail.
 */
export function rollbackDecision({ smoke, newVersion, previousVersion }) {
  if (!isVersionId(newVersion)) {
    return { action: "fail", target: null, reason: `the new version id ${JSON.stringify(newVersion ?? null)} is not a version id` };
  }
  const problems = smokeProblems(smoke);
  if (problems.length === 0) {
    return { action: "promote", target: newVersion, reason: `version ${newVersion} passed the smoke check` };
  }
  const why = `version ${newVersion} failed the smoke check: ${problems.join("; ")}`;
  if (previousVersion === newVersion) {
    return { action: "fail", target: null, reason: `${why}; the previous version is the same one, nothing to roll back to` };
  }
  if (!isVersionId(previousVersion)) {
    return { action: "fail", target: null, reason: `${why}; no previous version to roll back to (first deploy?)` };
  }
  return { action: "rollback", target: previousVersion, reason: `${why}; rolled back to ${previousVersion}` };
}

async function main(argv) {
  const { values } = parseArgs({
    args: argv,
    options: { smoke: { type: "string" }, new: { type: "string" }, previous: { type: "string" }, "github-output": { type: "string" } },
  });
  if (!values.smoke || !values.new) {
    process.stderr.write("usage: node scripts/deploy/rollback-decision.mjs --smoke smoke.json --new ID [--previous ID] [--github-output FILE]\n");
    return 2;
  }
  let smoke;
  try {
    smoke = JSON.parse(await readFile(values.smoke, "utf8"));
  } catch (e) {
    smoke = undefined; // a missing or broken result is a failed check, never a pass
    process.stderr.write(`cannot read ${values.smoke}: ${e.message}\n`);
  }
  const decision = rollbackDecision({ smoke, newVersion: values.new, previousVersion: values.previous || undefined });
  process.stdout.write(`${decision.action}: ${decision.reason}\n`);
  await appendGithubOutputs(values["github-output"], { action: decision.action, target: decision.target ?? "", reason: decision.reason });
  return 0;
}

if (isMain(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
