// The short fuzz campaign of the test command: scripts/fuzz.sh runs every libFuzzer target of
// cpp/fuzz for FUZZ_SECONDS (default 60) each and must find no crash. The per-target executions
// are reported as test diagnostics so the CI log shows them. Long campaigns: scripts/fuzz.sh 3600.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const seconds = Number(process.env.FUZZ_SECONDS ?? 60);
const targets = ["fuzz_request_validator", "fuzz_router_config", "fuzz_exchange_events"];

function run(command, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk) => (output += chunk));
    child.stderr.on("data", (chunk) => (output += chunk));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, output }));
  });
}

// A cold build of the instrumented core takes a few minutes on 2 busy cores; then each target runs
// for `seconds`, one after another.
const timeout = (targets.length * seconds + 900) * 1000;

test(`libFuzzer targets run ${seconds} s each without a crash`, { timeout }, async (t) => {
  assert.ok(Number.isInteger(seconds) && seconds >= 1, `FUZZ_SECONDS must be a whole number of seconds, got ${process.env.FUZZ_SECONDS}`);
  const { code, output } = await run(join(root, "scripts", "fuzz.sh"), [String(seconds)]);
  const summaries = new Map();
  for (const line of output.split("\n")) {
    const match = /^(fuzz_\w+): (\d+) executions, (\d+) exec\/s, (\d+) crashes/.exec(line);
    if (match) summaries.set(match[1], { executions: Number(match[2]), rate: Number(match[3]), crashes: Number(match[4]) });
    if (match || line.startsWith("build: ")) t.diagnostic(line);
  }
  assert.equal(code, 0, `scripts/fuzz.sh failed (exit ${code}):\n${output.slice(-6000)}`);
  for (const target of targets) {
    const summary = summaries.get(target);
    assert.ok(summary, `no summary for ${target}:\n${output.slice(-3000)}`);
    assert.equal(summary.crashes, 0, `${target} crashed`);
    assert.ok(summary.executions > 0, `${target} executed nothing`);
  }
});
