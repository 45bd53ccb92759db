#!/usr/bin/env node
// The secrets a version is uploaded with (`wrangler versions upload --secrets-file`), so code and
// secrets change together in one version, never a new secret on the old code. Takes the named
// variables from the environment, keeps the non-empty ones, writes them as JSON readable by the
// owner only, and prints their names (never a value).
//
//   node scripts/deploy/secrets-file.mjs --out secrets.json NAME...
import { writeFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { isMain } from "./is-main.mjs";

/** name -> value for the names set and non-empty in `env`; throws on a name that is not one. */
export function pickSecrets(names, env) {
  const picked = {};
  for (const name of names) {
    if (!/^[A-Z][A-Z0-9_]*$/.test(name)) throw new Error(`not a secret name: ${JSON.stringify(name)}`);
    if (typeof env[name] === "string" && env[name] !== "") picked[name] = env[name];
  }
  return picked;
}

async function main(argv) {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { out: { type: "string" } } });
  if (!values.out) {
    process.stderr.write("usage: node scripts/deploy/secrets-file.mjs --out FILE NAME...\n");
    return 2;
  }
  try {
    const secrets = pickSecrets(positionals, process.env);
    await writeFile(values.out, JSON.stringify(secrets), { mode: 0o600 });
    const names = Object.keys(secrets);
    process.stdout.write(`secrets uploaded with the version: ${names.length ? names.join(", ") : "none"}\n`);
    return 0;
  } catch (e) {
    process.stderr.write(`${e.message}\n`);
    return 2;
  }
}

if (isMain(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
