// Summarizes a V8 .cpuprofile (node --cpu-prof, or workerd's inspector): self time per function,
// highest first. Run: node bench/tools/profile-summary.mjs FILE.cpuprofile [top=25]
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** Self time (µs) per function of a profile file, highest first. @param {string} file */
export function selfTimes(file) {
  const profile = JSON.parse(readFileSync(file, "utf8"));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  // Each sample hits one node; the time delta before it is that node's self time.
  profile.samples.forEach((id, i) => {
    const node = byId.get(id);
    const name = `${node.callFrame.functionName || "(anonymous)"} ${node.callFrame.url ? node.callFrame.url.split("/").pop() + ":" + node.callFrame.lineNumber : ""}`.trim();
    self.set(name, (self.get(name) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  return [...self.entries()].map(([name, us]) => ({ name, us })).sort((a, b) => b.us - a.us);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [file, top = "25"] = process.argv.slice(2);
  const rows = selfTimes(file);
  const total = rows.reduce((a, r) => a + r.us, 0);
  for (const { name, us } of rows.slice(0, Number(top))) {
    console.log(`${(100 * us / total).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(1).padStart(8)} ms  ${name}`);
  }
}
