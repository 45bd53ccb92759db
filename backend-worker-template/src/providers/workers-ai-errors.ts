// A failed env.AI.run() as an HTTP upstream would answer it. The binding throws plain errors
// (names AiError, InferenceUpstreamError, Error) whose message carries Workers AI's internal code
// ("3040: Capacity temporarily exceeded, please try again."), sometimes as JSON
// ({"errors":[{"code":3040,"message":"..."}]}), sometimes with no code at all. The code's HTTP
// status is the one Cloudflare documents (https://developers.cloudflare.com/workers-ai/platform/errors/),
// adjusted where the router needs another meaning; every error goes through the one normalizer.
import type { InferenceResponse } from "../../../shims/interfaces";
import { isContextLengthError, upstreamErrorResponse, type UpstreamError } from "./upstream-error";

/** Documented Workers AI codes -> the status, code and type this backend answers with. */
const CODE_TABLE: Record<number, { status: number; code?: string; type?: string }> = {
  // No such model (documented 400) / invalid model ID (404): the client asked for a model this backend cannot run.
  5007: { status: 404, code: "model_not_found" },
  3042: { status: 404, code: "model_not_found" },
  // Invalid data, incomplete request, finetune missing files, input validation: the client's request.
  5004: { status: 400 },
  3003: { status: 400 },
  3039: { status: 400 },
  5006: { status: 400 },
  // LoRa unsupported / deprecated SDK (documented 405): nothing another try changes.
  5005: { status: 400 },
  5019: { status: 400 },
  3006: { status: 413, code: "request_too_large" },
  // Model agreement not accepted, private model, blocked account: this backend's account cannot
  // serve it; 403 makes the router fail over and count it against this backend.
  5016: { status: 403, code: "upstream_access_denied" },
  5018: { status: 403, code: "upstream_access_denied" },
  3041: { status: 403, code: "upstream_access_denied" },
  3023: { status: 403, code: "upstream_access_denied" },
  3007: { status: 408, code: "timeout", type: "timeout" },
  3008: { status: 408, code: "timeout", type: "timeout" },
  3036: { status: 429, code: "rate_limit_exceeded", type: "rate_limit_error" },
  // Out of capacity, also what rejectIfBusy answers (https://developers.cloudflare.com/workers-ai/features/reject-if-busy/):
  // 429 with a short retry-after, so the router cools this backend down briefly and tries another.
  3040: { status: 429, code: "capacity_exceeded", type: "rate_limit_error" },
};

/** Seconds a router waits before sending this backend more work after a capacity refusal. */
const CAPACITY_RETRY_AFTER = "1";
/** Messages of input validation failures that come without a code. */
const VALIDATION_TEXT = /validation|oneOf|required propert|type mismatch|must be|is not allowed/i;
/** JSON Mode's documented failure (https://developers.cloudflare.com/workers-ai/features/json-mode/). */
const JSON_MODE_TEXT = /JSON Mode couldn'?t be met/i;

/** What the binding's error says: its code (when one is known) and its message without prefixes. */
export interface AiFailure {
  code: number | undefined;
  message: string;
  name: string;
}

/** Reads a thrown binding error, whatever its form. */
export function readAiFailure(err: unknown): AiFailure {
  const name = err instanceof Error ? err.name : typeof err;
  const raw = err instanceof Error ? err.message : typeof err === "string" ? err : textOf((err as { message?: unknown } | null)?.message) ?? "";
  const fromJson = jsonFailure(raw);
  const ownCode = knownCode((err as { code?: unknown } | null)?.code);
  const text = fromJson?.message ?? raw;
  const code = ownCode ?? fromJson?.code ?? codeInText(text);
  return { code, message: cleanMessage(text), name };
}

/** The InferenceResponse for a failed env.AI.run(); `model` is the client's model name. */
export function aiErrorResponse(err: unknown, model: string): InferenceResponse {
  const failure = readAiFailure(err);
  // The log line holds the code and the error's kind, never its text (it may quote the prompt).
  console.error(JSON.stringify({ event: "workers_ai_error", code: failure.code ?? null, name: failure.name }));
  const error = upstreamErrorOf(failure, model);
  const headers: Record<string, string> = error.code === "capacity_exceeded" ? { "retry-after": CAPACITY_RETRY_AFTER } : {};
  return upstreamErrorResponse(error, [], headers);
}

/** The UpstreamError for a failure: by code first, then by what an uncoded message says. */
export function upstreamErrorOf(failure: AiFailure, model: string): UpstreamError {
  const { code, message } = failure;
  const entry = code === undefined ? undefined : CODE_TABLE[code];
  const asContext = { status: 400, message };
  if ((entry === undefined || entry.status === 400 || entry.status === 413) && isContextLengthError(asContext)) return asContext;
  if (JSON_MODE_TEXT.test(message)) {
    return { status: 400, message: "The model could not produce JSON matching response_format (Workers AI: JSON Mode couldn't be met)", code: "json_mode_failed", param: "response_format" };
  }
  if (entry?.code === "model_not_found") {
    return { status: 404, message: `The model \`${model}\` does not exist or is not served by this backend`, code: "model_not_found", param: "model" };
  }
  // The binding holds no key: a 403's text (terms not accepted, account blocked) is safe to pass.
  if (entry) return { status: entry.status, message: `Workers AI: ${message || `error ${code}`}`, code: entry.code ?? null, type: entry.type ?? null, keyless: true };
  if (code === undefined && /no such model/i.test(message)) return upstreamErrorOf({ ...failure, code: 5007 }, model);
  if (code === undefined && /capacity/i.test(message)) return upstreamErrorOf({ ...failure, code: 3040 }, model);
  if (code === undefined && /rate limit|too many requests/i.test(message)) return upstreamErrorOf({ ...failure, code: 3036 }, model);
  if (code === undefined && VALIDATION_TEXT.test(message)) return { status: 400, message: `Workers AI rejected the input: ${message}` };
  // Unknown failures: their text may be internal (a stack, a host): only the code is passed.
  return { status: 502, message: `Workers AI request failed${code !== undefined ? ` (code ${code})` : ""}`, code: "upstream_error" };
}

/** The code and message of a message that is itself JSON (Cloudflare's API envelope and kin). */
function jsonFailure(text: string): { code: number | undefined; message: string | undefined } | undefined {
  const start = text.indexOf("{");
  if (start < 0) return undefined;
  let body: unknown;
  try {
    body = JSON.parse(text.slice(start));
  } catch {
    return undefined;
  }
  if (!isObject(body)) return undefined;
  const first = Array.isArray(body.errors) && isObject(body.errors[0]) ? body.errors[0] : undefined;
  const inner = isObject(body.error) ? body.error : undefined;
  const source = first ?? inner ?? body;
  const message = textOf(source.message) ?? textOf(body.error) ?? textOf(body.detail);
  return { code: knownCode(source.code) ?? knownCode(body.code) ?? (message ? codeInText(message) : undefined), message };
}

/**
 * The code in `text`: the first "NNNN:" that Workers AI documents (a request id's digits are not
 * one), else the first "NNNN:" at all (named in the answer, never acted on).
 */
function codeInText(text: string): number | undefined {
  const found = [...text.matchAll(/\b(\d{4})\s*:/g)].map((match) => Number(match[1]));
  return found.find((code) => knownCode(code) !== undefined) ?? found[0];
}

function knownCode(value: unknown): number | undefined {
  const code = typeof value === "number" ? value : typeof value === "string" && /^\d{4}$/.test(value) ? Number(value) : NaN;
  return Object.hasOwn(CODE_TABLE, code) ? code : undefined;
}

/** The first line, without the error's class name and code prefixes ("AiError: 5006: Error: ..."). */
function cleanMessage(text: string): string {
  let line = (text.split("\n")[0] ?? "").trim();
  for (let previous = ""; previous !== line; ) {
    previous = line;
    line = line.replace(/^(?:AiError|InferenceUpstreamError|Error|\d{4})\s*:\s*/i, "");
  }
  return line.slice(0, 300);
}

function textOf(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
