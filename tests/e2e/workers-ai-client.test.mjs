// The official `openai` npm client through the router to a template backend with the workers-ai
// provider, whose AI binding replays what current Workers AI models stream (OpenAI-style chunks:
// tests/fixture-workers/workers-ai-binding.js). A tool call streamed in pieces must reach the
// client as one call with whole arguments, and an answer cut by max_tokens must say "length".
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, test } from "node:test";
import OpenAI from "openai";
import { ROOT } from "../support/bundles.mjs";
import { startStack } from "../support/stack.mjs";

const MODEL_MAP = { "gpt-oss": "@cf/openai/gpt-oss-120b", glm: "@cf/zai-org/glm-4.7-flash" };
let stack;
let client;

before(async () => {
  stack = await startStack({
    backends: [
      {
        binding: "BACKEND_WAI",
        vars: { PROVIDER: "workers-ai", BACKEND_NAME: "wai", MODELS: Object.keys(MODEL_MAP).join(","), MODEL_MAP: JSON.stringify(MODEL_MAP) },
        serviceBindings: { AI: "workers-ai-binding" },
      },
    ],
    workers: [{ name: "workers-ai-binding", modules: true, scriptPath: path.join(ROOT, "tests/fixture-workers/workers-ai-binding.js"), compatibilityDate: "2026-04-20" }],
  });
  client = new OpenAI({ baseURL: `${stack.url}/v1`, apiKey: "unused", maxRetries: 0 });
});
after(() => stack?.stop());

const WEATHER_TOOL = {
  type: "function",
  function: { name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" }, unit: { type: "string" } }, required: ["city"] } },
};

test("a tool call streamed in pieces reaches the openai client as one call with whole arguments", async () => {
  const stream = client.chat.completions.stream({
    model: "gpt-oss",
    stream: true,
    messages: [{ role: "user", content: "Weather in Paris?" }],
    tools: [WEATHER_TOOL],
  });
  const completion = await stream.finalChatCompletion();
  const choice = completion.choices[0];
  assert.equal(choice.finish_reason, "tool_calls");
  assert.equal(choice.message.tool_calls.length, 1, JSON.stringify(choice.message.tool_calls));
  const [call] = choice.message.tool_calls;
  assert.equal(call.id, "chatcmpl-tool-7f3a");
  assert.equal(call.function.name, "get_weather");
  assert.deepEqual(JSON.parse(call.function.arguments), { city: "Paris", unit: "celsius" });
});

test("an answer cut by max_tokens ends with finish_reason length, not stop", async () => {
  const stream = await client.chat.completions.create({
    model: "glm",
    stream: true,
    max_tokens: 8,
    messages: [{ role: "user", content: "Tell me a story" }],
  });
  let text = "";
  let finish = null;
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta?.content ?? "";
    finish = chunk.choices[0]?.finish_reason ?? finish;
  }
  assert.equal(text, "Once upon a time, in a kingdom far");
  assert.equal(finish, "length");
});
