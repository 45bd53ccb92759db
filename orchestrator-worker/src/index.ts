// The public Worker: an OpenAI-compatible router. All decisions are made by the routing core
// (router.wasm); the driver performs its actions against the BACKEND_* service bindings.
import routerWasm from "../../build/wasm/router.wasm";
import { RouterCore } from "../../shims/wasm-core.js";
import { createRouterFetch } from "../../shims/driver.js";
import { ControlPlaneObject } from "../../shims/control-plane.js";
import { dashboard } from "./dashboard/index.js";

// One core per isolate: its state (round-robin position, health, describe() cache) lives here.
const core = RouterCore.fromModule(routerWasm);

// The control plane (binding CONTROL_PLANE, docs/control-plane.md): the Durable Object the
// isolates share ejections, cooldowns, counters and the backend catalog through.
export class ControlPlane extends ControlPlaneObject {
  constructor(ctx: DurableObjectState, env: Record<string, unknown>) {
    super(ctx, env, routerWasm);
  }
}

export default {
  fetch: createRouterFetch(core, dashboard), // with the status page, GET /dashboard
} satisfies ExportedHandler<Record<string, unknown>>;
