/**
 * The 34-byte Pilot packet header (docs/protocol/wire.md §3): field constants, the header
 * shape, and its byte layout. Checksumming and the decode check order live in
 * packet.ts; this module only knows where each field sits.
 * @module
 */
import { Address } from "./address.ts";
import { PacketError } from "./errors.ts";

/** Header size in bytes for protocol version 1. */
export const HEADER_LENGTH = 34;
/** The only version this implementation speaks; 0 is reserved. */
export const PROTOCOL_VERSION = 1;
/** Largest payload: the length field is a u16. */
export const MAX_PAYLOAD_LENGTH = 0xffff;

/** Connection open. */
export const FLAG_SYN = 0x1;
/** Acknowledgment field is significant. */
export const FLAG_ACK = 0x2;
/** Sender finished sending. */
export const FLAG_FIN = 0x4;
/** Connection reset. */
export const FLAG_RST = 0x8;

/** Reliable byte stream. */
export const PROTO_STREAM = 0x01;
/** Unreliable datagram. */
export const PROTO_DATAGRAM = 0x02;
/** Control (port-0 ping). */
export const PROTO_CONTROL = 0x03;

/** Byte offsets of the header fields (docs/protocol/wire.md §3 table). */
export const OFFSET_VERSION_FLAGS = 0;
export const OFFSET_PROTOCOL = 1;
export const OFFSET_PAYLOAD_LENGTH = 2;
export const OFFSET_SRC = 4;
export const OFFSET_DST = 10;
export const OFFSET_SRC_PORT = 16;
export const OFFSET_DST_PORT = 18;
export const OFFSET_SEQ = 20;
export const OFFSET_ACK = 24;
export const OFFSET_WINDOW = 28;
export const OFFSET_CHECKSUM = 30;
/** Size of the checksum field. */
export const CHECKSUM_LENGTH = 4;

/** Largest value of the 4-bit version and flags nibbles. */
const MAX_NIBBLE = 0xf;
const MAX_U8 = 0xff;
const MAX_U16 = 0xffff;
const MAX_U32 = 0xffffffff;

/**
 * The header fields of a packet, as numbers (seq and ack are u32, 0..2^32-1;
 * ports and window u16; version and flags 4-bit; protocol u8). The payload
 * length and checksum are not fields here: the codec derives them.
 */
export interface PacketHeader {
  /** Version nibble; 1 on everything we send. */
  version: number;
  /** Bitwise OR of FLAG_* (4 bits). */
  flags: number;
  /** PROTO_* value; unknown values still decode (see {@link isKnownProtocol}). */
  protocol: number;
  /** Source virtual address. */
  src: Address;
  /** Destination virtual address. */
  dst: Address;
  /** Source port. */
  srcPort: number;
  /** Destination port. */
  dstPort: number;
  /** Sequence number of the first payload byte. */
  seq: number;
  /** Next byte expected from the peer. */
  ack: number;
  /** Free receive buffer, in segments. */
  window: number;
}

/** True when `protocol` is Stream, Datagram or Control; the dispatcher drops everything else. */
export function isKnownProtocol(protocol: number): boolean {
  return protocol === PROTO_STREAM || protocol === PROTO_DATAGRAM || protocol === PROTO_CONTROL;
}

/** True when every bit of `mask` is set in `flags`. */
export function hasFlags(flags: number, mask: number): boolean {
  return (flags & mask) === mask;
}

/** Flags as text for logs, e.g. `SYN|ACK`; `-` when none are set. */
export function formatFlags(flags: number): string {
  const names: string[] = [];
  if (flags & FLAG_SYN) names.push("SYN");
  if (flags & FLAG_ACK) names.push("ACK");
  if (flags & FLAG_FIN) names.push("FIN");
  if (flags & FLAG_RST) names.push("RST");
  return names.length ? names.join("|") : "-";
}

/** Throws PacketError("field") unless `value` is an integer in 0..max. */
function checkField(value: number, max: number, name: string): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new PacketError("field", `header ${name} must be an integer in 0..${max}, got ${value}`);
  }
}

/**
 * Checks every header field's type and range; throws PacketError with reason
 * `field` naming the first bad one. Does not require version 1 (tests and
 * tools may need to build other versions).
 */
export function validateHeader(h: PacketHeader): void {
  checkField(h.version, MAX_NIBBLE, "version");
  checkField(h.flags, MAX_NIBBLE, "flags");
  checkField(h.protocol, MAX_U8, "protocol");
  if (!(h.src instanceof Address)) throw new PacketError("field", "header src must be an Address");
  if (!(h.dst instanceof Address)) throw new PacketError("field", "header dst must be an Address");
  checkField(h.srcPort, MAX_U16, "srcPort");
  checkField(h.dstPort, MAX_U16, "dstPort");
  checkField(h.seq, MAX_U32, "seq");
  checkField(h.ack, MAX_U32, "ack");
  checkField(h.window, MAX_U16, "window");
}

/** Writes a big-endian u16. */
function put16(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 8;
  b[o + 1] = v;
}

/** Writes a big-endian u32. */
function put32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = v >>> 16;
  b[o + 2] = v >>> 8;
  b[o + 3] = v;
}

/** Reads a big-endian u16. */
function get16(b: Uint8Array, o: number): number {
  return (b[o] << 8) | b[o + 1];
}

/** Reads a big-endian u32. */
function get32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

/**
 * Writes the 34 header bytes of `h` at `offset` with the given payload length
 * and a zero checksum field. The caller validates `h` and guarantees room.
 */
export function writeHeader(h: PacketHeader, payloadLength: number, out: Uint8Array, offset: number): void {
  out[offset + OFFSET_VERSION_FLAGS] = (h.version << 4) | (h.flags & MAX_NIBBLE);
  out[offset + OFFSET_PROTOCOL] = h.protocol;
  put16(out, offset + OFFSET_PAYLOAD_LENGTH, payloadLength);
  put16(out, offset + OFFSET_SRC, h.src.network);
  put32(out, offset + OFFSET_SRC + 2, h.src.node);
  put16(out, offset + OFFSET_DST, h.dst.network);
  put32(out, offset + OFFSET_DST + 2, h.dst.node);
  put16(out, offset + OFFSET_SRC_PORT, h.srcPort);
  put16(out, offset + OFFSET_DST_PORT, h.dstPort);
  put32(out, offset + OFFSET_SEQ, h.seq);
  put32(out, offset + OFFSET_ACK, h.ack);
  put16(out, offset + OFFSET_WINDOW, h.window);
  put32(out, offset + OFFSET_CHECKSUM, 0);
}

/**
 * Reads the header fields at `offset` (no checks: the caller has verified
 * there are 34 bytes). The payload length and checksum are read with
 * {@link readPayloadLength} / {@link readChecksum}.
 */
export function readHeader(bytes: Uint8Array, offset: number): PacketHeader {
  const vf = bytes[offset + OFFSET_VERSION_FLAGS];
  return {
    version: vf >>> 4,
    flags: vf & MAX_NIBBLE,
    protocol: bytes[offset + OFFSET_PROTOCOL],
    src: new Address(get16(bytes, offset + OFFSET_SRC), get32(bytes, offset + OFFSET_SRC + 2)),
    dst: new Address(get16(bytes, offset + OFFSET_DST), get32(bytes, offset + OFFSET_DST + 2)),
    srcPort: get16(bytes, offset + OFFSET_SRC_PORT),
    dstPort: get16(bytes, offset + OFFSET_DST_PORT),
    seq: get32(bytes, offset + OFFSET_SEQ),
    ack: get32(bytes, offset + OFFSET_ACK),
    window: get16(bytes, offset + OFFSET_WINDOW),
  };
}

/** The payload-length field of the header at `offset`. */
export function readPayloadLength(bytes: Uint8Array, offset: number): number {
  return get16(bytes, offset + OFFSET_PAYLOAD_LENGTH);
}

/** The checksum field of the header at `offset`. */
export function readChecksum(bytes: Uint8Array, offset: number): number {
  return get32(bytes, offset + OFFSET_CHECKSUM);
}

/** Stores `crc` into the checksum field of the header at `offset`. */
export function writeChecksum(out: Uint8Array, offset: number, crc: number): void {
  put32(out, offset + OFFSET_CHECKSUM, crc);
}
