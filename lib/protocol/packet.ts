/**
 * Whole-packet codec (docs/protocol/wire.md §3–4): header + payload with the CRC-32 checksum.
 * Decoding applies the reference's check order so drop counters match it:
 * short → truncated → checksum → version.
 * @module
 */
import { crc32Range } from "./checksum.ts";
import { PacketError } from "./errors.ts";
import {
  CHECKSUM_LENGTH,
  HEADER_LENGTH,
  MAX_PAYLOAD_LENGTH,
  OFFSET_CHECKSUM,
  type PacketHeader,
  PROTOCOL_VERSION,
  readChecksum,
  readHeader,
  readPayloadLength,
  validateHeader,
  writeChecksum,
  writeHeader,
} from "./header.ts";

export { PacketError };
export type { PacketErrorReason } from "./errors.ts";

/** Four zero bytes: the checksum field as it is when the CRC is computed. */
const ZERO_CHECKSUM = new Uint8Array(CHECKSUM_LENGTH);

/**
 * A decoded or to-be-encoded packet: header fields plus payload. After
 * {@link decodePacket} the payload is a view into the input buffer (no copy):
 * copy it if the buffer is reused.
 */
export interface Packet extends PacketHeader {
  /** Payload bytes, 0..65535 of them. */
  payload: Uint8Array;
}

/** Throws PacketError unless the header fields and payload are encodable. */
function validatePacket(p: Packet): void {
  validateHeader(p);
  if (!(p.payload instanceof Uint8Array)) throw new PacketError("payload", "payload must be a Uint8Array");
  if (p.payload.length > MAX_PAYLOAD_LENGTH) {
    throw new PacketError(
      "payload",
      `payload is ${p.payload.length} bytes, the maximum is ${MAX_PAYLOAD_LENGTH}`,
    );
  }
}

/** Bytes {@link encodePacket} produces for `p`: 34 + payload length. */
export function encodedPacketLength(p: Packet): number {
  return HEADER_LENGTH + p.payload.length;
}

/**
 * Encodes `p` into `target` at `offset` (header, payload, then the CRC over
 * both), so a tunnel frame can be built in one buffer without copying twice.
 * Returns the number of bytes written. Throws PacketError: `field`/`payload`
 * for invalid input, `buffer` if it does not fit.
 */
export function encodePacketInto(p: Packet, target: Uint8Array, offset = 0): number {
  validatePacket(p);
  return writePacket(p, target, offset);
}

/** Bounds-checks the target, then writes header, payload and CRC; `p` is already validated. */
function writePacket(p: Packet, target: Uint8Array, offset: number): number {
  const length = HEADER_LENGTH + p.payload.length;
  if (!Number.isInteger(offset) || offset < 0 || offset + length > target.length) {
    throw new PacketError(
      "buffer",
      `packet needs ${length} bytes at offset ${offset}, target has ${target.length}`,
    );
  }
  writeHeader(p, p.payload.length, target, offset);
  target.set(p.payload, offset + HEADER_LENGTH);
  writeChecksum(target, offset, crc32Range(target, offset, offset + length));
  return length;
}

/**
 * Encodes `p` into a new array of 34 + payload-length bytes with the checksum
 * filled in. Throws PacketError (`field` or `payload`) on out-of-range input.
 * Allocating the array costs several times the encoding itself, so hot send
 * paths should prefer {@link encodePacketInto} with a reused buffer.
 *
 * @example
 * ```ts
 * import { Address } from "./address.ts";
 * import { FLAG_SYN, PROTO_STREAM } from "./header.ts";
 * const bytes = encodePacket({
 *   version: 1, flags: FLAG_SYN, protocol: PROTO_STREAM,
 *   src: new Address(0, 1), dst: new Address(0, 2), srcPort: 49152, dstPort: 1000,
 *   seq: 0, ack: 0, window: 512, payload: new Uint8Array(0),
 * });
 * // bytes.length === 34, checksum 0x145ED874
 * ```
 */
export function encodePacket(p: Packet): Uint8Array {
  validatePacket(p);
  const out = new Uint8Array(HEADER_LENGTH + p.payload.length);
  writePacket(p, out, 0);
  return out;
}

/**
 * True when the CRC stored in the packet at the start of `bytes` matches its
 * first `length` bytes (computed as if the checksum field were zero, in place).
 */
function checksumMatches(bytes: Uint8Array, length: number): boolean {
  let crc = crc32Range(bytes, 0, OFFSET_CHECKSUM);
  crc = crc32Range(ZERO_CHECKSUM, 0, CHECKSUM_LENGTH, crc);
  crc = crc32Range(bytes, OFFSET_CHECKSUM + CHECKSUM_LENGTH, length, crc);
  return crc === readChecksum(bytes, 0);
}

/**
 * Decodes one packet from the start of `bytes`, in the reference order: at
 * least 34 bytes (`short`), at least 34 + payload-length bytes (`truncated`;
 * extra trailing bytes are ignored), CRC over the packet (`checksum`), version
 * 1 (`version`; the error carries the header). Unknown protocol values decode
 * fine; test them with isKnownProtocol. The returned payload is a subarray of
 * `bytes`, not a copy. Throws only PacketError.
 */
export function decodePacket(bytes: Uint8Array): Packet {
  if (bytes.length < HEADER_LENGTH) {
    throw new PacketError("short", `packet is ${bytes.length} bytes, the header alone is ${HEADER_LENGTH}`);
  }
  const length = HEADER_LENGTH + readPayloadLength(bytes, 0);
  if (bytes.length < length) {
    throw new PacketError("truncated", `packet declares ${length} bytes but only ${bytes.length} arrived`);
  }
  if (!checksumMatches(bytes, length)) throw new PacketError("checksum", "packet checksum mismatch");
  const packet = readHeader(bytes, 0) as Packet;
  packet.payload = bytes.subarray(HEADER_LENGTH, length);
  if (packet.version !== PROTOCOL_VERSION) {
    throw new PacketError(
      "version",
      `packet version ${packet.version} is not supported (expected ${PROTOCOL_VERSION})`,
      { header: packet },
    );
  }
  return packet;
}
