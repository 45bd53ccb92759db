// The upstream URL of a call, joined with the URL API: UPSTREAM_BASE_URL is what OpenAI's clients
// call baseURL (version prefix included), so "/chat/completions" goes after its path and before
// its query (Azure's "?api-version=..." stays a query), then UPSTREAM_QUERY's parameters are set.
import type { InferencePath } from "../../../shims/interfaces";
import type { UpstreamConfig } from "../upstream-config";

/** The suffix an inference path adds to the base URL: /v1/chat/completions -> /chat/completions. */
export function inferenceSuffix(path: InferencePath): string {
  return path.slice("/v1".length);
}

/** <base path><suffix>?<base query>&<UPSTREAM_QUERY>, the fixed parameters replacing the base's of the same name. */
export function upstreamUrl(upstream: UpstreamConfig, suffix: string): string {
  const url = new URL(upstream.baseUrl);
  url.pathname = `${url.pathname.replace(/\/+$/, "")}${suffix}`;
  // Only touched when there is something to add: setting a parameter re-encodes the whole query.
  for (const [name, value] of Object.entries(upstream.query)) url.searchParams.set(name, value);
  return url.href;
}
