// @ts-check
// A timer that bounds an await, and the name of a thrown value: shared by the shims that do I/O.

export const TIMED_OUT = Symbol("timed out");

/**
 * A timer whose `expired` promise resolves to TIMED_OUT after `ms`; 0 (no timeout from the core)
 * never expires.
 * @param {number} ms
 */
export function startTimer(ms) {
  /** @type {ReturnType<typeof setTimeout> | null} */
  let timer = null;
  /** @type {Promise<typeof TIMED_OUT>} */
  const expired = new Promise((resolve) => { if (ms) timer = setTimeout(resolve, Math.max(1, ms), TIMED_OUT); });
  return { expired, clear: () => clearTimeout(timer) };
}

/** The name of a thrown value, never its message (which may quote a request). @param {unknown} e */
export function errorName(e) {
  try {
    return e instanceof Error ? e.name : typeof e;
  } catch {
    return "unknown";
  }
}

/**
 * One timer for a request's waits in turn (its body, then each attempt). It is armed once, for a
 * time no later than the end of any of them (the core's READ_BODY `wakeBy`); when it fires before
 * the current wait's own end it is re-armed for the rest. A wait that ends clears nothing, as the
 * next one reuses the timer; the request's end clears it. On a request that succeeds this is one
 * setTimeout and one clearTimeout, where a timer per wait costs two of each.
 */
export class RequestTimer {
  constructor() {
    /** @type {ReturnType<typeof setTimeout> | null} */
    this.handle = null;
    this.firesAt = Infinity;
    this.until = 0; // the current wait's end (epoch ms)
    /** @type {((value: typeof TIMED_OUT) => void) | null} settles the current wait */
    this.expire = null;
  }

  /** Makes sure the timer fires by `at` (epoch ms). @param {number} at */
  arm(at) {
    if (!(at > 0) || at >= this.firesAt) return;
    clearTimeout(this.handle);
    this.firesAt = at;
    this.handle = setTimeout(() => this.fired(), Math.max(1, at - Date.now()));
  }

  /**
   * The next wait: resolves to TIMED_OUT at `until` (epoch ms; 0: never) unless another wait or
   * clear() comes first.
   * @param {number} until @returns {Promise<typeof TIMED_OUT>}
   */
  wait(until) {
    this.expire = null;
    // A fresh never-settling promise: one shared by every request would keep each race's reaction.
    if (!until) return new Promise(() => {});
    this.until = until;
    const expired = new Promise((resolve) => { this.expire = resolve; });
    this.arm(until);
    return /** @type {Promise<typeof TIMED_OUT>} */ (expired);
  }

  fired() {
    this.handle = null;
    this.firesAt = Infinity;
    if (!this.expire) return;
    if (Date.now() < this.until) return this.arm(this.until);
    const expire = this.expire;
    this.expire = null;
    expire(TIMED_OUT);
  }

  /** The request is over: nothing waits any more. */
  clear() {
    clearTimeout(this.handle);
    this.handle = null;
    this.firesAt = Infinity;
    this.expire = null;
  }
}
