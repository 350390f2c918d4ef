/**
 * `host:port` text, the form every listen/connect flag takes. IPv6 hosts are written in
 * brackets (`[::1]:9000`). One parser for the CLI, the daemon, the registry and HTTP.
 */
import { PilotError } from "../errors.ts";

/** A host (name or IP literal, without brackets) and a port. */
export interface HostPort {
  host: string;
  port: number;
}

/** A `host:port` text was malformed. */
export class HostPortError extends PilotError {}

/**
 * Parses `host:port`; `what` names the setting in the error (e.g. "--registry").
 * Port 0 is accepted (bind to an ephemeral port).
 */
export function parseHostPort(text: string, what = "address"): HostPort {
  const m = /^\[([^\]]+)\]:(\d{1,5})$/.exec(text) ?? /^([^:\[\]\s]+):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) throw new HostPortError(`${what} must be HOST:PORT, got "${text}"`);
  return { host: m[1], port };
}

/** Formats a HostPort, bracketing IPv6 literals. */
export function formatHostPort(hp: HostPort): string {
  return hp.host.includes(":") ? `[${hp.host}]:${hp.port}` : `${hp.host}:${hp.port}`;
}
