// Records a V8 CPU profile of one Worker inside a running `workerd serve --inspector-addr=...`
// while a load runs, through the inspector protocol (the same one DevTools speaks).
//   const stop = await startProfile(9229, "router"); ...load...; await stop("out.cpuprofile")
// Summarize the file with bench/tools/profile-summary.mjs.
import { writeFile } from "node:fs/promises";
import WebSocket from "ws";

/** @param {number} port inspector port @param {string} service the Worker's service name */
export async function startProfile(port, service) {
  const targets = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
  const target = targets.find((t) => t.id === service || t.title === service || String(t.webSocketDebuggerUrl).endsWith(`/${service}`));
  if (!target) throw new Error(`no inspector target ${service}: ${JSON.stringify(targets.map((t) => t.id ?? t.title))}`);
  const socket = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => { socket.once("open", resolve); socket.once("error", reject); });
  let nextId = 1;
  const pending = new Map();
  socket.on("message", (data) => {
    const msg = JSON.parse(String(data));
    if (msg.id && pending.has(msg.id)) {
      pending.get(msg.id)(msg);
      pending.delete(msg.id);
    }
  });
  /** @param {string} method @param {object} [params] */
  const send = (method, params = {}) => new Promise((resolve, reject) => {
    const id = nextId++;
    pending.set(id, (msg) => (msg.error ? reject(new Error(`${method}: ${msg.error.message}`)) : resolve(msg.result)));
    socket.send(JSON.stringify({ id, method, params }));
  });
  await send("Profiler.enable");
  await send("Profiler.setSamplingInterval", { interval: 100 });
  await send("Profiler.start");
  return async (/** @type {string} */ file) => {
    const { profile } = /** @type {any} */ (await send("Profiler.stop"));
    socket.close();
    await writeFile(file, JSON.stringify(profile));
    return file;
  };
}
