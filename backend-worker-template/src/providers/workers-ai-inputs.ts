// OpenAI requests as env.AI.run() inputs. Current Workers AI text models take OpenAI's chat fields
// under OpenAI's names (their input schemas list stop, tool_choice, n, logprobs, top_logprobs,
// reasoning_effort, parallel_tool_calls, stream_options, max_completion_tokens ...: e.g.
// https://developers.cloudflare.com/workers-ai/models/glm-4.7-flash/), and the older ones accept
// what they know of them, so the client's fields are forwarded rather than picked from a list.
import type { InferenceResponse } from "../../../shims/interfaces";
import type { CheckedRequest } from "../request-check";
import { badRequest, contentText, maxTokens } from "./openai-shapes";

/**
 * Fields never forwarded, each because the binding cannot take it as the client sent it:
 * - model: the binding takes the (mapped) model as run()'s first argument;
 * - stream: set by this backend, only when streaming (a `stream: false` is the default anyway);
 * - max_tokens / max_completion_tokens: sent once, as max_tokens (below);
 * - prompt / messages: rebuilt below.
 */
const NOT_FORWARDED = new Set(["model", "stream", "max_tokens", "max_completion_tokens", "prompt", "messages"]);

/** The env.AI.run() inputs for an OpenAI request, or a 400 for what Workers AI cannot express. */
export function aiInputs(req: CheckedRequest): { inputs: Record<string, unknown> } | { error: InferenceResponse } {
  if (req.path === "/v1/embeddings") return embeddingInputs(req.body);
  const options = generationOptions(req);
  if (req.path === "/v1/chat/completions") {
    const messages = req.body.messages;
    if (!Array.isArray(messages) || messages.length === 0) return { error: badRequest("messages must be a non-empty array", "messages") };
    return { inputs: { messages: messages.map(aiMessage), ...options } };
  }
  const body = req.body;
  const prompt = Array.isArray(body.prompt) && body.prompt.length === 1 ? body.prompt[0] : body.prompt;
  if (typeof prompt !== "string") return { error: badRequest("prompt must be a string (workers-ai models take one text prompt)", "prompt") };
  return { inputs: { prompt, ...options } };
}

/**
 * The client's generation fields. Nulls are left out: OpenAI reads null as "absent", while the
 * older Workers AI schemas type each field and would refuse it. max_completion_tokens (current) or
 * max_tokens (legacy) is sent as max_tokens, which every Workers AI text model reads (the
 * OpenAI-shaped ones still accept it).
 */
function generationOptions(req: CheckedRequest): Record<string, unknown> {
  const options: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(req.body)) {
    if (!NOT_FORWARDED.has(key) && value !== null && value !== undefined) options[key] = value;
  }
  const limit = maxTokens(req.body);
  if (limit !== undefined) options.max_tokens = limit;
  if (req.stream) options.stream = true;
  return options;
}

function embeddingInputs(body: Record<string, unknown>): { inputs: Record<string, unknown> } | { error: InferenceResponse } {
  const input = body.input;
  const texts = typeof input === "string" ? input : Array.isArray(input) && input.length > 0 && input.every((x) => typeof x === "string") ? input : undefined;
  if (texts === undefined) return { error: badRequest("input must be a string or an array of strings (workers-ai models take text, not tokens)", "input") };
  if (body.dimensions !== undefined) return { error: badRequest("dimensions is not supported: workers-ai embedding models have a fixed size", "dimensions") };
  if (body.encoding_format !== undefined && body.encoding_format !== "float" && body.encoding_format !== "base64") {
    return { error: badRequest("encoding_format must be \"float\" or \"base64\"", "encoding_format") };
  }
  return { inputs: { text: texts } };
}

/**
 * One chat message as the binding takes it. Text-only content arrays become strings (every Workers
 * AI chat model takes those). A null or absent content (an assistant message that only calls
 * tools) becomes "": the binding refuses null content, and Cloudflare's workers-ai-provider sends
 * "" there too. Everything else (tool_calls, tool_call_id, name, ...) passes as it is, so tool
 * results reach the model.
 */
function aiMessage(message: unknown): unknown {
  if (typeof message !== "object" || message === null || Array.isArray(message)) return message;
  const content = (message as { content?: unknown }).content;
  if (content === null || content === undefined) return { ...message, content: "" };
  const textOnly = Array.isArray(content) && content.every((part) => (part as { type?: unknown } | null)?.type === "text");
  return textOnly ? { ...message, content: contentText(content) } : message;
}
