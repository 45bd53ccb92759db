// An OpenAI chat completions body as an Anthropic Messages API request body
// (https://docs.claude.com/en/api/messages): system and developer messages become the top-level
// `system`, tool calls and tool results become tool_use / tool_result blocks, consecutive messages
// of one role are merged (Anthropic's roles alternate), images become image blocks. What Anthropic
// cannot do is refused with a 400 naming the field, never sent for the upstream to guess at.
import type { InferenceResponse } from "../../../shims/interfaces";
import { badRequest, contentText, maxTokens } from "./openai-shapes";

type Block = Record<string, unknown>;
interface AnthropicMessage {
  role: "user" | "assistant";
  content: Block[];
}
export type AnthropicRequest = { ok: true; body: Record<string, unknown> } | { ok: false; answer: InferenceResponse };

/** A refusal of the client's request, with the field that caused it. */
class Refused extends Error {
  constructor(
    message: string,
    readonly param: string,
  ) {
    super(message);
  }
}

/**
 * Fields not sent, and why: Anthropic's Messages API has no equivalent of frequency_penalty,
 * presence_penalty, logit_bias, logprobs, top_logprobs, seed, audio, modalities, prediction,
 * service_tier, store or response_format (its structured outputs take another shape), and
 * stream_options is this backend's own concern (it writes the usage chunk). Everything not read
 * below is dropped: a field Anthropic does not know would make it answer 400.
 */
export function anthropicRequest(body: Record<string, unknown>, model: string, stream: boolean, defaultMaxTokens: number): AnthropicRequest {
  try {
    if (body.n !== undefined && body.n !== null && body.n !== 1) throw new Refused("n > 1 is not supported: Anthropic answers one choice per request", "n");
    if (!Array.isArray(body.messages)) throw new Refused("messages must be a list", "messages");
    const { system, messages } = translateMessages(body.messages);
    const out: Record<string, unknown> = { model, messages, max_tokens: maxTokens(body) ?? defaultMaxTokens };
    if (system !== "") out.system = system;
    const stop = stopSequences(body.stop);
    if (stop) out.stop_sequences = stop;
    if (typeof body.temperature === "number") out.temperature = body.temperature;
    if (typeof body.top_p === "number") out.top_p = body.top_p;
    // OpenAI's end-user id is what Anthropic's metadata.user_id is for.
    if (typeof body.user === "string" && body.user !== "") out.metadata = { user_id: body.user };
    Object.assign(out, toolFields(body));
    if (stream) out.stream = true;
    return { ok: true, body: out };
  } catch (err) {
    if (err instanceof Refused) return { ok: false, answer: badRequest(err.message, err.param) };
    throw err;
  }
}

/** The system text and the alternating user/assistant messages. */
function translateMessages(list: unknown[]): { system: string; messages: AnthropicMessage[] } {
  const system: string[] = [];
  const messages: AnthropicMessage[] = [];
  list.forEach((raw, i) => {
    const message = isObject(raw) ? raw : {};
    const role = message.role;
    if (role === "system" || role === "developer") return void system.push(contentText(message.content));
    const translated = translateMessage(message, `messages[${i}]`);
    const last = messages[messages.length - 1];
    // Anthropic's roles alternate: a tool result after another, or two user messages, become one turn.
    if (last && last.role === translated.role) last.content.push(...translated.content);
    else messages.push(translated);
  });
  return { system: system.filter((text) => text !== "").join("\n\n"), messages };
}

function translateMessage(message: Record<string, unknown>, at: string): AnthropicMessage {
  switch (message.role) {
    case "user":
      return { role: "user", content: contentBlocks(message.content, `${at}.content`) };
    case "assistant":
      return { role: "assistant", content: [...contentBlocks(message.content ?? "", `${at}.content`), ...toolUseBlocks(message.tool_calls, `${at}.tool_calls`)] };
    case "tool":
      if (typeof message.tool_call_id !== "string" || message.tool_call_id === "") throw new Refused("a tool message needs its tool_call_id", `${at}.tool_call_id`);
      return { role: "user", content: [{ type: "tool_result", tool_use_id: message.tool_call_id, content: contentText(message.content) }] };
    default:
      throw new Refused(`role ${JSON.stringify(message.role)} is not supported by the anthropic provider (system, developer, user, assistant, tool)`, `${at}.role`);
  }
}

/** A message's content as Anthropic blocks: text, and images from image_url parts. */
function contentBlocks(content: unknown, at: string): Block[] {
  if (typeof content === "string") return content === "" ? [] : [{ type: "text", text: content }];
  if (!Array.isArray(content)) throw new Refused("content must be a string or a list of parts", at);
  return content.map((part, i) => {
    const p = isObject(part) ? part : {};
    if (p.type === "text" && typeof p.text === "string") return { type: "text", text: p.text };
    if (p.type === "image_url") return imageBlock(p.image_url, `${at}[${i}].image_url`);
    throw new Refused(`content part type ${JSON.stringify(p.type)} is not supported by the anthropic provider (text, image_url)`, `${at}[${i}]`);
  });
}

const DATA_URL = /^data:(image\/[a-z0-9.+-]+);base64,([A-Za-z0-9+/=\s]+)$/i;

/** An image part: a base64 data URL as a base64 source, an http(s) URL as a url source. */
function imageBlock(imageUrl: unknown, at: string): Block {
  const url = isObject(imageUrl) ? imageUrl.url : imageUrl;
  if (typeof url !== "string") throw new Refused("image_url.url must be a string", at);
  const data = DATA_URL.exec(url);
  if (data) return { type: "image", source: { type: "base64", media_type: data[1]!.toLowerCase(), data: data[2]!.replace(/\s+/g, "") } };
  if (/^https?:\/\//i.test(url)) return { type: "image", source: { type: "url", url } };
  throw new Refused("image_url.url must be an http(s) URL or a base64 data URL of an image", at);
}

/** Assistant tool_calls as tool_use blocks; their arguments must be JSON objects. */
function toolUseBlocks(calls: unknown, at: string): Block[] {
  if (calls === undefined || calls === null) return [];
  if (!Array.isArray(calls)) throw new Refused("tool_calls must be a list", at);
  return calls.map((raw, i) => {
    const call = isObject(raw) ? raw : {};
    const fn = isObject(call.function) ? call.function : {};
    if (typeof call.id !== "string" || typeof fn.name !== "string") throw new Refused("a tool call needs an id and a function name", `${at}[${i}]`);
    const text = typeof fn.arguments === "string" && fn.arguments.trim() !== "" ? fn.arguments : "{}";
    let input: unknown;
    try {
      input = JSON.parse(text);
    } catch {
      throw new Refused("tool call arguments must be JSON", `${at}[${i}].function.arguments`);
    }
    if (!isObject(input)) throw new Refused("tool call arguments must be a JSON object", `${at}[${i}].function.arguments`);
    return { type: "tool_use", id: call.id, name: fn.name, input };
  });
}

/** stop (a string or a list of strings) as stop_sequences. */
function stopSequences(stop: unknown): string[] | undefined {
  if (typeof stop === "string") return stop === "" ? undefined : [stop];
  if (Array.isArray(stop) && stop.every((s) => typeof s === "string")) return stop.length > 0 ? stop : undefined;
  if (stop === undefined || stop === null) return undefined;
  throw new Refused("stop must be a string or a list of strings", "stop");
}

/** tools, tool_choice and parallel_tool_calls as Anthropic's tools and tool_choice. */
function toolFields(body: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (Array.isArray(body.tools) && body.tools.length > 0) out.tools = body.tools.map((tool, i) => toolDefinition(tool, `tools[${i}]`));
  const choice = toolChoice(body.tool_choice);
  if (body.parallel_tool_calls === false && (choice === undefined || choice.type !== "none") && out.tools) {
    out.tool_choice = { ...(choice ?? { type: "auto" }), disable_parallel_tool_use: true };
  } else if (choice) out.tool_choice = choice;
  return out;
}

function toolDefinition(tool: unknown, at: string): Block {
  const t = isObject(tool) ? tool : {};
  const fn = isObject(t.function) ? t.function : undefined;
  if (t.type !== "function" || !fn || typeof fn.name !== "string") throw new Refused("only function tools with a name are supported by the anthropic provider", at);
  // Anthropic requires an input schema; a function without parameters takes none.
  const schema = isObject(fn.parameters) ? fn.parameters : { type: "object", properties: {} };
  return { name: fn.name, ...(typeof fn.description === "string" ? { description: fn.description } : {}), input_schema: schema };
}

/** auto / none / required / {type: function, function: {name}} -> auto / none / any / {type: tool, name}. */
function toolChoice(choice: unknown): Block | undefined {
  if (choice === undefined || choice === null) return undefined;
  if (choice === "auto") return { type: "auto" };
  if (choice === "none") return { type: "none" };
  if (choice === "required") return { type: "any" };
  if (isObject(choice) && isObject(choice.function) && typeof choice.function.name === "string") return { type: "tool", name: choice.function.name };
  throw new Refused("tool_choice must be auto, none, required or a named function", "tool_choice");
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
