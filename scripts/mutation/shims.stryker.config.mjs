// Mutation testing of the JavaScript shim (npm run mutation:shims): which of the shim's behaviours
// (shims/driver.js, shims/wasm-core.js) could change without a test noticing.
//
// Stryker compiles every mutant into the sources at once and activates one per test run through
// the environment variable __STRYKER_ACTIVE_MUTANT__. Only node-level suites run, in Node itself,
// where the instrumented shim sees that variable: tests/shim/ (the driver harness: the real
// router.wasm, a hand-moved clock, scripted backends) and tests/core/ (the Wasm ABI and the
// driver's own failures). The end-to-end suites run the bundled Worker in workerd, which would not
// see the active mutant, so they are left out. One run of both suites takes about 3 s; the whole
// run of the 883 mutants about 40-50 min on 2 shared cores.
//
// The sandbox is a copy of the project without the build tree, except build/wasm/router.wasm,
// which both suites load (it is git-ignored, so it is built here first when missing).
//
// Run on 2 cores: concurrency 2, and one test file at a time in each run.
// Reports: build/mutation/shims/ (html, json) and the console (clear-text).
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));
if (!existsSync(`${root}build/wasm/router.wasm`)) {
  console.log("mutation:shims: build/wasm/router.wasm is missing; building it (scripts/build-wasm.sh)");
  execFileSync(`${root}scripts/build-wasm.sh`, { stdio: "inherit", env: { ...process.env, JOBS: "2" } });
}

export default {
  $schema: "../../node_modules/@stryker-mutator/core/schema/stryker-schema.json",
  packageManager: "npm",
  testRunner: "command",
  commandRunner: {
    // --test-timeout: a mutant that leaves a test waiting fails that test instead of stalling the run.
    command: "node --test --test-concurrency=1 --test-timeout=20000 tests/shim/ tests/core/",
  },
  // The command runner runs everything for every mutant; there is no per-test coverage.
  coverageAnalysis: "off",
  mutate: ["shims/**/*.js"],
  // The sandbox needs package.json ("type": "module"), shims/, the two suites and router.wasm;
  // node_modules is linked, not copied. The rest of build/ (the C++ builds, hundreds of MB) and
  // the other sources stay out.
  ignorePatterns: [
    "/build/*", "!/build/wasm", "/build/wasm/*", "!/build/wasm/router.wasm",
    "/cpp", "/bench", "/docs", "/orchestrator-worker", "/backend-worker-template", "/scripts",
    "/tests/*", "!/tests/shim", "!/tests/core",
  ],
  concurrency: 2,
  tempDirName: "build/stryker-shims",
  cleanTempDir: true,
  timeoutFactor: 1.5,
  timeoutMS: 10000,
  reporters: ["html", "json", "clear-text", "progress"],
  htmlReporter: { fileName: "build/mutation/shims/index.html" },
  jsonReporter: { fileName: "build/mutation/shims/mutation.json" },
  clearTextReporter: { allowColor: false, logTests: false, reportScoreTable: true, reportMutants: true },
  thresholds: { high: 90, low: 85, break: null },
};
