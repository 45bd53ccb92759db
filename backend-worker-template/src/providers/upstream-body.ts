// Reading an upstream's answer with a size bound, and relaying its SSE stream while checking it
// ends with `data: [DONE]`: a stream cut short must never look like a clean answer.
import { sseEvent } from "./sse";

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

/** The SSE error event that ends a broken stream (no `[DONE]` follows it). */
export function streamErrorEvent(message: string, code: string): string {
  return sseEvent({ error: { message, type: "upstream_error", param: null, code } });
}

/**
 * The upstream's SSE bytes, relayed chunk by chunk as they arrive (pulled, never read ahead).
 * When the upstream errors, ends without `data: [DONE]` or sends more than `maxBytes`, the relay
 * ends with the SSE error event instead. Cancelling the relay (the router abandoning the stream)
 * cancels the upstream body and calls `onCancel`, which stops the upstream call itself.
 */
export function relaySse(upstream: ReadableStream<Uint8Array>, maxBytes: number, onCancel: () => void = () => {}): ReadableStream<Uint8Array> {
  const reader = upstream.getReader();
  const tail = new SseTail();
  let total = 0;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        let next: ReadableStreamReadResult<Uint8Array>;
        try {
          next = await reader.read();
        } catch {
          return endBroken(controller, tail, "The upstream stream failed before it was complete", "stream_interrupted");
        }
        if (next.done) {
          if (!tail.endsWithDone()) return endBroken(controller, tail, "The upstream stream ended before it was complete", "stream_interrupted");
          const missing = tail.missingEventEnd();
          if (missing) controller.enqueue(new TextEncoder().encode(missing));
          return controller.close();
        }
        total += next.value.byteLength;
        if (total > maxBytes) {
          reader.cancel().catch(() => {});
          return endBroken(controller, tail, `The upstream stream was longer than ${maxBytes} bytes`, "upstream_response_too_large");
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

function endBroken(controller: ReadableStreamDefaultController<Uint8Array>, tail: SseTail, message: string, code: string): void {
  // The error event starts on a fresh event even if the upstream stopped mid-line.
  controller.enqueue(new TextEncoder().encode(tail.missingEventEnd() + streamErrorEvent(message, code)));
  controller.close();
}

/**
 * The last bytes relayed, enough to see whether the stream's last line is `data: [DONE]` (which
 * may arrive split across chunks). Bytes map to chars one to one: the markers are ASCII.
 */
class SseTail {
  private static readonly KEEP = 256;
  // The stream's start counts as a line start.
  private text = "\n";
  private received = false;

  push(chunk: Uint8Array): void {
    if (chunk.byteLength > 0) this.received = true;
    const start = Math.max(0, chunk.byteLength - SseTail.KEEP);
    this.text = (this.text + String.fromCharCode(...chunk.subarray(start))).slice(-SseTail.KEEP);
  }

  endsWithDone(): boolean {
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
