// An Anthropic Message (https://docs.claude.com/en/api/messages, "Response") as OpenAI's
// chat.completion: text blocks are the content, tool_use blocks the tool_calls, thinking blocks
// the reasoning_content; stop_reason becomes finish_reason and usage OpenAI's counts. The answer
// is hostile until checked: anything not shaped as documented is ignored or refused.
import type { ChatCompletion, FinishReason, ToolCall, Usage } from "./openai-shapes";

export interface AnswerMeta {
  id: string;
  created: number;
  model: string;
}

/** OpenAI's usage, with the cached prompt tokens where OpenAI puts them. */
export type UsageWithCache = Usage & { prompt_tokens_details?: { cached_tokens: number } };

/**
 * stop_reason -> finish_reason (https://docs.claude.com/en/docs/build-with-claude/handling-stop-reasons):
 * a model that ended its turn or hit a stop sequence stopped; max_tokens and a full context window
 * cut the answer; tool_use asks for tool calls; refusal is a content filter. pause_turn (a server
 * tool loop paused) and anything new read as stop.
 */
export function finishReasonOf(stopReason: unknown): FinishReason {
  switch (stopReason) {
    case "max_tokens":
    case "model_context_window_exceeded":
      return "length";
    case "tool_use":
      return "tool_calls";
    case "refusal":
      return "content_filter";
    default:
      return "stop";
  }
}

/** A count that is a whole number >= 0, else 0. */
function count(value: unknown): number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0 ? value : 0;
}

/**
 * Anthropic's usage as OpenAI's: Anthropic counts cache reads and writes apart from input_tokens,
 * OpenAI's prompt_tokens holds them all (cached_tokens says how many were read from the cache).
 */
export function usageOf(usage: unknown, outputTokens?: number): UsageWithCache {
  const u = isObject(usage) ? usage : {};
  const cached = count(u.cache_read_input_tokens);
  const prompt = count(u.input_tokens) + count(u.cache_creation_input_tokens) + cached;
  const completion = outputTokens ?? count(u.output_tokens);
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion, ...(cached > 0 ? { prompt_tokens_details: { cached_tokens: cached } } : {}) };
}

/** The id OpenAI's clients see: Anthropic's message id when it is a plain token, else a fresh one. */
export function answerId(messageId: unknown): string {
  if (typeof messageId === "string" && /^[A-Za-z0-9_-]{1,128}$/.test(messageId)) return `chatcmpl-${messageId}`;
  return `chatcmpl-${crypto.randomUUID().replaceAll("-", "")}`;
}

/** The chat.completion for an Anthropic Message; undefined when it is not one. */
export function chatCompletionFromAnthropic(message: unknown, meta: Omit<AnswerMeta, "id">): ChatCompletion | undefined {
  if (!isObject(message) || message.type !== "message" || !Array.isArray(message.content)) return undefined;
  let text = "";
  let reasoning: string | undefined;
  const calls: ToolCall[] = [];
  for (const block of message.content.filter(isObject)) {
    if (block.type === "text" && typeof block.text === "string") text += block.text;
    else if (block.type === "thinking" && typeof block.thinking === "string") reasoning = (reasoning ?? "") + block.thinking;
    else if (block.type === "tool_use" && typeof block.id === "string" && typeof block.name === "string") {
      calls.push({ id: block.id, type: "function", function: { name: block.name, arguments: JSON.stringify(isObject(block.input) ? block.input : {}) } });
    }
    // redacted_thinking, server tool blocks and others carry nothing OpenAI's shape has room for.
  }
  const content = text !== "" || calls.length === 0 ? text : null;
  const chatMessage: ChatCompletion["choices"][number]["message"] = { role: "assistant", content };
  if (reasoning !== undefined) chatMessage.reasoning_content = reasoning;
  if (calls.length > 0) chatMessage.tool_calls = calls;
  return {
    id: answerId(message.id),
    object: "chat.completion",
    created: meta.created,
    model: meta.model,
    choices: [{ index: 0, message: chatMessage, logprobs: null, finish_reason: finishReasonOf(message.stop_reason) }],
    usage: usageOf(message.usage),
  };
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
