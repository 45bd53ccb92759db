// The upstream headers passed back with an answer: what the orchestrator's retry and cooldown
// decisions read (retry-after, retry-after-ms) and the rate-limit hints clients read
// (x-ratelimit-*, x-should-retry). OpenAI's 429s often carry no retry-after but say when the
// exhausted limit resets (x-ratelimit-reset-requests / -tokens: "1s", "6m0s", "20ms"): a
// retry-after-ms is derived from them, so the router cools this backend down for that long.

const RETRY_HEADERS = ["retry-after", "retry-after-ms", "x-should-retry"];
const RATE_LIMIT_PREFIX = "x-ratelimit-";
/** Bounds on what is passed: an upstream's headers are not trusted to be few or short. */
const MAX_RATE_LIMIT_HEADERS = 16;
const MAX_VALUE_CHARS = 256;
/** A derived wait is never longer than a day (the orchestrator caps it again, at retry.retryAfterCapMs). */
const MAX_DERIVED_MS = 24 * 60 * 60 * 1000;
const UNIT_MS: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 };

/** The headers of `upstream` passed back to the router, plus a derived retry-after-ms on a 429. */
export function passedHeaders(status: number, upstream: Headers): Record<string, string> {
  const passed: Record<string, string> = {};
  let rateLimitHeaders = 0;
  upstream.forEach((value, name) => {
    const kept = RETRY_HEADERS.includes(name) || (name.startsWith(RATE_LIMIT_PREFIX) && ++rateLimitHeaders <= MAX_RATE_LIMIT_HEADERS);
    if (kept && value.length <= MAX_VALUE_CHARS) passed[name] = value;
  });
  if (status === 429 && passed["retry-after"] === undefined && passed["retry-after-ms"] === undefined) {
    const wait = resetWaitMs(passed);
    if (wait !== undefined) passed["retry-after-ms"] = String(wait);
  }
  return passed;
}

/**
 * How long until the limit that refused the call resets: the later reset of the exhausted limits
 * (remaining 0), else the sooner reset of those given; undefined when none can be read.
 */
export function resetWaitMs(headers: Record<string, string | undefined>): number | undefined {
  const limits = ["requests", "tokens"].map((kind) => ({
    exhausted: headers[`x-ratelimit-remaining-${kind}`]?.trim() === "0",
    resetMs: durationMs(headers[`x-ratelimit-reset-${kind}`]),
  }));
  const known = limits.filter((l): l is { exhausted: boolean; resetMs: number } => l.resetMs !== undefined);
  const exhausted = known.filter((l) => l.exhausted);
  if (known.length === 0) return undefined;
  const wait = exhausted.length > 0 ? Math.max(...exhausted.map((l) => l.resetMs)) : Math.min(...known.map((l) => l.resetMs));
  return Math.min(Math.ceil(wait), MAX_DERIVED_MS);
}

/** A Go-style duration ("1s", "6m0s", "20ms", "1h2m3.5s") in ms; undefined when it is not one. */
export function durationMs(text: string | undefined): number | undefined {
  const value = text?.trim() ?? "";
  if (!/^(?:\d+(?:\.\d+)?(?:h|ms|m|s))+$/.test(value)) return undefined;
  let total = 0;
  for (const [, amount, unit] of value.matchAll(/(\d+(?:\.\d+)?)(h|ms|m|s)/g)) total += Number(amount) * UNIT_MS[unit!]!;
  return Number.isFinite(total) ? total : undefined;
}
