/**
 * Shared plumbing for commands that talk to the local daemon over IPC: the socket path
 * (`--socket`, else PILOT_SOCKET, else the default), connecting with a clear
 * `not_running` error, and turning a target argument (address, node id or hostname)
 * into an address.
 */
import { connect, DEFAULT_SOCKET_PATH, IpcError, type PilotClient } from "../lib/sdk/mod.ts";
import { Address, AddressError, parseAddressOrNodeId } from "../lib/protocol/address.ts";
import { CliError } from "./output.ts";
import type { ParsedArgs } from "./args.ts";
import { parseDuration } from "./args.ts";
import { closeQuietly, errorMessage } from "../lib/errors.ts";

/** How long a command waits to reach the daemon's socket. */
export const IPC_CONNECT_TIMEOUT_MS = 3_000;

/** The IPC socket path for this invocation. */
export function socketPath(args: ParsedArgs): string {
  return args.strings.get("socket") ?? envOr("PILOT_SOCKET", DEFAULT_SOCKET_PATH);
}

/** An environment variable, or `fallback` when unset or not permitted. */
export function envOr(name: string, fallback: string): string {
  try {
    return Deno.env.get(name) || fallback;
  } catch {
    return fallback;
  }
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
  return new CliError(
    "connection_failed",
    `cannot connect to ${addr} (${service} port ${port}): ${errorMessage(err)}`,
    `check that ${addr} is reachable: pilot ping ${addr}`,
  );
}
