// Anthropic's Messages stream (https://docs.claude.com/en/docs/build-with-claude/streaming) as
// OpenAI's chat.completion.chunk events, event by event: message_start opens the answer (role
// chunk), content_block_start / content_block_delta carry text, thinking and tool calls (a
// tool_use block's id and name first, then its input_json_delta fragments as argument text, as
// OpenAI streams a call), message_delta the stop_reason and usage, message_stop ends it (finish
// chunk, usage chunk when asked, [DONE]). An `error` event, a stream cut before message_stop, one
// that fails or grows past MAX_UPSTREAM_BYTES ends with the SSE error event and no [DONE].
import { answerId, finishReasonOf, isObject, usageOf, type AnswerMeta } from "./anthropic-answer";
import type { ChatCompletionChunk, FinishReason } from "./openai-shapes";
import { SSE_DONE, SseDataDecoder, sseEvent } from "./sse";
import { streamErrorEvent } from "./upstream-body";
import { safeText } from "./upstream-error";

type Delta = ChatCompletionChunk["choices"][number]["delta"];

/** Why the stream cannot go on: it ends with an SSE error event carrying this. */
class Broken extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

/** Where one stream's translation stands, carried from event to event. */
interface StreamState {
  meta: AnswerMeta;
  readonly includeUsage: boolean;
  started: boolean;
  done: boolean;
  /** Anthropic's usage so far: message_start's, updated by message_delta's (cumulative). */
  usage: Record<string, unknown>;
  stopReason: unknown;
  /** Content block index -> the OpenAI tool call index of a tool_use block. */
  calls: Map<number, number>;
}

function chunk(s: StreamState, delta: Delta, finish: FinishReason | null = null): string {
  const body: ChatCompletionChunk = { id: s.meta.id, object: "chat.completion.chunk", created: s.meta.created, model: s.meta.model, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] };
  return sseEvent(body);
}

/** The role chunk, once, before anything else. */
function opening(s: StreamState): string[] {
  if (s.started) return [];
  s.started = true;
  return [chunk(s, { role: "assistant", content: "" })];
}

function blockStart(s: StreamState, index: number, block: Record<string, unknown>): string[] {
  if (block.type === "tool_use" && typeof block.id === "string" && typeof block.name === "string") {
    const call = s.calls.size;
    s.calls.set(index, call);
    return [chunk(s, { tool_calls: [{ index: call, id: block.id, type: "function", function: { name: block.name, arguments: "" } }] })];
  }
  if (block.type === "text" && typeof block.text === "string" && block.text !== "") return [chunk(s, { content: block.text })];
  if (block.type === "thinking" && typeof block.thinking === "string" && block.thinking !== "") return [chunk(s, { reasoning_content: block.thinking })];
  return [];
}

function blockDelta(s: StreamState, index: number, delta: Record<string, unknown>): string[] {
  if (delta.type === "text_delta" && typeof delta.text === "string") return [chunk(s, { content: delta.text })];
  if (delta.type === "thinking_delta" && typeof delta.thinking === "string") return [chunk(s, { reasoning_content: delta.thinking })];
  if (delta.type === "input_json_delta" && typeof delta.partial_json === "string") {
    const call = s.calls.get(index);
    if (call === undefined) throw new Broken("The upstream stream sent tool input for a block that is not a tool call", "upstream_invalid_response");
    return delta.partial_json === "" ? [] : [chunk(s, { tool_calls: [{ index: call, function: { arguments: delta.partial_json } }] })];
  }
  // signature_delta, citations_delta and newer kinds carry nothing OpenAI's chunks have room for.
  return [];
}

/** The end at message_stop: the finish chunk, the usage chunk when asked, [DONE]. */
function ending(s: StreamState): string[] {
  const finish = s.stopReason === undefined || s.stopReason === null ? (s.calls.size > 0 ? "tool_calls" : "stop") : finishReasonOf(s.stopReason);
  const out = [...opening(s), chunk(s, {}, finish)];
  if (s.includeUsage) out.push(sseEvent({ id: s.meta.id, object: "chat.completion.chunk", created: s.meta.created, model: s.meta.model, choices: [], usage: usageOf(s.usage) }));
  out.push(SSE_DONE);
  s.done = true;
  return out;
}

/** The OpenAI events of one Anthropic event (its data: text). */
function translateEvent(s: StreamState, data: string): string[] {
  let event: unknown;
  try {
    event = JSON.parse(data);
  } catch {
    throw new Broken("The upstream stream carried an event that is not JSON", "upstream_invalid_response");
  }
  if (!isObject(event)) return [];
  const index = typeof event.index === "number" ? event.index : -1;
  switch (event.type) {
    case "message_start": {
      const message = isObject(event.message) ? event.message : {};
      s.meta = { ...s.meta, id: answerId(message.id) };
      if (isObject(message.usage)) s.usage = { ...message.usage };
      return opening(s);
    }
    case "content_block_start":
      return [...opening(s), ...(isObject(event.content_block) ? blockStart(s, index, event.content_block) : [])];
    case "content_block_delta":
      return [...opening(s), ...(isObject(event.delta) ? blockDelta(s, index, event.delta) : [])];
    case "message_delta":
      if (isObject(event.delta) && event.delta.stop_reason !== undefined) s.stopReason = event.delta.stop_reason;
      if (isObject(event.usage)) s.usage = { ...s.usage, ...event.usage };
      return [];
    case "message_stop":
      return ending(s);
    case "error":
      throw midStreamError(event.error);
    default:
      // ping, content_block_stop, and event types Anthropic may add: nothing to send.
      return [];
  }
}

/** An `error` event (e.g. overloaded_error, what a 529 is mid-stream): its message and type, made safe. */
function midStreamError(error: unknown): Broken {
  const e = isObject(error) ? error : {};
  const type = typeof e.type === "string" && /^[a-z][a-z_]{0,63}$/.test(e.type) ? e.type : "stream_interrupted";
  const message = typeof e.message === "string" ? safeText(e.message) : "";
  return new Broken(`The upstream stream failed: ${message || type}`, type);
}

/**
 * Anthropic's SSE body -> OpenAI's chunks, pulled (never read ahead). Cancelling it (the router
 * abandoning the stream) cancels the upstream body and calls `onCancel`, which stops the call.
 */
export function openAiStreamFromAnthropic(upstream: ReadableStream<Uint8Array>, meta: AnswerMeta, includeUsage: boolean, maxBytes: number, onCancel: () => void): ReadableStream<Uint8Array> {
  const reader = upstream.getReader();
  const decoder = new SseDataDecoder();
  const encoder = new TextEncoder();
  const state: StreamState = { meta, includeUsage, started: false, done: false, usage: {}, stopReason: undefined, calls: new Map() };
  let bytes = 0;
  const broken = (controller: ReadableStreamDefaultController<Uint8Array>, message: string, code: string): void => {
    state.done = true;
    reader.cancel().catch(() => {});
    controller.enqueue(encoder.encode(streamErrorEvent(message, code)));
    controller.close();
  };
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        // Events that send nothing (ping) are read past: a pull must send something or end.
        for (;;) {
          const step = await nextStep(reader, decoder, state, (n) => (bytes += n) > maxBytes);
          if (step.out.length > 0) controller.enqueue(encoder.encode(step.out.join("")));
          if (step.kind === "broken") return broken(controller, step.message, step.code);
          if (state.done) {
            reader.cancel().catch(() => {});
            return controller.close();
          }
          if (step.out.length > 0) return;
        }
      },
      async cancel(reason) {
        // Cancelled first, aborted after: an aborted body would make the cancel itself fail.
        const cancelled = reader.cancel(reason).catch(() => {});
        onCancel();
        await cancelled;
      },
    },
    { highWaterMark: 0 },
  );
}

/** The events translated, and why the stream ends here when it is broken (after those events). */
type Step = { kind: "events"; out: string[] } | { kind: "broken"; out: string[]; message: string; code: string };

/** Reads one upstream chunk and translates the events it completes. */
async function nextStep(reader: ReadableStreamDefaultReader<Uint8Array>, decoder: SseDataDecoder, state: StreamState, tooLong: (bytes: number) => boolean): Promise<Step> {
  let next: ReadableStreamReadResult<Uint8Array>;
  try {
    next = await reader.read();
  } catch {
    return { kind: "broken", out: [], message: "The upstream stream failed before it was complete", code: "stream_interrupted" };
  }
  if (next.done) {
    const step = translateAll(state, decoder.finish());
    if (step.kind === "events" && !state.done) return { kind: "broken", out: step.out, message: "The upstream stream ended before it was complete", code: "stream_interrupted" };
    return step;
  }
  if (tooLong(next.value.byteLength)) return { kind: "broken", out: [], message: "The upstream stream was longer than this backend reads (MAX_UPSTREAM_BYTES)", code: "upstream_response_too_large" };
  return translateAll(state, decoder.push(next.value));
}

/** The events of some payloads; a broken event ends the step with those before it kept. */
function translateAll(state: StreamState, payloads: string[]): Step {
  const out: string[] = [];
  for (const data of payloads) {
    if (state.done) break;
    try {
      out.push(...translateEvent(state, data));
    } catch (err) {
      if (err instanceof Broken) return { kind: "broken", out, message: err.message, code: err.code };
      throw err;
    }
  }
  return { kind: "events", out };
}
