// What a backend receives: only the InferenceRequest, never the client's Authorization, cookies,
// hop-by-hop or other headers. The recording backend keeps every RPC call with its whole argument
// list and any fetch() it gets; the client request is sent over a raw socket (node:http) so
// headers fetch() would refuse to send (Connection, Keep-Alive, TE, Proxy-Authorization) are sent.
import assert from "node:assert/strict";
import http from "node:http";
import { after, before, test } from "node:test";
import { startStack } from "../support/stack.mjs";
import { readSse } from "../support/http.mjs";

const KEY = "sk-isolation-key-5521";
const BACKEND = { binding: "BACKEND_REC", script: "recording-backend.js", vars: { BACKEND_NAME: "rec", MODELS: "echo-1" } };
const INFERENCE_REQUEST_KEYS = ["attempt", "attemptDeadline", "body", "deadline", "model", "path", "requestId", "stream"];

// Every header carries a value found nowhere else, so its presence anywhere is detectable.
const HEADERS = {
  authorization: `Bearer ${KEY}`,
  cookie: "session=cookie-value-8c1f",
  "proxy-authorization": "Basic proxy-credential-77aa",
  connection: "keep-alive, x-hop-by-hop-field",
  "x-hop-by-hop-field": "hop-value-41d2",
  "keep-alive": "timeout=5, max=9001",
  te: "trailers",
  "x-forwarded-for": "198.51.100.23",
  "x-real-ip": "198.51.100.24",
  "cf-connecting-ip": "198.51.100.25",
  "x-api-key": "api-key-header-9e0b",
  "openai-organization": "org-header-3f6c",
  "user-agent": "isolation-test-agent/1.0",
  "x-request-id": "iso-req-1",
};
const SECRET_VALUES = [KEY, "cookie-value-8c1f", "proxy-credential-77aa", "hop-value-41d2", "max=9001", "198.51.100.2",
  "api-key-header-9e0b", "org-header-3f6c", "isolation-test-agent"];
// Header names long enough to be unmistakable inside a JSON record.
const SECRET_NAMES = ["authorization", "cookie", "proxy-authorization", "x-hop-by-hop-field", "keep-alive",
  "x-forwarded-for", "x-real-ip", "cf-connecting-ip", "x-api-key", "openai-organization", "user-agent", "connection"];

let stack;
before(async () => { stack = await startStack({ vars: { ROUTER_API_KEYS: KEY }, backends: [BACKEND] }); });
after(() => stack?.stop());

/** POSTs over a fresh raw connection with exactly `headers`; resolves {status, headers, body}. */
function rawPost(path, headers, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(new URL(path, stack.url), { method: "POST", agent: false, headers: { ...headers,
      "content-type": "application/json", "content-length": Buffer.byteLength(body) } }, (res) => {
      let text = "";
      res.setEncoding("utf8").on("data", (d) => (text += d)).on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

/**
 * Asserts the recording holds only describe() and infer(InferenceRequest) calls, and no secret.
 * `sentBodies`: what the client sent, or the exact text a backend must get when the router edits it.
 */
function assertClean(received, sentBodies) {
  const text = JSON.stringify(received);
  for (const value of SECRET_VALUES) assert.ok(!text.includes(value), `a backend received ${value}`);
  for (const name of SECRET_NAMES) assert.ok(!text.toLowerCase().includes(name), `a backend received a "${name}" header`);
  assert.deepEqual(received.filter((r) => r.method === "fetch"), [], "nothing reached a backend's fetch()");
  const infers = received.filter((r) => r.method === "infer");
  assert.equal(infers.length, sentBodies.length);
  for (const [i, call] of infers.entries()) {
    assert.equal(call.args.length, 1, "infer() gets exactly one argument");
    const req = call.args[0];
    assert.deepEqual(Object.keys(req).sort(), INFERENCE_REQUEST_KEYS);
    const expected = typeof sentBodies[i] === "string" ? sentBodies[i] : JSON.stringify(sentBodies[i]);
    assert.equal(req.body, expected, "the client's exact body text arrives, unchanged but for the router's own edit");
    assert.equal(req.requestId, "iso-req-1");
    assert.equal(typeof req.deadline, "number");
    assert.equal(req.attempt, 1);
  }
  for (const call of received.filter((r) => r.method === "describe" || r.method === "health")) {
    assert.deepEqual(call.args, [], `${call.method}() gets no argument`);
  }
}

test("a non-streaming request: the backend gets only the InferenceRequest", async () => {
  await stack.reset("BACKEND_REC");
  const body = { model: "echo-1", messages: [{ role: "user", content: "isolation prompt one" }], temperature: 0.5 };
  const res = await rawPost("/v1/chat/completions", HEADERS, JSON.stringify(body));
  assert.equal(res.status, 200, res.body);
  assert.equal(res.headers["x-router-backend"], "BACKEND_REC");
  const { received } = await stack.calls("BACKEND_REC");
  assertClean(received, [body]);
  assert.equal(received.find((r) => r.method === "infer").args[0].stream, false);
});

test("a streaming request, on every inference path: still only the InferenceRequest", async () => {
  await stack.reset("BACKEND_REC");
  const chat = { model: "echo-1", stream: true, messages: [{ role: "user", content: "isolation prompt two" }] };
  const res = await stack.fetch("/v1/chat/completions", { method: "POST", body: JSON.stringify(chat),
    headers: { "content-type": "application/json", authorization: HEADERS.authorization, cookie: HEADERS.cookie,
      "x-api-key": HEADERS["x-api-key"], "x-request-id": "iso-req-1" } });
  assert.equal(res.status, 200);
  assert.equal((await readSse(res)).at(-1), "[DONE]");
  const completion = { model: "echo-1", prompt: "isolation prompt three" };
  const embedding = { model: "echo-1", input: ["isolation prompt four"] };
  for (const [path, body] of [["/v1/completions", completion], ["/v1/embeddings", embedding]]) {
    const r = await rawPost(path, HEADERS, JSON.stringify(body));
    assert.equal(r.status, 200, r.body);
  }
  const { received } = await stack.calls("BACKEND_REC");
  // A stream that did not ask for its usage: the router asks for it in front (usage.streamUsage),
  // every byte of the client's body follows unchanged.
  const chatAsked = `{"stream_options":{"include_usage":true},${JSON.stringify(chat).slice(1)}`;
  assertClean(received, [chatAsked, completion, embedding]);
  assert.deepEqual(received.filter((r) => r.method === "infer").map((r) => r.args[0].path),
    ["/v1/chat/completions", "/v1/completions", "/v1/embeddings"]);
});
