/**
 * Error classes of the registry. Each subsystem throws its own subclass of
 * PilotError so that callers and fuzz tests can tell a rejected input from a bug.
 * @module
 */
import { PilotError } from "../errors.ts";

/**
 * A frame could not be decoded: length prefix over the limit, body that is not
 * UTF-8 JSON, or JSON that is not an object. The connection that sent it is closed.
 */
export class RegistryWireError extends PilotError {}

/**
 * A request was refused. `message` is the text sent back in
 * `{"type":"error","error":…}`; `code` is a stable machine-readable reason that
 * also travels in the reply (`code` key, ignored by reference clients).
 */
export class RequestError extends PilotError {
  constructor(
    message: string,
    readonly code: RequestErrorCode = "invalid_request",
    readonly extra?: Record<string, unknown>,
  ) {
    super(message);
  }
}

/** Stable reasons a request is refused. */
export type RequestErrorCode =
  | "invalid_request"
  | "unknown_type"
  | "not_found"
  | "conflict"
  | "unauthorized"
  | "forbidden"
  | "throttled"
  | "limit"
  | "unsupported"
  | "unavailable"
  /** This registry is a standby (or fenced): the reply's `primary` names where writes go. */
  | "not_primary"
  /** Sync replication: the write is on the primary's disk but no standby confirmed it in time. */
  | "not_replicated";

/** The registry replied with `type:"error"`; `code` is the server's reason when it sent one. */
export class RegistryReplyError extends PilotError {
  constructor(message: string, readonly code?: string, readonly reply?: Record<string, unknown>) {
    super(message);
  }
}

/** The client could not reach the registry, lost the connection, timed out or rejected its certificate. */
export class RegistryConnectionError extends PilotError {}

/**
 * The registry's certificate did not match the pin, or failed verification.
 * Never retried: reconnecting cannot fix it.
 */
export class RegistryCertificateError extends RegistryConnectionError {}

/** The state directory could not be read or written; the registry stops accepting writes. */
export class RegistryStoreError extends PilotError {}
