// The targets of issues 6 and 16, checked against one bench run's results (bench/run.mjs).
const KB = 1024;

/**
 * Issue 16: the router's own CPU per request against the cheapest Worker with the same topology
 * (forwarder-3 over the same three backends, forwarder over one, forwarder-stream for streams).
 * @param {any} http results by scenario and concurrency @param {(t: string, m: string, met: boolean | null) => void} add
 */
function cpuTargets(http, add) {
  const cpu = (name, c) => http[name]?.[c]?.cpuUsPerRequest;
  for (const [name, base, limit] of [["router", "forwarder-3", 1.1], ["router-stream", "forwarder-stream", 1.2], ["router-1", "forwarder", 1.1]]) {
    for (const c of [1, 16]) {
      if (!cpu(name, c) || !cpu(base, c)) continue;
      const ratio = cpu(name, c) / cpu(base, c);
      add(`${name} CPU/request <= ${limit.toFixed(2)}x ${base}, c=${c}`, `${ratio.toFixed(2)}x (${Math.round(cpu(name, c))} vs ${Math.round(cpu(base, c))} µs)`, ratio <= limit);
    }
  }
  // Context, not a target: where the contract's own floor lies (bench/workers/contract-floor.js).
  for (const [floor, base, router] of [["floor-3", "forwarder-3", "router"], ["floor", "forwarder", "router-1"], ["floor-stream", "forwarder-stream", "router-stream"]]) {
    for (const c of [1, 16]) {
      if (!cpu(floor, c) || !cpu(base, c)) continue;
      add(`${floor} (the contract's minimum in plain JS) over ${base}, c=${c}`, `${(cpu(floor, c) / cpu(base, c)).toFixed(2)}x` +
        (cpu(router, c) ? `; ${router} over ${floor} ${(cpu(router, c) / cpu(floor, c)).toFixed(2)}x` : ""), null);
    }
  }
  const p50 = (name) => http[name]?.[1]?.p50Us;
  if (p50("router") && p50("forwarder-3")) {
    const over = p50("router") - p50("forwarder-3");
    add("router p50 over forwarder-3, c=1: <= 50 µs", `${over.toFixed(0)} µs`, over <= 50);
  }
}

/** @param {any} r results @returns {{target: string, measured: string, met: boolean | null}[]} */
export function checkTargets(r) {
  const rows = [];
  const add = (target, measured, met) => rows.push({ target, measured, met });
  const http = r.http?.results;
  if (http) cpuTargets(http, add);
  if (http?.router && http.forwarder && http.direct) {
    const p50 = (name, c) => http[name]?.[c]?.p50Us;
    const rps = (name, c) => http[name]?.[c]?.rps;
    const overForwarder = p50("router", 1) - p50("forwarder", 1);
    add("router p50 over forwarder, c=1: <= 50 µs", `${overForwarder.toFixed(0)} µs`, overForwarder <= 50);
    const ratio = rps("router", 16) / rps("forwarder", 16);
    add("router req/s at c=16 >= 90% of forwarder's", `${(100 * ratio).toFixed(0)}%`, ratio >= 0.9);
    // Not a target: the same comparison against a forwarder that also takes turns over the three
    // backends, which separates the router's own cost from the cost of the topology.
    if (rps("forwarder-3", 16)) {
      const same = rps("router", 16) / rps("forwarder-3", 16);
      add("router req/s at c=16 vs forwarder-3 (same three backends)", `${(100 * same).toFixed(0)}% (forwarder-3 is ${(100 * rps("forwarder-3", 16) / rps("forwarder", 16)).toFixed(0)}% of forwarder)`, null);
    }
    const ours = p50("router", 1) - p50("direct", 1);
    const peer = p50("peer-portkey", 1) - p50("peer-direct", 1);
    if (peer) add("added p50 over direct (c=1) >= 3x lower than the peer's", `router +${ours.toFixed(0)} µs, peer +${peer.toFixed(0)} µs (${(peer / ours).toFixed(2)}x)`, peer >= 3 * ours);
  }
  const decision = r.wasm?.decisions?.find((d) => d.backends === 16 && d.bodyBytes === 1024);
  if (decision) add("Wasm decision incl. marshalling, 16 backends, 1 KB: median <= 10 µs", `${decision.medianUs.toFixed(2)} µs`, decision.medianUs <= 10);
  if (r.size) {
    add(".wasm < 100 KB raw", `${(r.size.wasm.raw / KB).toFixed(1)} KB`, r.size.wasm.raw < 100 * KB);
    add(".wasm < 40 KB gzipped", `${(r.size.wasm.gzip / KB).toFixed(1)} KB`, r.size.wasm.gzip < 40 * KB);
    add("orchestrator bundle < 60 KB gzipped", `${(r.size.bundle.gzip / KB).toFixed(1)} KB`, r.size.bundle.gzip < 60 * KB);
  }
  if (r.wasm?.instantiation) add("instantiation (Instance + _initialize + configure) < 1 ms", `${r.wasm.instantiation.medianMs.toFixed(3)} ms`, r.wasm.instantiation.medianMs < 1);
  if (r.wasm?.memory) {
    const sizes = Object.entries(r.wasm.memory.sizes).map(([n, bytes]) => `${Number(n).toLocaleString("en")}: ${bytes / KB} KB`);
    const values = Object.values(r.wasm.memory.sizes);
    add("no Wasm memory growth under steady load (after 1 000 == after the last)", sizes.join(", "), values.every((v) => v === values[0]));
  }
  return rows;
}
