// Helpers shared by the fault suites (tests/faults/): one client request with everything a case
// asserts about it, and bringing a controlled stack back to a calm state between cases.
import { chat } from "./http.mjs";

let sequence = 0;

/**
 * Sends one chat completion with a fresh x-request-id and reads the whole answer.
 * Returns the status, the router headers, the parsed body (JSON or SSE text) and the timing.
 * @param {{fetch: (p: string, init?: RequestInit) => Promise<Response>}} stack
 * @param {{label?: string, model?: string, stream?: boolean}} [options]
 */
export async function ask(stack, { label = "case", model = "echo-1", stream = false } = {}) {
  const requestId = `${label}-${++sequence}`;
  const started = Date.now();
  const res = await stack.fetch("/v1/chat/completions", {
    method: "POST",
    headers: { "content-type": "application/json", "x-request-id": requestId },
    body: JSON.stringify(chat(model, stream ? { stream: true } : {})),
  });
  const text = await res.text();
  const finished = Date.now();
  let json = null;
  try { json = JSON.parse(text); } catch { /* an SSE body */ }
  return {
    requestId, status: res.status, text, json, started, finished, elapsed: finished - started,
    contentType: res.headers.get("content-type") ?? "",
    backend: res.headers.get("x-router-backend"),
    attempts: Number(res.headers.get("x-router-attempts")),
    echoedRequestId: res.headers.get("x-request-id"),
    retryAfter: res.headers.get("retry-after"),
  };
}

/** The OpenAI error object of a body (`{error: {message, type, param, code}}`), or null when it is not one. */
export function openAiError(/** @type {any} */ json) {
  const e = json?.error;
  const ok = e && typeof e.message === "string" && typeof e.type === "string" && "param" in e && "code" in e;
  return ok ? e : null;
}

/** The data of each SSE event of a body, in order. */
export function sseEvents(/** @type {string} */ text) {
  return text.split("\n\n").filter((block) => block.trim()).map((block) =>
    block.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trimStart()).join("\n"));
}

export const sleep = (/** @type {number} */ ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Brings the router back to "every backend healthy, no failure streak" with every backend
 * answering ok: waits for ejections and cooldowns to end, then sends requests until no backend
 * has consecutive failures (a success resets them). Finally forgets the recorded calls.
 * @param {{stack: any, control: any, status: () => Promise<any>}} harness
 */
export async function settle({ stack, control, status }) {
  control.reset();
  for (let round = 0; round < 100; round++) {
    const s = await status();
    const unhealthy = s.backends.filter((/** @type {any} */ b) => b.state !== "healthy");
    if (unhealthy.length) {
      const until = Math.max(...unhealthy.map((/** @type {any} */ b) => b.until));
      await sleep(Math.max(20, until - Date.now() + 20));
      continue;
    }
    if (s.backends.every((/** @type {any} */ b) => b.consecutiveFailures === 0 && b.inFlight === 0)) {
      control.reset();
      return;
    }
    await ask(stack, { label: "settle" });
  }
  throw new Error("the router did not settle");
}
