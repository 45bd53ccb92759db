// Every unit suite in one process (one node start, one esbuild compile), in the order that fails
// soonest. Mutation testing runs it with the bail reporter, which ends the run at the first failure:
//   node --test-reporter=./tests/backend/unit/bail-reporter.mjs tests/backend/unit/all.mjs
// `node --test tests/backend/` runs the same files one process each.
import "./entrypoint.test.mjs";
import "./echo.test.mjs";
import "./openai-compatible.test.mjs";
import "./workers-ai.test.mjs";
import "./anthropic.test.mjs";
import "./responses.test.mjs";
