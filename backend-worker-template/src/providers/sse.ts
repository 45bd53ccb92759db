// Server-sent events as OpenAI streams them: `data: <json>\n\n` events ending with `data: [DONE]`;
// the Responses API's typed events (`event: <type>` + `data: <json>`) have no [DONE].

export const SSE_CONTENT_TYPE = "text/event-stream; charset=utf-8";
export const SSE_DONE = "data: [DONE]\n\n";

export function sseEvent(data: unknown): string {
  return `data: ${JSON.stringify(data)}\n\n`;
}

/** A Responses API event: `event: <type>` and its data, which carries the type too. */
export function sseTypedEvent(type: string, data: Record<string, unknown>): string {
  return `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
}

/** A byte stream of the strings `events` yields, pulled one at a time (no buffering ahead). */
export function byteStreamOf(events: AsyncIterator<string>): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = await events.next();
      if (next.done) controller.close();
      else controller.enqueue(encoder.encode(next.value));
    },
    async cancel() {
      await events.return?.();
    },
  });
}

/**
 * Splits SSE bytes into the `data:` payloads of complete events. Bytes arrive in arbitrary
 * pieces: a line (or a UTF-8 character) may be split across chunks, so the tail is kept until its
 * line ends.
 */
export class SseDataDecoder {
  private readonly text = new TextDecoder();
  private pending = "";

  /** The data payloads of the lines completed by `chunk`. */
  push(chunk: Uint8Array): string[] {
    this.pending += this.text.decode(chunk, { stream: true });
    return this.takeLines(false);
  }

  /** The payload of a last line left without its newline. */
  finish(): string[] {
    this.pending += this.text.decode();
    return this.takeLines(true);
  }

  private takeLines(all: boolean): string[] {
    const lines = this.pending.split(/\r\n|\r|\n/);
    this.pending = all ? "" : (lines.pop() ?? "");
    const data: string[] = [];
    for (const line of lines) {
      // Comments (":") and other fields (event:, id:, retry:) carry nothing OpenAI clients read.
      if (line.startsWith("data:")) data.push(line.slice(line.startsWith("data: ") ? 6 : 5));
    }
    return data;
  }
}
