// The official `openai` npm client against the deployed bundle: a normal and a streaming chat completion.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import OpenAI from "openai";
import { startStack } from "../support/stack.mjs";

const API_KEY = "sk-openai-client-test";
let stack;
let client;
before(async () => {
  stack = await startStack({ vars: { ROUTER_API_KEYS: API_KEY } });
  client = new OpenAI({ baseURL: `${stack.url}/v1`, apiKey: API_KEY, maxRetries: 0 });
});
after(() => stack?.stop());

test("chat.completions.create answers through the router", async () => {
  const { data: answer, response } = await client.chat.completions
    .create({ model: "echo-1", messages: [{ role: "user", content: "Hi from the openai client" }] })
    .withResponse();
  assert.ok(stack.bindings.includes(response.headers.get("x-router-backend")));
  assert.equal(answer.object, "chat.completion");
  assert.equal(answer.choices[0].message.role, "assistant");
  assert.ok(answer.choices[0].message.content.length > 0);
});

test("a streaming chat completion arrives chunk by chunk", async () => {
  const stream = await client.chat.completions.create({
    model: "echo-1", stream: true, messages: [{ role: "user", content: "Stream through the router" }],
  });
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  assert.ok(chunks.length >= 2, `chunks ${chunks.length}`);
  assert.ok(chunks.every((c) => c.object === "chat.completion.chunk"));
  assert.ok(chunks.map((c) => c.choices[0]?.delta?.content ?? "").join("").length > 0);
});

test("the client sees the router's errors as OpenAI errors", async () => {
  await assert.rejects(
    client.chat.completions.create({ model: "echo-1", messages: "not a list" }),
    (e) => e instanceof OpenAI.BadRequestError && e.type === "invalid_request_error",
  );
  const anonymous = new OpenAI({ baseURL: `${stack.url}/v1`, apiKey: "sk-wrong", maxRetries: 0 });
  await assert.rejects(anonymous.models.list(), (e) => e instanceof OpenAI.AuthenticationError);
});
