// The bad-input matrix, through the deployed orchestrator bundle: one table row per hostile or
// malformed request (every bad-input row of the contract's HTTP table, plus encodings, sizes,
// headers). Each row asserts the status, the OpenAI error body (or, for a request workerd itself
// refuses before the Worker runs, a sane 4xx), that no backend saw it, and that the very next
// normal request is served as usual.
import assert from "node:assert/strict";
import http from "node:http";
import { after, before, test } from "node:test";
import { startStack } from "../support/stack.mjs";
import { chat, errorOf } from "../support/http.mjs";

const KEY = "sk-matrix-key-4411";
const AUTH = { authorization: `Bearer ${KEY}` };
const JSON_TYPE = { "content-type": "application/json" };
const BACKEND = { binding: "BACKEND_REC", script: "recording-backend.js", vars: { BACKEND_NAME: "rec", MODELS: "echo-1" } };
const encoder = new TextEncoder();

let stack;
before(async () => { stack = await startStack({ vars: { ROUTER_API_KEYS: KEY }, backends: [BACKEND] }); });
after(() => stack?.stop());

/** Bytes of a text with raw bytes spliced in where `{}` stands. */
function withBytes(text, raw) {
  const [head, tail] = text.split("{}");
  return new Uint8Array([...encoder.encode(head), ...raw, ...encoder.encode(tail)]);
}

/** A body stream without Content-Length (chunked): `size` bytes of a JSON string value. */
function chunkedBody(size) {
  const piece = encoder.encode("x".repeat(64 * 1024));
  let sent = 0;
  return new ReadableStream({
    pull(controller) {
      if (sent === 0) controller.enqueue(encoder.encode('{"model":"echo-1","messages":[],"padding":"'));
      if (sent >= size) {
        controller.enqueue(encoder.encode('"}'));
        return controller.close();
      }
      controller.enqueue(piece);
      sent += piece.length;
    },
  });
}

const okChat = JSON.stringify(chat());
const nested = (levels) => `{"model":"echo-1","messages":[{"role":"user","content":"hi"}],"x":${"[".repeat(levels)}${"]".repeat(levels)}}`;
const post = (body, headers = {}) => ({ method: "POST", path: "/v1/chat/completions", headers: { ...JSON_TYPE, ...AUTH, ...headers }, body });

/**
 * @typedef {object} Row
 * @property {string} name
 * @property {{method: string, path: string, headers: Record<string, string>, body?: any}} request
 * @property {number} status
 * @property {string} [type]    error.type of the OpenAI error body
 * @property {string} [code]    error.code
 * @property {string} [param]   error.param
 * @property {Record<string, RegExp>} [headers]  response headers that must match
 * @property {boolean} [workerd] workerd may refuse the request before the Worker runs
 * @property {(res: Response, body: any) => void} [check]
 */
/** @type {Row[]} */
const rows = [
  // --- the contract's 400 rows ---
  { name: "invalid JSON (syntax error)", request: post('{"model":"echo-1","messages":['), status: 400, type: "invalid_request_error" },
  { name: "invalid JSON (trailing data)", request: post(`${okChat} {}`), status: 400, type: "invalid_request_error" },
  { name: "invalid JSON (a comment)", request: post('{"model":"echo-1", /* hi */ "messages":[{"role":"user","content":"x"}]}'), status: 400, type: "invalid_request_error" },
  { name: "invalid JSON (single quotes)", request: post("{'model':'echo-1'}"), status: 400, type: "invalid_request_error" },
  { name: "invalid UTF-8 (a stray byte)", request: post(withBytes('{"model":"echo-1","messages":[{"role":"user","content":"{}"}]}', [0xc3, 0x28])), status: 400, type: "invalid_request_error" },
  { name: "invalid UTF-8 (overlong C0 AF)", request: post(withBytes('{"model":"echo-1","messages":[{"role":"user","content":"{}"}]}', [0xc0, 0xaf])), status: 400, type: "invalid_request_error" },
  { name: "invalid UTF-8 (a UTF-16 surrogate ED A0 80)", request: post(withBytes('{"model":"echo-1","messages":[{"role":"user","content":"{}"}]}', [0xed, 0xa0, 0x80])), status: 400, type: "invalid_request_error" },
  { name: "invalid UTF-8 (truncated at the end)", request: post(withBytes('{"model":"echo-1","messages":[]}{}', [0xe2, 0x82])), status: 400, type: "invalid_request_error" },
  { name: "a raw NUL byte", request: post(withBytes('{"model":"echo-1",{}"messages":[{"role":"user","content":"x"}]}', [0])), status: 400, type: "invalid_request_error" },
  { name: "a NUL byte inside a string", request: post(withBytes('{"model":"echo-1","messages":[{"role":"user","content":"a{}b"}]}', [0])), status: 400, type: "invalid_request_error" },
  { name: "empty body", request: post(""), status: 400, type: "invalid_request_error" },
  { name: "whitespace-only body", request: post(" \n\t "), status: 400, type: "invalid_request_error" },
  { name: "top level is an array", request: post("[1,2,3]"), status: 400, type: "invalid_request_error" },
  { name: "top level is a string", request: post('"hello"'), status: 400, type: "invalid_request_error" },
  { name: "model missing", request: post(JSON.stringify({ messages: chat().messages })), status: 400, type: "invalid_request_error", param: "model" },
  { name: "model not a string", request: post(JSON.stringify({ ...chat(), model: 7 })), status: 400, type: "invalid_request_error", param: "model" },
  { name: "model empty", request: post(JSON.stringify(chat(""))), status: 400, type: "invalid_request_error", param: "model" },
  { name: "model longer than 256 bytes", request: post(JSON.stringify(chat("m".repeat(257)))), status: 400, type: "invalid_request_error", param: "model" },
  { name: "model with a control character", request: post(JSON.stringify(chat("echo-1\n"))), status: 400, type: "invalid_request_error", param: "model" },
  { name: "stream is the string \"true\"", request: post(JSON.stringify(chat("echo-1", { stream: "true" }))), status: 400, type: "invalid_request_error", param: "stream" },
  { name: "stream is 1", request: post(JSON.stringify(chat("echo-1", { stream: 1 }))), status: 400, type: "invalid_request_error", param: "stream" },
  { name: "messages not an array", request: post(JSON.stringify({ model: "echo-1", messages: "hi" })), status: 400, type: "invalid_request_error", param: "messages" },
  { name: "messages empty", request: post(JSON.stringify({ model: "echo-1", messages: [] })), status: 400, type: "invalid_request_error", param: "messages" },
  { name: "a message that is not an object", request: post(JSON.stringify({ model: "echo-1", messages: ["hi"] })), status: 400, type: "invalid_request_error", param: "messages[0]" },
  { name: "a message without a role", request: post(JSON.stringify({ model: "echo-1", messages: [{ content: "hi" }] })), status: 400, type: "invalid_request_error", param: "messages[0].role" },
  { name: "completions: prompt of the wrong type", request: { ...post(JSON.stringify({ model: "echo-1", prompt: 5 })), path: "/v1/completions" }, status: 400, type: "invalid_request_error", param: "prompt" },
  { name: "embeddings: input of the wrong type", request: { ...post(JSON.stringify({ model: "echo-1", input: { a: 1 } })), path: "/v1/embeddings" }, status: 400, type: "invalid_request_error", param: "input" },
  { name: "JSON nested 65 deep", request: post(nested(64)), status: 400, type: "invalid_request_error" },
  { name: "100 000 nested arrays", request: post(nested(100_000)), status: 400, type: "invalid_request_error" },
  { name: "100 000 unclosed brackets", request: post(`{"model":"echo-1","x":${"[".repeat(100_000)}`), status: 400, type: "invalid_request_error" },
  { name: "a number too large for a double (1E1000)", request: post(`{"model":"echo-1","messages":[{"role":"user","content":"x"}],"temperature":1E1000}`), status: 400, type: "invalid_request_error" },
  { name: "a negative number too large (-1E1000)", request: post(`{"model":"echo-1","messages":[{"role":"user","content":"x"}],"n":-1E1000}`), status: 400, type: "invalid_request_error" },
  { name: "a lone UTF-16 surrogate escape", request: post('{"model":"echo-1","messages":[{"role":"user","content":"\\ud800"}]}'), status: 400, type: "invalid_request_error" },
  // --- other statuses of the contract ---
  { name: "no API key", request: post(okChat, { authorization: "" }), status: 401, type: "authentication_error", headers: { "www-authenticate": /^Bearer/ } },
  { name: "a wrong API key", request: post(okChat, { authorization: "Bearer sk-matrix-key-4412" }), status: 401, type: "authentication_error", headers: { "www-authenticate": /^Bearer/ } },
  { name: "the right key without the Bearer scheme", request: post(okChat, { authorization: KEY }), status: 401, type: "authentication_error" },
  { name: "a 64 KB Authorization header", request: post(okChat, { authorization: `Bearer ${"k".repeat(64 * 1024)}` }), status: 401, type: "authentication_error" },
  { name: "unknown path", request: { method: "POST", path: "/v1/chat/completion", headers: { ...JSON_TYPE, ...AUTH }, body: okChat }, status: 404, type: "not_found" },
  { name: "a percent-encoded path", request: { method: "POST", path: "/v1/chat%2Fcompletions", headers: { ...JSON_TYPE, ...AUTH }, body: okChat }, status: 404, type: "not_found" },
  { name: "no backend serves the model", request: post(JSON.stringify(chat("gpt-unknown"))), status: 404, type: "invalid_request_error", code: "model_not_found", param: "model" },
  { name: "GET on an inference path", request: { method: "GET", path: "/v1/chat/completions", headers: AUTH }, status: 405, type: "invalid_request_error", headers: { allow: /^POST$/ } },
  { name: "DELETE on /v1/models", request: { method: "DELETE", path: "/v1/models", headers: AUTH }, status: 405, type: "invalid_request_error", headers: { allow: /^GET$/ } },
  // Only the body's first bytes are sent (see sendAnnounced): the router answers from the header.
  { name: "Content-Length over 1 MiB", request: post('{"model":"echo-1","messages":[],"padding":"', { "content-length": String((1 << 20) + 1024) }), status: 413, type: "invalid_request_error", code: "request_too_large" },
  { name: "a chunked body growing past 1 MiB", request: post(chunkedBody(1 << 20)), status: 413, type: "invalid_request_error", code: "request_too_large" },
  { name: "Content-Type text/plain", request: post(okChat, { "content-type": "text/plain" }), status: 415, type: "invalid_request_error" },
  { name: "no Content-Type", request: { method: "POST", path: "/v1/chat/completions", headers: AUTH, body: encoder.encode(okChat) }, status: 415, type: "invalid_request_error" },
  { name: "Content-Type application/jsonx", request: post(okChat, { "content-type": "application/jsonx" }), status: 415, type: "invalid_request_error" },
  // --- accepted on purpose (docs/configuration.md) ---
  {
    name: "duplicate keys: the last one wins", request: post('{"model":"gpt-unknown","model":"echo-1","messages":[{"role":"user","content":"x"}]}'), status: 200,
    check: async () => assert.equal((await lastInfer()).model, "echo-1"),
  },
  { name: "a UTF-8 byte order mark before the body", request: post(withBytes(`{}${okChat}`, [0xef, 0xbb, 0xbf])), status: 200 },
  // --- headers ---
  {
    name: "a 64 KB x-request-id", request: post(okChat, { "x-request-id": "r".repeat(64 * 1024) }), status: 200,
    check: (res) => assert.match(res.headers.get("x-request-id"), /^[0-9a-f]{32}$/, "an insane id is replaced by a generated one"),
  },
  {
    name: "an x-request-id with characters outside the safe set", request: post(okChat, { "x-request-id": "abc def<script>" }), status: 200,
    check: (res) => assert.match(res.headers.get("x-request-id"), /^[0-9a-f]{32}$/),
  },
  {
    // workerd refuses headers this large itself (431) before the Worker runs; either way no 5xx.
    name: "a 256 KB header", request: post(okChat, { "x-padding": "p".repeat(256 * 1024) }), status: 431, workerd: true,
  },
  {
    name: "attacker-supplied x-router-* headers", status: 200,
    request: post(okChat, { "x-router-backend": "BACKEND_EVIL", "x-router-attempts": "99", "x-router-extra": "injected-value-77" }),
    check: async (res) => {
      assert.equal(res.headers.get("x-router-backend"), "BACKEND_REC");
      assert.equal(res.headers.get("x-router-attempts"), "1");
      assert.equal(res.headers.get("x-router-extra"), null);
      const seen = JSON.stringify(await stack.calls("BACKEND_REC"));
      for (const leaked of ["BACKEND_EVIL", "injected-value-77", "x-router"]) assert.ok(!seen.includes(leaked), `backend saw ${leaked}`);
    },
  },
];

async function lastInfer() {
  const { requests } = await stack.calls("BACKEND_REC");
  return requests.at(-1);
}

/**
 * A request whose Content-Length announces more than its body: the first bytes are sent and the
 * answer awaited on a connection of its own. (fetch would push the whole body, and the runtime
 * may reset the connection over the unread rest before the answer reaches the client.)
 */
function sendAnnounced({ method, path, headers, body }) {
  return new Promise((resolve, reject) => {
    const req = http.request(new URL(path, stack.url), { method, headers, agent: false }, (res) => {
      const chunks = [];
      res.on("data", (d) => chunks.push(d)).on("end", () => {
        req.destroy();
        resolve(new Response(Buffer.concat(chunks), { status: res.statusCode,
          headers: Object.entries(res.headers).map(([k, v]) => [k, String(v)]) }));
      });
    });
    req.on("error", reject);
    req.write(body);
  });
}

/** Sends a row's request; a body stream needs half-duplex. */
function send({ method, path, headers, body }) {
  if (headers["content-length"]) return sendAnnounced({ method, path, headers, body });
  const init = { method, headers, body };
  if (body instanceof ReadableStream) init.duplex = "half";
  return stack.fetch(path, init);
}

/** A normal request right after a bad one: the router keeps serving. */
async function assertServesNormally(after) {
  const res = await send(post(okChat, { "x-request-id": "after-bad-input" }));
  const text = await res.text();
  assert.equal(res.status, 200, `after "${after}": ${text}`);
  assert.equal(res.headers.get("x-request-id"), "after-bad-input");
  assert.equal(res.headers.get("x-router-backend"), "BACKEND_REC");
  assert.equal(JSON.parse(text).object, "chat.completion");
}

for (const row of rows) {
  test(`${row.name} -> ${row.status}`, async () => {
    const before = (await stack.calls("BACKEND_REC")).infer;
    const res = await send(row.request);
    if (row.workerd && !res.headers.has("x-request-id")) {
      // Refused by workerd before the Worker ran: a plain-text 4xx.
      assert.equal(res.status, row.status, await res.text());
    } else {
      assert.equal(res.status, row.status);
      assert.ok(res.headers.get("x-request-id"), "every answer carries x-request-id");
      if (row.status >= 400) {
        assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
        const error = await errorOf(res);
        if (row.type) assert.equal(error.type, row.type, JSON.stringify(error));
        if (row.code) assert.equal(error.code, row.code, JSON.stringify(error));
        if (row.param) assert.equal(error.param, row.param, JSON.stringify(error));
        assert.ok(error.message.length < 1000, "the message is short");
        const after = (await stack.calls("BACKEND_REC")).infer;
        assert.equal(after, before, "a refused request never reaches a backend");
      } else {
        await res.arrayBuffer();
      }
      for (const [name, pattern] of Object.entries(row.headers ?? {})) assert.match(res.headers.get(name) ?? "", pattern, name);
      await row.check?.(res);
    }
    await assertServesNormally(row.name);
  });
}
