// Runs a step of .github/workflows/cf-deploy.yml as GitHub runs it (bash --noprofile --norc -eo
// pipefail, the step's env), in a scratch workspace, with a stand-in `wrangler` first on PATH
// (fixtures/fake-wrangler.mjs) that records every call. The rollout tests drive the workflow's own
// shell steps this way, so what they show is what a deploy runs.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { chmod, mkdir, readFile, symlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { ROOT } from "./helpers.mjs";

const exec = promisify(execFile);
const WORKFLOW = path.join(ROOT, ".github/workflows/cf-deploy.yml");
const FAKE_WRANGLER = path.join(ROOT, "tests/deploy/fixtures/fake-wrangler.mjs");

/** {env, run} of step `name` in job `job`: env values as written, run as its script. */
export async function workflowStep(job, name) {
  const lines = (await readFile(WORKFLOW, "utf8")).split("\n");
  const start = lines.indexOf(`  ${job}:`);
  assert.ok(start >= 0, `no job ${job}`);
  const end = lines.findIndex((l, i) => i > start && /^ {2}[a-z-]+:$/.test(l));
  const jobLines = lines.slice(start, end < 0 ? undefined : end);
  const at = jobLines.indexOf(`      - name: ${name}`);
  assert.ok(at >= 0, `no step "${name}" in ${job}`);
  const env = {};
  let run = null;
  let section = null;
  for (const line of jobLines.slice(at + 1)) {
    if (/^ {6}- /.test(line)) break;
    if (section === "run" && (line.startsWith("          ") || line === "")) run.push(line.slice(10));
    else if (/^ {8}env:$/.test(line)) section = "env";
    else if (/^ {8}run: \|$/.test(line)) { section = "run"; run = []; }
    else if (/^ {8}run: /.test(line)) { run = [line.slice(13)]; section = null; }
    else if (section === "env" && /^ {10}[A-Z_]+: /.test(line)) {
      const [, key, value] = /^ {10}([A-Z_]+): (.*)$/.exec(line);
      env[key] = value.replace(/^"(.*)"$/, "$1");
    } else if (!/^ {10}#/.test(line)) section = null;
  }
  assert.ok(run, `step "${name}" has no run script`);
  assert.doesNotMatch(run.join("\n"), /\$\{\{/, "expressions go through env, never into a script");
  return { env, run: run.join("\n") };
}

/** A workspace: scripts/ linked to the repository's, a bin/ with the stand-in wrangler, a runner temp. */
export async function workspace(dir) {
  await mkdir(path.join(dir, "bin"), { recursive: true });
  await mkdir(path.join(dir, "tmp"), { recursive: true });
  await mkdir(path.join(dir, "build/config"), { recursive: true });
  // The repository's files a step reads, linked; --preserve-symlinks-main (below) lets a script that
  // compares import.meta.url with argv[1] see itself as the main module through the link.
  for (const entry of ["scripts", "wrangler.toml.in", "backend-worker-template", "orchestrator-worker"]) {
    await symlink(path.join(ROOT, entry), path.join(dir, entry));
  }
  await writeFile(path.join(dir, "bin/wrangler"), `#!/bin/sh\nexec node ${JSON.stringify(FAKE_WRANGLER)} "$@"\n`);
  await chmod(path.join(dir, "bin/wrangler"), 0o755);
  const log = path.join(dir, "wrangler-calls.ndjson");
  return {
    dir,
    /** Every wrangler call so far, as argument lists. */
    calls: async () => (await readFile(log, "utf8").catch(() => "")).split("\n").filter(Boolean).map((l) => JSON.parse(l)),
    /** Runs a step; `env` holds what GitHub would put in its env and the fake's answers. */
    async run(step, env) {
      const output = path.join(dir, `output-${Math.random().toString(36).slice(2)}`);
      await writeFile(output, "");
      const literal = Object.fromEntries(Object.entries(step.env).filter(([, v]) => !v.includes("${{")));
      const { ROUTER_API_KEYS: _a, ROUTER_ADMIN_KEY: _b, ...base } = process.env;
      const options = {
        cwd: dir,
        env: {
          ...base, ...literal, GITHUB_ACTIONS: "true", GITHUB_SHA: "0123456789abcdef0123456789abcdef01234567",
          GITHUB_RUN_ID: "4242", GITHUB_RUN_ATTEMPT: "1", RUNNER_TEMP: path.join(dir, "tmp"), GITHUB_OUTPUT: output,
          WRANGLER_SEND_METRICS: "false", FAKE_WRANGLER_LOG: log, NODE_OPTIONS: "--preserve-symlinks-main", PATH: `${path.join(dir, "bin")}:${process.env.PATH}`, ...env,
        },
      };
      const result = await exec("bash", ["--noprofile", "--norc", "-eo", "pipefail", "-c", step.run], options)
        .then((r) => ({ code: 0, ...r }), (e) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }));
      return { ...result, outputs: parseOutputs(await readFile(output, "utf8")) };
    },
  };
}

/** $GITHUB_OUTPUT's name=value lines and name<<DELIMITER blocks. */
function parseOutputs(text) {
  const outputs = {};
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const heredoc = /^([A-Za-z_][\w-]*)<<(.+)$/.exec(lines[i]);
    if (heredoc) {
      const end = lines.indexOf(heredoc[2], i + 1);
      outputs[heredoc[1]] = lines.slice(i + 1, end).join("\n");
      i = end;
    } else if (/^[A-Za-z_][\w-]*=/.test(lines[i])) {
      const at = lines[i].indexOf("=");
      outputs[lines[i].slice(0, at)] = lines[i].slice(at + 1);
    }
  }
  return outputs;
}
