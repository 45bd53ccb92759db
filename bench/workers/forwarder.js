// Bench-only Worker: the physical floor of any router built on Service Bindings. It parses the
// client's JSON body and makes exactly one RPC infer() call to one of its BACKEND_* bindings, in
// turn, answering with whatever comes back: no validation, no choice beyond taking turns, no
// retry, no headers of its own. Bound to one backend it is "forwarder"; bound to the router's
// three backends it is "forwarder-3", which shows what spreading over several backend isolates
// costs by itself.

/** @typedef {import("../../shims/interfaces").BackendRpc} BackendRpc */

/** @type {BackendRpc[] | undefined} the BACKEND_* bindings, looked up once per isolate */
let backends;
let turn = 0;

export default {
  /** @param {Request} request @param {Record<string, BackendRpc>} env */
  async fetch(request, env) {
    backends ??= Object.keys(env).filter((name) => name.startsWith("BACKEND_")).sort().map((name) => env[name]);
    const body = await request.json();
    const backend = backends[turn++ % backends.length];
    const answer = await backend.infer({
      requestId: request.headers.get("x-request-id") ?? crypto.randomUUID(),
      path: /** @type {any} */ (new URL(request.url).pathname),
      model: String(body.model),
      stream: body.stream === true,
      body,
      deadline: Date.now() + 120_000,
      attemptDeadline: Date.now() + 60_000,
      attempt: 1,
    });
    if (answer.stream) return new Response(answer.stream, { status: answer.status, headers: answer.headers });
    return new Response(JSON.stringify(answer.body), {
      status: answer.status,
      headers: { ...answer.headers, "content-type": "application/json" },
    });
  },
};
