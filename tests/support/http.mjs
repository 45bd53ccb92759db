// Small HTTP helpers for the end-to-end suites.
import { createHash } from "node:crypto";

/** POSTs `body` (an object is sent as JSON, a string or bytes as they are). */
export function post(stack, path, body, headers = {}) {
  const raw = typeof body === "string" || body instanceof Uint8Array ? body : JSON.stringify(body);
  return stack.fetch(path, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: raw });
}

/** The id /status, the access log and Analytics Engine show for a client key: "key-" + 12 hex digits of the SHA-256 of its Authorization header. */
export const keyIdOf = (/** @type {string} */ key) => `key-${createHash("sha256").update(`Bearer ${key}`).digest("hex").slice(0, 12)}`;

/** An echo backend of a test stack, bound as BACKEND_<NAME>, serving echo-1 and echo-2. */
export const echoBackend = (/** @type {string} */ name) =>
  ({ binding: `BACKEND_${name.toUpperCase()}`, vars: { PROVIDER: "echo", BACKEND_NAME: name, MODELS: "echo-1,echo-2" } });

/** A minimal valid chat completion request. */
export const chat = (model = "echo-1", extra = {}) => ({
  model, messages: [{ role: "user", content: "Hello, router" }], ...extra,
});

/** Reads a Server-Sent Events body; returns each event's data in arrival order. */
export async function readSse(response) {
  const events = [];
  let pending = "";
  const decoder = new TextDecoder();
  for await (const chunk of response.body) {
    pending += decoder.decode(chunk, { stream: true });
    let split;
    while ((split = pending.indexOf("\n\n")) >= 0) {
      const block = pending.slice(0, split);
      pending = pending.slice(split + 2);
      const data = block.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trimStart());
      if (data.length) events.push(data.join("\n"));
    }
  }
  if (pending.trim()) events.push(pending);
  return events;
}

/** Asserts an OpenAI error body and returns its `error` object. */
export async function errorOf(response) {
  const body = await response.json();
  if (!body?.error || typeof body.error.message !== "string" || typeof body.error.type !== "string"
    || !("param" in body.error) || !("code" in body.error)) {
    throw new Error(`not an OpenAI error body: ${JSON.stringify(body)}`);
  }
  return body.error;
}
