/**
 * Error classes of the daemon ⇄ driver IPC (ipc.md). One leaf module so that the
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
