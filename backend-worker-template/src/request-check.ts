// Checks an InferenceRequest that came over RPC: the caller may be any Worker, so a malformed
// request is answered with a 400, never with a throw.
import { INFERENCE_PATHS, type InferencePath, type InferenceRequest } from "../../shims/interfaces";

/** A checked request, its body both as the exact text to forward and as a parsed object. */
export interface CheckedRequest extends Omit<InferenceRequest, "body" | "attemptDeadline"> {
  /** The parsed body, for providers that translate it (big integers may be rounded here). */
  body: Record<string, unknown>;
  /** The body's JSON text: the caller's own when it sent text, so values are kept exactly. */
  bodyText: string;
  /** Epoch ms: the sooner of attemptDeadline and deadline; the provider stops its upstream call by then. */
  stopAt: number;
}

export type RequestCheck = { ok: true; req: CheckedRequest } | { ok: false; message: string; param: string | null };

export function checkRequest(value: unknown): RequestCheck {
  if (!isObject(value)) return fail("the inference request must be an object", null);
  const req = value;
  if (typeof req.requestId !== "string" || req.requestId === "") return fail("requestId must be a non-empty string", "requestId");
  if (typeof req.path !== "string" || !(INFERENCE_PATHS as readonly string[]).includes(req.path)) {
    return fail(`path must be one of ${INFERENCE_PATHS.join(", ")}`, "path");
  }
  if (typeof req.model !== "string" || req.model === "") return fail("model must be a non-empty string", "model");
  if (typeof req.stream !== "boolean") return fail("stream must be a boolean", "stream");
  const body = readBody(req.body);
  if (!body) return fail("body must be a JSON object, or the JSON text of one", "body");
  if (!isEpochMs(req.deadline)) return fail("deadline must be epoch milliseconds", "deadline");
  // Optional for callers written before it existed: they are bounded by the deadline alone.
  if (req.attemptDeadline !== undefined && !isEpochMs(req.attemptDeadline)) {
    return fail("attemptDeadline must be epoch milliseconds", "attemptDeadline");
  }
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
      body: body.parsed,
      bodyText: body.text,
      deadline: req.deadline,
      stopAt: Math.min(req.deadline, (req.attemptDeadline as number | undefined) ?? req.deadline),
      attempt: req.attempt,
    },
  };
}

/** The body as text and as an object, or undefined when it is not a JSON object. */
function readBody(body: unknown): { text: string; parsed: Record<string, unknown> } | undefined {
  try {
    // Structured clone carries what JSON cannot (cycles, BigInt): such an object is refused too.
    if (isObject(body)) return { text: JSON.stringify(body), parsed: body };
    if (typeof body !== "string") return undefined;
    const parsed: unknown = JSON.parse(body);
    return isObject(parsed) ? { text: body, parsed } : undefined;
  } catch {
    return undefined;
  }
}

function isEpochMs(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function fail(message: string, param: string | null): RequestCheck {
  return { ok: false, message: `invalid inference request: ${message}`, param };
}
