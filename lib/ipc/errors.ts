/**
 * Error classes of the daemon ⇄ driver IPC (docs/protocol/ipc.md). One leaf module so that the
 * codec, the server and the SDK share them without importing each other.
 * @module
 */
import { PilotError } from "../errors.ts";

/**
 * Why an IPC operation failed. Codec reasons: `frame-too-large` (length above
 * 1 MiB), `truncated` (payload shorter than its fixed part), `unknown-command`,
 * `unknown-sub-command`, `invalid-json`, `invalid-value` (an argument or decoded
 * field out of range). Session reasons: `daemon` (the daemon replied with an
 * Error frame, see {@link DaemonError}), `timeout`, `aborted`, `disconnected`
 * (the socket died), `closed` (closed locally), `protocol` (a reply that fits no
 * outstanding request), `overflow` (a bounded queue refused more), `socket-in-use`
 * and `permissions` (the server could not take or secure its socket path).
 *
 * @example
 * ```ts
 * import { IpcError, type IpcErrorReason } from "../../mod.ts";
 * function retryable(err: unknown): boolean {
 *   const transient: IpcErrorReason[] = ["timeout", "disconnected"];
 *   return err instanceof IpcError && transient.includes(err.reason);
 * }
 * console.assert(retryable(new IpcError("timeout", "info timed out")));
 * ```
 */
export type IpcErrorReason =
  | "frame-too-large"
  | "truncated"
  | "unknown-command"
  | "unknown-sub-command"
  | "invalid-json"
  | "invalid-value"
  | "daemon"
  | "timeout"
  | "aborted"
  | "disconnected"
  | "closed"
  | "protocol"
  | "overflow"
  | "socket-in-use"
  | "permissions";

/**
 * Every failure raised on purpose by the IPC codec, server and SDK. `reason` is a
 * stable tag for programs; the message is for humans and, for request decode
 * failures on the daemon side, is exactly the reference Error text the daemon
 * sends back (e.g. `bind: missing port`).
 *
 * @example
 * ```ts
 * import { IpcError, type PilotClient } from "../../mod.ts";
 * // An accept that gives up after a second instead of failing.
 * async function acceptOrNull(client: PilotClient, port: number) {
 *   const listener = await client.listen(port);
 *   try {
 *     return await listener.accept({ timeoutMs: 1_000 });
 *   } catch (err) {
 *     if (err instanceof IpcError && err.reason === "timeout") return null;
 *     throw err;
 *   } finally {
 *     listener.close();
 *   }
 * }
 * console.assert(typeof acceptOrNull === "function");
 * ```
 */
export class IpcError extends PilotError {
  /** Which check or event failed. */
  readonly reason: IpcErrorReason;

  constructor(reason: IpcErrorReason, message: string, options?: ErrorOptions) {
    super(message, options);
    this.reason = reason;
  }
}

/**
 * The daemon answered with an Error frame (0x0A). `code` is the frame's u16
 * (always 1 in the reference), `text` the daemon's message; the error message is
 * `daemon: <text>` as the reference driver words it.
 *
 * @example
 * ```ts
 * import { DaemonError, type PilotClient } from "../../mod.ts";
 * // Dials, telling "the daemon said no" (refused, unreachable, untrusted) apart from local failures.
 * async function reachable(client: PilotClient, peer: string): Promise<boolean> {
 *   try {
 *     await (await client.dial(peer, 7, { timeoutMs: 30_000 })).close();
 *     return true;
 *   } catch (err) {
 *     if (err instanceof DaemonError) {
 *       console.log(`daemon refused: ${err.text}`);
 *       return false;
 *     }
 *     throw err;
 *   }
 * }
 * console.assert(new DaemonError(1, "dial timeout").message === "daemon: dial timeout" && typeof reachable === "function");
 * ```
 */
export class DaemonError extends IpcError {
  /** The Error frame's code field. */
  readonly code: number;
  /** The daemon's message text, without the `daemon: ` prefix. */
  readonly text: string;

  constructor(code: number, text: string, options?: ErrorOptions) {
    super("daemon", `daemon: ${text}`, options);
    this.code = code;
    this.text = text;
  }
}
