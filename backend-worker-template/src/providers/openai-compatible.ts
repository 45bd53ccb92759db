// The openai-compatible provider: forwards the client's body to an upstream that speaks OpenAI's
// API. UPSTREAM_BASE_URL is what OpenAI's clients call baseURL, version prefix included
// ("https://api.openai.com/v1", "http://127.0.0.1:11434/v1"); the request path without its "/v1"
// is appended: /v1/chat/completions -> <UPSTREAM_BASE_URL>/chat/completions.
import type { InferencePath, InferenceResponse } from "../../../shims/interfaces";
import { providerModel, type BackendConfig } from "../config";
import { deadlineExceeded, errorResponse, JSON_CONTENT_TYPE, streamResponse } from "./openai-shapes";
import type { Provider } from "./provider";

/** Upstream headers that carry meaning for the orchestrator's retry decisions. */
const PASSED_HEADERS = ["retry-after", "retry-after-ms"] as const;
/** Statuses whose meaning does not depend on their body: kept even when the body is not JSON. */
const STATUSES_KEPT_WITHOUT_JSON = new Set([429, 503]);
const HEALTH_TIMEOUT_MS = 3000;

export function upstreamUrl(baseUrl: string, path: InferencePath | "/v1/models"): string {
  return `${baseUrl.replace(/\/+$/, "")}${path.slice("/v1".length)}`;
}

export const openAiCompatibleProvider: Provider = {
  async infer(req, config) {
    const model = providerModel(config, req.model);
    const body = model === req.model ? req.body : { ...req.body, model };
    const headers: Record<string, string> = {
      "content-type": JSON_CONTENT_TYPE,
      accept: req.stream ? "text/event-stream" : JSON_CONTENT_TYPE,
      "x-request-id": req.requestId,
      ...authorization(config),
    };

    // The deadline bounds the whole exchange for JSON answers, and the wait for headers for
    // streams (the orchestrator times the stream itself once it flows).
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), Math.max(0, req.deadline - Date.now()));
    try {
      let upstream: Response;
      try {
        upstream = await fetch(upstreamUrl(config.upstreamBaseUrl!, req.path), { method: "POST", headers, body: JSON.stringify(body), signal: abort.signal });
      } catch {
        if (abort.signal.aborted) return deadlineExceeded();
        return errorResponse(502, "The upstream could not be reached", "upstream_error", "upstream_unreachable");
      }

      const passed: Record<string, string> = {};
      for (const name of PASSED_HEADERS) {
        const value = upstream.headers.get(name);
        if (value !== null) passed[name] = value;
      }
      const contentType = upstream.headers.get("content-type") ?? "";

      if (req.stream && upstream.ok && contentType.includes("text/event-stream") && upstream.body) {
        clearTimeout(timer);
        const answer = streamResponse(upstream.body);
        return { ...answer, status: upstream.status, headers: { ...answer.headers, ...passed } };
      }

      let text: string;
      try {
        text = await upstream.text();
      } catch {
        if (abort.signal.aborted) return deadlineExceeded();
        return errorResponse(502, `The upstream answered ${upstream.status} but its body could not be read`, "upstream_error", "upstream_error");
      }
      const json = parseJson(text);
      if (json === undefined) {
        const status = STATUSES_KEPT_WITHOUT_JSON.has(upstream.status) ? upstream.status : 502;
        const shown = contentType.split(";")[0] || "no content-type";
        return errorResponse(status, `The upstream answered ${upstream.status} with a body that is not JSON (${shown})`, "upstream_error", "upstream_invalid_response", null, passed);
      }
      if (req.stream && upstream.ok) {
        return errorResponse(502, `The upstream answered ${upstream.status} with JSON to a streaming request`, "upstream_error", "upstream_invalid_response", null, passed);
      }
      return { status: upstream.status, headers: { "content-type": JSON_CONTENT_TYPE, ...passed }, body: json };
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
