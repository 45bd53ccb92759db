// The anthropic provider: OpenAI chat completions served by Anthropic's Messages API
// (POST {UPSTREAM_BASE_URL}/v1/messages, x-api-key, anthropic-version). The pieces live beside
// it: anthropic-request.ts (the request), anthropic-answer.ts (a JSON answer), anthropic-stream.ts
// (a stream); the call itself is upstream-call.ts, shared with openai-compatible, and every
// error goes through the one normalizer (upstream-error.ts), which reads Anthropic's error shape.
import type { InferenceResponse } from "../../../shims/interfaces";
import { providerModel, type BackendConfig } from "../config";
import type { CheckedRequest } from "../request-check";
import { chatCompletionFromAnthropic } from "./anthropic-answer";
import { anthropicRequest } from "./anthropic-request";
import { openAiStreamFromAnthropic } from "./anthropic-stream";
import { errorResponse, jsonResponse, nowSeconds, streamResponse, wantsStreamUsage } from "./openai-shapes";
import type { Provider } from "./provider";
import { anthropicPassedHeaders } from "./rate-limit-headers";
import { errorAnswer, readJsonAnswer, UpstreamCall } from "./upstream-call";
import type { UpstreamError } from "./upstream-error";
import { inferenceHeaders, probeHeaders } from "./upstream-headers";
import { upstreamUrl } from "./upstream-url";

const HEALTH_TIMEOUT_MS = 3000;

export const anthropicProvider: Provider = {
  // Anthropic has neither a legacy completions API nor an embeddings API; its Messages API is
  // reached through chat/completions only.
  endpoints: ["/v1/chat/completions"],
  async infer(req, config) {
    const built = anthropicRequest(req.body, providerModel(config, req.model), req.stream, config.anthropicMaxTokens);
    if (!built.ok) return built.answer;
    // The stop time bounds a JSON answer's whole exchange and a stream's wait for its headers.
    const call = new UpstreamCall(req.stopAt);
    try {
      const init = { method: "POST", headers: inferenceHeaders(req, config), body: JSON.stringify(built.body) };
      const upstream = await call.fetch(upstreamUrl(config.upstream!, "/v1/messages"), init);
      if (!(upstream instanceof Response)) return upstream;
      const passed = anthropicPassedHeaders(upstream.status, upstream.headers);
      if (!upstream.ok) return await errorAnswer(req.requestId, config, upstream, passed, call.signal, anthropicStatus);
      if (req.stream && (upstream.headers.get("content-type") ?? "").includes("text/event-stream") && upstream.body) {
        // A flowing stream is timed by the router, which cancels it; the cancel stops the call.
        call.stopTimer();
        const meta = { id: "", created: nowSeconds(), model: req.model };
        const stream = openAiStreamFromAnthropic(upstream.body, meta, wantsStreamUsage(req.body), config.maxUpstreamBytes, () => call.abort.abort());
        const answer = streamResponse(stream);
        return { ...answer, headers: { ...answer.headers, ...passed } };
      }
      return await jsonAnswer(req, config, upstream, passed, call.signal);
    } finally {
      call.stopTimer();
    }
  },

  async health(config) {
    // GET /v1/models (https://docs.claude.com/en/api/models-list) costs no tokens and checks the key.
    try {
      const answer = await fetch(upstreamUrl(config.upstream!, "/v1/models"), { headers: probeHeaders(config), signal: AbortSignal.timeout(HEALTH_TIMEOUT_MS), redirect: "manual" });
      await answer.body?.cancel();
      // A 429 means Anthropic is there and the key works (only busy); 401/403 a refused key.
      const ok = (answer.status >= 200 && answer.status < 300) || answer.status === 429;
      return { ok, detail: `upstream GET /v1/models answered ${answer.status}` };
    } catch {
      return { ok: false, detail: "upstream unreachable" };
    }
  },
};

/**
 * Anthropic's statuses as the router reads them (https://docs.claude.com/en/api/errors): 529
 * overloaded_error is Anthropic short of capacity for everyone, a 503 the router retries
 * elsewhere. The others (400, 401, 403, 404, 413, 429, 500) mean what the normalizer reads them as.
 */
function anthropicStatus(error: UpstreamError): UpstreamError {
  if (error.status === 529 || error.type === "overloaded_error") return { ...error, status: 503, type: "upstream_error", code: error.code ?? "overloaded" };
  return error;
}

/** A non-streamed answer: an Anthropic Message as a chat.completion. */
async function jsonAnswer(req: CheckedRequest, config: BackendConfig, upstream: Response, passed: Record<string, string>, signal: AbortSignal): Promise<InferenceResponse> {
  const read = await readJsonAnswer(config, upstream, passed, signal);
  if (!read.ok) return read.answer;
  if (req.stream) return errorResponse(502, `The upstream answered ${upstream.status} with JSON to a streaming request`, "upstream_error", "upstream_invalid_response", null, passed);
  const answer = chatCompletionFromAnthropic(read.json, { created: nowSeconds(), model: req.model });
  if (!answer) return errorResponse(502, "The upstream answered in a shape that is not an Anthropic message", "upstream_error", "upstream_invalid_response", null, passed);
  return jsonResponse(answer, 200, passed);
}
