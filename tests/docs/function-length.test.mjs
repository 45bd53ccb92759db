// No function of the product code is longer than 60 lines (scripts/function-lengths.mjs: C++ in
// cpp/src and cpp/wasm, JS/TS in shims/, orchestrator-worker/src, backend-worker-template/src;
// a function's lines run from its name to its closing brace, inner lambdas included). The scanner
// itself is checked first on the constructs that could fool it.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { functionsOf, listFunctions } from "../../scripts/function-lengths.mjs";

const ROOT = path.resolve(fileURLToPath(new URL("../..", import.meta.url)));
const MAX_LINES = 60;

const summary = (fns) => fns.map((f) => `${f.name}@${f.start}:${f.lines}`);

test("the scanner finds C++ functions, methods, constructors and lambdas, and skips what only looks like code", () => {
  const src = [
    '#include "x.hpp"',                                          // 1
    "#define BODY(x) { return x; }",                             // 2
    "namespace router {",                                        // 3
    "namespace {",                                               // 4
    "constexpr uint64_t kBig = 1'000'000;",                      // 5
    "int helper(int a) {",                                       // 6
    "  const char* s = \"} { not code\"; char c = '{';",         // 7
    "  int k = 1'000; char o = '{';",                            // 8
    "  auto raw = R\"x(})x\";  // } {",                          // 8
    "  /* { */ if (a) { return 1; }",                            // 9
    "  auto twice = [&](int v) -> int {",                        // 10
    "    return v * 2;",                                         // 11
    "  };",                                                      // 12
    "  return twice(a);",                                        // 13
    "}",                                                         // 14
    "}  // namespace",                                           // 15
    "class Box : public Base {",                                 // 16
    " public:",                                                  // 17
    "  Box(int v) : v_(v), w_{v} {",                             // 18
    "  }",                                                       // 19
    "  bool operator==(const Box& o) const { return v_ == o.v_; }", // 20
    "  int get() const noexcept {",                              // 21
    "    return v_;",                                            // 22
    "  }",                                                       // 23
    "};",                                                        // 24
    "auto Box::size() const -> size_t {",                        // 25
    "  for (int i = 0; i < 3; ++i) {",                           // 26
    "  }",                                                       // 27
    "  int arr[2]{1, 2};",                                       // 28
    "  std::visit([](auto& x) { use(x); }, v);",                 // 29
    "  return 0;",                                               // 30
    "}",                                                         // 31
    "}  // namespace router",                                    // 32
  ].join("\n");
  assert.deepEqual(summary(functionsOf(src, "cpp")), [
    "helper@6:10", "<lambda in helper>@11:3", "Box::Box@19:2", "Box::operator==@21:1", "Box::get@22:3",
    "Box::size@26:7", "<lambda in Box::size>@30:1",
  ]);
});

test("the scanner finds JS/TS functions, methods and arrows, and skips strings, templates, regexes and types", () => {
  const src = [
    "const re = /[{]}/g; const s = '{'; // {",                  // 1
    "export async function outer(a: { x: number }): Promise<{ y: string }> {", // 2
    "  const t = `${a.x} { ${JSON.stringify({ k: 1 })} }`;",    // 3
    "  const q = /^}+$/; const u = `{ ${a.x}`;",                // 4
    "  const inner = async (v) => {",                           // 4
    "    return v / 2;",                                        // 5
    "  };",                                                     // 6
    "  if (a) { /* } */ }",                                     // 7
    "  return [1].map(function (n) {",                          // 8
    "    return n;",                                            // 9
    "  });",                                                    // 10
    "}",                                                        // 11
    "class Thing extends Base {",                               // 12
    "  #guard = (fn) => {",                                     // 13
    "    return fn();",                                         // 14
    "  };",                                                     // 15
    "  get size() {",                                           // 16
    "    return 1;",                                            // 17
    "  }",                                                      // 18
    "  static make(): { a: number } | { b: string }[] {",       // 19
    "    return [];",                                           // 20
    "  }",                                                      // 21
    "}",                                                        // 22
    "const obj = { handler: (x) => { return x; }, plain: { a: 1 } };", // 23
    "for (const k of keys) {",                                  // 24
    "}",                                                        // 25
    "const short = (x) => x + 1;",                              // 26
  ].join("\n");
  assert.deepEqual(summary(functionsOf(src, "js")), [
    "outer@2:11", "inner@5:3", "<function in outer>@9:3", "Thing.#guard@14:3", "Thing.size@17:3", "Thing.make@20:3",
    "handler@24:1",
  ]);
});

test("the command line: --max exits 1 and lists only the functions over the limit", () => {
  const script = path.join(ROOT, "scripts/function-lengths.mjs");
  const longest = listFunctions()[0];
  const run = (max) => {
    try {
      return { code: 0, out: execFileSync(process.execPath, [script, "--max", String(max)], { encoding: "utf8", stdio: "pipe" }) };
    } catch (e) {
      return { code: e.status, out: String(e.stdout) };
    }
  };
  assert.equal(run(longest.lines).code, 0, "nothing exceeds the longest function's own length");
  const over = run(longest.lines - 1);
  assert.equal(over.code, 1);
  assert.match(over.out, new RegExp(`^\\s*${longest.lines}\\s+${longest.file.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}:${longest.start}\\s`, "m"));
});

test(`no function of the product code is longer than ${MAX_LINES} lines`, (t) => {
  const all = listFunctions();
  assert.ok(all.length > 300, `only ${all.length} functions found: the scanner lost its sources`);
  for (const f of all.slice(0, 5)) t.diagnostic(`${f.lines} lines: ${f.file}:${f.start} ${f.name}`);
  const over = all.filter((f) => f.lines > MAX_LINES);
  assert.deepEqual(over.map((f) => `${f.file}:${f.start} ${f.name} (${f.lines} lines)`), [],
    `functions longer than ${MAX_LINES} lines (node scripts/function-lengths.mjs --max ${MAX_LINES})`);
});
