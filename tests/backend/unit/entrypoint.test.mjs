// The Backend entrypoint as an RPC caller sees it (node, no transport): malformed requests answer
// 400 naming the field, the stop time, configuration errors, describe(), health(), fetch() and
// unexpected failures (docs/backend-template.md, "The template's behaviour" and "Vars").
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, test } from "node:test";
import { assertError, backend, captureLogs, inferenceRequest, SUITE_TIMEOUT_MS } from "./template.mjs";

// One suite per file, so its hooks stay its own when all unit files run in one process (all.mjs).
describe("the Backend entrypoint", { timeout: SUITE_TIMEOUT_MS }, () => {
  const PATHS = ["/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/responses"];
  /** A body every path of the echo provider answers 200. */
  const ANY_PATH_BODY = { model: "m", messages: [{ role: "user", content: "hi" }], prompt: "hi", input: "hi" };

  let logs;
  beforeEach(() => (logs = captureLogs()));
  afterEach(() => logs.restore());

  describe("a malformed InferenceRequest answers 400 naming the field, never a throw", () => {
    const cases = [
      ["not an object", null, null],
      ["an array", [inferenceRequest()], null],
      ["a string", "req", null],
      ["requestId missing", { ...inferenceRequest(), requestId: undefined }, "requestId"],
      ["requestId empty", inferenceRequest({ requestId: "" }), "requestId"],
      ["requestId a number", inferenceRequest({ requestId: 7 }), "requestId"],
      ["path unknown", inferenceRequest({ path: "/v1/images/generations" }), "path"],
      ["path without /v1", inferenceRequest({ path: "/chat/completions" }), "path"],
      ["path not a string", inferenceRequest({ path: ["/v1/embeddings"] }), "path"],
      ["model empty", inferenceRequest({ model: "" }), "model"],
      ["model not a string", inferenceRequest({ model: 4 }), "model"],
      ["stream a string", inferenceRequest({ stream: "true" }), "stream"],
      ["stream missing", { ...inferenceRequest(), stream: undefined }, "stream"],
      ["body missing", { ...inferenceRequest(), body: undefined }, "body"],
      ["body an array", inferenceRequest({ body: [{ model: "m" }] }), "body"],
      ["body null", inferenceRequest({ body: null }), "body"],
      ["body a number", inferenceRequest({ body: 12 }), "body"],
      ["body an array holding the JSON text of an object", inferenceRequest({ body: [JSON.stringify({ model: "m", messages: [{ role: "user", content: "x" }] })] }), "body"],
      ["body text of an array", inferenceRequest({ body: "[1, 2]" }), "body"],
      ["body text of null", inferenceRequest({ body: "null" }), "body"],
      ["body text of a string", inferenceRequest({ body: '"{}"' }), "body"],
      ["body text cut short", inferenceRequest({ body: '{"model": ' }), "body"],
      ["body holding a BigInt", inferenceRequest({ body: { model: "m", seed: 1n } }), "body"],
      ["deadline missing", { ...inferenceRequest(), deadline: undefined }, "deadline"],
      ["deadline a string", inferenceRequest({ deadline: String(Date.now() + 1000) }), "deadline"],
      ["deadline NaN", inferenceRequest({ deadline: Number.NaN }), "deadline"],
      ["deadline infinite", inferenceRequest({ deadline: Number.POSITIVE_INFINITY }), "deadline"],
      ["attemptDeadline a string", inferenceRequest({ attemptDeadline: "soon" }), "attemptDeadline"],
      ["attemptDeadline null", inferenceRequest({ attemptDeadline: null }), "attemptDeadline"],
      ["attemptDeadline NaN", inferenceRequest({ attemptDeadline: Number.NaN }), "attemptDeadline"],
      ["attemptDeadline infinite", inferenceRequest({ attemptDeadline: Number.POSITIVE_INFINITY }), "attemptDeadline"],
      ["attempt zero", inferenceRequest({ attempt: 0 }), "attempt"],
      ["attempt negative", inferenceRequest({ attempt: -1 }), "attempt"],
      ["attempt fractional", inferenceRequest({ attempt: 1.5 }), "attempt"],
      ["attempt a string", inferenceRequest({ attempt: "1" }), "attempt"],
    ];
    for (const [name, req, param] of cases) {
      test(name, async () => {
        const answer = await (await backend()).infer(req);
        const error = assertError(answer, 400, { type: "invalid_request_error", param });
        if (param !== null) assert.ok(error.message.includes(param), `the message names ${param}: ${error.message}`);
      });
    }

    test("a cyclic body is refused too", async () => {
      const body = { model: "m", messages: [{ role: "user", content: "x" }] };
      body.self = body;
      assertError(await (await backend()).infer(inferenceRequest({ body })), 400, { param: "body" });
    });

    test("the first bad field is the one named", async () => {
      const answer = await (await backend()).infer({ ...inferenceRequest({ model: "", attempt: 0 }) });
      assertError(answer, 400, { param: "model" });
    });
  });

  describe("a well-formed InferenceRequest is answered", () => {
    for (const path of PATHS) {
      test(`path ${path}`, async () => {
        const answer = await (await backend()).infer(inferenceRequest({ path, body: ANY_PATH_BODY }));
        assert.equal(answer.status, 200, JSON.stringify(answer));
      });
    }

    test("a body as an object or as the JSON text of one, with surrounding whitespace", async () => {
      for (const body of [ANY_PATH_BODY, JSON.stringify(ANY_PATH_BODY), ` \n${JSON.stringify(ANY_PATH_BODY)}\t`]) {
        assert.equal((await (await backend()).infer(inferenceRequest({ body }))).status, 200);
      }
    });

    test("attemptDeadline is optional; attempt counts from 1; stream may be true", async () => {
      const b = await backend();
      assert.equal((await b.infer({ ...inferenceRequest(), attemptDeadline: undefined })).status, 200);
      assert.equal((await b.infer(inferenceRequest({ attempt: 1 }))).status, 200);
      assert.equal((await b.infer(inferenceRequest({ attempt: 3 }))).status, 200);
      const streamed = await b.infer(inferenceRequest({ stream: true }));
      assert.equal(streamed.status, 200);
      assert.ok(streamed.stream instanceof ReadableStream);
      await streamed.stream.cancel();
    });
  });

  describe("the attempt's stop time is the sooner of attemptDeadline and deadline", () => {
    const past = () => Date.now() - 5;
    const future = () => Date.now() + 30_000;

    test("a passed attemptDeadline answers 504 although the deadline is far", async () => {
      assertError(await (await backend()).infer(inferenceRequest({ deadline: future(), attemptDeadline: past() })), 504, { type: "timeout", code: "timeout" });
    });

    test("a passed deadline answers 504 although the attemptDeadline is far", async () => {
      assertError(await (await backend()).infer(inferenceRequest({ deadline: past(), attemptDeadline: future() })), 504, { type: "timeout", code: "timeout" });
    });

    test("without attemptDeadline, a passed deadline answers 504", async () => {
      assertError(await (await backend()).infer({ ...inferenceRequest({ deadline: past() }), attemptDeadline: undefined }), 504, { type: "timeout" });
    });
  });

  describe("configuration (vars)", () => {
    async function describeWith(env) {
      return (await backend(env)).describe();
    }

    test("defaults: echo, name backend, any model, no weight", async () => {
      const value = await describeWith({});
      assert.equal(value.name, "backend");
      assert.deepEqual(value.models, ["*"]);
      assert.ok(!("weight" in value), "no weight key at all: the orchestrator's default applies");
      assert.match(value.version, /^\d+\.\d+\.\d+\+echo$/);
    });

    test("an empty or blank PROVIDER is the default echo; surrounding spaces are ignored", async () => {
      for (const PROVIDER of ["", "   ", " echo "]) assert.match((await describeWith({ PROVIDER })).version, /\+echo$/, JSON.stringify(PROVIDER));
    });

    test("version names each provider", async () => {
      assert.match((await describeWith({ PROVIDER: "workers-ai", AI: { run() {} } })).version, /^\d+\.\d+\.\d+\+workers-ai$/);
      assert.match((await describeWith({ PROVIDER: "openai-compatible", UPSTREAM_BASE_URL: "https://up.example/v1" })).version, /^\d+\.\d+\.\d+\+openai-compatible$/);
    });

    test("BACKEND_NAME, trimmed; blank means the default", async () => {
      assert.equal((await describeWith({ BACKEND_NAME: "  echo-a " })).name, "echo-a");
      assert.equal((await describeWith({ BACKEND_NAME: "" })).name, "backend");
      assert.equal((await describeWith({ BACKEND_NAME: "   " })).name, "backend");
    });

    test("MODELS: a comma-separated list (spaces and empty items dropped), a JSON array, or *", async () => {
      assert.deepEqual((await describeWith({ MODELS: " gpt-a , ,gpt-b," })).models, ["gpt-a", "gpt-b"]);
      assert.deepEqual((await describeWith({ MODELS: ["gpt-a", " gpt-b "] })).models, ["gpt-a", "gpt-b"]);
      assert.deepEqual((await describeWith({ MODELS: "gpt-a,*" })).models, ["*"]);
      assert.deepEqual((await describeWith({ MODELS: "*" })).models, ["*"]);
      assert.deepEqual((await describeWith({ MODELS: "" })).models, ["*"]);
    });

    test("without MODELS, a MODEL_MAP's names are the models served", async () => {
      const env = { MODEL_MAP: JSON.stringify({ small: "provider-small", big: "provider-big" }) };
      assert.deepEqual((await describeWith(env)).models, ["small", "big"]);
      assert.deepEqual((await describeWith({ ...env, MODELS: "small,other" })).models, ["small", "other"]);
      assert.deepEqual((await describeWith({ MODEL_MAP: "{}" })).models, ["*"]);
      assert.deepEqual((await describeWith({ MODEL_MAP: "" })).models, ["*"], "an empty MODEL_MAP is no map");
      assert.deepEqual((await describeWith({ MODEL_MAP: { small: "s" } })).models, ["small"], "a TOML table works like the JSON text");
    });

    test("WEIGHT: a positive number, as text or as a number", async () => {
      assert.equal((await describeWith({ WEIGHT: "3" })).weight, 3);
      assert.equal((await describeWith({ WEIGHT: 0.5 })).weight, 0.5);
      assert.ok(!("weight" in (await describeWith({ WEIGHT: "" }))));
    });

    test("a model not served answers 404 model_not_found naming the model", async () => {
      const b = await backend({ MODELS: "gpt-a,gpt-b" });
      assert.equal((await b.infer(inferenceRequest({ model: "gpt-b" }))).status, 200);
      const error = assertError(await b.infer(inferenceRequest({ model: "gpt-c" })), 404, { type: "invalid_request_error", code: "model_not_found", param: "model" });
      assert.ok(error.message.includes("gpt-c"));
      const star = await backend({ MODELS: "*" });
      assert.equal((await star.infer(inferenceRequest({ model: "anything-at-all" }))).status, 200);
    });

    const bad = [
      ["an unknown PROVIDER", { PROVIDER: "bogus" }, "PROVIDER"],
      ["a PROVIDER in capitals", { PROVIDER: "ECHO" }, "PROVIDER"],
      ["WEIGHT zero", { WEIGHT: "0" }, "WEIGHT"],
      ["WEIGHT negative", { WEIGHT: "-2" }, "WEIGHT"],
      ["WEIGHT not a number", { WEIGHT: "heavy" }, "WEIGHT"],
      ["WEIGHT infinite", { WEIGHT: "Infinity" }, "WEIGHT"],
      ["ECHO_LATENCY_MS negative", { ECHO_LATENCY_MS: "-1" }, "ECHO_LATENCY_MS"],
      ["ECHO_LATENCY_MS not a number", { ECHO_LATENCY_MS: "slow" }, "ECHO_LATENCY_MS"],
      ["ECHO_LATENCY_MS infinite", { ECHO_LATENCY_MS: "Infinity" }, "ECHO_LATENCY_MS"],
      ["MAX_UPSTREAM_BYTES zero", { MAX_UPSTREAM_BYTES: "0" }, "MAX_UPSTREAM_BYTES"],
      ["MAX_UPSTREAM_BYTES fractional", { MAX_UPSTREAM_BYTES: "1.5" }, "MAX_UPSTREAM_BYTES"],
      ["MAX_UPSTREAM_BYTES not a number", { MAX_UPSTREAM_BYTES: "lots" }, "MAX_UPSTREAM_BYTES"],
      ["MAX_UPSTREAM_BYTES beyond a safe integer", { MAX_UPSTREAM_BYTES: "1e300" }, "MAX_UPSTREAM_BYTES"],
      ["MAX_UPSTREAM_BYTES above what Workers RPC carries (32 MiB)", { MAX_UPSTREAM_BYTES: String(32 * 1024 * 1024) }, "MAX_UPSTREAM_BYTES"],
      ["MAX_UPSTREAM_BYTES just above 14 MiB", { MAX_UPSTREAM_BYTES: String(14 * 1024 * 1024 + 1) }, "MAX_UPSTREAM_BYTES"],
      ...[
        ["a UPSTREAM_BASE_URL holding a user and password", { UPSTREAM_BASE_URL: "https://user:pass@api.example/v1" }, "UPSTREAM_BASE_URL"],
        ["a UPSTREAM_BASE_URL holding a key in its query", { UPSTREAM_BASE_URL: "https://api.example/v1?key=AIzaSyD0123456789abcdefghij" }, "UPSTREAM_BASE_URL"],
        ["a UPSTREAM_AUTH_HEADER that is not a header name", { UPSTREAM_AUTH_HEADER: "api key" }, "UPSTREAM_AUTH_HEADER"],
        ["a UPSTREAM_AUTH_HEADER that is a hop-by-hop header", { UPSTREAM_AUTH_HEADER: "Connection" }, "UPSTREAM_AUTH_HEADER"],
        ["a UPSTREAM_AUTH_HEADER the template sets", { UPSTREAM_AUTH_HEADER: "content-type" }, "UPSTREAM_AUTH_HEADER"],
        ["a UPSTREAM_AUTH_SCHEME of two words", { UPSTREAM_AUTH_SCHEME: "Bearer token" }, "UPSTREAM_AUTH_SCHEME"],
        ["a UPSTREAM_AUTH_SCHEME with a line break", { UPSTREAM_AUTH_SCHEME: "Bearer\r\nX-Evil: 1" }, "UPSTREAM_AUTH_SCHEME"],
        ["UPSTREAM_QUERY not JSON", { UPSTREAM_QUERY: "api-version=1" }, "UPSTREAM_QUERY"],
        ["UPSTREAM_QUERY an array", { UPSTREAM_QUERY: "[1]" }, "UPSTREAM_QUERY"],
        ["UPSTREAM_QUERY with an object value", { UPSTREAM_QUERY: '{"a":{}}' }, "UPSTREAM_QUERY"],
        ["UPSTREAM_QUERY with an empty name", { UPSTREAM_QUERY: '{"":"1"}' }, "UPSTREAM_QUERY"],
        ["UPSTREAM_QUERY carrying a key", { UPSTREAM_QUERY: '{"key":"abc"}' }, "UPSTREAM_QUERY"],
        ["UPSTREAM_HEADERS not JSON", { UPSTREAM_HEADERS: "X-Title: a" }, "UPSTREAM_HEADERS"],
        ["UPSTREAM_HEADERS with a bad name", { UPSTREAM_HEADERS: '{"X Title":"a"}' }, "UPSTREAM_HEADERS"],
        ["UPSTREAM_HEADERS with a line break in a value", { UPSTREAM_HEADERS: '{"X-Title":"a\\r\\nX-Evil: 1"}' }, "UPSTREAM_HEADERS"],
        ["UPSTREAM_HEADERS with a non-ASCII value", { UPSTREAM_HEADERS: '{"X-Title":"caf\u00e9"}' }, "UPSTREAM_HEADERS"],
        ["UPSTREAM_HEADERS with a number-less object value", { UPSTREAM_HEADERS: '{"X-Title":null}' }, "UPSTREAM_HEADERS"],
        ["UPSTREAM_HEADERS with a hop-by-hop header", { UPSTREAM_HEADERS: '{"Transfer-Encoding":"chunked"}' }, "UPSTREAM_HEADERS"],
        ["UPSTREAM_HEADERS with Host", { UPSTREAM_HEADERS: '{"Host":"evil.example"}' }, "UPSTREAM_HEADERS"],
        ["UPSTREAM_HEADERS with the template's x-request-id", { UPSTREAM_HEADERS: '{"X-Request-Id":"1"}' }, "UPSTREAM_HEADERS"],
        ["UPSTREAM_HEADERS with Authorization", { UPSTREAM_HEADERS: '{"Authorization":"Basic abc"}' }, "UPSTREAM_HEADERS"],
        ["UPSTREAM_HEADERS with the configured auth header", { UPSTREAM_AUTH_HEADER: "x-custom-auth", UPSTREAM_HEADERS: '{"X-Custom-Auth":"abc"}' }, "UPSTREAM_HEADERS"],
        ["UPSTREAM_HEADERS with a key-like value", { UPSTREAM_HEADERS: '{"X-Title":"sk-proj-abcdef0123456789"}' }, "UPSTREAM_HEADERS"],
        ["a UPSTREAM_HEALTH_PATH that is not a path", { UPSTREAM_HEALTH_PATH: "models" }, "UPSTREAM_HEALTH_PATH"],
        ["a UPSTREAM_HEALTH_PATH climbing out of the base", { UPSTREAM_HEALTH_PATH: "/../models" }, "UPSTREAM_HEALTH_PATH"],
        ["a UPSTREAM_HEALTH_PATH with a query", { UPSTREAM_HEALTH_PATH: "/models?x=1" }, "UPSTREAM_HEALTH_PATH"],
      ].map(([name, env, variable]) => [`openai-compatible with ${name}`, { PROVIDER: "openai-compatible", UPSTREAM_BASE_URL: "https://api.example/v1", ...env }, variable]),
      ["MODELS listing nothing", { MODELS: " , ," }, "MODELS"],
      ["MODEL_MAP not JSON", { MODEL_MAP: "{small: big}" }, "MODEL_MAP"],
      ["MODEL_MAP an array", { MODEL_MAP: '["a"]' }, "MODEL_MAP"],
      ["MODEL_MAP null", { MODEL_MAP: "null" }, "MODEL_MAP"],
      ["MODEL_MAP a string", { MODEL_MAP: '"a"' }, "MODEL_MAP"],
      ["MODEL_MAP with an empty name", { MODEL_MAP: '{"a": ""}' }, "MODEL_MAP"],
      ["MODEL_MAP with a number", { MODEL_MAP: '{"a": 1}' }, "MODEL_MAP"],
      ["openai-compatible without UPSTREAM_BASE_URL", { PROVIDER: "openai-compatible" }, "UPSTREAM_BASE_URL"],
      ["openai-compatible with a blank UPSTREAM_BASE_URL", { PROVIDER: "openai-compatible", UPSTREAM_BASE_URL: "  " }, "UPSTREAM_BASE_URL"],
      ["openai-compatible with a UPSTREAM_BASE_URL that is not a URL", { PROVIDER: "openai-compatible", UPSTREAM_BASE_URL: "api.example.com/v1" }, "UPSTREAM_BASE_URL"],
      ["openai-compatible with an ftp UPSTREAM_BASE_URL", { PROVIDER: "openai-compatible", UPSTREAM_BASE_URL: "ftp://files.example/v1" }, "UPSTREAM_BASE_URL"],
      ["workers-ai without AI", { PROVIDER: "workers-ai" }, "AI"],
      ["workers-ai with an AI that is not a binding", { PROVIDER: "workers-ai", AI: "ai" }, "AI"],
      ["workers-ai with a null AI", { PROVIDER: "workers-ai", AI: null }, "AI"],
      ["workers-ai with an AI without run()", { PROVIDER: "workers-ai", AI: { run: "no" } }, "AI"],
    ];
    for (const [name, env, variable] of bad) {
      test(`${name} is loud: describe() throws, health() is not ok, infer() answers 500 and logs the var`, async () => {
        const b = await backend(env);
        await assert.rejects(b.describe(), (err) => err instanceof Error && err.message.includes(variable));
        const health = await b.health();
        assert.equal(health.ok, false);
        assert.ok(health.detail.includes(variable), health.detail);
        logs.lines.length = 0;
        const answer = await b.infer(inferenceRequest({ requestId: "req-misconfigured" }));
        const error = assertError(answer, 500, { code: "backend_misconfigured" });
        assert.ok(error.message.includes(variable), error.message);
        assert.ok(logs.lines.some((line) => line.includes("req-misconfigured") && line.includes(variable)), logs.lines.join("\n"));
      });
    }

    test("every bad var is reported, not only the first", async () => {
      const b = await backend({ PROVIDER: "bogus", WEIGHT: "-2", MODEL_MAP: "[]" });
      await assert.rejects(b.describe(), (err) => ["PROVIDER", "WEIGHT", "MODEL_MAP"].every((name) => err.message.includes(name)));
    });

    test("vars of another provider are not checked", async () => {
      assert.equal((await describeWith({ UPSTREAM_BASE_URL: "not a url" })).name, "backend");
      assert.equal((await describeWith({ PROVIDER: "openai-compatible", UPSTREAM_BASE_URL: "http://127.0.0.1:1/v1", AI: "x" })).name, "backend");
    });

    test("a misplaced key in UPSTREAM_HEADERS or UPSTREAM_QUERY is refused without being quoted", async () => {
      const secret = "sk-proj-abcdef0123456789";
      for (const env of [{ UPSTREAM_HEADERS: JSON.stringify({ "X-Title": secret }) }, { UPSTREAM_HEADERS: JSON.stringify({ "X-Title": `a\r\n${secret}` }) }, { UPSTREAM_QUERY: JSON.stringify({ api_key: secret }) }]) {
        const b = await backend({ PROVIDER: "openai-compatible", UPSTREAM_BASE_URL: "https://api.example/v1", ...env });
        logs.lines.length = 0;
        const texts = [(await b.health()).detail, JSON.stringify(await b.infer(inferenceRequest())), ...logs.lines];
        await assert.rejects(b.describe(), (err) => !err.message.includes(secret));
        for (const text of texts) assert.ok(!text.includes(secret), text);
      }
    });

    test("valid upstream options: Azure's api-key with the key alone, fixed query, extra headers, no probe, 14 MiB", async () => {
      await describeWith({
        PROVIDER: "openai-compatible",
        UPSTREAM_BASE_URL: "https://res.openai.azure.com/openai/deployments/dep?api-version=2024-10-21",
        UPSTREAM_AUTH_HEADER: "api-key",
        UPSTREAM_AUTH_SCHEME: "",
        UPSTREAM_QUERY: { "api-version": "2024-10-21" },
        UPSTREAM_HEADERS: { "HTTP-Referer": "https://router.example", "X-Title": "My router", "OpenAI-Project": "proj_abc" },
        UPSTREAM_HEALTH_PATH: "none",
        MAX_UPSTREAM_BYTES: String(14 * 1024 * 1024),
      });
    });

    test("valid edge values: ECHO_LATENCY_MS 0, MAX_UPSTREAM_BYTES 1, an http URL", async () => {
      await describeWith({ ECHO_LATENCY_MS: "0" });
      await describeWith({ ECHO_LATENCY_MS: 0 });
      await describeWith({ PROVIDER: "openai-compatible", UPSTREAM_BASE_URL: " http://127.0.0.1:8080/v1 ", MAX_UPSTREAM_BYTES: "1" });
    });
  });

  describe("health() and fetch()", () => {
    test("health() of echo is ok", async () => {
      const value = await (await backend()).health();
      assert.equal(value.ok, true);
    });

    test("fetch() answers a bare 404 that says nothing about the Worker", async () => {
      const b = await backend({ BACKEND_NAME: "secret-name", MODELS: "gpt-private" });
      const answer = await b.fetch(new Request("https://backend.internal/describe"));
      assert.equal(answer.status, 404);
      const text = await answer.text();
      assert.deepEqual(JSON.parse(text), { error: { message: "Not found", type: "invalid_request_error", param: null, code: "not_found" } });
      assert.doesNotMatch(text, /secret-name|gpt-private|echo/);
    });
  });

  describe("an unexpected failure answers 500 backend_error and leaks nothing", () => {
    /** A Workers AI binding whose answer throws when read, as a broken binding might. */
    function throwingAi(thrown) {
      return {
        async run() {
          return {
            get response() {
              throw thrown;
            },
          };
        },
      };
    }

    for (const [name, thrown, kind] of [
      ["an Error", new RangeError("prompt text: my secret question"), "RangeError"],
      ["a thrown string", "prompt text: my secret question", "string"],
    ]) {
      test(name, async () => {
        const b = await backend({ PROVIDER: "workers-ai", AI: throwingAi(thrown) });
        const answer = await b.infer(inferenceRequest({ requestId: "req-crash" }));
        assertError(answer, 500, { code: "backend_error" });
        assert.doesNotMatch(JSON.stringify(answer), /secret/);
        const line = logs.lines.find((l) => l.includes("req-crash"));
        assert.ok(line, logs.lines.join("\n"));
        assert.ok(line.includes(kind), line);
        assert.ok(line.includes("workers-ai"), `the log names the provider: ${line}`);
        assert.doesNotMatch(logs.lines.join("\n"), /secret|hello there/);
      });
    }
  });
});
