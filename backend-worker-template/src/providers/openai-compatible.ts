// The openai-compatible provider: forwards the client's body to an upstream that speaks OpenAI's
// API. UPSTREAM_BASE_URL is what OpenAI's clients call baseURL, version prefix included
// ("https://api.openai.com/v1", "http://127.0.0.1:11434/v1"); the request path without its "/v1"
// is appended: /v1/chat/completions -> <UPSTREAM_BASE_URL>/chat/completions.
import type { InferencePath, InferenceResponse } from "../../../shims/interfaces";
import { providerModel, type BackendConfig } from "../config";
import type { CheckedRequest } from "../request-check";
import { withTopLevelModel } from "./json-text";
import { deadlineExceeded, errorResponse, JSON_CONTENT_TYPE, streamResponse } from "./openai-shapes";
import type { Provider } from "./provider";
import { readBounded, relaySse } from "./upstream-body";

/** Upstream headers that carry meaning for the orchestrator's retry decisions. */
const PASSED_HEADERS = ["retry-after", "retry-after-ms"] as const;
/** Statuses whose meaning does not depend on their body: kept even when the body is not JSON. */
const STATUSES_KEPT_WITHOUT_JSON = new Set([429, 503]);
const HEALTH_TIMEOUT_MS = 3000;
/** Keys shorter than this are not searched for in error bodies (they would match ordinary text). */
const MIN_REDACTED_KEY_LENGTH = 8;

export function upstreamUrl(baseUrl: string, path: InferencePath | "/v1/models"): string {
  return `${baseUrl.replace(/\/+$/, "")}${path.slice("/v1".length)}`;
}

export const openAiCompatibleProvider: Provider = {
  async infer(req, config) {
    // The stop time bounds the whole exchange for JSON answers, and the wait for headers for
    // streams (the orchestrator times the stream itself once it flows).
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), Math.max(0, req.stopAt - Date.now()));
    try {
      let upstream: Response;
      try {
        upstream = await fetch(upstreamUrl(config.upstreamBaseUrl!, req.path), { method: "POST", headers: upstreamHeaders(req, config), body: upstreamBody(req, config), signal: abort.signal });
      } catch {
        if (abort.signal.aborted) return deadlineExceeded();
        return errorResponse(502, "The upstream could not be reached", "upstream_error", "upstream_unreachable");
      }
      const passed = passedHeaders(upstream);
      if (upstream.status === 401 || upstream.status === 403) return credentialsRejected(req, upstream, passed);
      const contentType = upstream.headers.get("content-type") ?? "";
      if (req.stream && upstream.ok && contentType.includes("text/event-stream") && upstream.body) {
        clearTimeout(timer);
        const answer = streamResponse(relaySse(upstream.body, config.maxUpstreamBytes));
        return { ...answer, status: upstream.status, headers: { ...answer.headers, ...passed } };
      }
      return await jsonAnswer(req, config, upstream, passed, abort.signal);
    } finally {
      clearTimeout(timer);
    }
  },

  async health(config) {
    // GET /models: cheap, authenticated, and served by OpenAI-compatible servers.
    try {
      const answer = await fetch(upstreamUrl(config.upstreamBaseUrl!, "/v1/models"), {
        headers: { accept: JSON_CONTENT_TYPE, ...authorization(config) },
        signal: AbortSignal.timeout(HEALTH_TIMEOUT_MS),
      });
      await answer.body?.cancel();
      const ok = answer.status < 500 && answer.status !== 401 && answer.status !== 403;
      return { ok, detail: `upstream GET /models answered ${answer.status}` };
    } catch {
      return { ok: false, detail: "upstream unreachable" };
    }
  },
};

/**
 * The client's body text as it came, so every value reaches the upstream exactly; when MODEL_MAP
 * renames the model, only the top-level "model" value is rewritten.
 */
function upstreamBody(req: CheckedRequest, config: BackendConfig): string {
  const model = providerModel(config, req.model);
  return model === req.model ? req.bodyText : withTopLevelModel(req.bodyText, model);
}

function upstreamHeaders(req: CheckedRequest, config: BackendConfig): Record<string, string> {
  return {
    "content-type": JSON_CONTENT_TYPE,
    accept: req.stream ? "text/event-stream" : JSON_CONTENT_TYPE,
    "x-request-id": req.requestId,
    ...authorization(config),
  };
}

function passedHeaders(upstream: Response): Record<string, string> {
  const passed: Record<string, string> = {};
  for (const name of PASSED_HEADERS) {
    const value = upstream.headers.get(name);
    if (value !== null) passed[name] = value;
  }
  return passed;
}

/**
 * A 401/403 means this backend's own key was refused. The status is kept (the orchestrator fails
 * over and counts it against this backend) but the upstream's text is not: it may quote the key.
 */
async function credentialsRejected(req: CheckedRequest, upstream: Response, passed: Record<string, string>): Promise<InferenceResponse> {
  await upstream.body?.cancel().catch(() => {});
  console.error(JSON.stringify({ event: "upstream_auth_failed", requestId: req.requestId, status: upstream.status }));
  const message = "The upstream rejected this backend's credentials";
  return errorResponse(upstream.status, message, "upstream_auth_error", "upstream_auth_failed", null, passed);
}

/** A non-streamed answer (or an error answer to a stream request), read within the size bound. */
async function jsonAnswer(req: CheckedRequest, config: BackendConfig, upstream: Response, passed: Record<string, string>, signal: AbortSignal): Promise<InferenceResponse> {
  const read = await readBounded(upstream.body, upstream.headers.get("content-length"), config.maxUpstreamBytes);
  if (!read.ok) {
    if (signal.aborted) return deadlineExceeded();
    if (read.reason === "too_large") {
      return errorResponse(502, `The upstream answer was larger than ${config.maxUpstreamBytes} bytes`, "upstream_error", "upstream_response_too_large");
    }
    return errorResponse(502, `The upstream answered ${upstream.status} but its body could not be read`, "upstream_error", "upstream_error");
  }
  const json = parseJson(upstream.ok ? read.text : withoutKey(read.text, config));
  if (json === undefined) {
    const status = STATUSES_KEPT_WITHOUT_JSON.has(upstream.status) ? upstream.status : 502;
    const shown = (upstream.headers.get("content-type") ?? "").split(";")[0] || "no content-type";
    return errorResponse(status, `The upstream answered ${upstream.status} with a body that is not JSON (${shown})`, "upstream_error", "upstream_invalid_response", null, passed);
  }
  if (req.stream && upstream.ok) {
    return errorResponse(502, `The upstream answered ${upstream.status} with JSON to a streaming request`, "upstream_error", "upstream_invalid_response", null, passed);
  }
  return { status: upstream.status, headers: { "content-type": JSON_CONTENT_TYPE, ...passed }, body: json };
}

/** An error body with this backend's key cut out, should the upstream quote it. */
function withoutKey(text: string, config: BackendConfig): string {
  const key = config.upstreamApiKey;
  return key && key.length >= MIN_REDACTED_KEY_LENGTH ? text.replaceAll(key, "[redacted]") : text;
}

function authorization(config: BackendConfig): Record<string, string> {
  return config.upstreamApiKey ? { authorization: `Bearer ${config.upstreamApiKey}` } : {};
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
