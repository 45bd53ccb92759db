// Discovery under hostile timing (contract section 2): one slow client cannot make discovery fail
// for others, a failed describe() keeps the last good description, and with 100 backends no client
// request (its waitUntil work included) invokes more than Cloudflare's 32 Workers.
import assert from "node:assert/strict";
import http from "node:http";
import { test } from "node:test";
import { startControlledStack } from "../support/backend-control.mjs";
import { ask, sleep } from "../support/fault-cases.mjs";

/** Sends a chat request whose body trickles in until `holdMs`, then completes. */
function trickle(/** @type {string} */ origin, /** @type {number} */ holdMs) {
  const url = new URL(origin);
  const body = JSON.stringify({ model: "echo-1", messages: [{ role: "user", content: "slow" }] });
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, path: "/v1/chat/completions", method: "POST",
      headers: { "content-type": "application/json", "content-length": String(body.length) } }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode));
    });
    req.on("error", reject);
    req.write(body.slice(0, 10));
    setTimeout(() => req.end(body.slice(10)), holdMs);
  });
}

test("a client that trickles its body to its deadline cannot poison discovery for the others", async () => {
  const REQUEST_MS = 1500;
  const h = await startControlledStack({ bindings: ["BACKEND_A", "BACKEND_B"],
    routerConfig: { timeouts: { requestMs: REQUEST_MS }, discovery: { describeTimeoutMs: 2000 } } });
  try {
    h.control.setDescribe({ delayMs: 400 }); // slower than what the slow client has left
    const slow = trickle(h.stack.url, REQUEST_MS - 30); // starts discovery with ~30 ms left
    await sleep(REQUEST_MS - 10);
    const others = await Promise.all([1, 2, 3].map(() => ask(h.stack, { label: "after-slow" })));
    assert.deepEqual(others.map((r) => r.status), [200, 200, 200], others.map((r) => r.text).join("\n"));
    assert.ok([503, 504].includes(/** @type {number} */ (await slow)), "the slow client itself is out of time");
    const s = await h.status();
    assert.ok(s.backends.every((/** @type {any} */ b) => b.name && !b.describeError), JSON.stringify(s.backends));
  } finally {
    await h.stop();
  }
});

test("a describe() that fails or times out keeps the backend's last good description", async () => {
  const h = await startControlledStack({ bindings: ["BACKEND_A", "BACKEND_B"],
    routerConfig: { discovery: { describeTtlMs: 200, describeTimeoutMs: 300 } } });
  try {
    assert.equal((await ask(h.stack, { label: "first" })).status, 200);
    for (const how of [{ fail: true }, { delayMs: 1000 }]) {
      h.control.setDescribe(how);
      const before = h.control.describes.length;
      await sleep(250);
      assert.equal((await ask(h.stack, { label: "refresh" })).status, 200, "the refresh runs off the request path");
      for (let i = 0; i < 30 && h.control.describes.length < before + 2; i++) await sleep(50);
      await sleep(how.delayMs ? 400 : 100); // the timeout, then the answers are fed
      for (let i = 0; i < 5; i++) assert.equal((await ask(h.stack, { label: "after-failed-describe" })).status, 200);
      const s = await h.status();
      assert.ok(s.backends.every((/** @type {any} */ b) => b.models.includes("*")), JSON.stringify(s.backends));
      assert.ok(s.backends.some((/** @type {any} */ b) => b.describeError), "the failure is reported");
    }
  } finally {
    await h.stop();
  }
});

test("with 100 backends no request invokes more than 32 Workers, and discovery completes over a few requests", async () => {
  const bindings = Array.from({ length: 100 }, (_, i) => `BACKEND_${String(i).padStart(3, "0")}`);
  const h = await startControlledStack({ bindings });
  try {
    const perRequest = [];
    for (let i = 0; i < 6; i++) {
      const describesBefore = h.control.describes.length;
      const r = await ask(h.stack, { label: "hundred" });
      assert.equal(r.status, 200, r.text);
      // Background describes belong to this request's waitUntil: count them once they settle.
      let seen = -1;
      while (seen !== h.control.describes.length) { seen = h.control.describes.length; await sleep(150); }
      perRequest.push(h.control.describes.length - describesBefore + h.control.callsFor(r.requestId).length);
    }
    assert.ok(perRequest.every((n) => n <= 32), `Workers invoked per request: ${perRequest}`);
    assert.equal(new Set(h.control.describes.map((d) => d.binding)).size, 100, "every backend was described");
    assert.equal(h.control.describes.length, 100, "each exactly once");
    const s = await h.status();
    assert.ok(s.backends.every((/** @type {any} */ b) => b.name), "all 100 are in the catalog");
  } finally {
    await h.stop();
  }
});
