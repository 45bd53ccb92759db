// A test client Worker: calls a backend's RPC methods through its service binding, as the
// orchestrator does, and reports what it got as JSON. POST /<BINDING>/<method> with the argument;
// method "infer-cancel" reads one chunk of the answer's stream and cancels the rest.

export default {
  async fetch(request, env) {
    const [, binding, method] = new URL(request.url).pathname.split("/");
    const backend = env[binding];
    if (!backend) return Response.json({ thrown: `no binding ${binding}` }, { status: 400 });
    const arg = await request.json();
    try {
      switch (method) {
        case "infer":
          return Response.json(await inferResult(backend, arg));
        case "infer-cancel":
          return Response.json(await inferThenCancel(backend, arg));
        case "describe":
          return Response.json({ value: await backend.describe() });
        case "health":
          return Response.json({ value: await backend.health() });
        case "fetch": {
          const answer = await backend.fetch(new Request(`https://backend.internal${arg.path}`, { method: arg.method ?? "GET" }));
          return Response.json({ status: answer.status, headers: Object.fromEntries(answer.headers), text: await answer.text() });
        }
        default:
          return Response.json({ thrown: `unknown method ${method}` }, { status: 400 });
      }
    } catch (err) {
      return Response.json({ thrown: err instanceof Error ? err.message : String(err) });
    }
  },
};

async function inferResult(backend, req) {
  const started = Date.now();
  const answer = await backend.infer(req);
  const result = { status: answer.status, headers: answer.headers ?? null, body: answer.body ?? null, stream: null };
  if (answer.stream) result.stream = await readStream(answer.stream);
  result.elapsedMs = Date.now() - started;
  return result;
}

/** Reads the first chunk of the answer's stream, then cancels the stream, as a client that leaves does. */
async function inferThenCancel(backend, req) {
  const answer = await backend.infer(req);
  if (!answer.stream) return { status: answer.status, first: null };
  const reader = answer.stream.getReader();
  const { value } = await reader.read();
  await reader.cancel("client left");
  return { status: answer.status, first: value ? new TextDecoder().decode(value) : null };
}

/** The stream's text, how many chunks carried it, and the error that ended it, if any. */
async function readStream(stream) {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let text = "";
  let chunks = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks++;
      text += decoder.decode(value, { stream: true });
    }
    return { text: text + decoder.decode(), chunks, error: null };
  } catch (err) {
    return { text, chunks, error: err instanceof Error ? err.message : String(err) };
  }
}
