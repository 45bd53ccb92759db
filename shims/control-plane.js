// @ts-check
// The control plane (docs/control-plane.md): the Durable Object every isolate syncs with, one
// object named "cluster". ControlCore (router.wasm) merges reports, answers snapshots, says which
// backends to describe and when to wake; this class does the I/O only: the sync RPC, the alarm's
// describe() batch, SQLite. Reports come from any isolate of any version: each is checked here
// (a string, within MAX_REPORT_CHARS) before the core reads it.

import { DurableObject } from "cloudflare:workers";
import { ControlCore } from "./wasm-core.js";
import { configureInput, describeOne } from "./driver.js";
import { errorName } from "./timer.js";

/** @typedef {import("./interfaces.js").BackendBinding} BackendBinding */

// The core reads reports of at most 2 MiB (kMaxMessageBytes; a report holds deltas per backend,
// about 200 B each, plus latency histograms). Longer text is refused here, before it is copied into the core.
export const MAX_REPORT_CHARS = 2 * 1024 * 1024;
// Cloudflare lets one invocation call at most 32 Workers; an alarm is one invocation.
export const MAX_DESCRIBES_PER_ALARM = 25;
// Each describe() of the alarm's batch, until the core names its bound (discovery.describeTimeoutMs,
// in configure's answer): the default.
const DEFAULT_DESCRIBE_TIMEOUT_MS = 5000;
const SCHEMA = "CREATE TABLE IF NOT EXISTS control_state (id INTEGER PRIMARY KEY, state TEXT NOT NULL, saved_at REAL NOT NULL)";
const SAVE = "INSERT INTO control_state (id, state, saved_at) VALUES (1, ?, ?) ON CONFLICT(id) DO UPDATE SET state = excluded.state, saved_at = excluded.saved_at";

/** @param {string} event @param {Record<string, unknown>} [fields] */
function log(event, fields = {}, level = "error") {
  console.log(JSON.stringify({ level, event, ...fields }));
}

/**
 * The ControlPlane Durable Object's code. The Worker exports a subclass that hands it the compiled
 * router.wasm (workerd compiles no Wasm from bytes): `super(ctx, env, routerWasm)`.
 */
export class ControlPlaneObject extends DurableObject {
  /** @param {DurableObjectState} ctx @param {Record<string, unknown>} env @param {WebAssembly.Module} module */
  constructor(ctx, env, module) {
    super(ctx, env);
    this.core = ControlCore.fromModule(module);
    this.ready = false;
    this.describeTimeoutMs = DEFAULT_DESCRIBE_TIMEOUT_MS;
    /** When the alarm is set for (epoch ms), 0 when none is. */
    this.alarmAt = 0;
    ctx.blockConcurrencyWhile(() => this.start());
  }

  /** Configures the core from the env, restores the saved state, makes sure an alarm is set. */
  async start() {
    try {
      const now = Date.now();
      const configured = this.core.configure(await configureInput(/** @type {Record<string, unknown>} */ (this.env)), now);
      const timeout = /** @type {{describeTimeoutMs?: unknown}} */ (configured).describeTimeoutMs;
      if (typeof timeout === "number" && timeout > 0) this.describeTimeoutMs = timeout;
      this.restore(now);
      this.ready = true;
      this.alarmAt = (await this.ctx.storage.getAlarm()) ?? 0;
      await this.ensureAlarm();
    } catch (e) {
      // The message too: a start failure is the operator's to fix (storage, configuration).
      log("control_plane_start_failed", { error: errorName(e), message: String(/** @type {any} */ (e)?.message ?? "").slice(0, 300) });
    }
    this.drainLogs();
  }

  /** The state the last alarm saved, if any. @param {number} now */
  restore(now) {
    const sql = this.ctx.storage.sql;
    sql.exec(SCHEMA);
    const row = sql.exec("SELECT state FROM control_state WHERE id = 1").toArray()[0];
    if (row && typeof row.state === "string" && !this.core.restore(row.state, now)) log("control_plane_restore_refused");
  }

  /**
   * RPC from an isolate: merges its report, answers the snapshot (JSON text).
   * @param {unknown} report @returns {Promise<string>}
   */
  async sync(report) {
    if (typeof report !== "string") throw new TypeError("ControlPlane.sync(report): the report must be a string");
    if (report.length > MAX_REPORT_CHARS) throw new RangeError(`ControlPlane.sync(report): the report is over ${MAX_REPORT_CHARS} characters`);
    if (!this.ready) throw new Error("ControlPlane could not start (see control_plane_start_failed)");
    try {
      return this.core.sync(report, Date.now());
    } finally {
      this.drainLogs();
      await this.ensureAlarm();
    }
  }

  /** The alarm: one describe() batch, the state saved when it changed, the next alarm set. */
  async alarm() {
    this.alarmAt = 0;
    try {
      if (this.ready) await this.describeBatch();
      if (this.ready) this.persist();
    } catch (e) {
      log("control_plane_alarm_failed", { error: errorName(e) });
    }
    this.drainLogs();
    await this.ensureAlarm();
  }

  /** describe() on the backends the core names (at most MAX_DESCRIBES_PER_ALARM), answers fed back. */
  async describeBatch() {
    const bindings = this.core.discovery(Date.now()).slice(0, MAX_DESCRIBES_PER_ALARM);
    if (bindings.length === 0) return;
    const env = /** @type {Record<string, unknown>} */ (this.env);
    const answers = await Promise.all(bindings.map((b) => describeOne(/** @type {BackendBinding} */ (env[b]), this.describeTimeoutMs)));
    this.core.describe(new Map(bindings.map((b, i) => [b, answers[i]])), Date.now());
  }

  /** Saves the state when the core says it changed (at most once per alarm). */
  persist() {
    const now = Date.now();
    const state = this.core.persist(now);
    if (state === null) return;
    this.ctx.storage.sql.exec(SAVE, state, now);
    log("control_plane_persisted", { bytes: state.length }, "info");
  }

  /** Sets the alarm the core asks for, unless one is set for that time or sooner (a sync may bring state to save soon). */
  async ensureAlarm() {
    if (!this.ready) return;
    const at = this.core.nextAlarm(Date.now());
    if (!(Number.isFinite(at) && at > 0) || (this.alarmAt && this.alarmAt <= at)) return;
    this.alarmAt = at;
    await this.ctx.storage.setAlarm(at);
  }

  drainLogs() {
    try {
      for (const line of this.core.logs()) console.log(line);
    } catch (e) {
      log("control_plane_logs_failed", { error: errorName(e) });
    }
  }
}
