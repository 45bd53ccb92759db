// Two orchestrators sharing one control plane (docs/control-plane.md), over controlled backends
// that say who called them (tests/fixture-workers/cluster-backend.js): "a" is orchestrator A and
// the ControlPlane object it hosts (they share A's bindings), "b" is orchestrator B. Every
// describe() is recorded with its caller and its span (arrival to answer), so a test can tell the
// control plane's alarm batches apart: describe() calls of one alarm overlap, two alarms never do.
import { createBackendControl } from "./backend-control.mjs";
import { ask } from "./fault-cases.mjs";
import { startStack } from "./stack.mjs";

/**
 * @typedef {{binding: string, caller: string, start: number, end: number}} DescribeSpan
 * @param {{bindings: string[], routerConfig?: object, controlPlane?: import("./stack.mjs").ControlPlaneSpec}} spec
 */
export async function startCluster({ bindings, routerConfig, controlPlane = {} }) {
  const control = createBackendControl();
  /** @type {DescribeSpan[]} */
  let describes = [];
  /** The control function of createBackendControl, with describe() spans recorded around it. @param {Request} request */
  async function handler(request) {
    const { pathname } = new URL(request.url);
    const text = await request.text();
    const start = Date.now();
    const response = await control.handler(new Request(request.url, { method: "POST", body: text }));
    if (pathname === "/describe") {
      const payload = JSON.parse(text);
      describes.push({ binding: payload.binding, caller: payload.caller, start, end: Date.now() });
    }
    return response;
  }
  const stack = await startStack({
    vars: routerConfig ? { ROUTER_CONFIG: JSON.stringify(routerConfig) } : {},
    backends: bindings.map((binding) => ({
      binding, script: "cluster-backend.js", serviceBindings: { CONTROL: handler }, vars: { BACKEND_NAME: binding },
    })),
    controlPlane,
  });
  const orchestrators = { a: { fetch: stack.fetch }, b: { fetch: stack.fetchB } };
  return {
    stack, control,
    /** Every describe() so far, with its caller and span. */
    get describes() { return describes; },
    forgetDescribes() { describes = []; },
    /** One chat completion through orchestrator `which` (fault-cases.mjs ask()). @param {"a" | "b"} which @param {Parameters<typeof ask>[1]} [options] */
    ask: (which, options) => ask(orchestrators[which], options),
    /** GET /status of orchestrator `which`, with `byBinding` added. @param {"a" | "b"} which */
    async status(which) {
      const body = await (await orchestrators[which].fetch("/status")).json();
      body.byBinding = Object.fromEntries(body.backends.map((/** @type {{binding: string}} */ b) => [b.binding, b]));
      return body;
    },
    /** The infer() calls one orchestrator made. @param {"a" | "b"} which */
    callsBy: (which) => control.calls.filter((c) => /** @type {any} */ (c).caller === which),
    stop: async () => { control.releaseHangs(); await stack.stop(); },
  };
}

/**
 * Groups describe() spans into the alarm invocations they belong to: spans that overlap (chained)
 * are one group. @param {DescribeSpan[]} spans @returns {DescribeSpan[][]}
 */
export function overlappingGroups(spans) {
  const sorted = [...spans].sort((x, y) => x.start - y.start);
  /** @type {DescribeSpan[][]} */
  const groups = [];
  let end = -Infinity;
  for (const span of sorted) {
    if (span.start > end) groups.push([]);
    groups[groups.length - 1].push(span);
    end = Math.max(end, span.end);
  }
  return groups;
}
