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
