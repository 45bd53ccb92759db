// Compares the routing decision of two checkouts, each through its own shims/wasm-core.js and its
// own build/wasm/router.wasm (bench/tools/compare-wasm.mjs cannot: it runs every build through
// this checkout's shim, and the ABI may differ). Rounds are interleaved in one process, so
// background load hits both alike; prints median µs per decision, the range over rounds and the
// ratio B/A.
//   git worktree add /tmp/before <commit> && ln -s "$PWD/node_modules" /tmp/before/
//   (cd /tmp/before && scripts/build-wasm.sh) && scripts/build-wasm.sh
//   node bench/tools/compare-trees.mjs /tmp/before . [--rounds 8]
import path from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { median } from "../report/median.mjs";

const { values, positionals } = parseArgs({ allowPositionals: true, options: { rounds: { type: "string", default: "8" } } });
if (positionals.length !== 2) throw new Error("usage: node bench/tools/compare-trees.mjs <checkout A> <checkout B> [--rounds N]");
const trees = await Promise.all(positionals.map(async (root) => {
  const bench = await import(pathToFileURL(path.resolve(root, "bench/wasm/core-bench.mjs")).href);
  return { root, bench, module: bench.loadModule(path.resolve(root, "build/wasm/router.wasm")) };
}));
for (const [backends, bytes] of [[3, 1024], [16, 1024]]) {
  const us = trees.map(() => []);
  for (let round = 0; round < Number(values.rounds); round++) {
    const options = { iterations: 3000, warmup: round ? 200 : 2000 };
    const order = round % 2 ? [1, 0] : [0, 1];
    for (const i of order) us[i].push(trees[i].bench.benchDecision(trees[i].module, backends, bytes, options).medianUs);
  }
  const cells = us.map((xs, i) => `${trees[i].root} ${median(xs).toFixed(2)} [${Math.min(...xs).toFixed(2)}-${Math.max(...xs).toFixed(2)}]`);
  console.log(`${backends} backends, ${bytes} B: ${cells.join("  ")}  ratio ${(median(us[1]) / median(us[0])).toFixed(3)}`);
}
