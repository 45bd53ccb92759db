// One call to an HTTP upstream, shared by the providers that make one (openai-compatible,
// anthropic): the stop time aborts it, redirects are not followed (the key would go along), and
// the answer is read within MAX_UPSTREAM_BYTES. Error answers go through the one normalizer.
import type { InferenceResponse } from "../../../shims/interfaces";
import type { BackendConfig } from "../config";
import { deadlineExceeded, errorResponse } from "./openai-shapes";
import { readBounded } from "./upstream-body";
import { type UpstreamError, upstreamErrorFromBody, upstreamErrorResponse } from "./upstream-error";

/** An upstream call bounded by the attempt's stop time: past it the call is aborted. */
export class UpstreamCall {
  readonly abort = new AbortController();
  private readonly timer: ReturnType<typeof setTimeout>;

  constructor(stopAt: number) {
    this.timer = setTimeout(() => this.abort.abort(), Math.max(0, stopAt - Date.now()));
  }

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  /** Stops the stop-time timer (a flowing stream is timed by the router, which cancels it). */
  stopTimer(): void {
    clearTimeout(this.timer);
  }

  /** The upstream's Response, or the answer when none came: 504 past the stop time, else 502 unreachable. */
  async fetch(url: string, init: { method: string; headers: Record<string, string>; body?: string }): Promise<Response | InferenceResponse> {
    try {
      // Redirects are not followed: the key must not be sent on to wherever they point.
      return await fetch(url, { ...init, signal: this.abort.signal, redirect: "manual" });
    } catch {
      if (this.abort.signal.aborted) return deadlineExceeded();
      return errorResponse(502, "The upstream could not be reached", "upstream_error", "upstream_unreachable");
    }
  }
}

/**
 * An upstream error, whatever its body's shape, as an OpenAI error through the normalizer. A
 * 401/403 (this backend's key refused) is not even read: its text may quote the key. `adjust`
 * lets a provider map its own error types (Anthropic's 529) before the normalizer runs.
 */
export async function errorAnswer(
  requestId: string,
  config: BackendConfig,
  upstream: Response,
  passed: Record<string, string>,
  signal: AbortSignal,
  adjust: (error: UpstreamError) => UpstreamError = (error) => error,
): Promise<InferenceResponse> {
  const secrets = [config.upstreamApiKey];
  if (upstream.status === 401 || upstream.status === 403) {
    await upstream.body?.cancel().catch(() => {});
    console.error(JSON.stringify({ event: "upstream_auth_failed", requestId, status: upstream.status }));
    return upstreamErrorResponse({ status: upstream.status }, secrets, passed);
  }
  const read = await readBounded(upstream.body, upstream.headers.get("content-length"), config.maxUpstreamBytes);
  if (!read.ok) {
    if (signal.aborted) return deadlineExceeded();
    if (read.reason === "too_large") return tooLarge(config);
    return upstreamErrorResponse({ status: upstream.status, message: `The upstream answered ${upstream.status} but its body could not be read` }, secrets, passed);
  }
  return upstreamErrorResponse(adjust(upstreamErrorFromBody(upstream.status, read.text)), secrets, passed);
}

export type JsonRead = { ok: true; json: unknown } | { ok: false; answer: InferenceResponse };

/** A successful answer's JSON, read within the size bound; a body that is not JSON is a 502. */
export async function readJsonAnswer(config: BackendConfig, upstream: Response, passed: Record<string, string>, signal: AbortSignal): Promise<JsonRead> {
  const read = await readBounded(upstream.body, upstream.headers.get("content-length"), config.maxUpstreamBytes);
  if (!read.ok) {
    if (signal.aborted) return { ok: false, answer: deadlineExceeded() };
    if (read.reason === "too_large") return { ok: false, answer: tooLarge(config) };
    return { ok: false, answer: errorResponse(502, `The upstream answered ${upstream.status} but its body could not be read`, "upstream_error", "upstream_error") };
  }
  const json = parseJson(read.text);
  if (json === undefined) {
    const shown = (upstream.headers.get("content-type") ?? "").split(";")[0] || "no content-type";
    return { ok: false, answer: errorResponse(502, `The upstream answered ${upstream.status} with a body that is not JSON (${shown})`, "upstream_error", "upstream_invalid_response", null, passed) };
  }
  return { ok: true, json };
}

/** An answer over MAX_UPSTREAM_BYTES: refused here rather than sent whole over RPC (32 MiB at most). */
export function tooLarge(config: BackendConfig): InferenceResponse {
  const message = `The upstream answer was larger than ${config.maxUpstreamBytes} bytes, this backend's bound (MAX_UPSTREAM_BYTES)`;
  return errorResponse(502, message, "upstream_error", "upstream_response_too_large");
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
