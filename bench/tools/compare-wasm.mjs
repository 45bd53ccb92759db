// Compares router.wasm builds (e.g. from bench/tools/build-wasm-variant.sh) on the routing
// decision through shims/wasm-core.js: size, and median µs for 16 backends with 1 KB and 100 KB
// bodies, the builds interleaved over several rounds so background load hits them alike.
//   node bench/tools/compare-wasm.mjs A.wasm B.wasm ... [--rounds 5]
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { gzipSync } from "node:zlib";
import { benchDecision, loadModule } from "../wasm/core-bench.mjs";
import { median } from "../report/median.mjs";

const { values, positionals } = parseArgs({ allowPositionals: true, options: { rounds: { type: "string", default: "5" } } });
const builds = positionals.map((file) => ({ file, module: loadModule(file), bytes: readFileSync(file), small: [], large: [] }));
for (let round = 0; round < Number(values.rounds); round++) {
  for (const b of builds) {
    b.small.push(benchDecision(b.module, 16, 1024, { iterations: 3000, warmup: round ? 200 : 2000 }).medianUs);
    b.large.push(benchDecision(b.module, 16, 100 * 1024, { iterations: 40, warmup: round ? 5 : 20 }).medianUs);
  }
}
console.log("| build | raw KB | gzip KB | 16 backends, 1 KB: median µs | 16 backends, 100 KB: median µs |");
console.log("|---|---|---|---|---|");
for (const b of builds) {
  console.log(`| ${b.file} | ${(b.bytes.length / 1024).toFixed(1)} | ${(gzipSync(b.bytes, { level: 9 }).length / 1024).toFixed(1)} | ${median(b.small).toFixed(2)} | ${median(b.large).toFixed(0)} |`);
}
