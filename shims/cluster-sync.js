// @ts-check
// The isolate's side of the control plane (docs/control-plane.md, "How an isolate syncs"): the core
// decides when a sync is due and writes the report; this carries it to the ControlPlane Durable
// Object (one RPC, bounded by a timeout, under waitUntil) and carries the answer back. A sync that
// fails, hangs or answers garbage is told to the core and touches no request.

import { TIMED_OUT, errorName, startTimer } from "./timer.js";

/** @typedef {import("./wasm-core.js").RouterCore} RouterCore */
/** @typedef {{waitMs: number, timeoutMs: number, report: string}} SyncDue */
/** @typedef {{get(id: unknown): import("./interfaces.js").ControlPlaneRpc, idFromName(name: string): unknown}} ControlPlaneNamespace */

// The RPC's bound should the core name none (ROUTER_CONFIG controlPlane.timeoutMs' default).
const DEFAULT_TIMEOUT_MS = 1000;
// The one object every isolate syncs with.
const OBJECT_NAME = "cluster";

export class ClusterSync {
  /** @param {RouterCore} core @param {() => void} drainLogs */
  constructor(core, drainLogs) {
    this.core = core;
    this.drainLogs = drainLogs;
    /** Whether the isolate's first request has come (only it may wait for a sync). */
    this.started = false;
    /** @type {unknown} the object's id, made once per isolate */
    this.objectId = null;
  }

  /**
   * Before the isolate's first request: starts the first sync and waits for it at most the time
   * the core allows (controlPlane.firstSyncWaitMs), so a new isolate starts from the cluster's view.
   * @param {Record<string, unknown>} env @param {ExecutionContext | undefined} ctx
   */
  async beforeFirst(env, ctx) {
    this.started = true;
    const due = this.due();
    if (!due) return;
    const done = this.start(env, ctx, due);
    if (!(due.waitMs > 0)) return;
    const timer = startTimer(due.waitMs);
    await Promise.race([done, timer.expired]);
    timer.clear();
  }

  /** After a request: a sync when one is due (most requests: one call into the core, nothing allocated). @param {Record<string, unknown>} env @param {ExecutionContext | undefined} ctx */
  afterRequest(env, ctx) {
    const due = this.due();
    if (due) this.start(env, ctx, due);
  }

  /** The core's report when a sync is due, else null (a core that fails here only skips a sync). */
  due() {
    try {
      return this.core.syncReport(Date.now());
    } catch (e) {
      console.log(JSON.stringify({ level: "error", event: "sync_report_failed", error: errorName(e) }));
      return null;
    }
  }

  /** @param {Record<string, unknown>} env @param {ExecutionContext | undefined} ctx @param {SyncDue} due */
  start(env, ctx, due) {
    const timeoutMs = due.timeoutMs > 0 && Number.isFinite(due.timeoutMs) ? due.timeoutMs : DEFAULT_TIMEOUT_MS;
    const done = this.exchange(env, due.report, timeoutMs);
    ctx?.waitUntil?.(done);
    return done;
  }

  /**
   * One sync: the report out, the snapshot in (or the failure) to the core. Never rejects.
   * @param {Record<string, unknown>} env @param {string} report @param {number} timeoutMs
   */
  async exchange(env, report, timeoutMs) {
    const timer = startTimer(timeoutMs);
    /** @type {unknown} */
    let answer = TIMED_OUT;
    try {
      const namespace = /** @type {ControlPlaneNamespace} */ (env.CONTROL_PLANE);
      this.objectId ??= namespace.idFromName(OBJECT_NAME);
      const pending = Promise.resolve(namespace.get(this.objectId).sync(report));
      pending.catch(() => {}); // a late failure after the timeout is nobody's
      answer = await Promise.race([pending, timer.expired]);
    } catch {
      answer = TIMED_OUT; // thrown: as failed as a timeout
    } finally {
      timer.clear();
    }
    this.feed(answer);
  }

  /** @param {unknown} answer the snapshot text, or anything else for a failed sync */
  feed(answer) {
    try {
      if (typeof answer === "string") this.core.syncAnswer(answer, Date.now());
      else this.core.syncFailed(Date.now());
    } catch (e) {
      console.log(JSON.stringify({ level: "error", event: "sync_feed_failed", error: errorName(e) }));
    }
    this.drainLogs();
  }
}
