// The workers-ai provider: env.AI.run() with Workers AI's own input and output shapes, translated
// to and from OpenAI's. The translations are exported on their own so they can be checked against
// recorded Workers AI answers.
import type { AiBinding, InferenceResponse } from "../../../shims/interfaces";
import { providerModel } from "../config";
import type { CheckedRequest } from "../request-check";
import {
  badRequest,
  contentText,
  deadlineExceeded,
  embeddingBase64,
  errorResponse,
  jsonResponse,
  maxTokens,
  modelNotServed,
  nowSeconds,
  streamResponse,
  wantsStreamUsage,
  type ChatCompletion,
  type ChatCompletionChunk,
  type Embeddings,
  type FinishReason,
  type TextCompletion,
  type ToolCall,
  type Usage,
} from "./openai-shapes";
import type { Provider } from "./provider";
import { SSE_DONE, SseDataDecoder, sseEvent } from "./sse";

/** OpenAI request fields Workers AI text-generation models accept under the same name. */
const GENERATION_OPTIONS = [
  "temperature",
  "top_p",
  "top_k",
  "seed",
  "frequency_penalty",
  "presence_penalty",
  "repetition_penalty",
  "tools",
  "response_format",
] as const;

/** Identity of the answer being built: OpenAI's id, created and model fields. */
export interface AnswerMeta {
  id: string;
  created: number;
  model: string;
}

export const workersAiProvider: Provider = {
  async infer(req, config) {
    const ai = config.ai!;
    const built = aiInputs(req);
    if ("error" in built) return built.error;

    let result: unknown;
    try {
      result = await runUntil(ai, providerModel(config, req.model), built.inputs, req.stopAt);
    } catch (err) {
      return aiErrorResponse(err, req.model);
    }
    if (result === TIMED_OUT) return deadlineExceeded();

    if (req.path === "/v1/embeddings") {
      const answer = embeddingsFromAi(result, req.model, req.body.encoding_format === "base64");
      return answer ? jsonResponse(answer) : malformedAnswer();
    }
    const kind = req.path === "/v1/chat/completions" ? "chat" : "completion";
    const meta: AnswerMeta = { id: `${kind === "chat" ? "chatcmpl" : "cmpl"}-${crypto.randomUUID().replaceAll("-", "")}`, created: nowSeconds(), model: req.model };
    if (req.stream) {
      if (!(result instanceof ReadableStream)) return malformedAnswer();
      return streamResponse(result.pipeThrough(openAiStreamFromAi(kind, meta, wantsStreamUsage(req.body))));
    }
    const answer = kind === "chat" ? chatCompletionFromAi(result, meta) : textCompletionFromAi(result, meta);
    return answer ? jsonResponse(answer) : malformedAnswer();
  },
  async health() {
    // A probe would spend inference; the binding being present is what can be checked for free.
    return { ok: true, detail: "workers-ai provider (AI binding present)" };
  },
};

const TIMED_OUT = Symbol("timed out");

/**
 * env.AI.run(), given up at `stopAt`. The binding takes no documented way to cancel a run, so it
 * is raced; a stream that arrives too late is cancelled so it does not run on unread.
 */
async function runUntil(ai: AiBinding, model: string, inputs: Record<string, unknown>, stopAt: number): Promise<unknown> {
  const run = ai.run(model, inputs);
  let expire!: (value: typeof TIMED_OUT) => void;
  const timeout = new Promise<typeof TIMED_OUT>((resolve) => (expire = resolve));
  const timer = setTimeout(() => expire(TIMED_OUT), Math.max(0, stopAt - Date.now()));
  try {
    const result = await Promise.race([run, timeout]);
    if (result === TIMED_OUT) {
      run.then((late) => (late instanceof ReadableStream ? late.cancel() : undefined)).catch(() => {});
    }
    return result;
  } finally {
    clearTimeout(timer);
  }
}

/** The env.AI.run() inputs for an OpenAI request, or a 400 for what Workers AI cannot express. */
export function aiInputs(req: CheckedRequest): { inputs: Record<string, unknown> } | { error: InferenceResponse } {
  const body = req.body;
  if (req.path === "/v1/embeddings") {
    const input = body.input;
    const texts = typeof input === "string" ? input : Array.isArray(input) && input.length > 0 && input.every((x) => typeof x === "string") ? input : undefined;
    if (texts === undefined) return { error: badRequest("input must be a string or an array of strings (workers-ai models take text, not tokens)", "input") };
    if (body.dimensions !== undefined) return { error: badRequest("dimensions is not supported: workers-ai embedding models have a fixed size", "dimensions") };
    if (body.encoding_format !== undefined && body.encoding_format !== "float" && body.encoding_format !== "base64") {
      return { error: badRequest("encoding_format must be \"float\" or \"base64\"", "encoding_format") };
    }
    return { inputs: { text: texts } };
  }

  const options: Record<string, unknown> = {};
  for (const key of GENERATION_OPTIONS) if (body[key] !== undefined) options[key] = body[key];
  const limit = maxTokens(body);
  if (limit !== undefined) options.max_tokens = limit;
  if (req.stream) options.stream = true;

  if (req.path === "/v1/chat/completions") {
    const messages = body.messages;
    if (!Array.isArray(messages) || messages.length === 0) return { error: badRequest("messages must be a non-empty array", "messages") };
    return { inputs: { messages: messages.map(aiMessage), ...options } };
  }
  const prompt = Array.isArray(body.prompt) && body.prompt.length === 1 ? body.prompt[0] : body.prompt;
  if (typeof prompt !== "string") return { error: badRequest("prompt must be a string (workers-ai models take one text prompt)", "prompt") };
  return { inputs: { prompt, ...options } };
}

/** Text-only content arrays become strings, which every Workers AI chat model accepts. */
function aiMessage(message: unknown): unknown {
  if (typeof message !== "object" || message === null) return message;
  const content = (message as { content?: unknown }).content;
  const textOnly = Array.isArray(content) && content.every((part) => (part as { type?: unknown } | null)?.type === "text");
  return textOnly ? { ...message, content: contentText(content) } : message;
}

/** Workers AI `{response, tool_calls?, usage?}` -> OpenAI chat.completion (undefined if not that shape). */
export function chatCompletionFromAi(result: unknown, meta: AnswerMeta): ChatCompletion | undefined {
  if (!isObject(result)) return undefined;
  if (Array.isArray(result.choices)) return { ...(result as unknown as ChatCompletion), model: meta.model };
  const toolCalls = openAiToolCalls(result.tool_calls);
  const content = responseText(result.response);
  if (content === undefined && toolCalls.length === 0) return undefined;
  const finish: FinishReason = toolCalls.length > 0 ? "tool_calls" : "stop";
  return {
    id: meta.id,
    object: "chat.completion",
    created: meta.created,
    model: meta.model,
    choices: [
      {
        index: 0,
        message: { role: "assistant", content: content ?? null, ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}) },
        logprobs: null,
        finish_reason: finish,
      },
    ],
    usage: usageOf(result.usage),
  };
}

/** Workers AI `{response, usage?}` -> OpenAI text_completion (undefined if not that shape). */
export function textCompletionFromAi(result: unknown, meta: AnswerMeta): TextCompletion | undefined {
  if (!isObject(result)) return undefined;
  const text = responseText(result.response);
  if (text === undefined) return undefined;
  return {
    id: meta.id,
    object: "text_completion",
    created: meta.created,
    model: meta.model,
    choices: [{ index: 0, text, logprobs: null, finish_reason: "stop" }],
    usage: usageOf(result.usage),
  };
}

/** Workers AI `{shape, data: number[][]}` -> OpenAI embeddings list (undefined if not that shape). */
export function embeddingsFromAi(result: unknown, model: string, base64: boolean): Embeddings | undefined {
  if (!isObject(result) || !Array.isArray(result.data)) return undefined;
  const vectors = result.data as unknown[];
  if (!vectors.every((v) => Array.isArray(v) && v.every((x) => typeof x === "number"))) return undefined;
  const tokens = usageOf(result.usage).prompt_tokens;
  return {
    object: "list",
    data: (vectors as number[][]).map((vector, index) => ({ object: "embedding", index, embedding: base64 ? embeddingBase64(vector) : vector })),
    model,
    usage: { prompt_tokens: tokens, total_tokens: tokens },
  };
}

/** Where one Workers AI stream's translation stands, carried from event to event. */
interface AiStreamState {
  readonly kind: "chat" | "completion";
  readonly meta: AnswerMeta;
  readonly includeUsage: boolean;
  started: boolean;
  done: boolean;
  usage: Usage | undefined;
  toolCallCount: number;
}

function aiChatChunk(meta: AnswerMeta, delta: ChatCompletionChunk["choices"][0]["delta"], finish: FinishReason | null): ChatCompletionChunk {
  return {
    id: meta.id,
    object: "chat.completion.chunk",
    created: meta.created,
    model: meta.model,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
  };
}

function aiTextChunk(meta: AnswerMeta, text: string, finish: FinishReason | null): TextCompletion {
  return {
    id: meta.id,
    object: "text_completion",
    created: meta.created,
    model: meta.model,
    choices: [{ index: 0, text, logprobs: null, finish_reason: finish }],
  };
}

/** The SSE events that end the stream at Workers AI's [DONE]. */
function aiStreamEnd(s: AiStreamState): string[] {
  const { kind, meta } = s;
  const out: string[] = [];
  if (kind === "chat" && !s.started) out.push(sseEvent(aiChatChunk(meta, { role: "assistant", content: "" }, null)));
  const finish: FinishReason = s.toolCallCount > 0 ? "tool_calls" : "stop";
  out.push(sseEvent(kind === "chat" ? aiChatChunk(meta, {}, finish) : aiTextChunk(meta, "", finish)));
  if (s.includeUsage && s.usage) out.push(sseEvent({ id: meta.id, object: kind === "chat" ? "chat.completion.chunk" : "text_completion", created: meta.created, model: meta.model, choices: [], usage: s.usage }));
  out.push(SSE_DONE);
  s.done = true;
  return out;
}

/** The SSE events of one Workers AI event (its `data:` text). */
function aiStreamEvent(s: AiStreamState, data: string): string[] {
  const { kind, meta } = s;
  let event: unknown;
  try {
    event = JSON.parse(data);
  } catch {
    throw new Error("Workers AI stream carried an event that is not JSON");
  }
  if (!isObject(event)) return [];
  const out: string[] = [];
  if (event.usage !== undefined) s.usage = usageOf(event.usage);
  if (kind === "chat" && !s.started) {
    out.push(sseEvent(aiChatChunk(meta, { role: "assistant", content: "" }, null)));
    s.started = true;
  }
  const text = responseText(event.response) ?? "";
  if (text !== "") out.push(sseEvent(kind === "chat" ? aiChatChunk(meta, { content: text }, null) : aiTextChunk(meta, text, null)));
  const calls = kind === "chat" ? openAiToolCalls(event.tool_calls, s.toolCallCount) : [];
  if (calls.length > 0) {
    out.push(sseEvent(aiChatChunk(meta, { tool_calls: calls.map((call, i) => ({ index: s.toolCallCount + i, ...call })) }, null)));
    s.toolCallCount += calls.length;
  }
  return out;
}

/** The SSE events for some `data:` payloads of the stream; none after the end. */
function translateAiEvents(s: AiStreamState, payloads: string[]): string[] {
  const out: string[] = [];
  for (const data of payloads) {
    if (s.done) break;
    if (data.trim() === "[DONE]") {
      out.push(...aiStreamEnd(s));
      break;
    }
    out.push(...aiStreamEvent(s, data));
  }
  return out;
}

/**
 * Workers AI's stream (`data: {"response":"..."}` events, the last one with `usage`, then
 * `data: [DONE]`) -> OpenAI chunks. A stream that ends without [DONE] is an upstream failure: the
 * output errors instead of ending cleanly.
 */
export function openAiStreamFromAi(kind: "chat" | "completion", meta: AnswerMeta, includeUsage: boolean): TransformStream<Uint8Array, Uint8Array> {
  const decoder = new SseDataDecoder();
  const encoder = new TextEncoder();
  const state: AiStreamState = { kind, meta, includeUsage, started: false, done: false, usage: undefined, toolCallCount: 0 };
  const translate = (payloads: string[], controller: TransformStreamDefaultController<Uint8Array>): void => {
    const out = translateAiEvents(state, payloads);
    if (out.length > 0) controller.enqueue(encoder.encode(out.join("")));
  };
  return new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      translate(decoder.push(chunk), controller);
    },
    flush(controller) {
      translate(decoder.finish(), controller);
      if (!state.done) throw new Error("Workers AI stream ended before data: [DONE]");
    },
  });
}

/**
 * A failed env.AI.run() as an HTTP upstream would answer. Workers AI errors carry a 4-digit code
 * in their message ("5006: ...", "3040: Capacity temporarily exceeded"); only input validation
 * messages are passed on, since they describe the client's own request.
 */
export function aiErrorResponse(err: unknown, model: string): InferenceResponse {
  const message = err instanceof Error ? err.message : String(err);
  const code = /\b([1-9]\d{3})\b/.exec(message)?.[1];
  console.error(JSON.stringify({ event: "workers_ai_error", code: code ?? null, name: err instanceof Error ? err.name : typeof err }));
  if (code === "5007" || /no such model/i.test(message)) return modelNotServed(model);
  if (code === "5006" || /validation|oneOf|required propert|type mismatch/i.test(message)) {
    const detail = (message.split("\n")[0] ?? "").replace(/^(AiError|Error|InferenceUpstreamError):\s*/i, "").slice(0, 300);
    return errorResponse(400, `Workers AI rejected the input: ${detail}`, "invalid_request_error");
  }
  if (code === "3040" || /capacity/i.test(message)) {
    return errorResponse(503, "Workers AI is over capacity, try again", "service_unavailable", "capacity_exceeded", null, { "retry-after": "1" });
  }
  if (code === "3036" || /rate limit|too many requests/i.test(message)) {
    return errorResponse(429, "Workers AI limit reached for this account", "rate_limit_error", "rate_limit_exceeded");
  }
  return errorResponse(502, `Workers AI request failed${code ? ` (code ${code})` : ""}`, "upstream_error", "upstream_error");
}

function malformedAnswer(): InferenceResponse {
  return errorResponse(502, "Workers AI answered in a shape this backend does not know", "upstream_error", "upstream_error");
}

/** `response` is text, or (JSON mode on some models) an object to serialize. */
function responseText(response: unknown): string | undefined {
  if (typeof response === "string") return response;
  if (isObject(response) || Array.isArray(response)) return JSON.stringify(response);
  return undefined;
}

/** Workers AI tool calls, legacy `{name, arguments: object}` or OpenAI-like, as OpenAI's. */
function openAiToolCalls(calls: unknown, firstIndex = 0): ToolCall[] {
  if (!Array.isArray(calls)) return [];
  return calls.filter(isObject).map((call, i) => {
    const fn = isObject(call.function) ? call.function : call;
    const args = fn.arguments;
    return {
      id: typeof call.id === "string" ? call.id : `call_${firstIndex + i}`,
      type: "function",
      function: { name: String(fn.name ?? ""), arguments: typeof args === "string" ? args : JSON.stringify(args ?? {}) },
    };
  });
}

function usageOf(usage: unknown): Usage {
  const count = (key: string) => (isObject(usage) && typeof usage[key] === "number" ? (usage[key] as number) : 0);
  const prompt = count("prompt_tokens");
  const completion = count("completion_tokens");
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: count("total_tokens") || prompt + completion };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
