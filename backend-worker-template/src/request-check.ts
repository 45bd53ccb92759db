// Checks an InferenceRequest that came over RPC: the caller may be any Worker, so a malformed
// request is answered with a 400, never with a throw.
import { INFERENCE_PATHS, type InferencePath, type InferenceRequest } from "../../shims/interfaces";

export type RequestCheck = { ok: true; req: InferenceRequest } | { ok: false; message: string; param: string | null };

export function checkRequest(value: unknown): RequestCheck {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return fail("the inference request must be an object", null);
  }
  const req = value as Record<string, unknown>;
  if (typeof req.requestId !== "string" || req.requestId === "") return fail("requestId must be a non-empty string", "requestId");
  if (typeof req.path !== "string" || !(INFERENCE_PATHS as readonly string[]).includes(req.path)) {
    return fail(`path must be one of ${INFERENCE_PATHS.join(", ")}`, "path");
  }
  if (typeof req.model !== "string" || req.model === "") return fail("model must be a non-empty string", "model");
  if (typeof req.stream !== "boolean") return fail("stream must be a boolean", "stream");
  if (typeof req.body !== "object" || req.body === null || Array.isArray(req.body)) return fail("body must be a JSON object", "body");
  if (typeof req.deadline !== "number" || !Number.isFinite(req.deadline)) return fail("deadline must be epoch milliseconds", "deadline");
  if (typeof req.attempt !== "number" || !Number.isInteger(req.attempt) || req.attempt < 1) {
    return fail("attempt must be an integer >= 1", "attempt");
  }
  return {
    ok: true,
    req: {
      requestId: req.requestId,
      path: req.path as InferencePath,
      model: req.model,
      stream: req.stream,
      body: req.body as Record<string, unknown>,
      deadline: req.deadline,
      attempt: req.attempt,
    },
  };
}

function fail(message: string, param: string | null): RequestCheck {
  return { ok: false, message: `invalid inference request: ${message}`, param };
}
