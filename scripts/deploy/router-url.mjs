#!/usr/bin/env node
// The URL the rollout smoke-checks: the repository variable ROUTER_URL when set (a route of your
// own), else the orchestrator's workers.dev address, https://<worker>.<subdomain>.workers.dev, from
// the Cloudflare API's answer to GET /accounts/{id}/workers/subdomain ({"result":{"subdomain":...}}).
//
//   node scripts/deploy/router-url.mjs --worker ai-router [--url "$ROUTER_URL"] [--subdomain subdomain.json]
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { isMain } from "./is-main.mjs";

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** The router's URL; throws when neither input gives a sound one. */
export function routerUrl({ worker, url, subdomainAnswer }) {
  if (url) {
    const parsed = new URL(url);
    if (parsed.protocol !== "https:" || parsed.username || parsed.password) throw new Error(`ROUTER_URL must be an https URL without credentials, got ${parsed.protocol}//${parsed.host}`);
    return parsed.origin + parsed.pathname.replace(/\/+$/, "");
  }
  if (!LABEL.test(worker ?? "")) throw new Error(`not a Worker name: ${JSON.stringify(worker ?? null)}`);
  const subdomain = subdomainAnswer?.success === true ? subdomainAnswer.result?.subdomain : undefined;
  if (!LABEL.test(subdomain ?? "")) throw new Error("the account has no workers.dev subdomain (choose one in the dashboard, or set the variable ROUTER_URL)");
  return `https://${worker}.${subdomain}.workers.dev`;
}

async function main(argv) {
  const { values } = parseArgs({ args: argv, options: { worker: { type: "string" }, url: { type: "string" }, subdomain: { type: "string" } } });
  try {
    const subdomainAnswer = !values.url && values.subdomain ? JSON.parse(await readFile(values.subdomain, "utf8")) : undefined;
    process.stdout.write(`${routerUrl({ worker: values.worker, url: values.url, subdomainAnswer })}\n`);
    return 0;
  } catch (e) {
    process.stderr.write(`${e.message}\n`);
    return 1;
  }
}

if (isMain(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
