// The headers of a call to the upstream: the extra ones configured (UPSTREAM_HEADERS), the
// template's own, and the key in the header and scheme the upstream wants (UPSTREAM_AUTH_HEADER,
// UPSTREAM_AUTH_SCHEME: "Authorization: Bearer <key>" for OpenAI, "api-key: <key>" for Azure).
import type { BackendConfig } from "../config";
import type { CheckedRequest } from "../request-check";
import { JSON_CONTENT_TYPE } from "./openai-shapes";

/** Headers of an inference call. Config refuses extra headers that would clash with these. */
export function inferenceHeaders(req: CheckedRequest, config: BackendConfig): Record<string, string> {
  return {
    ...config.upstream?.headers,
    "content-type": JSON_CONTENT_TYPE,
    accept: req.stream ? "text/event-stream" : JSON_CONTENT_TYPE,
    "x-request-id": req.requestId,
    ...credentials(config),
  };
}

/** Headers of the health probe. */
export function probeHeaders(config: BackendConfig): Record<string, string> {
  return { ...config.upstream?.headers, accept: JSON_CONTENT_TYPE, ...credentials(config) };
}

/** The key in its header; none without a key. */
function credentials(config: BackendConfig): Record<string, string> {
  const key = config.upstreamApiKey;
  if (!key || !config.upstream) return {};
  const { authHeader, authScheme } = config.upstream;
  return { [authHeader]: authScheme ? `${authScheme} ${key}` : key };
}
