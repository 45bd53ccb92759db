// One well-formed InferenceRequest (the backend RPC's infer() argument, contract section 2), for
// the Miniflare suites and the node-level unit tests alike.

/** A well-formed InferenceRequest; `overrides` replace its fields. */
export function inferenceRequest(overrides = {}) {
  return {
    requestId: "req-0001",
    path: "/v1/chat/completions",
    model: "any-model",
    stream: false,
    body: { model: overrides.model ?? "any-model", messages: [{ role: "user", content: "hello there world" }] },
    deadline: Date.now() + 30_000,
    attemptDeadline: Date.now() + 30_000,
    attempt: 1,
    ...overrides,
  };
}
