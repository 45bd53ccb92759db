// Workers AI's SSE streams as OpenAI's chunks. Two event shapes exist: the older models send
// `data: {"response":"...", "tool_calls"?, "usage"?}`, the current ones OpenAI's own
// `data: {"choices":[{"index","delta":{content, reasoning_content | reasoning, tool_calls},"finish_reason"}]}`
// (model pages such as https://developers.cloudflare.com/workers-ai/models/glm-4.7-flash/; Cloudflare's
// workers-ai-provider reads both). Streamed tool calls come in pieces sharing an `index`: the first
// with id and name, the next with argument text only, and sometimes a last all-null piece.
import { type AnswerMeta, finishReason, isObject, responseText, textOf, usageOf } from "./workers-ai-answers";
import type { ChatCompletion, ChatCompletionChunk, FinishReason, TextCompletion, ToolCallDelta, Usage } from "./openai-shapes";
import { SSE_DONE, SseDataDecoder, sseEvent } from "./sse";

type Delta = ChatCompletionChunk["choices"][number]["delta"];

/** One tool call being streamed: its index in the output, and whether its name was sent. */
interface CallState {
  index: number;
  named: boolean;
}

/** Where one choice of the stream stands. */
interface ChoiceState {
  /** Upstream tool call index -> the call in the output. */
  calls: Map<number, CallState>;
  callCount: number;
  finish: unknown;
}

/** Where one Workers AI stream's translation stands, carried from event to event. */
interface AiStreamState {
  readonly kind: "chat" | "completion";
  readonly meta: AnswerMeta;
  readonly includeUsage: boolean;
  started: boolean;
  done: boolean;
  usage: Usage | undefined;
  choices: Map<number, ChoiceState>;
}

function choiceState(s: AiStreamState, index: number): ChoiceState {
  let state = s.choices.get(index);
  if (!state) s.choices.set(index, (state = { calls: new Map(), callCount: 0, finish: undefined }));
  return state;
}

function chatChunk(meta: AnswerMeta, index: number, delta: Delta, finish: FinishReason | null): ChatCompletionChunk {
  return { id: meta.id, object: "chat.completion.chunk", created: meta.created, model: meta.model, choices: [{ index, delta, logprobs: null, finish_reason: finish }] };
}

function textChunk(meta: AnswerMeta, index: number, text: string, finish: FinishReason | null): TextCompletion {
  return { id: meta.id, object: "text_completion", created: meta.created, model: meta.model, choices: [{ index, text, logprobs: null, finish_reason: finish }] };
}

/**
 * The OpenAI pieces of some upstream tool call pieces: one output call per upstream index, its id
 * and name sent once, its argument text as it comes (clients append it). A call without an index
 * (older models send whole calls) is a call of its own. All-null pieces close a call: skipped.
 */
function toolCallDeltas(choice: ChoiceState, calls: unknown): ToolCallDelta[] {
  if (!Array.isArray(calls)) return [];
  const out: ToolCallDelta[] = [];
  for (const raw of calls.filter(isObject)) {
    const fn = isObject(raw.function) ? raw.function : raw;
    const name = textOf(fn.name);
    const args = typeof fn.arguments === "string" ? fn.arguments : fn.arguments == null ? undefined : JSON.stringify(fn.arguments);
    const upstreamIndex = typeof raw.index === "number" ? raw.index : undefined;
    const known = upstreamIndex === undefined ? undefined : choice.calls.get(upstreamIndex);
    if (known) {
      if (!args && (!name || known.named)) continue;
      out.push({ index: known.index, function: { ...(name && !known.named ? { name } : {}), arguments: args ?? "" } });
      known.named ||= name !== undefined;
      continue;
    }
    if (!name && !args && !textOf(raw.id)) continue;
    const call: CallState = { index: choice.callCount++, named: name !== undefined };
    if (upstreamIndex !== undefined) choice.calls.set(upstreamIndex, call);
    // A whole call without arguments means no arguments: "{}" keeps it parseable.
    const first = args ?? (upstreamIndex === undefined ? "{}" : "");
    out.push({ index: call.index, id: textOf(raw.id) ?? `call_${call.index}`, type: "function", function: { name: name ?? "", arguments: first } });
  }
  return out;
}

/** The output chunk of one upstream choice's delta (undefined when it carries nothing). */
function choiceChunk(s: AiStreamState, index: number, source: Record<string, unknown>): string | undefined {
  const choice = choiceState(s, index);
  const finish = textOf(source.finish_reason);
  if (finish !== undefined) choice.finish = finish;
  const delta = isObject(source.delta) ? source.delta : source;
  const text = responseText(delta.content) ?? responseText(delta.response) ?? textOf(source.text) ?? "";
  if (s.kind === "completion") return text !== "" ? sseEvent(textChunk(s.meta, index, text, null)) : undefined;
  const reasoning = textOf(delta.reasoning_content) ?? textOf(delta.reasoning);
  const calls = toolCallDeltas(choice, delta.tool_calls);
  const out: Delta = {};
  if (reasoning !== undefined) out.reasoning_content = reasoning;
  if (text !== "") out.content = text;
  if (calls.length > 0) out.tool_calls = calls;
  return Object.keys(out).length > 0 ? sseEvent(chatChunk(s.meta, index, out, null)) : undefined;
}

/** The SSE events of one Workers AI event (its `data:` text). */
function aiStreamEvent(s: AiStreamState, data: string): string[] {
  let event: unknown;
  try {
    event = JSON.parse(data);
  } catch {
    throw new Error("Workers AI stream carried an event that is not JSON");
  }
  if (!isObject(event)) return [];
  if ((event.error !== undefined || Array.isArray(event.errors)) && event.choices === undefined && event.response === undefined) {
    // An error reported mid-stream: the answer is cut, never a clean end.
    throw new Error("Workers AI stream carried an error event");
  }
  const out: string[] = [];
  if (isObject(event.usage)) s.usage = usageOf(event.usage);
  if (s.kind === "chat" && !s.started) out.push(sseEvent(chatChunk(s.meta, 0, { role: "assistant", content: "" }, null)));
  s.started = true;
  const sources = Array.isArray(event.choices) ? event.choices.filter(isObject) : [event];
  sources.forEach((source, i) => {
    const chunk = choiceChunk(s, typeof source.index === "number" ? source.index : i, source);
    if (chunk) out.push(chunk);
  });
  return out;
}

/** The SSE events that end the stream at Workers AI's [DONE]: a finish chunk per choice, usage, [DONE]. */
function aiStreamEnd(s: AiStreamState): string[] {
  const out: string[] = [];
  if (s.kind === "chat" && !s.started) out.push(sseEvent(chatChunk(s.meta, 0, { role: "assistant", content: "" }, null)));
  if (s.choices.size === 0) choiceState(s, 0);
  for (const [index, choice] of [...s.choices].sort(([a], [b]) => a - b)) {
    const finish = finishReason(choice.finish, choice.callCount > 0, s.usage, s.meta);
    out.push(sseEvent(s.kind === "chat" ? chatChunk(s.meta, index, {}, finish) : textChunk(s.meta, index, "", finish)));
  }
  if (s.includeUsage && s.usage) {
    out.push(sseEvent({ id: s.meta.id, object: s.kind === "chat" ? "chat.completion.chunk" : "text_completion", created: s.meta.created, model: s.meta.model, choices: [], usage: s.usage }));
  }
  out.push(SSE_DONE);
  s.done = true;
  return out;
}

/** The SSE events for some `data:` payloads of the stream; none after the end. */
function translateAiEvents(s: AiStreamState, payloads: string[]): string[] {
  const out: string[] = [];
  for (const data of payloads) {
    if (s.done) break;
    if (data.trim() === "[DONE]") out.push(...aiStreamEnd(s));
    else out.push(...aiStreamEvent(s, data));
  }
  return out;
}

/** The SSE error event that ends a stream cut for its size (as the openai-compatible relay does). */
function tooLargeEvent(maxBytes: number): string {
  const message = `The Workers AI answer is larger than this backend reads (MAX_UPSTREAM_BYTES = ${maxBytes} bytes)`;
  return sseEvent({ error: { message, type: "upstream_error", param: null, code: "upstream_response_too_large" } });
}

/**
 * Workers AI's stream -> OpenAI chunks ending with `data: [DONE]`. A stream that ends without
 * [DONE], or fails, makes the output error; one over `maxBytes` ends with an SSE error event and no
 * [DONE], and the rest is cancelled unread.
 */
export function openAiStreamFromAi(kind: "chat" | "completion", meta: AnswerMeta, includeUsage: boolean, maxBytes: number): TransformStream<Uint8Array, Uint8Array> {
  const decoder = new SseDataDecoder();
  const encoder = new TextEncoder();
  const state: AiStreamState = { kind, meta, includeUsage, started: false, done: false, usage: undefined, choices: new Map() };
  let bytes = 0;
  const translate = (payloads: string[], controller: TransformStreamDefaultController<Uint8Array>): void => {
    const out = translateAiEvents(state, payloads);
    if (out.length > 0) controller.enqueue(encoder.encode(out.join("")));
  };
  return new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      if (state.done) return;
      bytes += chunk.byteLength;
      if (bytes > maxBytes) {
        state.done = true;
        controller.enqueue(encoder.encode(tooLargeEvent(maxBytes)));
        return controller.terminate();
      }
      translate(decoder.push(chunk), controller);
    },
    flush(controller) {
      translate(decoder.finish(), controller);
      if (!state.done) throw new Error("Workers AI stream ended before data: [DONE]");
    },
  });
}

/**
 * A whole answer as the stream a streaming client expects. Some models answer a streaming request
 * with JSON (JSON Mode does not stream: https://developers.cloudflare.com/workers-ai/features/json-mode/),
 * which Cloudflare's workers-ai-provider also turns into a stream.
 */
export function streamOfAnswer(answer: ChatCompletion | TextCompletion, includeUsage: boolean): ReadableStream<Uint8Array> {
  const meta = { id: answer.id, created: answer.created, model: answer.model, maxTokens: 0 };
  const events: string[] = [];
  if (answer.object === "chat.completion") {
    events.push(sseEvent(chatChunk(meta, 0, { role: "assistant", content: "" }, null)));
    for (const { index, message, finish_reason } of answer.choices) {
      const delta: Delta = {};
      if (message.reasoning_content !== undefined) delta.reasoning_content = message.reasoning_content;
      if (message.content) delta.content = message.content;
      if (message.tool_calls) delta.tool_calls = message.tool_calls.map((call, i) => ({ index: i, ...call }));
      if (Object.keys(delta).length > 0) events.push(sseEvent(chatChunk(meta, index, delta, null)));
      events.push(sseEvent(chatChunk(meta, index, {}, finish_reason)));
    }
  } else {
    for (const { index, text, finish_reason } of answer.choices) events.push(sseEvent(textChunk(meta, index, text, finish_reason)));
  }
  if (includeUsage && answer.usage) events.push(sseEvent({ id: answer.id, object: answer.object === "chat.completion" ? "chat.completion.chunk" : "text_completion", created: answer.created, model: answer.model, choices: [], usage: answer.usage }));
  events.push(SSE_DONE);
  const bytes = new TextEncoder().encode(events.join(""));
  return new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(bytes);
      controller.close();
    },
  });
}
