// Stands in for the Workers AI binding (there is none offline): `run(model, inputs, options)`
// answers with the shapes Workers AI answers with, the older `{response}` ones and the OpenAI-shaped
// ones of current models (tests/backend/fixtures/workers-ai/shapes.mjs, each naming its source), and
// GET /calls lists the inputs and options it was called with.
import { WorkerEntrypoint } from "cloudflare:workers";
import { ERRORS, GLM_REASONING_CUT, KIMI_JSON, LEGACY_CUT_AT_DEFAULT, TOOL_CALL_PIECES } from "../fixtures/workers-ai/shapes.mjs";

const calls = [];

/** Workers AI's streaming shape, cut at awkward places: mid-line, mid-JSON and mid-"é". */
function recordedStream(events, endWithDone) {
  const text = events.map((event) => `data: ${JSON.stringify(event)}\n\n`).join("") + (endWithDone ? "data: [DONE]\n\n" : "");
  const bytes = new TextEncoder().encode(text);
  const accent = bytes.findIndex((byte) => byte === 0xc3);
  const cuts = [...new Set([7, accent + 1, Math.floor(bytes.length / 2), bytes.length - 3])].filter((cut) => cut > 0 && cut < bytes.length).sort((a, b) => a - b);
  const pieces = [];
  let start = 0;
  for (const cut of [...cuts, bytes.length]) {
    pieces.push(bytes.slice(start, cut));
    start = cut;
  }
  return new ReadableStream({
    pull(controller) {
      const piece = pieces.shift();
      if (piece) controller.enqueue(piece);
      else controller.close();
    },
  });
}

/** One event, then the stream fails, as a dropped connection would. */
function brokenStream() {
  let sent = false;
  return new ReadableStream({
    pull(controller) {
      if (sent) return controller.error(new Error("connection lost"));
      controller.enqueue(new TextEncoder().encode(`data: ${JSON.stringify({ response: "Bon" })}\n\n`));
      sent = true;
    },
  });
}

const STREAM_EVENTS = [
  { response: "Bonjour", p: "abcdefghijklmnopqrstuvwxyz0123456789" },
  { response: " café", p: "abcdefgh" },
  { response: "", usage: { prompt_tokens: 14, completion_tokens: 3, total_tokens: 17 } },
];

export default class WorkersAiReplay extends WorkerEntrypoint {
  async run(model, inputs, options) {
    calls.push({ model, inputs, options: options ?? null });
    switch (model) {
      case "@cf/zai-org/glm-4.7-flash":
        return recordedStream(GLM_REASONING_CUT.events, true);
      case "@cf/openai/gpt-oss-120b":
        return recordedStream(TOOL_CALL_PIECES.events, true);
      case "@cf/moonshotai/kimi-k2.5":
        return structuredClone(KIMI_JSON.answer);
      case "@cf/meta/llama-3.1-8b-instruct-cut":
        return inputs.stream ? recordedStream(LEGACY_CUT_AT_DEFAULT.events, true) : structuredClone(LEGACY_CUT_AT_DEFAULT.answer);
      case "@cf/test/documented-error": {
        // The fixture is named by the prompt; the error keeps the binding's class name.
        const [, name, message] = ERRORS.find(([label]) => label === inputs.messages.at(-1).content);
        throw Object.assign(new Error(message), { name });
      }
      case "@cf/meta/llama-3.1-8b-instruct":
        if (inputs.stream) return recordedStream(STREAM_EVENTS, true);
        return { response: "Bonjour café", tool_calls: [], usage: { prompt_tokens: 14, completion_tokens: 3, total_tokens: 17 } };
      case "@hf/nousresearch/hermes-2-pro-mistral-7b":
        return { response: null, tool_calls: [{ name: "get_weather", arguments: { city: "Paris" } }] };
      case "@cf/meta/llama-3.1-8b-instruct-json":
        return { response: { answer: 4 }, usage: { prompt_tokens: 9, completion_tokens: 6, total_tokens: 15 } };
      case "@cf/baai/bge-small-en-v1.5": {
        const texts = Array.isArray(inputs.text) ? inputs.text : [inputs.text];
        return { shape: [texts.length, 4], data: texts.map((_, i) => [0.25 * i, -0.5, 0.125, 1]), pooling: "mean" };
      }
      case "@cf/test/slow":
        await new Promise((resolve) => setTimeout(resolve, 3000));
        return inputs.stream ? recordedStream(STREAM_EVENTS, true) : { response: "late" };
      case "@cf/test/broken-stream":
        return brokenStream();
      case "@cf/test/cut-stream":
        return recordedStream(STREAM_EVENTS.slice(0, 2), false);
      case "@cf/test/over-capacity":
        throw new Error("3040: Capacity temporarily exceeded, please try again.");
      case "@cf/test/strict-input":
        throw new Error("AiError: 5006: Error: required properties at '/' are 'prompt'\n    at validate (internal)");
      case "@cf/test/crash":
        throw new Error("InferenceUpstreamError: connection reset\n    at Ai.run (internal:ai:42)");
      case "@cf/test/wrong-shape":
        return { result: "something else" };
      default:
        throw new Error(`5007: No such model ${model} or task`);
    }
  }

  async fetch() {
    return Response.json(calls);
  }
}
