// @ts-check
// The status page's script (GET /dashboard/app.js), run by the browser: reads /status every few
// seconds and renders it. Everything in /status is hostile (names and models come from backends'
// describe()): values are checked for type and written with textContent only, never as markup.
// Per backend, the cluster's figures (cluster.backends[]) when the control plane has them, else
// the answering isolate's. Kept free of backquotes and dollar-brace: it lives in a template string.
export const script = String.raw`"use strict";
(() => {
  const REFRESH_MS = 3000;
  // Built from the origin, never from the page's URL (which may hold credentials fetch refuses).
  const STATUS_URL = new URL("/status", window.location.origin).href;
  const STATES = ["healthy", "cooldown", "ejected"];
  const COLUMNS = ["binding", "name", "state", "inFlight", "attempts", "failures", "errorRate",
    "firstByteMs", "totalMs", "tokens", "view"];

  const isObject = (v) => typeof v === "object" && v !== null && !Array.isArray(v);
  const num = (v) => (typeof v === "number" && Number.isFinite(v) ? v : null);
  const text = (v, max = 120) => (typeof v === "string" ? v.slice(0, max) : null);
  const count = (v) => (num(v) === null ? "–" : Math.round(v).toLocaleString("en-US"));
  const ms = (v) => (num(v) === null ? "–" : v.toFixed(1));
  const clock = (epochMs) => (num(epochMs) === null ? "–" : new Date(epochMs).toLocaleTimeString("en-GB"));

  /** "p50 / p95 / p99" of a {samples, p50, p95, p99} sketch, or "–" without samples. */
  function quantiles(sketch) {
    if (!isObject(sketch) || !(num(sketch.samples) > 0)) return "–";
    return [sketch.p50, sketch.p95, sketch.p99].map(ms).join(" / ");
  }

  function tokens(t) {
    if (!isObject(t) || num(t.total) === null) return "–";
    return count(t.total) + " (" + count(t.prompt) + " + " + count(t.completion) + ")";
  }

  /** One backend's row figures: the cluster's entry where it has them, the isolate's otherwise. */
  function figures(local, shared, now) {
    const from = (key) => (shared && key in shared ? shared : local);
    const state = text(from("state").state) ?? "unknown";
    const until = num(from("state").until);
    const attempts = num(from("attempts").attempts);
    const failures = num(from("failures").failures);
    const latency = isObject(from("latency").latency) ? from("latency").latency : {};
    const partial = ["latency", "tokens"].filter((k) => shared && !(k in shared));
    return {
      binding: text(local.binding) ?? "?",
      name: text(local.name) ?? (local.described === false ? "(not described yet)" : "–"),
      state: state + (until !== null && num(now) !== null && until > now ? " (" + Math.ceil((until - now) / 1000) + " s)" : ""),
      stateClass: STATES.includes(state) ? "state-" + state : "",
      inFlight: count(local.inFlight),
      attempts: count(attempts),
      failures: count(failures),
      errorRate: attempts ? (100 * (failures ?? 0) / attempts).toFixed(1) + " %" : "–",
      highErrors: attempts ? (failures ?? 0) / attempts >= 0.2 : false,
      firstByteMs: quantiles(latency.firstByteMs),
      totalMs: quantiles(latency.totalMs),
      tokens: tokens(from("tokens").tokens),
      view: shared ? "cluster" + (partial.length ? " (" + partial.join(", ") + ": isolate)" : "") : "isolate",
    };
  }

  function row(f) {
    const tr = document.createElement("tr");
    tr.dataset.binding = f.binding;
    for (const column of COLUMNS) {
      const td = tr.insertCell();
      td.dataset.field = column;
      td.textContent = f[column];
    }
    if (f.stateClass) tr.cells[COLUMNS.indexOf("state")].classList.add(f.stateClass);
    if (f.highErrors) tr.cells[COLUMNS.indexOf("errorRate")].classList.add("high-errors");
    return tr;
  }

  function summary(field, value) {
    const dd = document.querySelector('#summary [data-field="' + field + '"]');
    if (dd) dd.textContent = value;
  }

  function render(status) {
    const cluster = isObject(status.cluster) ? status.cluster : {};
    const shared = new Map();
    for (const b of Array.isArray(cluster.backends) ? cluster.backends : []) {
      if (isObject(b) && text(b.binding) !== null) shared.set(b.binding, b);
    }
    const rows = (Array.isArray(status.backends) ? status.backends : []).filter(isObject)
      .map((b) => row(figures(b, shared.get(b.binding), status.now)));
    document.querySelector("#backends tbody").replaceChildren(...rows);
    summary("controlPlane", text(cluster.controlPlane) ?? "–");
    summary("isolates", num(cluster.isolates) === null ? "– (no cluster view)" : count(cluster.isolates));
    summary("syncedAt", clock(cluster.syncedAt));
    summary("requestsInFlight", count(status.requestsInFlight));
    summary("strategy", isObject(status.policy) ? text(status.policy.strategy) ?? "–" : "–");
    document.getElementById("updated").textContent = "updated " + clock(num(status.now) ?? Date.now());
  }

  function problem(message) {
    const p = document.getElementById("problem");
    p.hidden = message === null;
    p.textContent = message ?? "";
  }

  async function refresh() {
    try {
      const response = await fetch(STATUS_URL, { cache: "no-store", credentials: "same-origin", headers: { accept: "application/json" } });
      if (response.status === 401) problem("Not signed in: reload the page and give the admin key as the password.");
      else if (!response.ok) problem("/status answered " + response.status);
      else {
        const status = await response.json();
        if (!isObject(status)) throw new Error("/status is not a JSON object");
        render(status);
        problem(null);
        document.body.dataset.rendered = String(Number(document.body.dataset.rendered ?? 0) + 1);
      }
    } catch (e) {
      problem("Could not read /status: " + (e instanceof Error ? e.message : "unknown error"));
    }
    setTimeout(refresh, REFRESH_MS);
  }

  refresh();
})();
`;
