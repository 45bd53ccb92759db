// The one place an upstream's error becomes the InferenceResponse the router sees: an OpenAI-shaped
// body ({"error":{message,type,param,code}}) with an honest status, whatever shape the upstream
// used (OpenAI's, Gemini's array, vLLM's flat object, Anthropic's, Cloudflare's API envelope, a
// bare string, HTML). A context-length error stays recognizable (400, code
// "context_length_exceeded") so fallback chains can act on it; key text never passes.
import type { InferenceResponse } from "../../../shims/interfaces";
import { errorResponse } from "./openai-shapes";

/** What an upstream said about its failure, before it is made safe and OpenAI-shaped. */
export interface UpstreamError {
  /** The HTTP status the upstream answered (or the one its documentation gives for its code). */
  status: number;
  message?: string;
  code?: string | null;
  type?: string | null;
  param?: string | null;
  /**
   * The upstream holds no key of this backend's (the AI binding), so a 401/403's own text may be
   * passed: it says why the account is refused (model terms not accepted, account blocked).
   */
  keyless?: boolean;
}

export const CONTEXT_LENGTH_EXCEEDED = "context_length_exceeded";

/** The longest upstream message passed on; the rest is cut (a message is for a human, not a dump). */
const MAX_MESSAGE_CHARS = 500;
/** Statuses that mean the same with any body (an HTML 429 from a proxy is still a rate limit). */
const STATUSES_KEPT_WITHOUT_JSON = new Set([401, 403, 408, 413, 429]);
/** Keys shorter than this are not searched for in text (they would match ordinary words). */
const MIN_SECRET_LENGTH = 8;
/** Statuses passed on as they are: each means the same to the router and to the client. */
const KEPT_STATUSES = new Set([400, 401, 403, 404, 408, 409, 413, 415, 422, 429, 500, 502, 503, 504]);
/**
 * Key-like tokens, masked or not: OpenAI's "sk-proj-abc***xyz" and "sk-...", Google's "AIza...",
 * Groq's "gsk_...", bearer tokens. Masked keys still identify the account's key: never passed.
 */
const KEY_LIKE = /\b(?:sk|rk|pk|gsk|xai)[-_][A-Za-z0-9*._-]{6,}|\bAIza[A-Za-z0-9_*-]{10,}|\bBearer\s+\S+/g;
/**
 * The statuses upstreams answer a too-long prompt with. A 429 "too many tokens per minute" talks
 * about tokens too, but it is a rate limit: it must stay a 429 (cooldown and failover).
 */
const CONTEXT_LENGTH_STATUSES = new Set([400, 413, 422]);
/** Messages that mean the prompt did not fit the model's context window, as upstreams word it. */
const CONTEXT_LENGTH_TEXT =
  /context[_ ]length|context window|maximum context|prompt is too long|too many (?:input )?tokens|input (?:is )?too long|exceeds? the (?:maximum|max) (?:number of )?(?:input )?tokens|reduce the length of the (?:messages|prompt)/i;

/** The OpenAI `type` for a status, used when the upstream gave none that clients know. */
function typeFor(status: number): string {
  if (status === 401 || status === 403) return "upstream_auth_error";
  if (status === 429) return "rate_limit_error";
  if (status === 408 || status === 504) return "timeout";
  if (status >= 500) return "upstream_error";
  return "invalid_request_error";
}

/** An honest status: the kept ones as they are, any other 5xx (Cloudflare's 52x too) and anything odd 502. */
function honestStatus(status: number): number {
  if (KEPT_STATUSES.has(status)) return status;
  if (status >= 400 && status < 500) return 400;
  return 502;
}

/** Whether the upstream said the prompt is longer than the model's context window. */
export function isContextLengthError(error: UpstreamError): boolean {
  return error.code === CONTEXT_LENGTH_EXCEEDED || error.type === CONTEXT_LENGTH_EXCEEDED || CONTEXT_LENGTH_TEXT.test(error.message ?? "");
}

/** `text` without `secrets` or anything shaped like a key, bounded in length, on one line. */
export function safeText(text: string, secrets: readonly (string | undefined)[] = []): string {
  let out = text;
  for (const secret of secrets) if (secret && secret.length >= MIN_SECRET_LENGTH) out = out.replaceAll(secret, "[redacted]");
  out = out.replace(KEY_LIKE, "[redacted]").replace(/\s+/g, " ").trim();
  return out.length > MAX_MESSAGE_CHARS ? `${out.slice(0, MAX_MESSAGE_CHARS)}…` : out;
}

/**
 * The InferenceResponse for an upstream error. A 401/403 is this backend's own credentials being
 * refused: its text is never passed (it may quote the key), the status is kept so the router fails
 * over and counts it against this backend.
 */
export function upstreamErrorResponse(error: UpstreamError, secrets: readonly (string | undefined)[] = [], headers: Record<string, string> = {}): InferenceResponse {
  if (error.status === 402) {
    // Billing (Anthropic's billing_error, a spent prepaid balance): this backend's account, not the
    // client's request: a 403 makes the router fail over and count it against this backend.
    return errorResponse(403, "The upstream refused this backend's account: payment required", "upstream_auth_error", "upstream_payment_required", null, headers);
  }
  if (error.status === 401 || error.status === 403) {
    const message = error.keyless && error.message ? safeText(error.message, secrets) : "The upstream rejected this backend's credentials";
    return errorResponse(error.status, message, "upstream_auth_error", error.keyless && error.code ? safeText(error.code) : "upstream_auth_failed", null, headers);
  }
  if (CONTEXT_LENGTH_STATUSES.has(error.status) && isContextLengthError(error)) {
    const message = safeText(error.message || "The prompt is longer than the model's context window", secrets);
    return errorResponse(400, message, "invalid_request_error", CONTEXT_LENGTH_EXCEEDED, error.param ?? "messages", headers);
  }
  const status = honestStatus(error.status);
  const message = safeText(error.message || `The upstream answered ${error.status}`, secrets) || `The upstream answered ${error.status}`;
  // An upstream's own type is kept when it reads like OpenAI's (snake case), e.g. Anthropic's.
  const type = status < 500 && error.type && /^[a-z][a-z_]{0,63}$/.test(error.type) ? error.type : typeFor(status);
  const code = error.code ? safeText(error.code) : null;
  return errorResponse(status, message, type, code, error.param ? safeText(error.param) : null, headers);
}

/**
 * What an upstream error body says, whatever its shape; `text` is the body as received (JSON or
 * not). The status is the HTTP status the upstream answered with.
 */
export function upstreamErrorFromBody(status: number, text: string): UpstreamError {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    // HTML error pages and plain text carry nothing a client can use beyond the status. A 404 or
    // 400 page is a wrong URL or a proxy, not an API's verdict on the request: a failed attempt
    // (502). Statuses whose meaning needs no body keep it.
    const kept = status >= 500 || STATUSES_KEPT_WITHOUT_JSON.has(status);
    return { status: kept ? status : 502, message: `The upstream answered ${status} with a body that is not JSON`, code: kept ? null : "upstream_invalid_response" };
  }
  return { status, ...errorFields(Array.isArray(body) ? body[0] : body) };
}

/** message/type/code/param from the known error shapes; empty when none matches. */
function errorFields(body: unknown): Omit<UpstreamError, "status"> {
  if (typeof body === "string") return { message: body };
  if (!isObject(body)) return {};
  // Cloudflare's API envelope: {"success":false,"errors":[{"code":3040,"message":"..."}]}
  if (Array.isArray(body.errors) && isObject(body.errors[0])) return errorFields(body.errors[0]);
  const inner = body.error;
  if (typeof inner === "string") return { message: inner, ...codeAndType(body) };
  // OpenAI, Gemini ({"error":{"code":400,"message","status":"INVALID_ARGUMENT"}}), Anthropic ({"type":"error","error":{type,message}})
  if (isObject(inner)) return { message: textOf(inner.message), ...codeAndType(inner), param: textOf(inner.param) ?? null };
  // vLLM / FastAPI: {"object":"error","message":...,"type":...,"code":400} or {"detail": "..."}
  return { message: textOf(body.message) ?? textOf(body.detail), ...codeAndType(body) };
}

function codeAndType(fields: Record<string, unknown>): { code: string | null; type: string | null } {
  const code = fields.code;
  const type = textOf(fields.type) ?? textOf(fields.status) ?? null;
  // A numeric code is usually the HTTP status again (Gemini, vLLM): it names nothing.
  return { code: typeof code === "string" && code !== "" ? code : null, type };
}

function textOf(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
