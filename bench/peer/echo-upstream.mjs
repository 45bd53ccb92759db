// The peer's upstream: a local Node HTTP server with an OpenAI-compatible face that answers like
// the backend template's echo provider (no latency): chat completions echo the last user message,
// as one JSON body or as SSE chunks (one per word) ending with "data: [DONE]".
// Run: node bench/peer/echo-upstream.mjs PORT
import http from "node:http";
import { createHash } from "node:crypto";
import { fileURLToPath } from "node:url";

/** @param {unknown} content */
const textOf = (content) => typeof content === "string" ? content
  : Array.isArray(content) ? content.map((p) => (typeof p?.text === "string" ? p.text : "")).join("") : "";

/** @param {any} body */
function answerOf(body) {
  const messages = Array.isArray(body?.messages) ? body.messages : [];
  const lastUser = [...messages].reverse().find((m) => m?.role === "user");
  const text = textOf(lastUser?.content);
  const pieces = text.match(/\S+\s*/g) ?? [];
  const promptTokens = messages.reduce((n, m) => n + (textOf(m?.content).match(/\S+/g)?.length ?? 0), 0);
  return { pieces, usage: { prompt_tokens: promptTokens, completion_tokens: pieces.length, total_tokens: promptTokens + pieces.length } };
}

export function createEchoUpstream() {
  let counter = 0;
  return http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      let body;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      } catch {
        res.writeHead(400, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: { message: "invalid JSON", type: "invalid_request_error", param: null, code: null } }));
        return;
      }
      const id = `chatcmpl-${createHash("sha256").update(String(++counter)).digest("hex").slice(0, 24)}`;
      const created = Math.floor(Date.now() / 1000);
      const model = String(body.model);
      const { pieces, usage } = answerOf(body);
      if (body.stream !== true) {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ id, object: "chat.completion", created, model,
          choices: [{ index: 0, message: { role: "assistant", content: pieces.join("") }, logprobs: null, finish_reason: "stop" }], usage }));
        return;
      }
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
      const chunk = (delta, finish) => `data: ${JSON.stringify({ id, object: "chat.completion.chunk", created, model,
        choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] })}\n\n`;
      res.write(chunk({ role: "assistant", content: "" }, null));
      for (const piece of pieces) res.write(chunk({ content: piece }, null));
      res.write(chunk({}, "stop"));
      res.end("data: [DONE]\n\n");
    });
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const port = Number(process.argv[2]);
  createEchoUpstream().listen(port, "127.0.0.1", () => console.log(`echo upstream on 127.0.0.1:${port}`));
}
