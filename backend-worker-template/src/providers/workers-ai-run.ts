// env.AI.run() for one attempt: fail fast when Workers AI has no capacity, and give up (and cancel)
// at the attempt's stop time.
import type { AiBinding } from "../../../shims/interfaces";

export const TIMED_OUT = Symbol("timed out");

/**
 * The binding's options (its third argument):
 * - rejectIfBusy: Workers AI answers 3040 (HTTP 429) at once instead of queueing the request for
 *   capacity (https://developers.cloudflare.com/workers-ai/features/reject-if-busy/), so the router
 *   can try another backend while this one cools down;
 * - signal: AiOptions takes an AbortSignal (@cloudflare/workers-types), aborted when the attempt is
 *   given up before Workers AI answered, so an abandoned run stops generating (and billing).
 */
function runOptions(signal: AbortSignal | undefined): Record<string, unknown> {
  return signal ? { rejectIfBusy: true, signal } : { rejectIfBusy: true };
}

/**
 * Bindings that refused an AbortSignal. A stand-in bound through a service binding (tests,
 * Miniflare) is an RPC stub, and workerd serializes an AbortSignal over RPC only with the
 * enable_abortsignal_rpc flag: without it the call fails with a DataCloneError before anything is
 * sent, so it is safe to call again without the signal.
 */
const refusesSignals = new WeakSet<object>();

async function callBinding(ai: AiBinding, model: string, inputs: Record<string, unknown>, signal: AbortSignal): Promise<unknown> {
  if (refusesSignals.has(ai)) return ai.run(model, inputs, runOptions(undefined));
  try {
    return await ai.run(model, inputs, runOptions(signal));
  } catch (err) {
    if (!(err instanceof Error && err.name === "DataCloneError" && /AbortSignal/i.test(err.message))) throw err;
    refusesSignals.add(ai);
    return ai.run(model, inputs, runOptions(undefined));
  }
}

/**
 * env.AI.run(), given up at `stopAt`: the run's signal is aborted, and a stream that still arrives
 * is cancelled so it does not run on unread. A failure after that is nobody's to read: swallowed.
 * Once the answer is in (a stream's first byte), the stop time no longer applies: the orchestrator
 * times the stream.
 */
export async function runUntil(ai: AiBinding, model: string, inputs: Record<string, unknown>, stopAt: number): Promise<unknown> {
  const abort = new AbortController();
  const run = callBinding(ai, model, inputs, abort.signal);
  let expire!: (value: typeof TIMED_OUT) => void;
  const timeout = new Promise<typeof TIMED_OUT>((resolve) => (expire = resolve));
  const timer = setTimeout(() => expire(TIMED_OUT), Math.max(0, stopAt - Date.now()));
  try {
    const result = await Promise.race([run, timeout]);
    if (result === TIMED_OUT) {
      abort.abort(new DOMException("The attempt's stop time passed", "TimeoutError"));
      run.then((late) => (late instanceof ReadableStream ? late.cancel() : undefined)).catch(() => {});
    }
    return result;
  } finally {
    clearTimeout(timer);
  }
}
