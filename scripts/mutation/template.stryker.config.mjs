// Mutation testing of the backend template (npm run mutation:template): which of its behaviours
// could change without a test noticing.
//
// Stryker compiles every mutant into the sources at once and activates one per test run through
// the environment variable __STRYKER_ACTIVE_MUTANT__, which the instrumented code reads from
// globalThis.process.env. The test command runs two suites against the sandbox's instrumented
// sources:
//   1. tests/backend/unit/: the template's Backend entrypoint compiled with esbuild and run in
//      node itself, so it sees the variable directly; all of it in one process that stops at the
//      first failure (a fraction of a second to 2 s; kills most mutants);
//   2. tests/backend/*.test.mjs: the template bundled by `wrangler deploy --dry-run` and run in
//      Miniflare. workerd does not see the test process's environment, so while the variable is
//      set the harness passes it to each backend Worker as a plain-text binding, with the
//      nodejs_compat and nodejs_compat_populate_process_env flags that make bindings appear in
//      process.env (tests/backend/harness.mjs).
// The second runs only for mutants the first did not kill. Both reuse their compiled bundle across
// mutants (node_modules/.cache, keyed by the sources' hash): the sandbox's sources never change.
//
// Run on 2 cores: concurrency 2; about 30 minutes for ~1700 mutants on a shared, loaded 2-core
// machine. Reports: build/mutation/template/ (html, json) and the console. A score under 75 fails.
export default {
  $schema: "../../node_modules/@stryker-mutator/core/schema/stryker-schema.json",
  packageManager: "npm",
  testRunner: "command",
  commandRunner: {
    // Fails fast: the unit tests in one process, ended by their first failure (bail-reporter.mjs),
    // then one Miniflare suite at a time.
    command:
      "node --test-reporter=./tests/backend/unit/bail-reporter.mjs tests/backend/unit/all.mjs" +
      ' && for suite in tests/backend/*.test.mjs; do node --test "$suite" || exit 1; done',
  },
  // The command runner runs everything for every mutant; there is no per-test coverage.
  coverageAnalysis: "off",
  mutate: ["backend-worker-template/src/**/*.ts"],
  // The sandbox needs the template, the shared interfaces it imports and its tests; node_modules is
  // linked, not copied. Everything else (the C++ build alone is hundreds of MB) stays out.
  ignorePatterns: ["/build", "/cpp", "/bench", "/docs", "/orchestrator-worker", "/scripts", "/tests/*", "!/tests/backend", "*.wasm"],
  concurrency: 2,
  tempDirName: "build/stryker-template",
  cleanTempDir: true,
  // A mutant's run takes from a fraction of a second (a unit test kills it) to the initial run's
  // time (everything passes); 1.5 x that + 10 s is slack enough on a loaded machine. Only
  // synchronous endless loops get there: a unit suite that hangs otherwise fails after 15 s.
  timeoutFactor: 1.5,
  timeoutMS: 10000,
  reporters: ["html", "json", "clear-text", "progress"],
  htmlReporter: { fileName: "build/mutation/template/index.html" },
  jsonReporter: { fileName: "build/mutation/template/mutation.json" },
  clearTextReporter: { allowColor: false, logTests: false, reportScoreTable: true, reportMutants: true },
  thresholds: { high: 85, low: 75, break: 75 },
};
