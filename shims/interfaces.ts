// The RPC contract between the orchestrator and its backends (docs/backend-template.md, "The RPC
// contract"), defined once. Used by the orchestrator shim, the backend template and the tests: TS
// files import this file; JS files name its types in JSDoc as `import("./interfaces.js")` (an
// import path TypeScript maps to this .ts file; no interfaces.js exists). Only types, plus the list
// of inference paths.

/** The OpenAI endpoints a backend may serve (which ones: BackendDescription.endpoints). */
export const INFERENCE_PATHS = ["/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/responses"] as const;

export type InferencePath = (typeof INFERENCE_PATHS)[number];

/** One attempt of one client request, as the orchestrator hands it to a backend. */
export interface InferenceRequest {
  /** The x-request-id of the client request. */
  requestId: string;
  path: InferencePath;
  model: string;
  stream: boolean;
  /**
   * The client's JSON body, unchanged. The orchestrator sends the validated raw JSON text (a
   * string holding a JSON object) so every value is kept exactly: an integer beyond 2^53 such as
   * `seed: 12345678901234567890` reaches the upstream unrounded, which a parsed object cannot
   * promise. Other callers may send the object itself.
   */
  body: string | Record<string, unknown>;
  /** Epoch ms; the backend may give up after it. */
  deadline: number;
  /**
   * Epoch ms: when the orchestrator abandons this attempt (its per-try timeout). A provider stops
   * its upstream call by then (or by `deadline`, if sooner): waiting longer only holds a
   * connection whose answer nobody reads.
   */
  attemptDeadline: number;
  /** 1-based attempt number within the client request. */
  attempt: number;
}

/** A backend's answer, shaped as an HTTP upstream would answer. */
export interface InferenceResponse {
  /** 200, 400, 429, 503 ... */
  status: number;
  /** Lower-case names, e.g. "retry-after", "retry-after-ms", "content-type". */
  headers?: Record<string, string>;
  /** JSON body: a non-streaming success, or any error (OpenAI error shape). */
  body?: unknown;
  /**
   * Streaming success: OpenAI SSE bytes ending with "data: [DONE]"; for /v1/responses, the
   * Responses API's typed events ending with response.completed (or .failed / .incomplete).
   */
  stream?: ReadableStream<Uint8Array>;
}

export interface BackendDescription {
  name: string;
  /** ["*"] means the backend serves any model. */
  models: string[];
  weight?: number;
  version?: string;
  /**
   * The APIs it serves, as their paths after "/v1/": "chat/completions", "completions",
   * "embeddings", "responses". Absent: the first three (backends older than the field).
   */
  endpoints?: string[];
}

export interface HealthReport {
  ok: boolean;
  detail?: string;
}

/** The RPC methods of every backend Worker's default export (a WorkerEntrypoint). */
export interface BackendRpc {
  /** Throwing means the attempt failed. */
  infer(req: InferenceRequest): Promise<InferenceResponse>;
  describe(): Promise<BackendDescription>;
  health(): Promise<HealthReport>;
}

/** A `BACKEND_*` service binding as the orchestrator sees it. */
export type BackendBinding = Fetcher & BackendRpc;

/** OpenAI's error body: `{"error": {message, type, param, code}}`. */
export interface OpenAIErrorBody {
  error: {
    message: string;
    type: string;
    param: string | null;
    code: string | null;
  };
}

/** The slice of the Workers AI binding the backend uses (env.AI.run). */
export interface AiBinding {
  run(model: string, inputs: Record<string, unknown>, options?: Record<string, unknown>): Promise<unknown>;
}

/** The providers the backend template offers. */
export type ProviderName = "echo" | "workers-ai" | "openai-compatible" | "anthropic";

/**
 * The backend template's env. Wrangler `[vars]` may hold strings or JSON values, so numeric and
 * list vars accept either form.
 */
export interface BackendEnv {
  /** "echo" (default) | "workers-ai" | "openai-compatible" | "anthropic". */
  PROVIDER?: string;
  /** describe().name; default "backend". */
  BACKEND_NAME?: string;
  /** Comma-separated model names or "*"; default per provider. */
  MODELS?: string | string[];
  /** Positive number, describe().weight. */
  WEIGHT?: string | number;
  /** echo: simulated latency before answering and between stream chunks. */
  ECHO_LATENCY_MS?: string | number;
  /** openai-compatible: base URL including its version prefix, e.g. "https://api.openai.com/v1"; anthropic: default "https://api.anthropic.com". */
  UPSTREAM_BASE_URL?: string;
  /** openai-compatible: secret sent in UPSTREAM_AUTH_HEADER, by default as "Authorization: Bearer <key>"; anthropic: sent as x-api-key. */
  UPSTREAM_API_KEY?: string;
  /** openai-compatible: the header the key is sent in; default "authorization" (Azure: "api-key"). */
  UPSTREAM_AUTH_HEADER?: string;
  /** openai-compatible: the word before the key; default "Bearer" for authorization, none for other headers; "" = the key alone. */
  UPSTREAM_AUTH_SCHEME?: string;
  /** openai-compatible: JSON object of fixed query parameters, e.g. {"api-version":"2024-10-21"}. */
  UPSTREAM_QUERY?: string | Record<string, unknown>;
  /** openai-compatible: JSON object of extra headers, e.g. OpenRouter's {"HTTP-Referer":"...","X-Title":"..."}. */
  UPSTREAM_HEADERS?: string | Record<string, unknown>;
  /** openai-compatible: the path under UPSTREAM_BASE_URL health() probes with GET; default "/models"; "none" = no probe. */
  UPSTREAM_HEALTH_PATH?: string;
  /** workers-ai: the Workers AI binding. */
  AI?: AiBinding;
  /** JSON object (or table): client model name -> provider model name (Workers AI id or upstream name). */
  MODEL_MAP?: string | Record<string, string>;
  /** anthropic: max_tokens sent when the client gives none (Anthropic requires it); default 4096. */
  ANTHROPIC_MAX_TOKENS?: string | number;
  /** openai-compatible: the most bytes read from one upstream answer; default 8 MiB, at most 14 MiB. */
  MAX_UPSTREAM_BYTES?: string | number;
}

/**
 * The control plane's RPC (docs/control-plane.md): the ControlPlane Durable Object every isolate
 * syncs with, bound as CONTROL_PLANE. `report` and the answer are JSON text the core writes and reads.
 */
export interface ControlPlaneRpc {
  sync(report: string): Promise<string>;
}
