// @ts-check
// A controlled backend (controlled-backend.js) that tells the test who called it: the `caller`
// prop of the service binding it was reached through ("a" for orchestrator A and the control
// plane it hosts, "b" for orchestrator B; tests/support/stack.mjs sets them), added to every report.
import ControlledBackend from "./controlled-backend.js";

export default class ClusterBackend extends ControlledBackend {
  /** @param {string} path @param {Record<string, unknown>} payload */
  async control(path, payload) {
    const props = /** @type {{caller?: string}} */ (/** @type {any} */ (this.ctx).props ?? {});
    return super.control(path, { ...payload, caller: props.caller ?? "unknown" });
  }
}
