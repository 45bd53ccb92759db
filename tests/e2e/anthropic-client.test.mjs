// The official `openai` npm client through the router to a template backend with the anthropic
// provider, whose UPSTREAM_BASE_URL points at a fake Anthropic on 127.0.0.1
// (tests/backend/fixtures/upstreams/anthropic.mjs, written from Anthropic's API reference): a chat
// with tools (the call, then the tool result sent back), a stream, and a stream whose upstream
// fails mid-way, which the client must see as an error, never as a clean end.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import OpenAI from "openai";
import { ANTHROPIC_KEY, startFakeAnthropic } from "../backend/fixtures/upstreams/anthropic.mjs";
import { startStack } from "../support/stack.mjs";

let fake;
let stack;
let client;

before(async () => {
  fake = await startFakeAnthropic();
  stack = await startStack({
    backends: [
      {
        binding: "BACKEND_CLAUDE",
        vars: { PROVIDER: "anthropic", BACKEND_NAME: "claude", MODELS: "claude-test,claude-tools,claude-overloaded-stream", UPSTREAM_BASE_URL: fake.origin, UPSTREAM_API_KEY: ANTHROPIC_KEY },
      },
    ],
  });
  client = new OpenAI({ baseURL: `${stack.url}/v1`, apiKey: "unused", maxRetries: 0 });
});
after(async () => {
  await stack?.stop();
  await fake?.close();
});

const WEATHER_TOOL = {
  type: "function",
  function: { name: "get_weather", description: "Current weather", parameters: { type: "object", properties: { city: { type: "string" }, unit: { type: "string" } }, required: ["city"] } },
};

test("a chat with tools: the call reaches the client, and the tool result goes back as Anthropic's tool_result", async () => {
  const messages = [{ role: "system", content: "Use tools." }, { role: "user", content: "Weather in Paris?" }];
  const answer = await client.chat.completions.create({ model: "claude-tools", messages, tools: [WEATHER_TOOL], tool_choice: "auto" });
  const choice = answer.choices[0];
  assert.equal(choice.finish_reason, "tool_calls");
  const [call] = choice.message.tool_calls;
  assert.equal(call.function.name, "get_weather");
  assert.deepEqual(JSON.parse(call.function.arguments), { city: "Paris", unit: "celsius" });
  assert.ok(answer.usage.total_tokens === answer.usage.prompt_tokens + answer.usage.completion_tokens);

  fake.received.length = 0;
  const next = await client.chat.completions.create({
    model: "claude-test",
    messages: [...messages, choice.message, { role: "tool", tool_call_id: call.id, content: "18C, sunny" }],
    tools: [WEATHER_TOOL],
  });
  assert.equal(next.choices[0].message.content, "Hello from Claude");
  const sent = JSON.parse(fake.received.at(-1).raw);
  assert.equal(sent.system, "Use tools.");
  assert.deepEqual(sent.messages.at(-2).content.at(-1), { type: "tool_use", id: call.id, name: "get_weather", input: { city: "Paris", unit: "celsius" } });
  assert.deepEqual(sent.messages.at(-1), { role: "user", content: [{ type: "tool_result", tool_use_id: call.id, content: "18C, sunny" }] });
});

test("a streamed tool call reaches the client as one call with whole arguments, reasoning and usage included", async () => {
  const stream = client.chat.completions.stream({ model: "claude-tools", stream: true, stream_options: { include_usage: true }, messages: [{ role: "user", content: "Weather in Paris?" }], tools: [WEATHER_TOOL] });
  const completion = await stream.finalChatCompletion();
  const choice = completion.choices[0];
  assert.equal(choice.finish_reason, "tool_calls");
  assert.equal(choice.message.tool_calls.length, 1);
  assert.equal(choice.message.tool_calls[0].id, "toolu_01T1x1fJ34qAmk2tNTrN7Up6");
  assert.deepEqual(JSON.parse(choice.message.tool_calls[0].function.arguments), { city: "Paris", unit: "celsius" });
  assert.equal(choice.message.content, "Let me check.");
  assert.equal(completion.usage.completion_tokens, 89);
});

test("a text stream arrives chunk by chunk", async () => {
  const stream = await client.chat.completions.create({ model: "claude-test", stream: true, messages: [{ role: "user", content: "Hi" }] });
  let text = "";
  let finish = null;
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta?.content ?? "";
    finish = chunk.choices[0]?.finish_reason ?? finish;
  }
  assert.equal(text, "Hello from Claude");
  assert.equal(finish, "stop");
});

test("a stream failing mid-way (overloaded_error) is an error for the client, not a clean end", async () => {
  const stream = await client.chat.completions.create({ model: "claude-overloaded-stream", stream: true, messages: [{ role: "user", content: "Hi" }] });
  let text = "";
  await assert.rejects(async () => {
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? "";
  });
  assert.equal(text, "Half an");
});
