// The openai-compatible provider: forwards the client's body to an upstream that speaks OpenAI's
// API (OpenAI, Azure OpenAI, Gemini's OpenAI endpoint, Groq, Together, OpenRouter, vLLM, Workers
// AI's OpenAI endpoint...). Where it calls is upstream-url.ts, with which headers
// upstream-headers.ts; every upstream error goes through the one normalizer (upstream-error.ts).
import { INFERENCE_PATHS, type InferenceResponse } from "../../../shims/interfaces";
import { providerModel, type BackendConfig } from "../config";
import type { CheckedRequest } from "../request-check";
import { withTopLevelModel } from "./json-text";
import { errorResponse, JSON_CONTENT_TYPE, streamResponse } from "./openai-shapes";
import type { Provider } from "./provider";
import { passedHeaders } from "./rate-limit-headers";
import { relaySse } from "./upstream-body";
import { errorAnswer, readJsonAnswer, UpstreamCall } from "./upstream-call";
import { inferenceHeaders, probeHeaders } from "./upstream-headers";
import { inferenceSuffix, upstreamUrl } from "./upstream-url";

const HEALTH_TIMEOUT_MS = 3000;

export const openAiCompatibleProvider: Provider = {
  endpoints: INFERENCE_PATHS,
  async infer(req, config) {
    // The stop time (the sooner of attemptDeadline and deadline) bounds the whole exchange of a
    // JSON answer and the wait for a stream's headers: past it the router has abandoned this
    // attempt, and an upstream still generating would be billed for nothing.
    const call = new UpstreamCall(req.stopAt);
    try {
      const init = { method: "POST", headers: inferenceHeaders(req, config), body: upstreamBody(req, config) };
      const upstream = await call.fetch(upstreamUrl(config.upstream!, inferenceSuffix(req.path)), init);
      if (!(upstream instanceof Response)) return upstream;
      const passed = passedHeaders(upstream.status, upstream.headers);
      if (!upstream.ok) return await errorAnswer(req.requestId, config, upstream, passed, call.signal);
      const contentType = upstream.headers.get("content-type") ?? "";
      if (req.stream && contentType.includes("text/event-stream") && upstream.body) {
        // A flowing stream is timed by the router; when it abandons the stream it cancels it,
        // and the cancel stops the upstream call too.
        call.stopTimer();
        const answer = streamResponse(relaySse(upstream.body, config.maxUpstreamBytes, () => call.abort.abort(), req.path));
        return { ...answer, status: upstream.status, headers: { ...answer.headers, ...passed } };
      }
      return await jsonAnswer(req, config, upstream, passed, call.signal);
    } finally {
      call.stopTimer();
    }
  },

  async health(config) {
    const path = config.upstream!.healthPath;
    if (path === null) return { ok: true, detail: "no upstream probe (UPSTREAM_HEALTH_PATH is none)" };
    try {
      const answer = await fetch(upstreamUrl(config.upstream!, path), {
        headers: probeHeaders(config),
        signal: AbortSignal.timeout(HEALTH_TIMEOUT_MS),
        redirect: "manual",
      });
      await answer.body?.cancel();
      // A 429 means the upstream is there and this key works (only busy); any other 4xx (a 404:
      // a base URL that is not the OpenAI client's baseURL, a refused key) or 5xx is not ok.
      const ok = (answer.status >= 200 && answer.status < 300) || answer.status === 429;
      const hint = answer.status === 404 ? " (check UPSTREAM_BASE_URL: it is the OpenAI client's baseURL, e.g. https://api.openai.com/v1)" : "";
      return { ok, detail: `upstream GET ${path} answered ${answer.status}${hint}` };
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

/** A successful non-streamed answer, read within the size bound; it must be JSON. */
async function jsonAnswer(req: CheckedRequest, config: BackendConfig, upstream: Response, passed: Record<string, string>, signal: AbortSignal): Promise<InferenceResponse> {
  const read = await readJsonAnswer(config, upstream, passed, signal);
  if (!read.ok) return read.answer;
  if (req.stream) {
    return errorResponse(502, `The upstream answered ${upstream.status} with JSON to a streaming request`, "upstream_error", "upstream_invalid_response", null, passed);
  }
  return { status: upstream.status, headers: { "content-type": JSON_CONTENT_TYPE, ...passed }, body: read.json };
}
