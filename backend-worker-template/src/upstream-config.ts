// The openai-compatible provider's upstream vars, read and checked: where to send (base URL, fixed
// query), how to authenticate (header name and scheme) and what else to send (extra headers). A bad
// value is a configuration error naming the var; a value is never quoted when it could be a secret.
import type { BackendEnv } from "../../shims/interfaces";
import { safeText } from "./providers/upstream-error";

export interface UpstreamConfig {
  /** The OpenAI client's baseURL (version prefix included), without fragment or trailing slash. */
  baseUrl: string;
  /** Lower-case name of the header the key is sent in: "authorization", or e.g. Azure's "api-key". */
  authHeader: string;
  /** Put before the key with a space ("Bearer"), or "" to send the key alone. */
  authScheme: string;
  /** Fixed query parameters added to every upstream URL (e.g. Azure's api-version). */
  query: Record<string, string>;
  /** Extra headers sent with every upstream request (e.g. OpenRouter's HTTP-Referer / X-Title). */
  headers: Record<string, string>;
  /** The path under baseUrl health() probes with GET, or null for no probe. */
  healthPath: string | null;
}

/** RFC 9110 token: what a header name may be. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Visible ASCII, spaces and tabs: no CR/LF (header injection), no NUL, nothing a runtime rejects. */
const HEADER_VALUE = /^[\t\x20-\x7e]*$/;
/** Hop-by-hop and framing headers belong to the connection, not to this request. */
const HOP_BY_HOP = ["connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade", "host", "content-length"];
/** Headers the template sets itself. */
const OWN = ["content-type", "accept", "x-request-id"];
/** Credential headers: a key goes in the UPSTREAM_API_KEY secret, never in a plain var. */
const CREDENTIALS = ["authorization", "proxy-authorization", "api-key", "x-api-key", "x-goog-api-key", "cookie"];
/** Query names that carry credentials. */
const CREDENTIAL_QUERY = /^(?:key|api[-_]?key|access[-_]?token|token|sig|signature|secret)$/i;
const DEFAULT_HEALTH_PATH = "/models";
const MAX_NAME_SHOWN = 64;

/** The upstream vars of an openai-compatible backend; problems are pushed to `errors`. */
export function readUpstreamConfig(env: BackendEnv, errors: string[]): UpstreamConfig | undefined {
  const baseUrl = readBaseUrl(env.UPSTREAM_BASE_URL, errors);
  const authHeader = readAuthHeader(env.UPSTREAM_AUTH_HEADER, errors);
  const authScheme = readAuthScheme(env.UPSTREAM_AUTH_SCHEME, authHeader, errors);
  const query = readQuery(env.UPSTREAM_QUERY, errors);
  const headers = readHeaders(env.UPSTREAM_HEADERS, authHeader, errors);
  const healthPath = readHealthPath(env.UPSTREAM_HEALTH_PATH, errors);
  if (baseUrl === undefined) return undefined;
  return { baseUrl, authHeader, authScheme, query, headers, healthPath };
}

/** Anthropic's API: where the anthropic provider calls unless UPSTREAM_BASE_URL says otherwise. */
export const ANTHROPIC_BASE_URL = "https://api.anthropic.com";
/** The Messages API version sent as anthropic-version (https://docs.claude.com/en/api/versioning). */
export const ANTHROPIC_VERSION = "2023-06-01";

/**
 * The upstream of an anthropic backend: UPSTREAM_BASE_URL (default Anthropic's API, without the
 * /v1 the calls add), the key in x-api-key, the API version header, health() probing GET /v1/models.
 */
export function readAnthropicUpstream(env: BackendEnv, errors: string[]): UpstreamConfig | undefined {
  const baseUrl = readBaseUrl((env.UPSTREAM_BASE_URL ?? "").trim() || ANTHROPIC_BASE_URL, errors);
  if (baseUrl === undefined) return undefined;
  // The calls add /v1 themselves: a base ending in /v1 would post to /v1/v1/messages.
  if (/\/v1$/.test(new URL(baseUrl).pathname)) return void errors.push("UPSTREAM_BASE_URL with PROVIDER anthropic is the API's origin without /v1 (e.g. https://api.anthropic.com)");
  return { baseUrl, authHeader: "x-api-key", authScheme: "", query: {}, headers: { "anthropic-version": ANTHROPIC_VERSION }, healthPath: "/v1/models" };
}

function readBaseUrl(value: string | undefined, errors: string[]): string | undefined {
  const raw = (value ?? "").trim();
  if (!raw) return void errors.push("UPSTREAM_BASE_URL is required with PROVIDER openai-compatible");
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return void errors.push(`UPSTREAM_BASE_URL must be an http(s) URL (got "${raw}")`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return void errors.push(`UPSTREAM_BASE_URL must be an http(s) URL (got "${raw}")`);
  // Vars are readable by anyone who can see the Worker's settings: the key goes in the secret.
  if (url.username || url.password || looksLikeKey(url.search)) {
    return void errors.push("UPSTREAM_BASE_URL must not hold credentials (put the key in the UPSTREAM_API_KEY secret)");
  }
  url.hash = "";
  url.pathname = url.pathname.replace(/\/+$/, "");
  return url.href;
}

function readAuthHeader(value: string | undefined, errors: string[]): string {
  const name = (value ?? "").trim().toLowerCase();
  if (name === "") return "authorization";
  if (!TOKEN.test(name) || HOP_BY_HOP.includes(name) || OWN.includes(name)) {
    errors.push(`UPSTREAM_AUTH_HEADER must be a header name such as authorization or api-key (got ${shown(name)})`);
  }
  return name;
}

/** Unset: "Bearer" for Authorization, the key alone for any other header (Azure's api-key, x-api-key). */
function readAuthScheme(value: string | undefined, authHeader: string, errors: string[]): string {
  if (value === undefined) return authHeader === "authorization" ? "Bearer" : "";
  const scheme = value.trim();
  if (scheme !== "" && !TOKEN.test(scheme)) errors.push(`UPSTREAM_AUTH_SCHEME must be one word such as Bearer, or empty for the key alone (got ${shown(scheme)})`);
  return scheme;
}

function readQuery(value: string | Record<string, unknown> | undefined, errors: string[]): Record<string, string> {
  const entries = jsonObjectVar(value, "UPSTREAM_QUERY", "parameter name -> value", errors);
  const query: Record<string, string> = {};
  for (const [name, raw] of entries) {
    const text = scalarText(raw);
    if (name === "" || text === undefined) errors.push(`UPSTREAM_QUERY[${shown(name)}] must be a non-empty name with a string, number or boolean value`);
    else if (CREDENTIAL_QUERY.test(name) || looksLikeKey(text)) errors.push(`UPSTREAM_QUERY[${shown(name)}] looks like a credential: put the key in the UPSTREAM_API_KEY secret`);
    else query[name] = text;
  }
  return query;
}

function readHeaders(value: string | Record<string, unknown> | undefined, authHeader: string, errors: string[]): Record<string, string> {
  const entries = jsonObjectVar(value, "UPSTREAM_HEADERS", "header name -> value", errors);
  const headers: Record<string, string> = {};
  for (const [rawName, raw] of entries) {
    const name = rawName.toLowerCase();
    const text = scalarText(raw);
    // The value is never quoted: a misplaced key must not reach a log line.
    if (!TOKEN.test(name)) errors.push(`UPSTREAM_HEADERS: ${shown(rawName)} is not a header name`);
    else if (HOP_BY_HOP.includes(name) || OWN.includes(name)) errors.push(`UPSTREAM_HEADERS[${shown(rawName)}]: the template sets this header itself`);
    else if (CREDENTIALS.includes(name) || name === authHeader) errors.push(`UPSTREAM_HEADERS[${shown(rawName)}] is a credential header: put the key in the UPSTREAM_API_KEY secret (see UPSTREAM_AUTH_HEADER)`);
    else if (text === undefined || !HEADER_VALUE.test(text)) errors.push(`UPSTREAM_HEADERS[${shown(rawName)}] must be a string of visible ASCII (no line breaks)`);
    else if (looksLikeKey(text)) errors.push(`UPSTREAM_HEADERS[${shown(rawName)}] looks like a key: put it in the UPSTREAM_API_KEY secret`);
    else headers[name] = text.trim();
  }
  return headers;
}

function readHealthPath(value: string | undefined, errors: string[]): string | null {
  const path = (value ?? "").trim();
  if (path === "") return DEFAULT_HEALTH_PATH;
  if (path === "none") return null;
  if (!/^\/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$/.test(path) || path.split("/").includes("..")) {
    errors.push(`UPSTREAM_HEALTH_PATH must be a path under UPSTREAM_BASE_URL such as /models, or none (got ${shown(path)})`);
  }
  return path;
}

/** The members of a JSON object var (its text, or a TOML table); none when unset. */
function jsonObjectVar(value: string | Record<string, unknown> | undefined, name: string, what: string, errors: string[]): [string, unknown][] {
  if (value === undefined || value === "") return [];
  let parsed: unknown = value;
  if (typeof value === "string") {
    try {
      parsed = JSON.parse(value);
    } catch {
      parsed = undefined;
    }
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    errors.push(`${name} must be a JSON object of ${what}`);
    return [];
  }
  return Object.entries(parsed);
}

function scalarText(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if ((typeof value === "number" && Number.isFinite(value)) || typeof value === "boolean") return String(value);
  return undefined;
}

/** Whether `text` holds something shaped like a key (the error normalizer's own test). */
function looksLikeKey(text: string): boolean {
  return safeText(text).includes("[redacted]");
}

/** A name as quoted in an error: JSON-quoted, bounded. */
function shown(name: string): string {
  return JSON.stringify(name.length > MAX_NAME_SHOWN ? `${name.slice(0, MAX_NAME_SHOWN)}…` : name);
}
