// @ts-check
// A control plane that is down, for tests/cluster: its ControlPlane class answers no sync.
// MODE "throw": sync() throws; MODE "hang": sync() never answers (a long timer, which workerd
// does not cancel as a hung Worker, unlike a bare never-settling promise). It also serves no fetch.
import { DurableObject } from "cloudflare:workers";

export class ControlPlane extends DurableObject {
  /** @param {unknown} _report */
  async sync(_report) {
    const mode = /** @type {{MODE?: string}} */ (this.env).MODE;
    if (mode === "hang") await new Promise((resolve) => setTimeout(resolve, 10 * 60_000));
    throw new Error("the control plane is down (test fixture)");
  }
}

export default {
  fetch: () => new Response("not a router", { status: 404 }),
};
