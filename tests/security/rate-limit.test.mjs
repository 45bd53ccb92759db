// Per-client rate limiting with the Workers Rate Limiting binding, run locally by Miniflare: the
// binding is declared as in the commented example of wrangler.toml.in (with a small limit), the
// core asks for a check after authentication, and a client over its limit gets 429 + Retry-After
// with an OpenAI error body while others are served.
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { unstable_readConfig as readConfig } from "wrangler";
import { ROOT } from "../support/bundles.mjs";
import { startStack } from "../support/stack.mjs";
import { chat, errorOf, post } from "../support/http.mjs";

const LIMIT = 3;
const KEYS = ["sk-rate-key-a-1f3e", "sk-rate-key-b-8c2d"];
const BACKEND = { binding: "BACKEND_REC", script: "recording-backend.js", vars: { BACKEND_NAME: "rec", MODELS: "echo-1" } };

/** The [[ratelimits]] example of wrangler.toml.in, uncommented and read by wrangler itself. */
async function exampleRateLimit() {
  const template = await readFile(path.join(ROOT, "wrangler.toml.in"), "utf8");
  const lines = template.split("\n");
  const start = lines.indexOf("# [[ratelimits]]");
  assert.ok(start >= 0, "wrangler.toml.in has a commented [[ratelimits]] example");
  const block = [];
  for (let i = start; i < lines.length && lines[i].startsWith("# "); i++) block.push(lines[i].slice(2));
  const dir = await mkdtemp(path.join(os.tmpdir(), "ratelimit-example-"));
  try {
    const file = path.join(dir, "wrangler.toml");
    await writeFile(file, `name = "example"\nmain = "index.js"\ncompatibility_date = "2026-04-20"\n\n${block.join("\n")}\n`);
    await writeFile(path.join(dir, "index.js"), "export default {};\n");
    const config = readConfig({ config: file }, { hideWarnings: true });
    assert.equal(config.ratelimits.length, 1);
    return config.ratelimits[0];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

let stack;
let example;
before(async () => {
  example = await exampleRateLimit();
  stack = await startStack({
    vars: { ROUTER_API_KEYS: KEYS.join(",") },
    backends: [BACKEND],
    // The example's binding and period; a limit small enough for a test.
    orchestratorOptions: { ratelimits: { [example.name]: { simple: { limit: LIMIT, period: example.simple.period } } } },
  });
});
after(() => stack?.stop());

/**
 * The local limiter counts in fixed windows of `period` seconds (like Cloudflare's): start a
 * sequence early in a window so it cannot straddle two.
 */
async function freshWindow() {
  const periodMs = example.simple.period * 1000;
  const left = periodMs - (Date.now() % periodMs);
  if (left < 10_000) await new Promise((resolve) => setTimeout(resolve, left + 50));
}

const bearer = (key, extra = {}) => ({ authorization: `Bearer ${key}`, ...extra });

async function expectServed(res) {
  const text = await res.text();
  assert.equal(res.status, 200, text);
  assert.equal(JSON.parse(text).object, "chat.completion");
}

async function expect429(res, retryAfter) {
  assert.equal(res.status, 429);
  assert.equal(res.headers.get("retry-after"), retryAfter);
  assert.ok(res.headers.get("x-request-id"));
  assert.equal(res.headers.get("x-router-attempts"), "0");
  assert.equal(res.headers.get("x-router-backend"), null);
  const error = await errorOf(res);
  assert.equal(error.type, "rate_limit_error");
  assert.equal(error.code, "rate_limit_exceeded");
}

test("the example binding is the one the router looks for", () => {
  assert.equal(example.name, "RATE_LIMITER");
  assert.ok([10, 60].includes(example.simple.period));
});

test("per API key: N allowed, then 429 + Retry-After; another key has its own budget", async () => {
  await freshWindow();
  await stack.reset("BACKEND_REC");
  for (let i = 0; i < LIMIT; i++) await expectServed(await post(stack, "/v1/chat/completions", chat(), bearer(KEYS[0])));
  await expect429(await post(stack, "/v1/chat/completions", chat(), bearer(KEYS[0])), "60");
  // The bucket is the key's, wherever the client connects from, and /v1/models counts too.
  await expect429(await post(stack, "/v1/chat/completions", chat(), bearer(KEYS[0], { "cf-connecting-ip": "203.0.113.50" })), "60");
  await expect429(await stack.fetch("/v1/models", { headers: bearer(KEYS[0]) }), "60");
  assert.equal((await stack.calls("BACKEND_REC")).infer, LIMIT, "a refused request never reaches a backend");

  for (let i = 0; i < LIMIT; i++) await expectServed(await post(stack, "/v1/chat/completions", chat(), bearer(KEYS[1])));
  await expect429(await post(stack, "/v1/chat/completions", chat(), bearer(KEYS[1])), "60");

  // Neither /healthz nor /status is limited; a wrong key is refused as such, not counted.
  for (const p of ["/healthz", "/status"]) {
    const res = await stack.fetch(p, { headers: bearer(KEYS[0]) });
    assert.equal(res.status, 200, p);
    await res.arrayBuffer();
  }
  const wrong = await post(stack, "/v1/chat/completions", chat(), bearer("sk-rate-key-c-0000"));
  assert.equal(wrong.status, 401);
  await wrong.arrayBuffer();
});

test("without API keys: per client address, with the configured Retry-After", async () => {
  await stack.reconfigure({
    vars: { ROUTER_CONFIG: JSON.stringify({ rateLimit: { retryAfterSeconds: 7 } }) },
    backends: [BACKEND],
    orchestratorOptions: { ratelimits: { [example.name]: { simple: { limit: LIMIT, period: example.simple.period } } } },
  });
  await freshWindow();
  const from = (ip) => ({ "cf-connecting-ip": ip });
  for (let i = 0; i < LIMIT; i++) await expectServed(await post(stack, "/v1/chat/completions", chat(), from("198.51.100.1")));
  await expect429(await post(stack, "/v1/chat/completions", chat(), from("198.51.100.1")), "7");
  await expectServed(await post(stack, "/v1/chat/completions", chat(), from("198.51.100.2")));
  await expectServed(await post(stack, "/v1/chat/completions", chat(), from("2001:db8::2")));
});
