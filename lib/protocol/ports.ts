/**
 * Virtual port numbers (docs/protocol/wire.md §2): the well-known service ports, the three
 * port ranges, and validation. Ports are 16-bit and live in the packet header.
 * @module
 */
import { PortError } from "./errors.ts";

export { PortError };

/** Control-protocol echo ("ping"); only Control packets are answered on it. */
export const PORT_PING = 0;
/** Reserved for control; the reference binds nothing here. */
export const PORT_CONTROL = 1;
/**
 * Stream echo service: every received chunk is written back.
 *
 * @example
 * ```ts
 * import { PORT_ECHO } from "./ports.ts";
 * console.assert(PORT_ECHO === 7);
 * ```
 */
export const PORT_ECHO = 7;
/** Nameserver. */
export const PORT_NAMESERVER = 53;
/** Agent HTTP. */
export const PORT_HTTP = 80;
/** Secure channel (X25519 + AES-256-GCM inside a stream). */
export const PORT_SECURE = 443;
/** Trust handshake (JSON over a stream). */
export const PORT_TRUST = 444;
/** Standard I/O text stream. */
export const PORT_STDIO = 1000;
/** Typed-frame data exchange. */
export const PORT_DATA_EXCHANGE = 1001;
/** Publish/subscribe event stream. */
export const PORT_EVENT_STREAM = 1002;
/** Task submission. */
export const PORT_TASKS = 1003;

/** Largest port number (ports are u16). */
export const MAX_PORT = 0xffff;
/** Last port of the reserved / well-known range (0–1023). */
export const WELL_KNOWN_PORT_MAX = 1023;
/** First port of the registered range (1024–49151). */
export const REGISTERED_PORT_MIN = 1024;
/** Last port of the registered range. */
export const REGISTERED_PORT_MAX = 49151;
/** First ephemeral port; the reference allocates dial/datagram source ports upward from here. */
export const EPHEMERAL_PORT_MIN = 49152;
/** Last ephemeral port; allocation wraps back to {@link EPHEMERAL_PORT_MIN} after it. */
export const EPHEMERAL_PORT_MAX = 65535;

/** Longest port text accepted; bounds work on hostile input (leading zeros are allowed). */
const MAX_PORT_TEXT_LENGTH = 64;

/** True when `n` is an integer in 0..65535. */
export function isValidPort(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= MAX_PORT;
}

/**
 * Returns `n` unchanged when it is a valid u16 port, else throws {@link PortError}.
 * `what` names the field in the message (e.g. "source port").
 */
export function validatePort(n: number, what = "port"): number {
  if (!isValidPort(n)) throw new PortError(`${what} must be an integer in 0..${MAX_PORT}, got ${n}`);
  return n;
}

/** True for ports 0–1023 (reserved / well-known services). */
export function isWellKnownPort(port: number): boolean {
  return isValidPort(port) && port <= WELL_KNOWN_PORT_MAX;
}

/** True for ports 1024–49151. */
export function isRegisteredPort(port: number): boolean {
  return isValidPort(port) && port >= REGISTERED_PORT_MIN && port <= REGISTERED_PORT_MAX;
}

/** True for ports 49152–65535, the range local source ports are allocated from. */
export function isEphemeralPort(port: number): boolean {
  return isValidPort(port) && port >= EPHEMERAL_PORT_MIN;
}

/**
 * The ephemeral port after `port`, wrapping from 65535 back to 49152. Allocators
 * call it repeatedly, skipping ports still in use.
 */
export function nextEphemeralPort(port: number): number {
  return port >= EPHEMERAL_PORT_MAX || port < EPHEMERAL_PORT_MIN ? EPHEMERAL_PORT_MIN : port + 1;
}

/**
 * Parses port text the reference way: ASCII decimal digits only (no sign, no
 * whitespace; leading zeros allowed), value 0..65535. Throws {@link PortError}.
 */
export function parsePort(text: string): number {
  if (text.length === 0) throw new PortError("port is empty");
  if (text.length > MAX_PORT_TEXT_LENGTH) throw new PortError(`port text is too long (${text.length} chars)`);
  let value = 0;
  for (let i = 0; i < text.length; i++) {
    const d = text.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9) throw new PortError(`port ${JSON.stringify(text)} is not a decimal number`);
    value = value * 10 + d;
    if (value > MAX_PORT) throw new PortError(`port ${JSON.stringify(text)} is greater than ${MAX_PORT}`);
  }
  return value;
}
