// The upstream headers passed back with an answer: what the orchestrator's retry and cooldown
// decisions read (retry-after, retry-after-ms) and the rate-limit hints clients read
// (x-ratelimit-*, x-should-retry). OpenAI's 429s often carry no retry-after but say when the
// exhausted limit resets (x-ratelimit-reset-requests / -tokens: "1s", "6m0s", "20ms"): a
// retry-after-ms is derived from them, so the router cools this backend down for that long.

const RETRY_HEADERS = ["retry-after", "retry-after-ms", "x-should-retry"];
const RATE_LIMIT_PREFIX = "x-ratelimit-";
const ANTHROPIC_RATE_LIMIT_PREFIX = "anthropic-ratelimit-";
/** Anthropic's limits that carry a remaining count and a reset time. */
const ANTHROPIC_LIMITS = ["requests", "tokens", "input-tokens", "output-tokens"];
/** Bounds on what is passed: an upstream's headers are not trusted to be few or short. */
const MAX_RATE_LIMIT_HEADERS = 16;
const MAX_VALUE_CHARS = 256;
/** A derived wait is never longer than a day (the orchestrator caps it again, at retry.retryAfterCapMs). */
const MAX_DERIVED_MS = 24 * 60 * 60 * 1000;
const UNIT_MS: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 };

/** The headers of `upstream` passed back to the router, plus a derived retry-after-ms on a 429. */
export function passedHeaders(status: number, upstream: Headers): Record<string, string> {
  const passed = keptHeaders(upstream, RATE_LIMIT_PREFIX);
  if (needsDerivedWait(status, passed)) {
    const wait = resetWaitMs(passed);
    if (wait !== undefined) passed["retry-after-ms"] = String(wait);
  }
  return passed;
}

/**
 * The same for Anthropic, whose rate-limit headers are anthropic-ratelimit-* with resets given as
 * RFC 3339 times (https://docs.claude.com/en/api/rate-limits#response-headers): a 429 without
 * retry-after gets a retry-after-ms until the reset of the exhausted limit, as OpenAI's do.
 */
export function anthropicPassedHeaders(status: number, upstream: Headers, now = Date.now()): Record<string, string> {
  const passed = keptHeaders(upstream, ANTHROPIC_RATE_LIMIT_PREFIX);
  if (needsDerivedWait(status, passed)) {
    const wait = waitFor(
      ANTHROPIC_LIMITS.map((kind) => ({
        exhausted: passed[`${ANTHROPIC_RATE_LIMIT_PREFIX}${kind}-remaining`]?.trim() === "0",
        resetMs: untilMs(passed[`${ANTHROPIC_RATE_LIMIT_PREFIX}${kind}-reset`], now),
      })),
    );
    if (wait !== undefined) passed["retry-after-ms"] = String(wait);
  }
  return passed;
}

/** The retry headers and up to MAX_RATE_LIMIT_HEADERS of those starting with `prefix`, values bounded. */
function keptHeaders(upstream: Headers, prefix: string): Record<string, string> {
  const passed: Record<string, string> = {};
  let rateLimitHeaders = 0;
  upstream.forEach((value, name) => {
    const kept = RETRY_HEADERS.includes(name) || (name.startsWith(prefix) && ++rateLimitHeaders <= MAX_RATE_LIMIT_HEADERS);
    if (kept && value.length <= MAX_VALUE_CHARS) passed[name] = value;
  });
  return passed;
}

function needsDerivedWait(status: number, passed: Record<string, string>): boolean {
  return status === 429 && passed["retry-after"] === undefined && passed["retry-after-ms"] === undefined;
}

/** ms from `now` to an RFC 3339 time; undefined when it is not one; 0 when it has passed. */
function untilMs(text: string | undefined, now: number): number | undefined {
  const value = text?.trim() ?? "";
  if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)$/i.test(value)) return undefined;
  const at = Date.parse(value);
  return Number.isFinite(at) ? Math.max(0, at - now) : undefined;
}

/**
 * How long until the limit that refused the call resets: the later reset of the exhausted limits
 * (remaining 0), else the sooner reset of those given; undefined when none can be read.
 */
export function resetWaitMs(headers: Record<string, string | undefined>): number | undefined {
  return waitFor(
    ["requests", "tokens"].map((kind) => ({
      exhausted: headers[`x-ratelimit-remaining-${kind}`]?.trim() === "0",
      resetMs: durationMs(headers[`x-ratelimit-reset-${kind}`]),
    })),
  );
}

/** The later reset of the exhausted limits, else the sooner of those known, rounded up and capped. */
function waitFor(limits: { exhausted: boolean; resetMs: number | undefined }[]): number | undefined {
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
