/**
 * Error classes of the protocol codecs. They live in one leaf module so that
 * address.ts, ports.ts and packet.ts can share them without importing each other.
 * Each module re-exports the classes it throws.
 * @module
 */
import { PilotError } from "../errors.ts";
import type { PacketHeader } from "./header.ts";

/**
 * A virtual address, socket address or node id was rejected: bad text, bad
 * numeric range or too few bytes. The message names the offending part.
 *
 * @example
 * ```ts
 * import { Address, AddressError } from "./mod.ts";
 * function tryParse(text: string): Address | null {
 *   try {
 *     return Address.parse(text);
 *   } catch (err) {
 *     if (err instanceof AddressError) return null;
 *     throw err;
 *   }
 * }
 * console.assert(tryParse("not an address") === null);
 * ```
 */
export class AddressError extends PilotError {}

/**
 * A port number or port text was rejected. It is an {@link AddressError} because
 * a port is one half of a socket address, so `catch (e instanceof AddressError)`
 * covers every socket-address failure.
 */
export class PortError extends AddressError {}

/**
 * Why a packet was rejected. Decode reasons, in reference check order: `short`
 * (fewer than 34 bytes), `truncated` (fewer than 34 + payload-length bytes),
 * `checksum` (CRC mismatch), `version` (version nibble is not 1). Encode reasons:
 * `field` (a header field is out of range), `payload` (payload is not bytes or is
 * longer than 65535), `buffer` (the target buffer is too small).
 */
export type PacketErrorReason =
  | "short"
  | "truncated"
  | "checksum"
  | "version"
  | "field"
  | "payload"
  | "buffer";

/**
 * A packet could not be encoded or decoded. `reason` is a stable machine-readable
 * tag so the daemon can count drops by cause; the message is for humans.
 */
export class PacketError extends PilotError {
  /** Which check failed. */
  readonly reason: PacketErrorReason;
  /**
   * For reason `version` only: the header as read with the version-1 layout
   * (checksum already verified), so a responder can apply the draft's
   * "RST an unsupported-version SYN" rule (docs/protocol/transport.md §10).
   */
  readonly header?: PacketHeader;

  constructor(
    reason: PacketErrorReason,
    message: string,
    options?: ErrorOptions & { header?: PacketHeader },
  ) {
    super(message, options);
    this.reason = reason;
    if (options?.header) this.header = options.header;
  }
}
