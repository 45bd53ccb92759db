// Workers AI's non-streamed answers as OpenAI's. Two shapes exist: the older models answer
// `{response, tool_calls?, usage?}` (e.g. https://developers.cloudflare.com/workers-ai/models/llama-3.1-8b-instruct/),
// the current ones OpenAI's own `{choices: [{message, finish_reason}], usage}` with the reasoning
// in `message.reasoning_content` (or `reasoning`) (e.g. https://developers.cloudflare.com/workers-ai/models/glm-4.7-flash/,
// .../gpt-oss-120b/, .../kimi-k2.5/).
import {
  embeddingBase64,
  type ChatCompletion,
  type Embeddings,
  type FinishReason,
  type TextCompletion,
  type ToolCall,
  type Usage,
} from "./openai-shapes";

/** Identity of the answer being built: OpenAI's id, created and model fields. */
export interface AnswerMeta {
  id: string;
  created: number;
  model: string;
  /** The max_tokens in force for this request (the client's, or Workers AI's default). */
  maxTokens: number;
}

/**
 * Workers AI's default max_tokens for the models that answer in the older `{response}` shape: their
 * input schemas give `max_tokens` a default of 256 (e.g. @cf/meta/llama-3.1-8b-instruct, the Llama
 * 2/3 and Mistral families). Such answers carry no finish_reason, so an answer that used the whole
 * budget is reported as cut ("length").
 */
export const WORKERS_AI_DEFAULT_MAX_TOKENS = 256;

type ChatChoice = ChatCompletion["choices"][number];

/** Workers AI's answer -> OpenAI chat.completion (undefined if not a known shape). */
export function chatCompletionFromAi(result: unknown, meta: AnswerMeta): ChatCompletion | undefined {
  if (!isObject(result)) return undefined;
  const usage = usageOf(result.usage);
  const choices = Array.isArray(result.choices) ? result.choices.filter(isObject).map((c, i) => openAiChoice(c, i, usage, meta)) : [legacyChoice(result, usage, meta)];
  if (choices.length === 0 || choices.some((c) => c === undefined)) return undefined;
  return { id: meta.id, object: "chat.completion", created: meta.created, model: meta.model, choices: choices as ChatChoice[], usage };
}

/** One `choices[i]` of an OpenAI-shaped answer, with reasoning passed as reasoning_content. */
function openAiChoice(choice: Record<string, unknown>, i: number, usage: Usage, meta: AnswerMeta): ChatChoice | undefined {
  const message = isObject(choice.message) ? choice.message : undefined;
  if (!message) return undefined;
  const toolCalls = openAiToolCalls(message.tool_calls);
  const reasoning = textOf(message.reasoning_content) ?? textOf(message.reasoning);
  return {
    index: typeof choice.index === "number" ? choice.index : i,
    message: {
      role: "assistant",
      content: responseText(message.content) ?? null,
      ...(reasoning !== undefined ? { reasoning_content: reasoning } : {}),
      ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
    },
    logprobs: (choice.logprobs ?? null) as null,
    finish_reason: finishReason(choice.finish_reason, toolCalls.length > 0, usage, meta),
  };
}

/** The one choice of an older `{response, tool_calls?}` answer. */
function legacyChoice(result: Record<string, unknown>, usage: Usage, meta: AnswerMeta): ChatChoice | undefined {
  const toolCalls = openAiToolCalls(result.tool_calls);
  const content = responseText(result.response);
  if (content === undefined && toolCalls.length === 0) return undefined;
  return {
    index: 0,
    message: { role: "assistant", content: content ?? null, ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}) },
    logprobs: null,
    finish_reason: finishReason(result.finish_reason, toolCalls.length > 0, usage, meta),
  };
}

/** Workers AI's answer to a prompt (`{response}`, or OpenAI's `choices[].text`) -> OpenAI text_completion. */
export function textCompletionFromAi(result: unknown, meta: AnswerMeta): TextCompletion | undefined {
  if (!isObject(result)) return undefined;
  const usage = usageOf(result.usage);
  const texts = Array.isArray(result.choices) ? result.choices.filter(isObject) : [{ text: responseText(result.response), finish_reason: result.finish_reason }];
  if (texts.length === 0 || texts.some((c) => typeof c.text !== "string")) return undefined;
  const choices = texts.map((c, i) => ({ index: i, text: c.text as string, logprobs: null, finish_reason: finishReason(c.finish_reason, false, usage, meta) }));
  return { id: meta.id, object: "text_completion", created: meta.created, model: meta.model, choices, usage };
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

/**
 * The finish_reason: the upstream's own when it gave one (never replaced by "stop"); otherwise
 * "tool_calls" when calls were made, "length" when the completion used the whole max_tokens in
 * force, else "stop".
 */
export function finishReason(upstream: unknown, calledTools: boolean, usage: Usage | undefined, meta: AnswerMeta): FinishReason {
  if (typeof upstream === "string" && upstream !== "") return upstream === "model_length" ? "length" : (upstream as FinishReason);
  if (calledTools) return "tool_calls";
  if (usage && usage.completion_tokens >= meta.maxTokens) return "length";
  return "stop";
}

/** `response` / `content` is text, or (JSON mode on some models) an object to serialize. */
export function responseText(response: unknown): string | undefined {
  if (typeof response === "string") return response;
  if (isObject(response) || Array.isArray(response)) return JSON.stringify(response);
  return undefined;
}

/** Whole tool calls, older `{name, arguments: object}` or OpenAI's, as OpenAI's (string arguments). */
export function openAiToolCalls(calls: unknown): ToolCall[] {
  if (!Array.isArray(calls)) return [];
  return calls.filter(isObject).map((call, i) => {
    const fn = isObject(call.function) ? call.function : call;
    const args = fn.arguments;
    return {
      id: typeof call.id === "string" && call.id !== "" ? call.id : `call_${i}`,
      type: "function",
      function: { name: String(fn.name ?? ""), arguments: typeof args === "string" ? args : JSON.stringify(args ?? {}) },
    };
  });
}

/** Workers AI's usage figures, passed on; a missing total is prompt + completion. */
export function usageOf(usage: unknown): Usage {
  const count = (key: string) => (isObject(usage) && typeof usage[key] === "number" ? (usage[key] as number) : 0);
  const prompt = count("prompt_tokens");
  const completion = count("completion_tokens");
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: count("total_tokens") || prompt + completion };
}

export function textOf(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
