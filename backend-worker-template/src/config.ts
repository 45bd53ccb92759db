// The backend's configuration, read from its env vars. A bad var is a configuration error that
// describe(), health() and infer() all report loudly, never a silently ignored value.
import type { AiBinding, BackendEnv, ProviderName } from "../../shims/interfaces";
import { readAnthropicUpstream, readUpstreamConfig, type UpstreamConfig } from "./upstream-config";

export interface BackendConfig {
  provider: ProviderName;
  name: string;
  /** ["*"] = any model. */
  models: string[];
  weight?: number;
  echoLatencyMs: number;
  /** openai-compatible and anthropic: where and how to call the upstream. */
  upstream?: UpstreamConfig;
  upstreamApiKey?: string;
  ai?: AiBinding;
  /** Client model name -> provider model name. */
  modelMap: Record<string, string>;
  /** openai-compatible, anthropic and workers-ai: the most bytes read from one upstream answer (JSON or stream). */
  maxUpstreamBytes: number;
  /** anthropic: max_tokens sent when the client gives none (Anthropic's API requires one). */
  anthropicMaxTokens: number;
}

export type ConfigResult = { ok: true; config: BackendConfig } | { ok: false; error: string };

const PROVIDERS: readonly ProviderName[] = ["echo", "workers-ai", "openai-compatible", "anthropic"];
/**
 * max_tokens sent to Anthropic when the client gives none: its API requires one, OpenAI's does
 * not. 4096 is what LiteLLM sends by default, and every current Claude model can produce it.
 */
export const DEFAULT_ANTHROPIC_MAX_TOKENS = 4096;
/**
 * An upstream answer larger than this is refused. Embeddings batches are the largest legitimate
 * answers: 8 MiB holds about 1000 base64 embeddings of 1536 dimensions (what OpenAI's client asks
 * for) or about 270 as JSON floats, while a chat answer of 128k tokens is well under 1 MiB.
 * Larger batches need MAX_UPSTREAM_BYTES raised, up to the bound below.
 */
export const DEFAULT_MAX_UPSTREAM_BYTES = 8 * 1024 * 1024;
/**
 * The largest MAX_UPSTREAM_BYTES accepted. Workers RPC carries at most 32 MiB per call, and a JSON
 * answer crosses it as an object whose serialised form can be about twice its UTF-8 text (a string
 * holding one character beyond Latin-1 is stored as UTF-16; a short decimal becomes an 8-byte
 * double): 14 MiB keeps even that under 32 MiB, where a larger answer would make the RPC throw and
 * count as this backend failing.
 */
export const MAX_ALLOWED_UPSTREAM_BYTES = 14 * 1024 * 1024;

export function readConfig(env: BackendEnv): ConfigResult {
  const errors: string[] = [];

  const providerText = (env.PROVIDER ?? "echo").trim() || "echo";
  const provider = PROVIDERS.find((p) => p === providerText);
  if (!provider) errors.push(`PROVIDER must be one of ${PROVIDERS.join(", ")} (got "${providerText}")`);

  const name = (env.BACKEND_NAME ?? "").trim() || "backend";
  const modelMap = readModelMap(env, errors);
  const models = readModels(env, modelMap, errors);

  const weight = numberVar(env.WEIGHT, "WEIGHT", (n) => Number.isFinite(n) && n > 0, "a positive number", errors);
  const echoLatencyMs =
    numberVar(env.ECHO_LATENCY_MS, "ECHO_LATENCY_MS", (n) => Number.isFinite(n) && n >= 0, "a number of milliseconds >= 0", errors) ?? 0;
  const maxUpstreamBytes =
    numberVar(
      env.MAX_UPSTREAM_BYTES,
      "MAX_UPSTREAM_BYTES",
      (n) => Number.isSafeInteger(n) && n >= 1 && n <= MAX_ALLOWED_UPSTREAM_BYTES,
      `a whole number of bytes from 1 to ${MAX_ALLOWED_UPSTREAM_BYTES} (14 MiB: Workers RPC carries at most 32 MiB per answer)`,
      errors,
    ) ?? DEFAULT_MAX_UPSTREAM_BYTES;

  const anthropicMaxTokens =
    numberVar(env.ANTHROPIC_MAX_TOKENS, "ANTHROPIC_MAX_TOKENS", (n) => Number.isSafeInteger(n) && n >= 1, "a whole number of tokens >= 1", errors) ??
    DEFAULT_ANTHROPIC_MAX_TOKENS;

  const upstream = provider === "openai-compatible" ? readUpstreamConfig(env, errors) : provider === "anthropic" ? readAnthropicUpstream(env, errors) : undefined;

  if (provider === "workers-ai" && (typeof env.AI !== "object" || env.AI === null || typeof env.AI.run !== "function")) {
    errors.push("PROVIDER workers-ai needs the AI binding (add [ai] binding = \"AI\" to the wrangler config)");
  }

  if (errors.length > 0 || !provider) return { ok: false, error: `backend misconfigured: ${errors.join("; ")}` };
  return {
    ok: true,
    config: {
      provider,
      name,
      models,
      weight,
      echoLatencyMs,
      upstream,
      upstreamApiKey: env.UPSTREAM_API_KEY || undefined,
      ai: provider === "workers-ai" ? env.AI : undefined,
      modelMap,
      maxUpstreamBytes,
      anthropicMaxTokens,
    },
  };
}

/** MODEL_MAP: {} when unset; a problem is pushed to `errors`. */
function readModelMap(env: BackendEnv, errors: string[]): Record<string, string> {
  if (env.MODEL_MAP === undefined || env.MODEL_MAP === "") return {};
  const parsed = parseModelMap(env.MODEL_MAP);
  if (typeof parsed !== "string") return parsed;
  errors.push(parsed);
  return {};
}

/** MODELS (a comma-separated string or a list): ["*"] for any model. */
function readModels(env: BackendEnv, modelMap: Record<string, string>, errors: string[]): string[] {
  if (env.MODELS === undefined || env.MODELS === "") {
    // With a MODEL_MAP, the mapped names are what this backend offers; otherwise any model.
    return Object.keys(modelMap).length > 0 ? Object.keys(modelMap) : ["*"];
  }
  const list = Array.isArray(env.MODELS) ? env.MODELS.map(String) : String(env.MODELS).split(",");
  const models = list.map((m) => m.trim()).filter((m) => m !== "");
  if (models.length === 0) errors.push("MODELS must list at least one model, or be \"*\"");
  return models.includes("*") ? ["*"] : models;
}

/** A numeric var (string or number): undefined when unset; an error pushed when not `valid`. */
function numberVar(raw: string | number | undefined, name: string, valid: (n: number) => boolean, rule: string, errors: string[]): number | undefined {
  if (raw === undefined || raw === "") return undefined;
  const value = Number(raw);
  if (!valid(value)) errors.push(`${name} must be ${rule} (got "${raw}")`);
  return value;
}

/** Whether this backend serves `model`. */
export function servesModel(config: BackendConfig, model: string): boolean {
  return config.models.includes("*") || config.models.includes(model);
}

/** The name the provider knows `model` by. */
export function providerModel(config: BackendConfig, model: string): string {
  return Object.hasOwn(config.modelMap, model) ? config.modelMap[model]! : model;
}

function parseModelMap(raw: string | Record<string, string>): Record<string, string> | string {
  let value: unknown = raw;
  if (typeof raw === "string") {
    try {
      value = JSON.parse(raw);
    } catch {
      return "MODEL_MAP must be a JSON object of model name -> provider model name (it is not valid JSON)";
    }
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return "MODEL_MAP must be a JSON object of model name -> provider model name";
  }
  const map: Record<string, string> = {};
  for (const [from, to] of Object.entries(value)) {
    if (typeof to !== "string" || to === "") return `MODEL_MAP["${from}"] must be a non-empty string`;
    map[from] = to;
  }
  return map;
}
