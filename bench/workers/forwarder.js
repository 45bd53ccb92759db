// Bench-only Worker: the physical floor of any router built on Service Bindings. It parses the
// client's JSON body and makes exactly one RPC infer() call to its BACKEND binding, answering with
// whatever comes back: no validation, no choice, no retry, no headers of its own.
export default {
  /** @param {Request} request @param {{BACKEND: import("../../shims/interfaces").BackendRpc}} env */
  async fetch(request, env) {
    const body = await request.json();
    const answer = await env.BACKEND.infer({
      requestId: request.headers.get("x-request-id") ?? crypto.randomUUID(),
      path: /** @type {any} */ (new URL(request.url).pathname),
      model: String(body.model),
      stream: body.stream === true,
      body,
      deadline: Date.now() + 120_000,
      attempt: 1,
    });
    if (answer.stream) return new Response(answer.stream, { status: answer.status, headers: answer.headers });
    return new Response(JSON.stringify(answer.body), {
      status: answer.status,
      headers: { ...answer.headers, "content-type": "application/json" },
    });
  },
};
