/**
 * UDP endpoints of the tunnel: an IP literal plus a port, in one immutable value that carries its
 * canonical text (`key`) so the receive path can compare endpoints without formatting strings per
 * datagram. IPv4-mapped IPv6 addresses are folded to IPv4, as a dual-stack socket reports IPv4
 * peers that way. Pure, no I/O: host names are resolved by the caller.
 */
import { errorMessage, PilotError } from "../errors.ts";
import { formatIP, IPV4_SIZE, parseIP, unmapIPv4 } from "../net/ip.ts";

/** Largest UDP port. */
export const MAX_UDP_PORT = 0xffff;

/** An endpoint as plain data, e.g. from configuration: IP literal (or, where allowed, a host name) and port. */
export interface HostPort {
  host: string;
  port: number;
}

/** An endpoint text or port was rejected. */
export class EndpointError extends PilotError {}

/**
 * An immutable UDP endpoint. `ip` holds 4 bytes for IPv4 (including IPv4-mapped IPv6) and 16
 * for IPv6; `key` is `a.b.c.d:port` or `[v6]:port` and is unique per endpoint, so two endpoints
 * are equal exactly when their keys are.
 */
export class Endpoint implements HostPort {
  readonly host: string;
  readonly port: number;
  readonly ip: Uint8Array;
  readonly key: string;

  private constructor(ip: Uint8Array, port: number) {
    this.ip = ip;
    this.port = port;
    this.host = formatIP(ip);
    this.key = ip.length === IPV4_SIZE ? `${this.host}:${port}` : `[${this.host}]:${port}`;
  }

  /** True for an IPv4 (or IPv4-mapped) endpoint. */
  get isIPv4(): boolean {
    return this.ip.length === IPV4_SIZE;
  }

  /** The endpoint of raw address bytes (4 or 16, copied) and a port. Throws {@link EndpointError}. */
  static fromBytes(ip: Uint8Array, port: number): Endpoint {
    checkPort(port);
    let folded: Uint8Array;
    try {
      folded = unmapIPv4(ip);
    } catch (err) {
      throw new EndpointError(`bad endpoint address: ${errorMessage(err)}`, { cause: err });
    }
    return new Endpoint(folded.slice(), port);
  }

  /** The endpoint of an IP literal and a port. Throws {@link EndpointError} for anything else. */
  static of(host: string, port: number): Endpoint {
    checkPort(port);
    let ip: Uint8Array;
    try {
      ip = unmapIPv4(parseIP(host));
    } catch (err) {
      throw new EndpointError(`endpoint host must be an IP literal, got ${JSON.stringify(host)}`, {
        cause: err,
      });
    }
    return new Endpoint(ip, port);
  }

  /** Parses `a.b.c.d:port` or `[v6]:port`. Throws {@link EndpointError}. */
  static parse(text: string): Endpoint {
    let host: string;
    let portText: string;
    if (text.startsWith("[")) {
      const close = text.indexOf("]:");
      if (close < 0) throw new EndpointError(`bad endpoint ${JSON.stringify(text)}: expected [ip]:port`);
      host = text.slice(1, close);
      portText = text.slice(close + 2);
    } else {
      const colon = text.lastIndexOf(":");
      if (colon < 0 || text.indexOf(":") !== colon) {
        throw new EndpointError(`bad endpoint ${JSON.stringify(text)}: expected ip:port or [ip]:port`);
      }
      host = text.slice(0, colon);
      portText = text.slice(colon + 1);
    }
    if (!/^[0-9]{1,5}$/.test(portText)) {
      throw new EndpointError(`bad endpoint port in ${JSON.stringify(text)}`);
    }
    return Endpoint.of(host, Number(portText));
  }

  /** Accepts an Endpoint, a {host, port} with an IP literal host, or endpoint text. */
  static from(value: Endpoint | HostPort | string): Endpoint {
    if (value instanceof Endpoint) return value;
    if (typeof value === "string") return Endpoint.parse(value);
    return Endpoint.of(value.host, value.port);
  }

  /** True when both name the same IP and port. */
  equals(other: Endpoint | undefined): boolean {
    return other !== undefined && other.key === this.key;
  }

  /** The canonical text, same as `key`. */
  toString(): string {
    return this.key;
  }
}

function checkPort(port: number): void {
  if (!Number.isInteger(port) || port < 0 || port > MAX_UDP_PORT) {
    throw new EndpointError(`UDP port must be an integer in 0..${MAX_UDP_PORT}, got ${port}`);
  }
}
