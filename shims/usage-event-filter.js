// @ts-check
// The relay of a stream whose usage the router asked for (the client did not): the backend's bytes
// go on whole events at a time, and an event with a "usage" object is handed to the core, which
// says whether it is the usage-only event the client must not get. Only such candidates cross into
// the core; every other byte goes on as it came.

const LF = 0x0a;
const CR = 0x0d;
/** @type {Uint8Array} */
const NONE = new Uint8Array(0);
const QUOTED_USAGE = new TextEncoder().encode('"usage"');

/** @param {number} c */
const isSpace = (c) => c === 0x20 || c === 0x09 || c === LF || c === CR;

/**
 * Where in `bytes` (from `from`) the key `"usage"` stands with an object value, else -1.
 * @param {Uint8Array} bytes @param {number} from
 */
export function usageObjectAt(bytes, from) {
  for (let at = bytes.indexOf(0x22, from); at >= 0; at = bytes.indexOf(0x22, at + 1)) {
    let i = 0;
    while (i < QUOTED_USAGE.length && bytes[at + i] === QUOTED_USAGE[i]) i++;
    if (i < QUOTED_USAGE.length) continue;
    let j = at + i;
    while (j < bytes.length && isSpace(bytes[j])) j++;
    if (bytes[j] !== 0x3a) continue; // ':'
    j++;
    while (j < bytes.length && isSpace(bytes[j])) j++;
    if (bytes[j] === 0x7b) return at; // '{'
  }
  return -1;
}

/** @param {Uint8Array[]} parts */
function joined(parts) {
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

export class UsageEventFilter {
  /** @param {(event: Uint8Array) => boolean} isUsageEvent the core's decision on one whole event */
  constructor(isUsageEvent) {
    this.isUsageEvent = isUsageEvent;
    /** @type {Uint8Array} the bytes of an event not yet whole */
    this.pending = NONE;
    this.scanned = 0; // how far into `pending` line ends were looked for
    this.afterLineEnd = false; // whether the byte before `scanned` ended a line
    /** @type {number[]} the ends of the events whole in the bytes scanned last */
    this.ends = [];
  }

  /**
   * The bytes the client gets after `chunk`: the events whole so far, less the usage-only one.
   * SSE lines end with CRLF, LF or CR; a line end right after another ends an event.
   * @param {Uint8Array} chunk
   */
  pass(chunk) {
    // Most chunks are whole events without a usage object: they go on without a scan of their bytes.
    const n = chunk.byteLength;
    if (this.pending.byteLength === 0 && n >= 2 && chunk[n - 1] === LF && chunk[n - 2] === LF && usageObjectAt(chunk, 0) < 0) {
      this.afterLineEnd = true; // as a scan would leave it: the last byte ended a line
      return chunk;
    }
    const bytes = this.pending.byteLength === 0 ? chunk : joined([this.pending, chunk]);
    const ends = this.ends;
    ends.length = 0;
    let i = this.scanned;
    let afterLineEnd = this.afterLineEnd;
    for (; i < bytes.length; i++) {
      const c = bytes[i];
      if (c !== LF && c !== CR) {
        afterLineEnd = false;
        continue;
      }
      if (c === CR) {
        if (i + 1 === bytes.length) break; // maybe the first half of a CRLF: known with the next chunk
        if (bytes[i + 1] === LF) i++;
      }
      if (afterLineEnd) ends.push(i + 1);
      afterLineEnd = true;
    }
    const whole = ends.length > 0 ? ends[ends.length - 1] : 0;
    this.pending = bytes.subarray(whole);
    this.scanned = i - whole;
    this.afterLineEnd = afterLineEnd;
    if (whole === 0) return NONE;
    const out = bytes.subarray(0, whole);
    return usageObjectAt(out, 0) < 0 ? out : this.withoutUsageEvent(out, ends);
  }

  /**
   * `events` (whole events ending at `ends`) less those the core says are the usage-only event.
   * @param {Uint8Array} events @param {number[]} ends
   */
  withoutUsageEvent(events, ends) {
    /** @type {Uint8Array[]} */
    const kept = [];
    let keptFrom = 0;
    let start = 0;
    for (const end of ends) {
      const event = events.subarray(start, end);
      if (usageObjectAt(event, 0) >= 0 && this.isUsageEvent(event)) {
        if (start > keptFrom) kept.push(events.subarray(keptFrom, start));
        keptFrom = end;
      }
      start = end;
    }
    if (keptFrom < events.byteLength) kept.push(events.subarray(keptFrom));
    return kept.length === 0 ? NONE : joined(kept);
  }

  /** What is left at the stream's end (an event never ended by a blank line): the client gets it as it came. */
  rest() {
    const rest = this.pending;
    this.pending = NONE;
    this.scanned = 0;
    return rest;
  }
}
