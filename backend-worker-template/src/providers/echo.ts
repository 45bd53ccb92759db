// The echo provider: a deterministic, offline model. Chat answers echo the last user message,
// completions echo the prompt, embeddings are unit vectors derived from a SHA-256 of the input,
// responses (the Responses API, echo-responses.ts) echo the last user input.
// Tokens are counted as whitespace-separated words. ECHO_LATENCY_MS simulates a slow model.
import { INFERENCE_PATHS, type InferenceResponse } from "../../../shims/interfaces";
import type { BackendConfig } from "../config";
import type { CheckedRequest } from "../request-check";
import {
  badRequest,
  contentText,
  deadlineExceeded,
  embeddingBase64,
  jsonResponse,
  maxTokens,
  nowSeconds,
  streamResponse,
  wantsStreamUsage,
  type ChatCompletion,
  type ChatCompletionChunk,
  type Embeddings,
  type FinishReason,
  type TextCompletion,
  type Usage,
} from "./openai-shapes";
import { countTokens, digestHex, pause, truncate } from "./echo-text";
import { responses } from "./echo-responses";
import type { Provider } from "./provider";
import { byteStreamOf, SSE_DONE, sseEvent } from "./sse";

const DEFAULT_EMBEDDING_DIMENSIONS = 8;
const MAX_EMBEDDING_DIMENSIONS = 4096;

export const echoProvider: Provider = {
  endpoints: INFERENCE_PATHS,
  async infer(req, config) {
    const latency = config.echoLatencyMs;
    // Time to the first byte: the simulated model "thinks" before answering, never past the
    // attempt's stop time (nobody reads an answer after it). An answer due at or after the stop
    // time is a 504 at the stop time: decided from the clock before the wait, since a timer may
    // fire a little early or late.
    const dueAfterStop = Date.now() + latency >= req.stopAt;
    await pause(latency, req.stopAt);
    if (dueAfterStop || Date.now() >= req.stopAt) return deadlineExceeded();
    switch (req.path) {
      case "/v1/chat/completions":
        return chat(req, latency);
      case "/v1/completions":
        return completions(req, latency);
      case "/v1/embeddings":
        return embeddings(req);
      case "/v1/responses":
        return responses(req, latency);
    }
  },
  async health() {
    return { ok: true, detail: "echo provider (offline)" };
  },
};

async function chat(req: CheckedRequest, latency: number): Promise<InferenceResponse> {
  const messages = req.body.messages;
  if (!Array.isArray(messages) || messages.length === 0) return badRequest("messages must be a non-empty array", "messages");
  const texts = messages.map((m) => (typeof m === "object" && m !== null ? contentText((m as { content?: unknown }).content) : ""));
  const lastUser = messages.map((m, i) => ({ m, i })).reverse().find(({ m }) => (m as { role?: unknown } | null)?.role === "user");
  const answer = truncate(lastUser ? texts[lastUser.i]! : "", maxTokens(req.body));
  const usage = usageOf(texts.reduce((sum, text) => sum + countTokens(text), 0), answer.pieces.length);
  const id = `chatcmpl-${await digestHex(req.requestId)}`;
  const created = nowSeconds();

  if (!req.stream) {
    const completion: ChatCompletion = {
      id,
      object: "chat.completion",
      created,
      model: req.model,
      choices: [{ index: 0, message: { role: "assistant", content: answer.pieces.join("") }, logprobs: null, finish_reason: answer.finish }],
      usage,
    };
    return jsonResponse(completion);
  }

  const includeUsage = wantsStreamUsage(req.body);
  const chunk = (delta: ChatCompletionChunk["choices"][0]["delta"], finish: FinishReason | null): ChatCompletionChunk => ({
    id,
    object: "chat.completion.chunk",
    created,
    model: req.model,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    ...(includeUsage ? { usage: null } : {}),
  });
  async function* events(): AsyncGenerator<string> {
    yield sseEvent(chunk({ role: "assistant", content: "" }, null));
    for (const piece of answer.pieces) {
      await pause(latency, req.deadline);
      yield sseEvent(chunk({ content: piece }, null));
    }
    yield sseEvent(chunk({}, answer.finish));
    if (includeUsage) yield sseEvent({ id, object: "chat.completion.chunk", created, model: req.model, choices: [], usage });
    yield SSE_DONE;
  }
  return streamResponse(byteStreamOf(events()));
}

async function completions(req: CheckedRequest, latency: number): Promise<InferenceResponse> {
  const prompts = textInputs(req.body.prompt);
  if (!prompts) return badRequest("prompt must be a string, an array of strings, or token arrays", "prompt");
  const limit = maxTokens(req.body);
  const answers = prompts.map((prompt) => truncate(prompt, limit));
  const usage = usageOf(
    prompts.reduce((sum, prompt) => sum + countTokens(prompt), 0),
    answers.reduce((sum, answer) => sum + answer.pieces.length, 0),
  );
  const id = `cmpl-${await digestHex(req.requestId)}`;
  const created = nowSeconds();

  if (!req.stream) {
    const completion: TextCompletion = {
      id,
      object: "text_completion",
      created,
      model: req.model,
      choices: answers.map((answer, index) => ({ index, text: answer.pieces.join(""), logprobs: null, finish_reason: answer.finish })),
      usage,
    };
    return jsonResponse(completion);
  }

  const includeUsage = wantsStreamUsage(req.body);
  const chunk = (index: number, text: string, finish: FinishReason | null): TextCompletion => ({
    id,
    object: "text_completion",
    created,
    model: req.model,
    choices: [{ index, text, logprobs: null, finish_reason: finish }],
  });
  async function* events(): AsyncGenerator<string> {
    for (const [index, answer] of answers.entries()) {
      for (const piece of answer.pieces) {
        yield sseEvent(chunk(index, piece, null));
        await pause(latency, req.deadline);
      }
      yield sseEvent(chunk(index, "", answer.finish));
    }
    if (includeUsage) yield sseEvent({ id, object: "text_completion", created, model: req.model, choices: [], usage });
    yield SSE_DONE;
  }
  return streamResponse(byteStreamOf(events()));
}

async function embeddings(req: CheckedRequest): Promise<InferenceResponse> {
  const inputs = textInputs(req.body.input);
  if (!inputs) return badRequest("input must be a string, an array of strings, or token arrays", "input");
  const dimensions = req.body.dimensions ?? DEFAULT_EMBEDDING_DIMENSIONS;
  if (typeof dimensions !== "number" || !Number.isInteger(dimensions) || dimensions < 1 || dimensions > MAX_EMBEDDING_DIMENSIONS) {
    return badRequest(`dimensions must be an integer from 1 to ${MAX_EMBEDDING_DIMENSIONS}`, "dimensions");
  }
  const format = req.body.encoding_format ?? "float";
  if (format !== "float" && format !== "base64") return badRequest("encoding_format must be \"float\" or \"base64\"", "encoding_format");

  const data: Embeddings["data"] = [];
  for (const [index, input] of inputs.entries()) {
    const vector = await hashVector(input, dimensions);
    data.push({ object: "embedding", index, embedding: format === "base64" ? embeddingBase64(vector) : Array.from(vector) });
  }
  const tokens = inputs.reduce((sum, input) => sum + countTokens(input), 0);
  const answer: Embeddings = { object: "list", data, model: req.model, usage: { prompt_tokens: tokens, total_tokens: tokens } };
  return jsonResponse(answer);
}

/** OpenAI accepts a string, strings, a token array or token arrays; token arrays echo as their numbers. */
function textInputs(value: unknown): string[] | undefined {
  if (typeof value === "string") return [value];
  if (!Array.isArray(value) || value.length === 0) return undefined;
  if (value.every((item) => typeof item === "number")) return [value.join(" ")];
  if (value.every((item) => typeof item === "string")) return value as string[];
  if (value.every((item) => Array.isArray(item) && item.length > 0 && item.every((token) => typeof token === "number"))) {
    return (value as number[][]).map((tokens) => tokens.join(" "));
  }
  return undefined;
}

function usageOf(prompt: number, completion: number): Usage {
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

/** A unit vector of float32 values: each SHA-256 of (block number, text) gives 8 components. */
async function hashVector(text: string, dimensions: number): Promise<Float32Array> {
  const raw = new Float64Array(dimensions);
  for (let block = 0; block * 8 < dimensions; block++) {
    const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(`${block}\u0000${text}`));
    const words = new DataView(digest);
    for (let i = 0; i < 8 && block * 8 + i < dimensions; i++) raw[block * 8 + i] = (words.getUint32(i * 4) / 0xffffffff) * 2 - 1;
  }
  const norm = Math.hypot(...raw) || 1;
  return Float32Array.from(raw, (x) => x / norm);
}
