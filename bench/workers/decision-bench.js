// Bench-only Worker (bench/tools/decision-in-workerd.mjs): runs the routing-decision loop of
// bench/wasm/decision-loop.mjs, the one core-bench.mjs times in Node, inside workerd.
// GET /?n=2000&backends=3 runs n decisions on a core configured once per isolate (per backends
// count) with a 1 KiB chat body and answers 200 with the checksum. GET /?n=..&probe=out_ptr instead
// calls the trivial export rt_out_ptr n times (the JS<->Wasm crossing alone).
// @ts-nocheck: router.wasm and the bench modules are not typed for the Workers tsconfig.
import wasm from "./router.wasm";
import { chatBody } from "../wasm/chat-body.mjs";
import { configuredCore, runDecisions, STEP_MS, T0 } from "../wasm/decision-loop.mjs";

/** backends count -> {core, now, seed}: the core and where its simulated time and seed are */
const cores = new Map();
const body = new TextEncoder().encode(chatBody(1024));

export default {
  /** @param {Request} request */
  async fetch(request) {
    const params = new URL(request.url).searchParams;
    const n = Number(params.get("n") ?? 2000);
    const backends = Number(params.get("backends") ?? 3);
    let state = cores.get(backends);
    if (!state) cores.set(backends, state = { core: configuredCore(wasm, backends), now: T0, seed: 1 });
    const probe = params.get("probe");
    if (probe === "out_ptr") {
      const { exports, router } = state.core;
      let sum = 0;
      for (let i = 0; i < n; i++) sum += exports.rt_out_ptr(router);
      return new Response(String(sum));
    }
    const checksum = runDecisions(state.core, body, n, state.now, state.seed);
    state.now += n * STEP_MS;
    state.seed += n;
    return new Response(String(checksum));
  },
};
