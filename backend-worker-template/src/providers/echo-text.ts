// The echo provider's text handling, shared by its APIs: word pieces (its "tokens"), the simulated
// latency, and ids derived from the request id.
import type { FinishReason } from "./openai-shapes";

/** The text as word pieces (each keeps its surrounding whitespace, so they join back exactly). */
export function truncate(text: string, limit: number | undefined): { pieces: string[]; finish: FinishReason } {
  const pieces = text.match(/\s*\S+\s*/g) ?? [];
  if (limit !== undefined && pieces.length > limit) return { pieces: pieces.slice(0, limit), finish: "length" };
  return { pieces, finish: "stop" };
}

export function countTokens(text: string): number {
  return text.match(/\S+/g)?.length ?? 0;
}

/** Waits `ms`, but never past the deadline. */
export async function pause(ms: number, deadline: number): Promise<void> {
  const wait = Math.min(ms, deadline - Date.now());
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
}

export async function digestHex(text: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
  return Array.from(digest.subarray(0, 12), (byte) => byte.toString(16).padStart(2, "0")).join("");
}
