/**
 * The daemon in the background, as the reference's `daemon start|stop|status` and `pilot down`:
 * `start` re-runs this program as `pilot daemon <flags>` in a new session with its output appended
 * to `<state>/pilot.log` and its PID in `<state>/pilot.pid`, then waits until the daemon answers
 * IPC Info; `stop` sends SIGTERM (SIGKILL after 10 s); `status` reports the PID and what the daemon
 * says. Stale PID and socket files (their process gone, nothing answering) are removed.
 */
import { join } from "../lib/paths.ts";
import { DAEMON_ENV, DAEMON_SUBCOMMANDS, DAEMON_V8_FLAGS } from "./daemon_process.ts";

export { DAEMON_SUBCOMMANDS };
import type { Command } from "./command.ts";
import { type FlagSpec, noExtraArguments, parseArgs, type ParsedArgs } from "./args.ts";
import { CliError, type Output, printResult } from "./output.ts";
import { socketPath } from "./client.ts";
import { defaultStateDir } from "../lib/crypto/state_dir.ts";
import { connect, type PilotClient } from "../lib/sdk/core.ts";
import type { InfoReply } from "../lib/ipc/replies.ts";
import { closeQuietly, settleQuietly } from "../lib/errors.ts";

/** PID file name in the state directory (the reference's). */
export const PID_FILE_NAME = "pilot.pid";
/** Log file name in the state directory (the reference's). */
export const LOG_FILE_NAME = "pilot.log";
/** How long `daemon start` waits for the new daemon to answer (the reference's 15 s). */
export const START_WAIT_MS = 15_000;
/** Interval of the start-up Info polls. */
const START_POLL_MS = 200;
/** How long `daemon stop` waits after SIGTERM before SIGKILL. */
export const STOP_WAIT_MS = 10_000;
/** Lines of the log shown when a start fails. */
const LOG_TAIL_LINES = 15;

/** What the subcommands need from `pilot daemon` itself (passed in to keep the import one-way). */
export interface DaemonHooks {
  /** The daemon's flags. */
  flags: FlagSpec;
  /** argv with the config file's settings in front. */
  withConfig(argv: readonly string[]): string[];
  /** Validates the settings as the daemon would (throws CliError), so a typo fails before the spawn. */
  validate(args: ParsedArgs, argv: readonly string[]): void;
  /** Runs the daemon in this process (`start --foreground`). */
  foreground(argv: string[], out: Output): Promise<number>;
}

/** Files of one node's background daemon. */
export interface DaemonFiles {
  stateDir: string;
  pidFile: string;
  logFile: string;
  socket: string;
}

/** The files for parsed daemon flags: `--state` (else ~/.pilot) and the effective socket. */
export function daemonFiles(args: ParsedArgs): DaemonFiles {
  const stateDir = args.strings.get("state") ?? defaultStateDir();
  return {
    stateDir,
    pidFile: join(stateDir, PID_FILE_NAME),
    logFile: join(stateDir, LOG_FILE_NAME),
    socket: socketPath(args),
  };
}

/** Runs `pilot daemon start|stop|status …`. */
export async function runDaemonSubcommand(
  sub: string,
  argv: string[],
  out: Output,
  hooks: DaemonHooks,
): Promise<number> {
  if (sub === "start") return await startDaemon(argv, out, hooks);
  const spec: FlagSpec = sub === "status"
    ? { state: "string", socket: "string", config: "string", check: "boolean" }
    : { state: "string", socket: "string", config: "string" };
  const full = hooks.withConfig(argv);
  const args = parseArgs(full, { ...hooks.flags, ...spec });
  noExtraArguments(args);
  const files = daemonFiles(args);
  if (sub === "stop") return await stopDaemon(files, out);
  return await daemonStatus(files, args.booleans.has("check"), out);
}

/** `pilot down`: stops the background daemon (`daemon stop`) with a human summary. */
export const downCommand: Command = {
  name: "down",
  summary: "Stop the background daemon (daemon stop)",
  usage: [
    "pilot down [--state DIR] [--socket PATH] [--json]",
    "",
    "Stops the daemon `pilot daemon start` put in the background: SIGTERM to the PID in",
    "<state>/pilot.pid (default ~/.pilot), SIGKILL after 10 s. Output keys: pid, forced.",
    "A daemon run by systemd is stopped with `systemctl stop pilot` instead.",
  ].join("\n"),
  flags: { state: "string", socket: "string" },
  async run(argv, out) {
    const args = parseArgs(argv, this.flags);
    noExtraArguments(args);
    return await stopDaemon(daemonFiles(args), out);
  },
};

async function startDaemon(argv: string[], out: Output, hooks: DaemonHooks): Promise<number> {
  const full = hooks.withConfig(argv);
  const args = parseArgs(full, hooks.flags);
  noExtraArguments(args);
  hooks.validate(args, full);
  if (args.booleans.has("foreground")) return await hooks.foreground(argv.filter(notForeground), out);
  const files = daemonFiles(args);
  const running = await runningDaemon(files);
  if (running.pid !== undefined || running.responsive) {
    throw new CliError(
      "already_exists",
      `a daemon is already running (${
        running.pid !== undefined ? `pid ${running.pid}, ` : ""
      }socket ${files.socket})`,
      "stop it with `pilot down`, or pass another --socket and --state",
    );
  }
  await removeStaleFiles(files);
  await Deno.mkdir(files.stateDir, { recursive: true, mode: 0o700 });
  const child = spawnBackground(["daemon", ...argv.filter(notForeground)], files.logFile);
  await Deno.writeTextFile(files.pidFile, `${child.pid}\n`, { mode: 0o600 });
  let exited: Deno.CommandStatus | undefined;
  child.status.then((s) => exited = s);
  child.unref();
  const deadline = Date.now() + START_WAIT_MS;
  let info: InfoReply | undefined;
  while (Date.now() < deadline && !exited) {
    info = await tryInfo(files.socket, START_POLL_MS * 5);
    if (info && processAlive(child.pid)) break;
    info = undefined;
    await new Promise((r) => setTimeout(r, START_POLL_MS));
  }
  if (!info) {
    if (!exited) await killAndWait(child.pid);
    await settleQuietly(Deno.remove(files.pidFile), "cleanup");
    const tail = await logTail(files.logFile);
    throw new CliError(
      exited ? "internal" : "timeout",
      exited
        ? `the daemon exited during start-up (status ${exited.code})${tail}`
        : `the daemon did not answer on ${files.socket} within ${START_WAIT_MS / 1000} s${tail}`,
      `see ${files.logFile}`,
    );
  }
  const data = {
    pid: child.pid,
    node_id: info.node_id,
    address: info.address,
    hostname: info.hostname,
    socket: files.socket,
    log_file: files.logFile,
    pid_file: files.pidFile,
  };
  printResult(
    out,
    data,
    `daemon started: node ${data.address} (id ${data.node_id}), pid ${data.pid}\n` +
      `  socket ${data.socket}   log ${data.log_file}\n  stop it with: pilot down${stateFlag(files)}`,
  );
  return 0;
}

/** Stops the daemon whose PID is in `files.pidFile`; `not_running` when there is none. */
export async function stopDaemon(files: DaemonFiles, out: Output): Promise<number> {
  const pid = await readPid(files.pidFile);
  if (pid === undefined || !daemonAlive(pid)) {
    await removeStaleFiles(files);
    throw new CliError(
      "not_running",
      `no background daemon is running (${
        pid === undefined ? "no PID file" : `pid ${pid} is gone`
      } at ${files.pidFile})`,
      "a daemon started in a terminal stops with Ctrl-C; one run by systemd with `systemctl stop pilot`",
    );
  }
  const forced = await killAndWait(pid);
  await settleQuietly(Deno.remove(files.pidFile), "cleanup");
  if (forced) await removeStaleFiles(files);
  const data = forced ? { pid, forced: true } : { pid };
  printResult(out, data, `daemon stopped (pid ${pid}${forced ? ", killed after 10 s" : ""})`);
  return 0;
}

async function daemonStatus(files: DaemonFiles, check: boolean, out: Output): Promise<number> {
  const pid = await readPid(files.pidFile);
  const alive = pid !== undefined && daemonAlive(pid);
  const info = await tryInfo(files.socket, 3_000);
  if (check) return info ? 0 : 1;
  const data: Record<string, unknown> = {
    running: alive || info !== undefined,
    responsive: info !== undefined,
    pid: alive ? pid : null,
    pid_file: files.pidFile,
    socket: files.socket,
  };
  if (info) {
    Object.assign(data, {
      node_id: info.node_id,
      address: info.address,
      hostname: info.hostname,
      uptime_secs: info.uptime_secs,
      peers: info.peers,
      connections: info.connections,
    });
  }
  const text = info
    ? `daemon running: node ${info.address} (id ${info.node_id}), ${
      alive ? `pid ${pid}, ` : ""
    }up ${info.uptime_secs}s, ` +
      `${info.peers} peers, ${info.connections} connections (socket ${files.socket})`
    : alive
    ? `daemon process ${pid} is alive but does not answer on ${files.socket}`
    : `daemon not running (socket ${files.socket})`;
  printResult(out, data, text);
  return 0;
}

/** The PID file's live process, and whether the socket answers. */
async function runningDaemon(files: DaemonFiles): Promise<{ pid?: number; responsive: boolean }> {
  const pid = await readPid(files.pidFile);
  const live = pid !== undefined && daemonAlive(pid) ? pid : undefined;
  return { pid: live, responsive: (await tryInfo(files.socket, 2_000)) !== undefined };
}

/** Removes a PID file that names no live daemon (or nothing readable) and a socket file nothing answers on. */
async function removeStaleFiles(files: DaemonFiles): Promise<void> {
  const pid = await readPid(files.pidFile);
  if (pid === undefined || !daemonAlive(pid)) await settleQuietly(Deno.remove(files.pidFile), "cleanup");
  try {
    if ((await Deno.lstat(files.socket)).isSocket && !(await tryInfo(files.socket, 1_000))) {
      await Deno.remove(files.socket);
    }
  } catch {
    // no socket file
  }
}

async function readPid(path: string): Promise<number | undefined> {
  try {
    const text = (await Deno.readTextFile(path)).trim();
    return /^\d+$/.test(text) && Number(text) > 1 ? Number(text) : undefined;
  } catch {
    return undefined;
  }
}

/** True when process `pid` exists and is not a zombie. */
export function processAlive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return !/^\d+ \(.*\) [ZX] /s.test(stat);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
  }
  try {
    Deno.kill(pid, "SIGCONT"); // no /proc (macOS): a harmless signal tells whether it exists
    return true;
  } catch {
    return false;
  }
}

/**
 * True when `pid` lives and is a `pilot daemon` (its command line has the word `daemon`), so a PID
 * the system reused for another program after a crash or reboot is never signalled. Without /proc
 * (macOS) liveness alone decides.
 */
export function daemonAlive(pid: number): boolean {
  if (!processAlive(pid)) return false;
  try {
    return Deno.readTextFileSync(`/proc/${pid}/cmdline`).split("\0").includes("daemon");
  } catch {
    return true;
  }
}

/** SIGTERM, then SIGKILL after {@link STOP_WAIT_MS}; true when it had to be killed. */
async function killAndWait(pid: number): Promise<boolean> {
  try {
    Deno.kill(pid, "SIGTERM");
  } catch {
    return false;
  }
  const deadline = Date.now() + STOP_WAIT_MS;
  while (Date.now() < deadline) {
    if (!processAlive(pid)) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
  try {
    Deno.kill(pid, "SIGKILL");
  } catch {
    return false;
  }
  for (let i = 0; i < 50 && processAlive(pid); i++) await new Promise((r) => setTimeout(r, 100));
  return true;
}

async function tryInfo(path: string, timeoutMs: number): Promise<InfoReply | undefined> {
  let client: PilotClient;
  try {
    client = await connect(path, { timeoutMs });
  } catch {
    return undefined;
  }
  try {
    return await client.info({ timeoutMs });
  } catch {
    return undefined;
  } finally {
    await closeQuietly(client);
  }
}

/**
 * How to run this program again: the compiled binary itself, or `deno run -A` with the same
 * main module (and the project's deno.json, which holds the import map). `daemon`: with the
 * daemon's V8 flags (a compiled binary has them compiled in).
 */
export function selfCommand(opts: { daemon?: boolean } = {}): string[] {
  const exec = Deno.execPath();
  const main = Deno.mainModule;
  const isDeno = /^deno(\.exe)?$/.test(exec.split(/[\\/]/).pop() ?? "");
  if (!isDeno) return [exec];
  const configFile = new URL("../deno.json", import.meta.url);
  const config = configFile.protocol === "file:" && exists(configFile)
    ? ["--config", configFile.pathname]
    : [];
  const v8 = opts.daemon && DAEMON_V8_FLAGS.length ? [`--v8-flags=${DAEMON_V8_FLAGS.join(",")}`] : [];
  return [exec, "run", "-A", ...v8, ...config, main.startsWith("file:") ? new URL(main).pathname : main];
}

/** Starts `pilot <args>` in a new session, stdin from /dev/null, output appended to `logFile`. */
function spawnBackground(args: string[], logFile: string): Deno.ChildProcess {
  // The shell opens the log for appending and then becomes the daemon (exec), so the PID is the daemon's.
  const script = 'exec "$@" >>"$PILOT_DAEMON_LOG" 2>&1 </dev/null';
  return new Deno.Command("/bin/sh", {
    args: ["-c", script, "pilot", ...selfCommand({ daemon: true }), ...args],
    env: { PILOT_DAEMON_LOG: logFile, ...DAEMON_ENV },
    detached: true,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
}

async function logTail(path: string): Promise<string> {
  try {
    const lines = (await Deno.readTextFile(path)).trimEnd().split("\n").slice(-LOG_TAIL_LINES);
    return lines.length && lines[0] ? `; last lines of ${path}:\n${lines.join("\n")}` : "";
  } catch {
    return "";
  }
}

function exists(url: URL): boolean {
  try {
    Deno.statSync(url);
    return true;
  } catch {
    return false;
  }
}

function notForeground(token: string): boolean {
  return !/^--?foreground(=.*)?$/.test(token);
}

function stateFlag(files: DaemonFiles): string {
  return files.stateDir === defaultStateDir() ? "" : ` --state ${files.stateDir}`;
}
