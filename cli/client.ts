/**
 * Shared plumbing for commands that talk to the local daemon over IPC: the socket path
 * (`--socket`, else PILOT_SOCKET, else the default), connecting with a clear
 * `not_running` error, and turning a target argument (address, node id or hostname)
 * into an address.
 */
import {
  connect,
  type Connection,
  DEFAULT_SOCKET_PATH,
  IpcError,
  type PilotClient,
} from "../lib/sdk/core.ts";
import { Address, AddressError, parseAddressOrNodeId } from "../lib/protocol/address.ts";
import { CliError } from "./output.ts";
import type { ParsedArgs } from "./args.ts";
import { parseDuration } from "./args.ts";
import { defaultStateDir } from "../lib/crypto/state_dir.ts";
import { configuredString, envOr } from "./config_file.ts";
export { envOr } from "./config_file.ts";

/** Text that may be a hostname (letters, digits, hyphens); anything else that is not an address is a typo. */
const HOSTNAME_SHAPE = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
import { closeQuietly, errorMessage } from "../lib/errors.ts";

/** How long a command waits to reach the daemon's socket. */
export const IPC_CONNECT_TIMEOUT_MS = 3_000;

/** The IPC socket path for this invocation: --socket, else PILOT_SOCKET, else the config file's, else the default. */
export function socketPath(args: ParsedArgs): string {
  return args.strings.get("socket") ??
    envOr("PILOT_SOCKET", configuredString("socket") ?? DEFAULT_SOCKET_PATH);
}

/** Connects to the daemon; a missing or dead socket becomes CliError("not_running"). */
export async function connectDaemon(args: ParsedArgs): Promise<PilotClient> {
  const path = socketPath(args);
  try {
    return await connect(path, { timeoutMs: IPC_CONNECT_TIMEOUT_MS });
  } catch (err) {
    throw new CliError(
      "not_running",
      `daemon is not running (no answer on ${path}: ${errorMessage(err)})`,
      "start one with `pilot daemon` or pass --socket",
    );
  }
}

/**
 * Where the node's state lives, by one rule for every command: `--state` when given (offline
 * use), else the directory the daemon on {@link socketPath} reports (IPC Info `state_dir`),
 * else — no daemon answering, or one that does not report it — the default ~/.pilot.
 */
export async function nodeStateDir(args: ParsedArgs): Promise<string> {
  const explicit = args.strings.get("state");
  if (explicit !== undefined) return explicit;
  let client: PilotClient;
  try {
    client = await connect(socketPath(args), { timeoutMs: IPC_CONNECT_TIMEOUT_MS });
  } catch {
    return defaultStateDir();
  }
  try {
    const info = await client.info({ timeoutMs: IPC_CONNECT_TIMEOUT_MS });
    return typeof info.state_dir === "string" && info.state_dir ? info.state_dir : defaultStateDir();
  } catch (err) {
    throw toCliError(err);
  } finally {
    await closeQuietly(client);
  }
}

/** Help line for the `--state`/`--socket` pair of commands that use the node's state directory. */
export const STATE_FLAG_USAGE =
  "--state DIR overrides the state directory; without it the daemon on --socket (or PILOT_SOCKET)\n" +
  "reports its own, and with no daemon running the default ~/.pilot is used.";

/** Runs `fn` with a connected client and always closes it. */
export async function withDaemon<T>(args: ParsedArgs, fn: (client: PilotClient) => Promise<T>): Promise<T> {
  const client = await connectDaemon(args);
  try {
    return await fn(client);
  } catch (err) {
    throw toCliError(err);
  } finally {
    await closeQuietly(client);
  }
}

/** Maps SDK errors to the reference CLI's codes. */
export function toCliError(err: unknown): unknown {
  if (err instanceof CliError) return err;
  if (err instanceof IpcError) {
    if (err.reason === "timeout") return new CliError("timeout", err.message);
    return new CliError("connection_failed", err.message);
  }
  return err;
}

/**
 * A target as the reference CLI accepts it: full address text, a bare decimal node id
 * (network 0), or a hostname resolved through the daemon.
 */
export async function resolveTarget(client: PilotClient, text: string): Promise<Address> {
  try {
    return parseAddressOrNodeId(text);
  } catch (err) {
    if (!(err instanceof AddressError)) throw err;
    // Only what could be a hostname goes to the registry; a mistyped address is the user's to fix.
    if (!HOSTNAME_SHAPE.test(text)) {
      throw new CliError(
        "invalid_argument",
        `"${text}" is not a valid address: ${err.message}`,
        "an address is N:NNNN.HHHH.LLLL in hex (e.g. 0:0000.0000.0004), a node id is decimal (4)",
      );
    }
  }
  try {
    const reply = await client.resolveHostname(text, { timeoutMs: 10_000 });
    return Address.parse(reply.address);
  } catch (err) {
    throw new CliError("not_found", `cannot resolve "${text}": ${errorMessage(err)}`);
  }
}

/** The `--timeout` flag in ms, or `fallbackMs`. */
export function timeoutFlag(args: ParsedArgs, fallbackMs: number): number {
  const raw = args.strings.get("timeout");
  return raw === undefined ? fallbackMs : parseDuration(raw);
}

/**
 * The error for a peer service that could not be reached: what the dial said, which port it
 * was, and a hint to check the peer with `pilot ping`.
 */
export function serviceUnreachable(addr: Address, service: string, port: number, err: unknown): CliError {
  const timedOut = isTimeout(err);
  return new CliError(
    timedOut ? "timeout" : "connection_failed",
    `cannot connect to ${addr} (${service} port ${port}): ${dialErrorText(err)}`,
    `check that ${addr} is reachable: pilot ping ${addr}`,
  );
}

/** Dials `addr`:`port` through the daemon; a failure is a CliError saying why and what to do. */
export async function dialPeer(
  client: PilotClient,
  addr: Address,
  port: number,
  timeoutMs: number,
): Promise<Connection> {
  try {
    return await client.dial(addr, port, { timeoutMs: Math.max(1, Math.ceil(timeoutMs)) });
  } catch (err) {
    throw new CliError(
      isTimeout(err) ? "timeout" : "connection_failed",
      `cannot connect to ${addr} port ${port}: ${dialErrorText(err)}`,
    );
  }
}

/**
 * What a failed dial says to the user. The daemon's dialer already names the reason (private,
 * refused or untrusted with the handshake to run, offline, timed out); a deadline the command
 * itself set is turned from "timed out after 29992.191055 ms" into whole seconds and a question.
 */
export function dialErrorText(err: unknown): string {
  if (isTimeout(err)) {
    const ms = Number(/after (\d+(?:\.\d+)?) ms/.exec((err as Error).message)?.[1]);
    const after = Number.isFinite(ms) ? ` after ${Math.round(ms / 1000)} s` : "";
    return `no answer${after}: the node is offline or unreachable (behind a NAT, both nodes need --beacon)`;
  }
  return err instanceof Error ? err.message : String(err);
}

function isTimeout(err: unknown): boolean {
  return err instanceof IpcError && err.reason === "timeout";
}
