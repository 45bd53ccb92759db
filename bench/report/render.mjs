// Renders one bench run (bench/run.mjs) as the Markdown tables of BENCHMARKS.md.
const KB = 1024;
const us = (x) => (x == null ? "n/a" : x >= 10_000 ? `${(x / 1000).toFixed(1)} ms` : `${Math.round(x)} µs`);
const fixed = (x, d = 2) => (x == null ? "n/a" : x.toFixed(d));
const signed = (x) => (x < 0 ? `−${us(-x)}` : `+${us(x)}`);

/** @param {string[]} head @param {(string|number)[][]} rows */
function table(head, rows) {
  return [`| ${head.join(" | ")} |`, `|${head.map(() => "---").join("|")}|`, ...rows.map((r) => `| ${r.join(" | ")} |`)].join("\n");
}

/**
 * `--before`: each router scenario before and after, and each over its forwarder, from one run.
 * @param {any} r @param {any} http @param {number[]} cs
 */
function beforeAfter(r, http, cs) {
  const rows = [];
  for (const [name, base] of [["router", "forwarder-3"], ["router-1", "forwarder"], ["router-stream", "forwarder-stream"]]) {
    const [before, after] = [http[`${name}-before`], http[name]];
    if (!before || !after) continue;
    for (const c of cs) {
      const [b, a, f] = [before[c], after[c], http[base]?.[c]];
      const range = (x) => (x.cpuMin == null ? "" : ` (${Math.round(x.cpuMin)}–${Math.round(x.cpuMax)})`);
      rows.push([`${name} c=${c}`, `${us(b.cpuUsPerRequest)}${range(b)}`, `${us(a.cpuUsPerRequest)}${range(a)}`, fixed(a.cpuUsPerRequest / b.cpuUsPerRequest),
        f ? `${fixed(b.cpuUsPerRequest / f.cpuUsPerRequest)}x → ${fixed(a.cpuUsPerRequest / f.cpuUsPerRequest)}x` : "n/a", `${us(b.p50Us)} → ${us(a.p50Us)}`]);
    }
  }
  return [`### Before (${r.before.commit}) and after (${r.before.after}), same run`, "",
    table(["scenario", "CPU/request before (range)", "after (range)", "after/before", "over its forwarder", "p50"], rows),
    "", "Forwarders: router over forwarder-3, router-1 over forwarder, router-stream over forwarder-stream; ranges over the rounds."];
}

/** @param {any} r */
export function renderReport(r) {
  const out = [];
  const m = r.machine;
  out.push(`Run ${r.date}${r.quick ? " (**--quick smoke run: not representative**)" : ""}: ${m.nproc} CPUs, ${m.cpuModel}; ` +
    `load average ${m.loadAvg.join(" / ")} before, ${m.loadAvgAfter?.join(" / ")} after; Node ${m.node}, workerd ${m.workerd}, ${m.wrk}; ${r.durationS} s.`);

  if (r.targets?.length) {
    out.push("", "### Targets", "", table(["target", "measured", "met"],
      r.targets.map((t) => [t.target, t.measured, t.met === null ? "(context)" : t.met ? "yes" : "**no**"])));
  }

  const http = r.http?.results;
  if (http) {
    const cs = r.http.connections;
    const base = { router: "direct", "router-alone": "direct", "router-1": "direct", forwarder: "direct", "forwarder-3": "direct", floor: "direct", "floor-3": "direct", "router-stream": "direct-stream", "forwarder-stream": "direct-stream", "floor-stream": "direct-stream", "peer-portkey": "peer-direct" };
    const rows = [];
    for (const name of ["direct", "forwarder", "forwarder-3", "floor", "floor-3", "router", "router-alone", "router-1", "direct-stream", "forwarder-stream", "floor-stream", "router-stream", "peer-direct", "peer-portkey"]) {
      if (!http[name]) continue;
      const row = [name];
      for (const c of cs) {
        const x = http[name][c];
        const b = base[name] ? http[base[name]]?.[c] : null;
        row.push(us(x.p50Us), us(x.p99Us), Math.round(x.rps), b ? signed(x.p50Us - b.p50Us) : "");
      }
      rows.push(row);
    }
    out.push("", `### HTTP (wrk, loopback; median of ${r.http.rounds} interleaved rounds of ${r.http.seconds} s)`, "",
      table(["scenario", ...cs.flatMap((c) => [`p50 c=${c}`, `p99 c=${c}`, `req/s c=${c}`, `added p50 c=${c}`])], rows),
      "", "Added p50 is versus the scenario's own direct baseline (router and forwarder vs direct, streams vs direct-stream, Portkey vs its upstream).");
    const cpuRows = Object.keys(http).map((name) => [name, ...cs.map((c) => us(http[name][c].cpuUsPerRequest))]);
    out.push("", "Server CPU time per request (user + system of the serving processes, from /proc; workerd runs every Worker of a scenario, the peer counts Portkey and its upstream):", "",
      table(["scenario", ...cs.map((c) => `CPU/request c=${c}`)], cpuRows));
    const cmp = [];
    for (const [a, b] of [["router", "forwarder"], ["router", "forwarder-3"], ["floor-3", "forwarder-3"], ["router", "floor-3"], ["router", "router-alone"], ["router-1", "forwarder"], ["floor", "forwarder"], ["router-1", "floor"], ["router-stream", "forwarder-stream"],
      ["floor-stream", "forwarder-stream"], ["router-stream", "floor-stream"]]) {
      if (!http[a] || !http[b]) continue;
      cmp.push([`${a} vs ${b}`, ...cs.flatMap((c) => [signed(http[a][c].p50Us - http[b][c].p50Us), `${(100 * http[a][c].rps / http[b][c].rps).toFixed(0)}%`])]);
    }
    if (cmp.length) out.push("", table(["router over the forwarder", ...cs.flatMap((c) => [`added p50 c=${c}`, `req/s ratio c=${c}`])], cmp));
    if (r.before) out.push("", ...beforeAfter(r, http, cs));
  }

  if (r.wasm?.decisions || r.native) {
    const rows = [];
    for (const d of r.wasm?.decisions ?? r.native) {
      const n = r.native?.find((x) => x.backends === d.backends && x.bodyBytes === d.bodyBytes);
      const w = r.wasm?.decisions?.find((x) => x.backends === d.backends && x.bodyBytes === d.bodyBytes);
      rows.push([d.backends, `${d.bodyBytes / KB} KB`, n ? fixed(n.medianUs) : "n/a", w ? fixed(w.medianUs) : "n/a", w ? fixed(w.p99Us) : "n/a"]);
    }
    out.push("", "### Routing decision (begin, body, first CALL, outcome 200, end, logs), µs", "",
      table(["backends", "body", "native median", "Wasm+JS median", "Wasm+JS p99"], rows));
  }

  if (r.size || r.wasm?.instantiation || r.cold) {
    out.push("", "### Size and start", "");
    const rows = [];
    if (r.size) {
      rows.push(["router.wasm", `${fixed(r.size.wasm.raw / KB, 1)} KB raw, ${fixed(r.size.wasm.gzip / KB, 1)} KB gzipped`]);
      rows.push(["orchestrator bundle (" + r.size.bundle.files.map((f) => f.name.replace(/^[0-9a-f]{40}-/, "")).join(" + ") + ")",
        `${fixed(r.size.bundle.raw / KB, 1)} KB raw, ${fixed(r.size.bundle.gzip / KB, 1)} KB gzipped`]);
    }
    if (r.wasm?.instantiation) {
      const i = r.wasm.instantiation;
      rows.push(["instantiation in Node (Instance + _initialize + rt_router_new + configure)", `median ${fixed(i.medianMs, 3)} ms, p99 ${fixed(i.p99Ms, 3)} ms (compiling the module apart: ${fixed(i.compileMedianMs, 2)} ms)`]);
    }
    for (const c of r.cold ?? []) {
      rows.push([`workerd, ${c.service}: first request vs warm (${c.trials} fresh processes)`,
        `first ${fixed(c.firstMs)} ms, warm ${fixed(c.warmMs)} ms (new connection each; process listening after ${fixed(c.listeningMs, 0)} ms)`]);
    }
    out.push(table(["what", "measured"], rows));
  }

  if (r.wasm?.memory) {
    const mem = r.wasm.memory;
    out.push("", "### Wasm linear memory under a mixed load", "",
      table(["requests", "memory.buffer.byteLength"], Object.entries(mem.sizes).map(([n, b]) => [Number(n).toLocaleString("en"), `${b} (${b / KB} KB)`])),
      "", `Final answers of the run: ${Object.entries(mem.outcomes).map(([k, v]) => `${k} ${v}`).join(", ")}.`);
  }
  return out.join("\n");
}
