// Supply chain: every action a workflow uses is pinned to a full commit SHA (a tag can be moved to
// other code; the one given the Cloudflare API token above all), with its release in a comment,
// and every job asks for its own permissions on a workflow that grants none by default.
import assert from "node:assert/strict";
import { readFile, readdir } from "node:fs/promises";
import path from "node:path";
import { test } from "node:test";
import { ROOT } from "./helpers.mjs";

const DIR = path.join(ROOT, ".github/workflows");
const PINNED = /^uses: [A-Za-z0-9_.-]+\/[A-Za-z0-9_./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$/;
const LOCAL = /^uses: \.\/\.github\/workflows\/[a-z0-9-]+\.ya?ml$/;

async function workflows() {
  const files = (await readdir(DIR)).filter((f) => /\.ya?ml$/.test(f)).sort();
  return Promise.all(files.map(async (f) => ({ file: f, text: await readFile(path.join(DIR, f), "utf8") })));
}

/** Problems of one workflow's `uses:` lines, "file:line: uses: ..." (empty: all pinned). */
function pinProblems(file, text) {
  const problems = [];
  text.split("\n").forEach((line, i) => {
    const uses = /^\s*(?:- )?(uses: .*)$/.exec(line)?.[1]?.trim();
    if (uses && !PINNED.test(uses) && !LOCAL.test(uses)) problems.push(`${file}:${i + 1}: ${uses}`);
  });
  return problems;
}

test("every uses: is pinned to a full commit SHA with its version in a comment", async () => {
  let count = 0;
  for (const { file, text } of await workflows()) {
    assert.deepEqual(pinProblems(file, text), [], `not pinned by SHA in ${file}`);
    count += (text.match(/^\s*(?:- )?uses: /gm) ?? []).length;
  }
  assert.ok(count >= 10, `only ${count} uses: lines found`);
});

test("the pin check catches a tag, a short SHA and a missing version comment", () => {
  const bad = [
    "      - uses: actions/checkout@v4",
    "      - uses: actions/checkout@11d5960",
    "        uses: cloudflare/wrangler-action@ebbaa1584979971c8614a24965b4405ff95890e0",
    "      - uses: actions/checkout@main # v4.4.0",
  ].join("\n");
  assert.equal(pinProblems("bad.yml", bad).length, 4);
});

test("no permissions by default; every job asks for its own", async () => {
  for (const { file, text } of await workflows()) {
    assert.match(text, /^permissions: \{\}$/m, `${file}: permissions: {} at the top`);
    const jobs = text.slice(text.indexOf("\njobs:\n")).split(/\n(?= {2}[a-z0-9-]+:\n)/).slice(1);
    assert.ok(jobs.length > 0, file);
    for (const job of jobs) {
      const name = /^ {2}([a-z0-9-]+):/.exec(job)[1];
      assert.match(job, /^ {4}permissions:\n {6}contents: read\n(?! {6})/m, `${file}: job ${name} asks for contents: read and nothing more`);
    }
  }
});
