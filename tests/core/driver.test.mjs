// shims/driver.js with the real router.wasm in plain Node (Request/Response as in workerd): what
// the shim answers when something fails on its own side. Every reply is OpenAI-shaped and carries
// x-request-id; a failed start is retried by the next request instead of being cached.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { createRouterFetch } from "../../shims/driver.js";
import { RouterCore } from "../../shims/wasm-core.js";

const wasmPath = fileURLToPath(new URL("../../build/wasm/router.wasm", import.meta.url));
const wasmModule = new WebAssembly.Module(readFileSync(wasmPath));
const get = (/** @type {string} */ path) => new Request(`http://router.test${path}`);

/** @param {Response} res */
async function errorOf(res) {
  assert.match(res.headers.get("x-request-id") ?? "", /^[0-9a-f]{32}$/, "x-request-id: 128 random bits");
  assert.equal(res.headers.get("content-type"), "application/json");
  return (await res.json()).error;
}

test("a configuration that fails to start is answered with a 500 and retried by the next request", async () => {
  let failures = 1;
  const env = {
    get ROUTER_API_KEYS() {
      if (failures-- > 0) throw new Error("secret store unavailable");
      return undefined;
    },
  };
  const fetch = createRouterFetch(RouterCore.fromModule(wasmModule));
  const first = await fetch(get("/healthz"), env);
  assert.equal(first.status, 500);
  assert.equal((await errorOf(first)).code, "router_start_failed");
  const second = await fetch(get("/healthz"), env);
  assert.equal(second.status, 200, "not cached: the next request configures again");
});

test("a trap inside the core answers a 500 with x-request-id", async () => {
  const core = RouterCore.fromModule(wasmModule);
  const fetch = createRouterFetch(core);
  assert.equal((await fetch(get("/healthz"), {})).status, 200);
  const realBegin = core.exports.rt_exchange_begin;
  // A read far outside linear memory: a genuine WebAssembly trap, once.
  core.exports = { ...core.exports, rt_exchange_begin: (/** @type {number[]} */ ...args) => realBegin(args[0], 0xfffffff0, 64, ...args.slice(3)) };
  const trapped = await fetch(get("/healthz"), {});
  assert.equal(trapped.status, 500);
  assert.equal((await errorOf(trapped)).code, "core_trapped");
  assert.equal((await fetch(get("/healthz"), {})).status, 200, "a fresh instance serves the next request");
});

test("an error in the shim itself is a 500 internal_error with the request's x-request-id, not a bare runtime error", async () => {
  const core = RouterCore.fromModule(wasmModule);
  const fetch = createRouterFetch(core);
  const env = { BACKEND_A: { describe: async () => ({ name: "a", models: ["*"] }) } };
  core.resume = () => { throw new TypeError("a bug in the shim"); };
  const res = await fetch(get("/v1/models"), env); // discovery, then resume throws
  assert.equal(res.status, 500);
  assert.equal((await errorOf(res)).code, "internal_error");
  const status = JSON.parse(await (await fetch(get("/status"), env)).text());
  assert.equal(status.requestsInFlight, 1, "the failed exchange was ended (only /status is in flight)");
});

test("generated request ids are 128-bit and do not repeat", async () => {
  const fetch = createRouterFetch(RouterCore.fromModule(wasmModule));
  const ids = new Set();
  for (let i = 0; i < 2000; i++) {
    const res = await fetch(get("/healthz"), {});
    const id = res.headers.get("x-request-id") ?? "";
    assert.match(id, /^[0-9a-f]{32}$/);
    ids.add(id);
  }
  assert.equal(ids.size, 2000);
});
