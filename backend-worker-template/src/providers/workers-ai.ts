// The workers-ai provider: env.AI.run() with Workers AI's own input and output shapes, translated
// to and from OpenAI's. The pieces live beside it: workers-ai-inputs.ts (requests),
// workers-ai-answers.ts (JSON answers), workers-ai-stream.ts (streams), workers-ai-errors.ts
// (failures), workers-ai-run.ts (the call itself: fail fast, stop time, cancellation).
import type { InferenceResponse } from "../../../shims/interfaces";
import { providerModel, type BackendConfig } from "../config";
import type { CheckedRequest } from "../request-check";
import { deadlineExceeded, errorResponse, jsonResponse, maxTokens, nowSeconds, streamResponse, wantsStreamUsage } from "./openai-shapes";
import type { Provider } from "./provider";
import { chatCompletionFromAi, embeddingsFromAi, textCompletionFromAi, WORKERS_AI_DEFAULT_MAX_TOKENS, type AnswerMeta } from "./workers-ai-answers";
import { aiErrorResponse } from "./workers-ai-errors";
import { aiInputs } from "./workers-ai-inputs";
import { runUntil, TIMED_OUT } from "./workers-ai-run";
import { openAiStreamFromAi, streamOfAnswer } from "./workers-ai-stream";

export const workersAiProvider: Provider = {
  // Workers AI's models have no Responses API shape here (not translated).
  endpoints: ["/v1/chat/completions", "/v1/completions", "/v1/embeddings"],
  async infer(req, config) {
    const built = aiInputs(req);
    if ("error" in built) return built.error;
    let result: unknown;
    try {
      result = await runUntil(config.ai!, providerModel(config, req.model), built.inputs, req.stopAt);
    } catch (err) {
      return aiErrorResponse(err, req.model);
    }
    if (result === TIMED_OUT) return deadlineExceeded();
    return answerFromAi(req, config, result);
  },
  async health() {
    // A probe would spend inference; the binding being present is what can be checked for free.
    return { ok: true, detail: "workers-ai provider (AI binding present)" };
  },
};

/** The InferenceResponse for what env.AI.run() answered. */
function answerFromAi(req: CheckedRequest, config: BackendConfig, result: unknown): InferenceResponse {
  const includeUsage = wantsStreamUsage(req.body);
  if (result instanceof ReadableStream) {
    if (!req.stream || req.path === "/v1/embeddings") {
      result.cancel().catch(() => {});
      return malformedAnswer();
    }
    const kind = req.path === "/v1/chat/completions" ? "chat" : "completion";
    return streamResponse(result.pipeThrough(openAiStreamFromAi(kind, answerMeta(req), includeUsage, config.maxUpstreamBytes)));
  }
  // The binding hands over a whole object: its size is bounded like an HTTP upstream's body.
  if (jsonBytes(result) > config.maxUpstreamBytes) return tooLarge(config.maxUpstreamBytes);
  if (req.path === "/v1/embeddings") {
    const answer = embeddingsFromAi(result, req.model, req.body.encoding_format === "base64");
    return answer ? jsonResponse(answer) : malformedAnswer();
  }
  const meta = answerMeta(req);
  const answer = req.path === "/v1/chat/completions" ? chatCompletionFromAi(result, meta) : textCompletionFromAi(result, meta);
  if (!answer) return malformedAnswer();
  return req.stream ? streamResponse(streamOfAnswer(answer, includeUsage)) : jsonResponse(answer);
}

function answerMeta(req: CheckedRequest): AnswerMeta {
  const prefix = req.path === "/v1/chat/completions" ? "chatcmpl" : "cmpl";
  return {
    id: `${prefix}-${crypto.randomUUID().replaceAll("-", "")}`,
    created: nowSeconds(),
    model: req.model,
    maxTokens: maxTokens(req.body) ?? WORKERS_AI_DEFAULT_MAX_TOKENS,
  };
}

/** The UTF-8 size of an answer as JSON (what crosses RPC, about). */
function jsonBytes(result: unknown): number {
  try {
    return new TextEncoder().encode(JSON.stringify(result) ?? "").byteLength;
  } catch {
    return 0;
  }
}

function tooLarge(maxBytes: number): InferenceResponse {
  const message = `The Workers AI answer is larger than this backend reads (MAX_UPSTREAM_BYTES = ${maxBytes} bytes)`;
  return errorResponse(502, message, "upstream_error", "upstream_response_too_large");
}

function malformedAnswer(): InferenceResponse {
  return errorResponse(502, "Workers AI answered in a shape this backend does not know", "upstream_error", "upstream_error");
}
