// Child processes of a benchmark run: started with their output in log files, waited for until
// their port accepts connections, and always stopped (by pid) when the run ends or is interrupted.
import { execFileSync, spawn } from "node:child_process";
import { cpus } from "node:os";
import { openSync, readFileSync } from "node:fs";
import net from "node:net";

/** @type {Set<import("node:child_process").ChildProcess>} */
const running = new Set();

/**
 * The command line that runs `command` on one CPU (`taskset`, which execs it: the pid stays the
 * command's), when the machine has two or more and taskset exists; else the command as it is.
 * The HTTP bench puts the servers on CPU 0 and wrk on CPU 1: the vCPUs of a shared machine can run
 * at different speeds (here 30 % apart), and a server moving between them moves its CPU figures.
 * @param {"server" | "client"} role @param {string} command @param {string[]} args
 * @returns {[string, string[]]}
 */
export function pinned(role, command, args) {
  if (!PIN) return [command, args];
  return ["taskset", ["-c", role === "server" ? "0" : "1", command, ...args]];
}
const PIN = cpus().length >= 2 && process.env.BENCH_PIN !== "0" && (() => {
  try {
    execFileSync("taskset", ["-V"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

/** Stops every child this process started. */
export function stopAll() {
  for (const child of running) child.kill("SIGTERM");
  running.clear();
}
process.once("exit", stopAll);
for (const signal of /** @type {const} */ (["SIGINT", "SIGTERM"])) {
  process.once(signal, () => { stopAll(); process.exit(130); });
}

/** A free loopback port (the OS picks it; it is released before use). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = /** @type {net.AddressInfo} */ (server.address());
      server.close(() => resolve(port));
    });
  });
}

/** Resolves once 127.0.0.1:port accepts a connection; rejects after `timeoutMs`. */
export async function waitForPort(port, timeoutMs = 15_000, child = undefined) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child && child.exitCode !== null) throw new Error(`${child.spawnfile} exited (${child.exitCode}) before listening on ${port}`);
    const ok = await new Promise((resolve) => {
      const socket = net.connect(port, "127.0.0.1");
      socket.once("connect", () => { socket.destroy(); resolve(true); });
      socket.once("error", () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Starts `command args` with stdout and stderr appended to `logFile`, and waits for `ports`.
 * @returns {Promise<{child: import("node:child_process").ChildProcess, stop: () => Promise<void>}>}
 */
export async function startProcess(command, args, { logFile, ports = [], env = process.env, timeoutMs = 15_000 }) {
  const out = openSync(logFile, "a");
  const child = spawn(command, args, { stdio: ["ignore", out, out], env });
  running.add(child);
  try {
    for (const port of ports) await waitForPort(port, timeoutMs, child);
  } catch (e) {
    child.kill("SIGTERM");
    running.delete(child);
    throw e;
  }
  const stop = () => new Promise((resolve) => {
    running.delete(child);
    if (child.exitCode !== null || child.signalCode !== null) return resolve(undefined);
    child.once("exit", () => resolve(undefined));
    child.kill("SIGTERM");
    setTimeout(() => child.kill("SIGKILL"), 3000).unref();
  });
  return { child, stop };
}

const CLOCK_TICKS_PER_S = 100; // Linux USER_HZ (getconf CLK_TCK) on every supported kernel

/** CPU time (user + system, ms) a process has used so far, from /proc/<pid>/stat. */
export function cpuTimeMs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the ")" that closes the command name: utime and stime are the 12th and 13th.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_S;
}
