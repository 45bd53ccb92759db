// The status page, GET /dashboard: its auth (Basic with the admin key as password, the challenge a
// browser needs, Bearer still on /status, Basic never on /v1), its headers, and what a real
// headless Chromium renders from /status (each backend's row, numbers as /status has them,
// a hostile backend name shown as text), with a screenshot saved to build/dashboard.png.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { after, before, test } from "node:test";
import { promisify } from "node:util";
import { createBackendControl, status } from "../support/backend-control.mjs";
import { ROOT } from "../support/bundles.mjs";
import { chat, post } from "../support/http.mjs";
import { startStack } from "../support/stack.mjs";
import { findChromium } from "../support/chromium.mjs";
import { startCluster } from "../support/cluster.mjs";
import { sleep } from "../support/fault-cases.mjs";

const run = promisify(execFile);
const ADMIN = "admin-key-0003";
const CLIENT = "sk-client-0001";
// A name a backend's describe() chooses: markup that would run if the page used innerHTML.
const HOSTILE = `<img src=x onerror="document.title='pwned'"><b id="injected">bold</b>`;
const CHALLENGE = 'Basic realm="ai-router", charset="UTF-8"';
const basic = (user, password) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}` });
const bearer = (key) => ({ authorization: `Bearer ${key}` });

const control = createBackendControl();
const controlled = (binding) => ({ binding, script: "controlled-backend.js", serviceBindings: { CONTROL: control.handler },
  vars: { BACKEND_NAME: binding } });
let stack;

before(async () => {
  stack = await startStack({
    vars: { ROUTER_API_KEYS: CLIENT, ROUTER_ADMIN_KEY: ADMIN },
    backends: [controlled("BACKEND_A"), controlled("BACKEND_B"),
      { binding: "BACKEND_C", script: "fault-backend.js", vars: { BACKEND_NAME: HOSTILE } }],
  });
  control.set("BACKEND_B", status(503)); // B fails every attempt: retried elsewhere, then ejected
  for (let i = 0; i < 18; i++) {
    const res = await post(stack, "/v1/chat/completions", chat("echo-1"), bearer(CLIENT));
    assert.equal(res.status, 200, await res.text());
  }
});
after(() => stack?.stop());

/** GET `p` on the stack; the body read as text. */
async function get(p, headers = {}) {
  const res = await stack.fetch(p, { headers });
  return { res, text: await res.text() };
}

test("/dashboard without credentials: 401 with a Basic challenge, so a browser asks for the key", async () => {
  for (const p of ["/dashboard", "/dashboard/app.js", "/dashboard/app.css"]) {
    const { res } = await get(p);
    assert.equal(res.status, 401, p);
    assert.equal(res.headers.get("www-authenticate"), CHALLENGE);
    assert.ok(res.headers.get("x-request-id"));
    assert.match(res.headers.get("server-timing") ?? "", /dur=/);
  }
});

test("the admin key as a Basic password opens the page; any user name; nothing else does", async () => {
  for (const user of ["admin", "", "anyone"]) assert.equal((await get("/dashboard", basic(user, ADMIN))).res.status, 200);
  for (const wrong of [basic("admin", "admin-key-0004"), basic("admin", CLIENT), basic(ADMIN, ""),
    { authorization: "Basic !!!not-base64" }, { authorization: `Basic ${Buffer.from(ADMIN).toString("base64")}` }]) {
    const { res } = await get("/dashboard", wrong);
    assert.equal(res.status, 401, wrong.authorization);
    assert.equal(res.headers.get("www-authenticate"), CHALLENGE);
  }
  assert.equal((await get("/dashboard", bearer(ADMIN))).res.status, 200, "Bearer works too");
});

test("each file comes with its type and the security headers", async () => {
  const types = { "/dashboard": /^text\/html/, "/dashboard/app.js": /^text\/javascript/, "/dashboard/app.css": /^text\/css/ };
  for (const [p, type] of Object.entries(types)) {
    const { res, text } = await get(p, basic("admin", ADMIN));
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type"), type);
    const csp = res.headers.get("content-security-policy") ?? "";
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.doesNotMatch(csp, /unsafe/);
    assert.equal(res.headers.get("cache-control"), "no-store");
    assert.equal(res.headers.get("x-content-type-options"), "nosniff");
    assert.ok(res.headers.get("x-request-id"));
    assert.match(res.headers.get("server-timing") ?? "", /dur=/);
    assert.ok(text.length > 100, p);
  }
  const { text: page } = await get("/dashboard", basic("admin", ADMIN));
  assert.doesNotMatch(page, /<script>|<style>| style=| on[a-z]+=/i, "nothing inline for the CSP to refuse");
});

test("/status takes the admin key as Bearer or Basic and keeps its Bearer challenge; /v1 never takes Basic", async () => {
  assert.equal((await get("/status", bearer(ADMIN))).res.status, 200);
  assert.equal((await get("/status", basic("x", ADMIN))).res.status, 200);
  const { res } = await get("/status");
  assert.equal(res.status, 401);
  assert.equal(res.headers.get("www-authenticate"), "Bearer");
  const v1 = await post(stack, "/v1/chat/completions", chat("echo-1"), basic("x", CLIENT));
  assert.equal(v1.status, 401);
  assert.equal(v1.headers.get("www-authenticate"), "Bearer");
  await v1.arrayBuffer();
});

/** Runs headless Chromium on `url` with `args`; returns its stdout. */
async function chromium(binary, url, args) {
  const { stdout } = await run(binary, ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--no-first-run", "--hide-scrollbars", `--user-data-dir=${path.join(ROOT, "build/chromium-profile")}`, ...args, url],
  { timeout: 60_000, maxBuffer: 16 << 20 });
  return stdout;
}

/** The rendered table: binding -> {field: text}, from Chromium's DOM dump (cells hold text only). */
function renderedRows(dom) {
  const rows = {};
  for (const [, binding, cells] of dom.matchAll(/<tr data-binding="([^"]*)">(.*?)<\/tr>/gs)) {
    const unescape = (s) => s.replaceAll("&lt;", "<").replaceAll("&gt;", ">").replaceAll("&quot;", '"').replaceAll("&amp;", "&");
    rows[unescape(binding)] = Object.fromEntries([...cells.matchAll(/<td data-field="([^"]+)"[^>]*>(.*?)<\/td>/gs)]
      .map(([, field, text]) => [field, unescape(text)]));
  }
  return rows;
}

/** The Chromium to run, or null after skipping `t` (outside CI only: there it fails). */
async function chromiumOrSkip(t) {
  const binary = await findChromium();
  if (binary) return binary;
  if (process.env.CI) assert.fail("chromium not found, and CI needs this test: install it with scripts/setup.sh");
  t.skip("chromium not found (install it with scripts/setup.sh, or set CHROMIUM)");
  return null;
}

test("headless Chromium renders every backend from /status, hostile names as text", async (t) => {
  const binary = await chromiumOrSkip(t);
  if (!binary) return;
  const url = new URL("/dashboard", stack.url);
  url.username = "admin";
  url.password = ADMIN;
  const dom = await chromium(binary, url.href, ["--virtual-time-budget=4000", "--dump-dom"]);
  assert.match(dom, /<body data-rendered="\d+"/, `the script ran and rendered:\n${dom.slice(0, 2000)}`);
  assert.doesNotMatch(dom, /<b id="injected"|<img/, "a backend's name is never markup");
  assert.match(dom, /&lt;b id="injected"&gt;/, "but shown as the text it is");
  assert.doesNotMatch(dom, /<title>pwned/);

  const body = JSON.parse((await get("/status", bearer(ADMIN))).text);
  const rows = renderedRows(dom);
  assert.deepEqual(Object.keys(rows).sort(), body.backends.map((b) => b.binding).sort());
  for (const b of body.backends) {
    const row = rows[b.binding];
    assert.equal(row.name, b.name, b.binding);
    assert.equal(row.state.split(" ")[0], b.state, b.binding);
    assert.equal(row.attempts, String(b.attempts));
    assert.equal(row.failures, String(b.failures));
    assert.equal(row.errorRate, b.attempts ? `${(100 * b.failures / b.attempts).toFixed(1)} %` : "–");
    assert.equal(row.inFlight, String(b.inFlight));
    assert.equal(row.tokens, b.tokens.total ? `${b.tokens.total} (${b.tokens.prompt} + ${b.tokens.completion})` : "0 (0 + 0)");
    const { firstByteMs: fb } = b.latency;
    assert.equal(row.firstByteMs, fb.samples ? [fb.p50, fb.p95, fb.p99].map((v) => v.toFixed(1)).join(" / ") : "–");
    assert.equal(row.view, "isolate", "no control plane: the isolate's figures");
  }
  assert.equal(rows.BACKEND_B.state.split(" ")[0], "ejected", "five failures in a row eject B");
  assert.ok(body.backends.find((b) => b.binding === "BACKEND_A").attempts > 0, "traffic reached A");
  assert.match(dom, /data-field="controlPlane">absent</);

  await mkdir(path.join(ROOT, "build"), { recursive: true });
  const screenshot = path.join(ROOT, "build/dashboard.png");
  await chromium(binary, url.href, ["--virtual-time-budget=4000", `--screenshot=${screenshot}`, "--window-size=1280,800"]);
  t.diagnostic(`screenshot: ${screenshot}`);
});

/** The `figures` column a row must show for cluster entry `shared` (fields it lacks come from the isolate). */
function expectedView(shared) {
  const fromIsolate = ["latency", "tokens"].filter((k) => !(k in shared));
  return fromIsolate.length ? `cluster (${fromIsolate.join(", ")}: isolate)` : "cluster";
}

/** Polls orchestrator A's /status (B's too, so B reports) until A's cluster view counts `attempts` attempts from 2 isolates. */
async function clusterSettled(cluster, attempts) {
  for (const deadline = Date.now() + 15_000; Date.now() < deadline; await sleep(300)) {
    await cluster.status("b");
    const body = await cluster.status("a");
    const counted = body.cluster.backends.reduce((sum, b) => sum + b.attempts, 0);
    if (body.cluster.controlPlane === "synced" && body.cluster.isolates === 2 && counted === attempts) return body;
  }
  throw new Error(`the cluster view never counted ${attempts} attempts: ${JSON.stringify((await cluster.status("a")).cluster)}`);
}

test("with a control plane, each row shows the cluster's figures, the isolate's where the cluster has none", async (t) => {
  const binary = await chromiumOrSkip(t);
  if (!binary) return;
  const cluster = await startCluster({ bindings: ["BACKEND_A", "BACKEND_B", "BACKEND_C"],
    routerConfig: { controlPlane: { firstSyncWaitMs: 1000 } } });
  try {
    for (let i = 0; i < 6; i++) {
      for (const which of /** @type {const} */ (["a", "b"])) assert.equal((await cluster.ask(which)).status, 200);
    }
    const body = await clusterSettled(cluster, 12);
    const dom = await chromium(binary, new URL("/dashboard", cluster.stack.url).href, ["--virtual-time-budget=4000", "--dump-dom"]);
    const rows = renderedRows(dom);
    assert.match(dom, /data-field="controlPlane">synced</);
    assert.match(dom, /data-field="isolates">2</);
    for (const shared of body.cluster.backends) {
      const row = rows[shared.binding];
      assert.equal(row.attempts, String(shared.attempts), `${shared.binding}: the cluster's count, both orchestrators' traffic`);
      assert.equal(row.failures, String(shared.failures));
      assert.equal(row.state.split(" ")[0], shared.state);
      assert.equal(row.view, expectedView(shared));
      const local = body.byBinding[shared.binding];
      assert.ok(local.attempts < shared.attempts || shared.attempts === 0, "orchestrator A saw only part of it");
    }
  } finally {
    await cluster.stop();
  }
});

test("without an admin key or API keys the page is open, as /status is", async () => {
  await stack.reconfigure({ backends: [controlled("BACKEND_A")] });
  const { res, text } = await get("/dashboard");
  assert.equal(res.status, 200);
  assert.match(text, /<table id="backends">/);
  assert.equal((await get("/status")).res.status, 200);
});

test("a non-ASCII admin key works as a Basic password (UTF-8, as the challenge's charset asks)", async () => {
  const key = "clé-ключ-鍵";
  await stack.reconfigure({ vars: { ROUTER_ADMIN_KEY: key }, backends: [controlled("BACKEND_A")] });
  const utf8 = { authorization: `Basic ${Buffer.from(`admin:${key}`, "utf8").toString("base64")}` };
  assert.equal((await get("/dashboard", utf8)).res.status, 200);
  const latin1 = { authorization: `Basic ${Buffer.from(`admin:${key}`, "latin1").toString("base64")}` };
  assert.equal((await get("/dashboard", latin1)).res.status, 401, "not UTF-8: matches nothing");
});
