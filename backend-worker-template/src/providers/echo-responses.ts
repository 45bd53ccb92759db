// The echo provider's Responses API (/v1/responses): the Response object echoing the last user
// input, and its stream of typed events (response.created ... response.output_text.delta ...
// response.completed). Deterministic, for local tests. Tokens are words, as for the other APIs.
import type { InferenceResponse } from "../../../shims/interfaces";
import type { CheckedRequest } from "../request-check";
import { countTokens, digestHex, pause, truncate } from "./echo-text";
import { badRequest, jsonResponse, nowSeconds, streamResponse } from "./openai-shapes";
import { byteStreamOf, sseTypedEvent } from "./sse";

interface ResponseUsage {
  input_tokens: number;
  output_tokens: number;
  total_tokens: number;
}

export async function responses(req: CheckedRequest, latency: number): Promise<InferenceResponse> {
  const input = inputTexts(req.body.input);
  if (!input) return badRequest("input must be a string or an array of input items", "input");
  const limit = req.body.max_output_tokens;
  const answer = truncate(input.at(-1) ?? "", typeof limit === "number" && Number.isInteger(limit) && limit > 0 ? limit : undefined);
  const text = answer.pieces.join("");
  const inputTokens = input.reduce((sum, item) => sum + countTokens(item), 0);
  const usage: ResponseUsage = { input_tokens: inputTokens, output_tokens: answer.pieces.length, total_tokens: inputTokens + answer.pieces.length };
  const hex = await digestHex(req.requestId);
  const incomplete = answer.finish === "length";
  const message = (content: string, status: string) => ({
    type: "message", id: `msg_${hex}`, status, role: "assistant",
    content: [{ type: "output_text", text: content, annotations: [] }],
  });
  const response = (status: string, output: unknown[], used: ResponseUsage | null) => ({
    id: `resp_${hex}`, object: "response", created_at: nowSeconds(), status, model: req.model, output, error: null,
    incomplete_details: status === "incomplete" ? { reason: "max_output_tokens" } : null, usage: used,
  });
  const final = response(incomplete ? "incomplete" : "completed", [message(text, incomplete ? "incomplete" : "completed")], usage);
  if (!req.stream) return jsonResponse(final);

  async function* events(): AsyncGenerator<string> {
    let sequence = 0;
    const event = (type: string, data: Record<string, unknown>) => sseTypedEvent(type, { ...data, sequence_number: sequence++ });
    const part = { item_id: `msg_${hex}`, output_index: 0, content_index: 0 };
    yield event("response.created", { response: response("in_progress", [], null) });
    yield event("response.output_item.added", { output_index: 0, item: message("", "in_progress") });
    yield event("response.content_part.added", { ...part, part: { type: "output_text", text: "", annotations: [] } });
    for (const piece of answer.pieces) {
      await pause(latency, req.deadline);
      yield event("response.output_text.delta", { ...part, delta: piece });
    }
    yield event("response.output_text.done", { ...part, text });
    yield event("response.content_part.done", { ...part, part: { type: "output_text", text, annotations: [] } });
    yield event("response.output_item.done", { output_index: 0, item: final.output[0] });
    yield event(incomplete ? "response.incomplete" : "response.completed", { response: final });
  }
  return streamResponse(byteStreamOf(events()));
}

/**
 * The texts of `input`: a string, or input items (messages with `content` as a string or as
 * `input_text` parts); the last user message is the one echoed. Undefined when it is neither.
 */
function inputTexts(input: unknown): string[] | undefined {
  if (typeof input === "string") return [input];
  if (!Array.isArray(input)) return undefined;
  const texts: string[] = [];
  for (const item of input) {
    if (typeof item !== "object" || item === null) return undefined;
    const { role, content } = item as { role?: unknown; content?: unknown };
    if (role !== undefined && role !== "user") continue;
    if (typeof content === "string") texts.push(content);
    else if (Array.isArray(content)) texts.push(content.map(partText).join("\n"));
  }
  return texts;
}

function partText(part: unknown): string {
  const { type, text } = (typeof part === "object" && part !== null ? part : {}) as { type?: unknown; text?: unknown };
  return type === "input_text" && typeof text === "string" ? text : "";
}
