// OpenAI's response shapes and the InferenceResponses that carry them.
import type { InferenceResponse, OpenAIErrorBody } from "../../../shims/interfaces";
import { SSE_CONTENT_TYPE } from "./sse";

export const JSON_CONTENT_TYPE = "application/json";

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export interface ToolCall {
  id: string;
  type: "function";
  function: { name: string; arguments: string };
}

/**
 * One piece of a streamed tool call: the first piece of a call carries its id and name, later
 * pieces (same `index`) only argument text, which clients append (OpenAI's streaming shape).
 */
export interface ToolCallDelta {
  index: number;
  id?: string;
  type?: "function";
  function?: { name?: string; arguments?: string };
}

export interface ChatCompletion {
  id: string;
  object: "chat.completion";
  created: number;
  model: string;
  choices: {
    index: number;
    /** reasoning_content: the model's reasoning text, as DeepSeek, vLLM and Workers AI models name it. */
    message: { role: "assistant"; content: string | null; reasoning_content?: string; tool_calls?: ToolCall[] };
    logprobs: null;
    finish_reason: FinishReason;
  }[];
  usage: Usage;
}

export interface ChatCompletionChunk {
  id: string;
  object: "chat.completion.chunk";
  created: number;
  model: string;
  choices: {
    index: number;
    delta: { role?: "assistant"; content?: string; reasoning_content?: string; tool_calls?: ToolCallDelta[] };
    logprobs: null;
    finish_reason: FinishReason | null;
  }[];
  usage?: Usage | null;
}

export interface TextCompletion {
  id: string;
  object: "text_completion";
  created: number;
  model: string;
  choices: { index: number; text: string; logprobs: null; finish_reason: FinishReason | null }[];
  usage?: Usage;
}

export interface Embeddings {
  object: "list";
  data: { object: "embedding"; index: number; embedding: number[] | string }[];
  model: string;
  usage: { prompt_tokens: number; total_tokens: number };
}

export type FinishReason = "stop" | "length" | "tool_calls" | "content_filter" | "function_call";

/** Unix seconds, as OpenAI's `created`. */
export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

export function jsonResponse(body: unknown, status = 200, headers: Record<string, string> = {}): InferenceResponse {
  return { status, headers: { "content-type": JSON_CONTENT_TYPE, ...headers }, body };
}

export function streamResponse(stream: ReadableStream<Uint8Array>): InferenceResponse {
  return { status: 200, headers: { "content-type": SSE_CONTENT_TYPE, "cache-control": "no-cache" }, stream };
}

export function errorBody(message: string, type: string, code: string | null = null, param: string | null = null): OpenAIErrorBody {
  return { error: { message, type, param, code } };
}

export function errorResponse(
  status: number,
  message: string,
  type: string,
  code: string | null = null,
  param: string | null = null,
  headers: Record<string, string> = {},
): InferenceResponse {
  return jsonResponse(errorBody(message, type, code, param), status, headers);
}

export function badRequest(message: string, param: string | null = null): InferenceResponse {
  return errorResponse(400, message, "invalid_request_error", null, param);
}

export function modelNotServed(model: string): InferenceResponse {
  return errorResponse(404, `The model \`${model}\` does not exist or is not served by this backend`, "invalid_request_error", "model_not_found", "model");
}

export function deadlineExceeded(): InferenceResponse {
  return errorResponse(504, "The request deadline passed before the backend could answer", "timeout", "timeout");
}

/**
 * The text of a chat message's `content`: a string, or an array of parts of which the text parts
 * count (images and audio carry no text).
 */
export function contentText(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content
    .map((part) => (typeof part === "object" && part !== null && (part as { type?: unknown }).type === "text" ? (part as { text?: unknown }).text : undefined))
    .filter((text): text is string => typeof text === "string")
    .join("\n");
}

/** `max_completion_tokens` (current) or `max_tokens` (legacy), when a positive integer. */
export function maxTokens(body: Record<string, unknown>): number | undefined {
  const value = body.max_completion_tokens ?? body.max_tokens;
  return typeof value === "number" && Number.isInteger(value) && value > 0 ? value : undefined;
}

/** Whether the client asked for a final usage chunk (`stream_options.include_usage`). */
export function wantsStreamUsage(body: Record<string, unknown>): boolean {
  const options = body.stream_options;
  return typeof options === "object" && options !== null && (options as { include_usage?: unknown }).include_usage === true;
}

/** OpenAI's base64 embedding encoding: the little-endian float32 bytes. */
export function embeddingBase64(vector: ArrayLike<number>): string {
  const bytes = new Uint8Array(vector.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < vector.length; i++) view.setFloat32(i * 4, vector[i]!, true);
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}
