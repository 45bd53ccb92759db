// Every bad-input row of the contract's HTTP table, answered by the deployed bundle before any
// backend is called, plus an invalid ROUTER_CONFIG.
import assert from "node:assert/strict";
import http from "node:http";
import { after, before, test } from "node:test";
import { startStack } from "../support/stack.mjs";
import { chat, errorOf, post } from "../support/http.mjs";

const BACKEND = { binding: "BACKEND_ONLY", script: "fault-backend.js", vars: { BACKEND_NAME: "only", MODELS: "echo-1,echo-2" } };

let stack;
before(async () => { stack = await startStack({ backends: [BACKEND] }); });
after(() => stack?.stop());

/** Asserts status and error type, and that the request id header is present. */
async function expectError(res, status, type) {
  assert.equal(res.status, status, `status for ${res.url}`);
  assert.ok(res.headers.get("x-request-id"));
  const error = await errorOf(res);
  assert.equal(error.type, type, JSON.stringify(error));
  return error;
}

const bad400 = {
  "invalid JSON": '{"model": "echo-1", "messages": [',
  "a JSON array instead of an object": "[1, 2, 3]",
  "model missing": JSON.stringify({ messages: [] }),
  "model not a string": JSON.stringify({ model: 7, messages: [] }),
  "model empty": JSON.stringify({ model: "", messages: [] }),
  "stream not a boolean": JSON.stringify(chat("echo-1", { stream: "yes" })),
  "messages not an array": JSON.stringify({ model: "echo-1", messages: "hi" }),
  "JSON nested deeper than 64": `{"model":"echo-1","messages":[],"x":${"[".repeat(70)}${"]".repeat(70)}}`,
};
for (const [name, body] of Object.entries(bad400)) {
  test(`400 for ${name}`, async () => {
    await expectError(await post(stack, "/v1/chat/completions", body), 400, "invalid_request_error");
  });
}

test("no bad input ever reaches a backend", async () => {
  await stack.reset("BACKEND_ONLY");
  for (const body of Object.values(bad400)) await (await post(stack, "/v1/chat/completions", body)).arrayBuffer();
  assert.equal((await stack.calls("BACKEND_ONLY")).infer, 0);
});

test("400 for a prompt of the wrong type on /v1/completions and input on /v1/embeddings", async () => {
  await expectError(await post(stack, "/v1/completions", { model: "echo-1", prompt: 5 }), 400, "invalid_request_error");
  await expectError(await post(stack, "/v1/embeddings", { model: "echo-1", input: { a: 1 } }), 400, "invalid_request_error");
});

test("400 for invalid UTF-8", async () => {
  const bytes = new Uint8Array([...new TextEncoder().encode('{"model":"echo-1","messages":[{"role":"user","content":"'),
    0xc3, 0x28, ...new TextEncoder().encode('"}]}')]);
  await expectError(await post(stack, "/v1/chat/completions", bytes), 400, "invalid_request_error");
});

test("a nesting depth of exactly 64 is accepted", async () => {
  // The body object is level 1, so 63 more levels of arrays make 64.
  const messages = JSON.stringify(chat().messages);
  const body = `{"model":"echo-1","messages":${messages},"x":${"[".repeat(63)}${"]".repeat(63)}}`;
  const res = await post(stack, "/v1/chat/completions", body);
  assert.equal(res.status, 200, JSON.stringify(await res.clone().json()));
  await res.arrayBuffer();
});

test("404 not_found for an unknown path", async () => {
  await expectError(await stack.fetch("/v1/unknown"), 404, "not_found");
  await expectError(await post(stack, "/v2/chat/completions", chat()), 404, "not_found");
});

test("404 model_not_found when no backend serves the model", async () => {
  await stack.reset("BACKEND_ONLY");
  const error = await expectError(await post(stack, "/v1/chat/completions", chat("gpt-unknown")), 404, "invalid_request_error");
  assert.equal(error.code, "model_not_found");
  assert.equal((await stack.calls("BACKEND_ONLY")).infer, 0, "no backend was called");
});

test("405 with Allow for a wrong method", async () => {
  const get = await stack.fetch("/v1/chat/completions");
  assert.equal(get.headers.get("allow"), "POST");
  await expectError(get, 405, "invalid_request_error");
  const postModels = await post(stack, "/v1/models", {});
  assert.match(postModels.headers.get("allow"), /GET/);
  await expectError(postModels, 405, "invalid_request_error");
});

test("413 when Content-Length announces more than 1 MiB, before the body is sent", async () => {
  // The router answers from the header alone. The client sends only the body's first bytes and
  // waits: had it pushed the whole MiB, the runtime could reset the connection over the unread
  // rest before the answer reached the client (a race of the test, not of the router).
  await stack.reset("BACKEND_ONLY");
  const { status, body } = await new Promise((resolve, reject) => {
    const req = http.request(new URL("/v1/chat/completions", stack.url), {
      method: "POST", agent: false,
      headers: { "content-type": "application/json", "content-length": String((1 << 20) + 1024) },
    }, (res) => {
      let text = "";
      res.setEncoding("utf8").on("data", (d) => (text += d)).on("end", () => {
        resolve({ status: res.statusCode, body: text });
        req.destroy();
      });
    });
    req.on("error", reject);
    req.write('{"model":"echo-1","messages":[],"padding":"');
  });
  assert.equal(status, 413);
  assert.equal(JSON.parse(body).error.type, "invalid_request_error");
  assert.equal((await stack.calls("BACKEND_ONLY")).infer, 0, "no backend was called");
});

test("413 when a body without Content-Length grows past 1 MiB while read", async () => {
  // node:http on a connection of its own: the router answers before the upload ends, and that
  // connection is not reusable afterwards.
  const { status, body } = await new Promise((resolve, reject) => {
    const req = http.request(new URL("/v1/chat/completions", stack.url), {
      method: "POST", agent: false, headers: { "content-type": "application/json", "transfer-encoding": "chunked" },
    }, (res) => {
      let text = "";
      res.setEncoding("utf8").on("data", (d) => (text += d)).on("end", () => resolve({ status: res.statusCode, body: text }));
    });
    req.on("error", reject);
    req.write('{"model":"echo-1","messages":[],"padding":"');
    const piece = "x".repeat(64 * 1024);
    let sent = 0;
    const pump = () => {
      while (sent < 20) {
        sent++;
        if (!req.write(piece)) return req.once("drain", pump);
      }
      req.end('"}');
    };
    pump();
  });
  assert.equal(status, 413);
  assert.equal(JSON.parse(body).error.type, "invalid_request_error");
});

test("415 when a POST body is not JSON", async () => {
  const res = await post(stack, "/v1/chat/completions", JSON.stringify(chat()), { "content-type": "text/plain" });
  await expectError(res, 415, "invalid_request_error");
});

test("a JSON content type with parameters is accepted", async () => {
  const res = await post(stack, "/v1/chat/completions", chat(), { "content-type": "application/json; charset=utf-8" });
  assert.equal(res.status, 200);
  await res.arrayBuffer();
});

test("an invalid ROUTER_CONFIG answers 500 naming the field, and is logged", async () => {
  await stack.reconfigure({ vars: { ROUTER_CONFIG: JSON.stringify({ retry: { maxAttempts: 0 } }) }, backends: [BACKEND] });
  for (const path of ["/v1/chat/completions", "/v1/models"]) {
    const res = path === "/v1/models" ? await stack.fetch(path) : await post(stack, path, chat());
    assert.equal(res.status, 500);
    const error = await errorOf(res);
    assert.match(error.message, /retry\.maxAttempts/);
  }
  assert.ok(stack.logs.some((line) => line.includes("retry.maxAttempts")), `logs: ${stack.logs.join("\n")}`);
  await stack.reconfigure({ vars: { ROUTER_CONFIG: '{"strategy": "fastest"' }, backends: [BACKEND] });
  const res = await post(stack, "/v1/chat/completions", chat());
  assert.equal(res.status, 500);
  assert.match((await errorOf(res)).message, /ROUTER_CONFIG/);
});
