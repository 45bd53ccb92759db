// The public Worker: an OpenAI-compatible router. All decisions are made by the routing core
// (router.wasm); the driver performs its actions against the BACKEND_* service bindings.
import routerWasm from "../../build/wasm/router.wasm";
import { RouterCore } from "../../shims/wasm-core.js";
import { createRouterFetch } from "../../shims/driver.js";

// One core per isolate: its state (round-robin position, health, describe() cache) lives here.
const core = RouterCore.fromModule(routerWasm);

export default {
  fetch: createRouterFetch(core),
} satisfies ExportedHandler<Record<string, unknown>>;
