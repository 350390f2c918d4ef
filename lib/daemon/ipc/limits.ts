/**
 * What one IPC client may cost the daemon, and how many clients there may be. Any
 * local process that can open the socket is a client (docs/protocol/ipc.md §1), so a buggy or
 * hostile one must not be able to exhaust the daemon: its unread input, its queued
 * output and the time it may take to finish a frame are all bounded, and so is
 * the number of clients.
 * @module
 */
import { MAX_FRAME_LENGTH } from "../../ipc/frame.ts";

/**
 * Unread inbound bytes per client at which the server stops reading its socket:
 * one largest frame plus its length prefix, so any legal frame still fits.
 */
export const INBOUND_BUFFER_LIMIT = MAX_FRAME_LENGTH + 4;
/**
 * Unprocessed inbound bytes each client may hold on its own; beyond this it draws
 * on the pool all clients share. Every request but a large Send, SendTo or
 * SetTags fits in it, and so does one whole Send frame as the SDK writes them
 * (64 KiB, STREAM_FRAME_DATA): a stream's frame then arrives in one read, as a view
 * of the read buffer, rather than as a 16 KiB read, a second read and a copy joining them.
 */
export const INBOUND_ALLOWANCE = 64 * 1024;
/** Default inbound bytes all clients together may hold beyond their own allowance. */
export const DEFAULT_INBOUND_POOL = 16 << 20;
/**
 * Queued outbound bytes per client above which the server stops reading its
 * socket, stream pushes wait, and datagram pushes are dropped.
 */
export const DEFAULT_OUTBOUND_HIGH_WATER = 1 << 20;
/** Queued outbound bytes per client that get the client disconnected at once. */
export const DEFAULT_OUTBOUND_HARD_LIMIT = 4 << 20;
/**
 * How long a client's outbound queue may stay above the high-water mark without
 * a single byte leaving before the client is disconnected (it stopped reading).
 * Long, as a stream's idle timeout: the queue is bounded anyway, and a program
 * that pauses reading one connection for a while (its SDK then stops reading the
 * socket) is not misbehaving.
 */
export const DEFAULT_OUTBOUND_STALL_MS = 120_000;
/** How long a client has to finish a frame once its first byte arrived. */
export const DEFAULT_FRAME_DEADLINE_MS = 10_000;
/** Most simultaneous clients; further connections get an Error frame and are closed. */
export const DEFAULT_MAX_CLIENTS = 1024;
/** Refused connections, and drops of each kind, are logged at most this often (each one is counted). */
export const REFUSAL_LOG_INTERVAL_MS = 60_000;
/** First read buffer of a client; it doubles, up to the socket reader's maximum, while reads fill it. */
export const INITIAL_READ_BUFFER = 16 * 1024;

/** The per-client limits a server enforces; every field has a default above. */
export interface IpcLimits {
  /** Most simultaneous clients (default {@link DEFAULT_MAX_CLIENTS}). */
  maxClients: number;
  /** Per-client outbound bytes where backpressure starts (default {@link DEFAULT_OUTBOUND_HIGH_WATER}). */
  outboundHighWater: number;
  /** Per-client outbound bytes that get the client dropped (default {@link DEFAULT_OUTBOUND_HARD_LIMIT}). */
  outboundHardLimit: number;
  /** Time over the high-water mark with no progress before a drop (default {@link DEFAULT_OUTBOUND_STALL_MS}). */
  outboundStallMs: number;
  /** Time to finish a started frame (default {@link DEFAULT_FRAME_DEADLINE_MS}). */
  frameDeadlineMs: number;
  /** Inbound bytes all clients share beyond their allowance (default {@link DEFAULT_INBOUND_POOL}). */
  inboundPool: number;
}

/** Environment variables that override a limit (for tests and operators), by field. */
export const LIMIT_ENV: Readonly<Record<keyof IpcLimits, string>> = {
  maxClients: "PILOT_IPC_MAX_CLIENTS",
  outboundHighWater: "PILOT_IPC_OUTBOUND_HIGH_WATER",
  outboundHardLimit: "PILOT_IPC_OUTBOUND_HARD_LIMIT",
  outboundStallMs: "PILOT_IPC_OUTBOUND_STALL_MS",
  frameDeadlineMs: "PILOT_IPC_FRAME_DEADLINE_MS",
  inboundPool: "PILOT_IPC_INBOUND_POOL",
};

/** Fills defaults and checks that every limit is a positive integer. Throws RangeError naming the field. */
export function resolveLimits(partial: Partial<IpcLimits> = {}): IpcLimits {
  const limits: IpcLimits = {
    maxClients: partial.maxClients ?? DEFAULT_MAX_CLIENTS,
    outboundHighWater: partial.outboundHighWater ?? DEFAULT_OUTBOUND_HIGH_WATER,
    outboundHardLimit: partial.outboundHardLimit ?? DEFAULT_OUTBOUND_HARD_LIMIT,
    outboundStallMs: partial.outboundStallMs ?? DEFAULT_OUTBOUND_STALL_MS,
    frameDeadlineMs: partial.frameDeadlineMs ?? DEFAULT_FRAME_DEADLINE_MS,
    inboundPool: partial.inboundPool ?? DEFAULT_INBOUND_POOL,
  };
  for (const [key, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new RangeError(`IPC limit ${key} must be a positive integer, got ${value}`);
    }
  }
  if (limits.outboundHardLimit < limits.outboundHighWater) {
    throw new RangeError("IPC limit outboundHardLimit must not be below outboundHighWater");
  }
  return limits;
}

/**
 * The limits set through {@link LIMIT_ENV} variables, read with `get` (e.g.
 * `(name) => Deno.env.get(name)`). Unset variables are left out; a value that is
 * not a positive decimal integer throws RangeError naming the variable.
 */
export function limitsFromEnv(get: (name: string) => string | undefined): Partial<IpcLimits> {
  const out: Partial<IpcLimits> = {};
  for (const [key, name] of Object.entries(LIMIT_ENV) as [keyof IpcLimits, string][]) {
    const text = get(name);
    if (text === undefined || text === "") continue;
    if (!/^\d+$/.test(text) || Number(text) <= 0) {
      throw new RangeError(`${name} must be a positive integer, got "${text}"`);
    }
    out[key] = Number(text);
  }
  return out;
}
