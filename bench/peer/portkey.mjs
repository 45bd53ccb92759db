// How the bench runs the peer, @portkey-ai/gateway: its own Node server (the package's bin,
// headless), routing every request by a load-balancing config over three targets that are the
// local echo upstream, the same shape as this router's three backends.
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(import.meta.url);

/** The gateway's Node entry point (the package's "bin"). */
export function portkeyServerPath() {
  const pkg = require.resolve("@portkey-ai/gateway/package.json");
  return path.join(path.dirname(pkg), require(pkg).bin);
}

/** argv for `node` that starts the gateway on `port`. @param {number} port */
export const portkeyArgs = (port) => [portkeyServerPath(), `--port=${port}`, "--headless"];

/** Request headers that make the gateway load-balance over three targets at `upstreamUrl`. @param {string} upstreamUrl */
export function portkeyHeaders(upstreamUrl) {
  const target = { provider: "openai", custom_host: upstreamUrl, api_key: "sk-bench" };
  return {
    "x-portkey-config": JSON.stringify({ strategy: { mode: "loadbalance" }, targets: [target, target, target] }),
  };
}
