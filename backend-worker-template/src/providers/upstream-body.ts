// Reading an upstream's answer with a size bound, and relaying its SSE stream while checking it
// ends the way its API's streams end (`data: [DONE]`; for the Responses API a terminal event):
// a stream cut short must never look like a clean answer.
import type { InferencePath } from "../../../shims/interfaces";
import { sseEvent, sseTypedEvent } from "./sse";

export type BoundedRead = { ok: true; text: string } | { ok: false; reason: "too_large" | "failed" };

/** The body's text, or why not: larger than `maxBytes` (the rest is cancelled) or a read error. */
export async function readBounded(body: ReadableStream<Uint8Array> | null, declaredLength: string | null, maxBytes: number): Promise<BoundedRead> {
  if (!body) return { ok: true, text: "" };
  if (declaredLength !== null && Number(declaredLength) > maxBytes) {
    await body.cancel().catch(() => {});
    return { ok: false, reason: "too_large" };
  }
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let text = "";
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return { ok: true, text: text + decoder.decode() };
      total += value.byteLength;
      if (total > maxBytes) {
        await reader.cancel().catch(() => {});
        return { ok: false, reason: "too_large" };
      }
      text += decoder.decode(value, { stream: true });
    }
  } catch {
    return { ok: false, reason: "failed" };
  }
}

/**
 * The SSE error event that ends a broken stream (no `[DONE]` follows it); for /v1/responses the
 * Responses API's own `event: error` (`{"type":"error","code","message","param"}`).
 */
export function streamErrorEvent(message: string, code: string, path?: InferencePath): string {
  if (path === "/v1/responses") return sseTypedEvent("error", { code, message, param: null });
  return sseEvent({ error: { message, type: "upstream_error", param: null, code } });
}

/**
 * The upstream's SSE bytes, relayed chunk by chunk as they arrive (pulled, never read ahead).
 * When the upstream errors, ends incomplete (without `data: [DONE]`; for `path` /v1/responses
 * without a terminal event) or sends more than `maxBytes`, the relay ends with the SSE error event
 * instead. Cancelling the relay (the router abandoning the stream)
 * cancels the upstream body and calls `onCancel`, which stops the upstream call itself.
 */
export function relaySse(upstream: ReadableStream<Uint8Array>, maxBytes: number, onCancel: () => void = () => {}, path?: InferencePath): ReadableStream<Uint8Array> {
  const reader = upstream.getReader();
  const tail = new SseTail(path === "/v1/responses");
  let total = 0;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        let next: ReadableStreamReadResult<Uint8Array>;
        try {
          next = await reader.read();
        } catch {
          return endBroken(controller, tail, "The upstream stream failed before it was complete", "stream_interrupted", path);
        }
        if (next.done) {
          if (!tail.complete()) return endBroken(controller, tail, "The upstream stream ended before it was complete", "stream_interrupted", path);
          const missing = tail.missingEventEnd();
          if (missing) controller.enqueue(new TextEncoder().encode(missing));
          return controller.close();
        }
        total += next.value.byteLength;
        if (total > maxBytes) {
          reader.cancel().catch(() => {});
          return endBroken(controller, tail, `The upstream stream was longer than ${maxBytes} bytes`, "upstream_response_too_large", path);
        }
        tail.push(next.value);
        controller.enqueue(next.value);
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

function endBroken(controller: ReadableStreamDefaultController<Uint8Array>, tail: SseTail, message: string, code: string, path?: InferencePath): void {
  // The error event starts on a fresh event even if the upstream stopped mid-line.
  controller.enqueue(new TextEncoder().encode(tail.missingEventEnd() + streamErrorEvent(message, code, path)));
  controller.close();
}

// A Responses API stream is complete once one of these came (failed and incomplete report their
// failure in-band).
const TERMINAL_RESPONSE_EVENTS = new Set(["response.completed", "response.failed", "response.incomplete"]);
// The type of an event, from its `event:` line or its data's leading "type" (whole lines only).
const EVENT_TYPE_LINE = /[\r\n](?:event: ?([^\r\n]*)|data: ?\{"type": ?"([^"\r\n]*)"[^\r\n]*)[\r\n]/g;
const latin1 = new TextDecoder("latin1");

/**
 * The last bytes relayed, enough to see whether the stream's last line is `data: [DONE]` (which
 * may arrive split across chunks); for a Responses stream, the type of the latest event (a
 * Response's final event repeats the whole answer, far more than a tail). Bytes map to chars one
 * to one: the markers are ASCII.
 */
class SseTail {
  private static readonly KEEP = 256;
  // The stream's start counts as a line start.
  private text = "\n";
  private received = false;
  private lastType: string | undefined;

  constructor(private readonly typedEvents: boolean) {}

  push(chunk: Uint8Array): void {
    if (chunk.byteLength > 0) this.received = true;
    if (this.typedEvents) this.lastType = lastEventType(this.text + latin1.decode(chunk)) ?? this.lastType;
    const start = Math.max(0, chunk.byteLength - SseTail.KEEP);
    this.text = (this.text + String.fromCharCode(...chunk.subarray(start))).slice(-SseTail.KEEP);
  }

  complete(): boolean {
    if (this.typedEvents) return this.lastType !== undefined && TERMINAL_RESPONSE_EVENTS.has(this.lastType.trim());
    return /[\r\n]data: ?\[DONE\][ \t]*[\r\n]*$/.test(this.text);
  }

  /** The line ends that complete the last event: "" when it is complete or nothing came. */
  missingEventEnd(): string {
    if (!this.received) return "";
    const lineEnds = /[\r\n]*$/.exec(this.text)![0].replaceAll("\r\n", "\n").length;
    if (lineEnds >= 2) return "";
    // After a lone CR, one LF would only make it a CRLF: the same single line end.
    return lineEnds === 1 && !this.text.endsWith("\r") ? "\n" : "\n\n";
  }
}

/** The type of the last event whose type line is whole in `text`, else undefined. */
function lastEventType(text: string): string | undefined {
  let type: string | undefined;
  for (const match of text.matchAll(EVENT_TYPE_LINE)) type = match[1] ?? match[2];
  return type;
}
