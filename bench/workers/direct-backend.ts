// Bench-only Worker for the "direct" baseline: the backend template itself (same class, same
// vars, same echo provider), given an HTTP face. Its fetch does what the router's path does around
// the backend (parse the client's JSON body, call infer(), serialize the answer or pass its stream
// on) minus the Service-Binding hop and the router. Never deployed: the real template answers
// HTTP with a bare 404.
import Backend from "../../backend-worker-template/src/index";
import type { InferencePath } from "../../shims/interfaces";

export default class DirectBackend extends Backend {
  // Optional only because the template's fetch() declares no parameter; workerd always passes one.
  override async fetch(request?: Request): Promise<Response> {
    if (!request) throw new TypeError("fetch() without a request");
    const body = (await request.json()) as Record<string, unknown>;
    const answer = await this.infer({
      requestId: request.headers.get("x-request-id") ?? crypto.randomUUID(),
      path: new URL(request.url).pathname as InferencePath,
      model: String(body.model),
      stream: body.stream === true,
      body,
      deadline: Date.now() + 120_000,
      attempt: 1,
    });
    const headers = new Headers(answer.headers);
    if (answer.stream) return new Response(answer.stream, { status: answer.status, headers });
    headers.set("content-type", "application/json");
    return new Response(JSON.stringify(answer.body), { status: answer.status, headers });
  }
}
