// Stands in for the Workers AI binding of a template backend in the router stack (tests/e2e/):
// `run(model, inputs, options)` streams what current Workers AI models stream, OpenAI-style
// `chat.completion.chunk` events (@cf/openai/gpt-oss-120b, @cf/zai-org/glm-4.7-flash; shape from
// https://developers.cloudflare.com/workers-ai/models/gpt-oss-120b/ and the OpenAI-compatible
// endpoint's streaming, https://developers.cloudflare.com/workers-ai/configuration/open-ai-compatibility/).
// GET /calls lists the inputs and options it was called with.
import { WorkerEntrypoint } from "cloudflare:workers";

const calls = [];

function chunk(delta, finish = null) {
  return { id: "chatcmpl-replay", object: "chat.completion.chunk", created: 1764547200, model: "@cf/openai/gpt-oss-120b", choices: [{ index: 0, delta, finish_reason: finish }] };
}

/** One tool call streamed in four pieces of the same index: id and name first, then argument text. */
const TOOL_CALL_EVENTS = [
  chunk({ role: "assistant", content: null, reasoning_content: "The user wants the weather." }),
  chunk({ tool_calls: [{ index: 0, id: "chatcmpl-tool-7f3a", type: "function", function: { name: "get_weather", arguments: "" } }] }),
  chunk({ tool_calls: [{ index: 0, function: { arguments: "{\"city\": " } }] }),
  chunk({ tool_calls: [{ index: 0, function: { arguments: "\"Paris\", \"unit\"" } }] }),
  chunk({ tool_calls: [{ index: 0, function: { arguments: ": \"celsius\"}" } }] }),
  chunk({}, "tool_calls"),
  { ...chunk({}), choices: [], usage: { prompt_tokens: 52, completion_tokens: 19, total_tokens: 71 } },
];

/** An answer cut by max_tokens: the model's own finish_reason says so. */
const CUT_EVENTS = [
  chunk({ role: "assistant", content: "" }),
  chunk({ content: "Once upon a time, in a" }),
  chunk({ content: " kingdom far" }, "length"),
  { ...chunk({}), choices: [], usage: { prompt_tokens: 11, completion_tokens: 8, total_tokens: 19 } },
];

/** SSE bytes of `events` and [DONE], cut mid-line so the reader must reassemble them. */
function sse(events) {
  const bytes = new TextEncoder().encode(events.map((e) => `data: ${JSON.stringify(e)}\n\n`).join("") + "data: [DONE]\n\n");
  const middle = Math.floor(bytes.length / 2);
  const pieces = [bytes.slice(0, 9), bytes.slice(9, middle), bytes.slice(middle)];
  return new ReadableStream({
    pull(controller) {
      const piece = pieces.shift();
      if (piece) controller.enqueue(piece);
      else controller.close();
    },
  });
}

export default class WorkersAiBinding extends WorkerEntrypoint {
  async run(model, inputs, options) {
    calls.push({ model, inputs, options: options ?? null });
    if (!inputs.stream) throw new Error(`5006: this stand-in only streams (model ${model})`);
    if (model === "@cf/openai/gpt-oss-120b") return sse(TOOL_CALL_EVENTS);
    if (model === "@cf/zai-org/glm-4.7-flash") return sse(CUT_EVENTS);
    throw new Error(`5007: No such model ${model} or task`);
  }

  async fetch() {
    return Response.json(calls);
  }
}
