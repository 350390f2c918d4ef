/**
 * Tunnel frame codecs (docs/protocol/wire.md §5): the UDP payloads exchanged between daemons, each
 * framed by a 4-byte magic. Pure byte work, no I/O and no cryptography: the inner packet
 * of PILT and the ciphertext of PILS are carried opaquely. Decoded byte fields are
 * views into the input (no copies) so the receive path stays allocation-light; copy
 * them if the input buffer is reused.
 */
import { PilotError } from "../errors.ts";
import { readU32, writeU32 } from "../bytes.ts";

/** Magic of a plaintext frame, "PILT". */
export const MAGIC_PILT = 0x50494c54;
/** Magic of an encrypted frame, "PILS". */
export const MAGIC_PILS = 0x50494c53;
/** Magic of an anonymous key-exchange frame, "PILK". */
export const MAGIC_PILK = 0x50494c4b;
/** Magic of an authenticated key-exchange frame, "PILA". */
export const MAGIC_PILA = 0x50494c41;
/** Magic of a NAT punch frame, "PILP". */
export const MAGIC_PILP = 0x50494c50;

/** Size of every frame magic. */
export const MAGIC_SIZE = 4;
/** Size of the SenderNode field (32-bit node ID, network not included). */
export const SENDER_SIZE = 4;
/** Size of the packet header every PILT body must at least hold (docs/protocol/wire.md §3). */
export const PACKET_HEADER_SIZE = 34;
/** AES-GCM nonce size: 4-byte prefix ‖ 8-byte counter (docs/protocol/wire.md §6.3). */
export const NONCE_SIZE = 12;
/** AES-GCM tag size, appended to the ciphertext. */
export const TAG_SIZE = 16;
/** Raw X25519 public key size (RFC 7748). */
export const X25519_PUBLIC_SIZE = 32;
/** Raw Ed25519 public key size (RFC 8032). */
export const ED25519_PUBLIC_SIZE = 32;
/** Ed25519 signature size. */
export const SIGNATURE_SIZE = 64;

/** Smallest PILT accepted: magic plus a bare packet header. */
export const PILT_MIN_SIZE = MAGIC_SIZE + PACKET_HEADER_SIZE; // 38
/** Bytes in front of the ciphertext in a PILS frame: magic ‖ sender ‖ nonce. */
export const PILS_HEADER_SIZE = MAGIC_SIZE + SENDER_SIZE + NONCE_SIZE; // 20
/** Total PILS bytes beyond the plaintext: header plus tag, so frame size = 36 + plaintext. */
export const PILS_OVERHEAD = PILS_HEADER_SIZE + TAG_SIZE; // 36
/** Smallest PILS body the reference accepts: sender ‖ nonce ‖ tag (empty ciphertext). */
export const PILS_MIN_BODY = SENDER_SIZE + NONCE_SIZE + TAG_SIZE; // 32
/** PILK body: sender ‖ X25519 public key. Longer bodies are accepted, the excess ignored. */
export const PILK_BODY_SIZE = SENDER_SIZE + X25519_PUBLIC_SIZE; // 36
/** PILA body: sender ‖ X25519 ‖ Ed25519 ‖ signature. Longer bodies are accepted, the excess ignored. */
export const PILA_BODY_SIZE = SENDER_SIZE + X25519_PUBLIC_SIZE + ED25519_PUBLIC_SIZE + SIGNATURE_SIZE; // 132
/** PILP as the reference sends it: the bare magic. */
export const PILP_SHORT_SIZE = MAGIC_SIZE; // 4
/** PILP as the draft (and we) send it: magic ‖ sender. */
export const PILP_LONG_SIZE = MAGIC_SIZE + SENDER_SIZE; // 8
/** Any first byte below this marks a beacon message rather than a frame (all magics start 0x50). */
export const BEACON_BYTE_LIMIT = 0x10;

const U32_MAX = 0xffffffff;

/** The five frame kinds, named after their magics. */
export type FrameKind = "PILT" | "PILS" | "PILK" | "PILA" | "PILP";

/** Plaintext frame carrying a marshalled packet (header ‖ payload, valid CRC), not decoded here. */
export interface PiltFrame {
  kind: "PILT";
  packet: Uint8Array;
}
/** Encrypted frame: `sealed` is ciphertext ‖ 16-byte tag, opened with AAD = sender as 4 bytes BE. */
export interface PilsFrame {
  kind: "PILS";
  sender: number;
  nonce: Uint8Array;
  sealed: Uint8Array;
}
/** Anonymous key exchange: the sender's ephemeral X25519 public key. */
export interface PilkFrame {
  kind: "PILK";
  sender: number;
  x25519: Uint8Array;
}
/** Authenticated key exchange: X25519 key signed by the sender's Ed25519 identity over "auth" ‖ sender ‖ x25519. */
export interface PilaFrame {
  kind: "PILA";
  sender: number;
  x25519: Uint8Array;
  ed25519: Uint8Array;
  signature: Uint8Array;
}
/** NAT punch; `sender` is absent in the reference's bare 4-byte form. Unauthenticated. */
export interface PilpFrame {
  kind: "PILP";
  sender?: number;
}

/** Any tunnel frame, discriminated by `kind`. */
export type TunnelFrame = PiltFrame | PilsFrame | PilkFrame | PilaFrame | PilpFrame;

/** Why a frame was rejected (decoding) or could not be built (encoding). */
export type FrameErrorReason =
  | "short" // fewer than 4 bytes: no magic
  | "unknown-magic" // bytes 0..3 are no known magic (includes beacon messages)
  | "truncated" // magic known but the body is below that kind's minimum
  | "bad-length" // PILP that is neither 4 nor 8 bytes
  | "invalid-field"; // encoder given a field of the wrong size or range

/**
 * Raised for every frame the codec refuses: malformed input to `decodeFrame` or an
 * impossible frame handed to an encoder. `reason` is machine-readable so the tunnel can
 * count drops by cause without parsing messages.
 */
export class FrameError extends PilotError {
  constructor(readonly reason: FrameErrorReason, message: string) {
    super(message);
  }
}

/** What a tunnel-socket datagram is, per the demultiplexing order of docs/protocol/wire.md §5. */
export type DatagramClass = "empty" | "beacon" | "frame" | "short" | "unknown-magic";

/**
 * Classifies a datagram received on the tunnel socket without decoding it: empty → "empty";
 * first byte below 0x10 → "beacon" (even if shorter than 4 bytes); under 4 bytes → "short";
 * a known magic → "frame"; anything else → "unknown-magic". "frame" does not promise that
 * `decodeFrame` will succeed (the body may still be truncated).
 */
export function classifyDatagram(bytes: Uint8Array): DatagramClass {
  if (bytes.length === 0) return "empty";
  if (bytes[0] < BEACON_BYTE_LIMIT) return "beacon";
  if (bytes.length < MAGIC_SIZE) return "short";
  return kindOfMagic(readU32(bytes, 0)) === undefined ? "unknown-magic" : "frame";
}

/**
 * The frame kind whose magic is `magic`, or undefined. Exposed so callers holding a
 * raw frame (e.g. inside a beacon RelayDeliver) can dispatch without a full decode.
 */
export function kindOfMagic(magic: number): FrameKind | undefined {
  switch (magic) {
    case MAGIC_PILT:
      return "PILT";
    case MAGIC_PILS:
      return "PILS";
    case MAGIC_PILK:
      return "PILK";
    case MAGIC_PILA:
      return "PILA";
    case MAGIC_PILP:
      return "PILP";
    default:
      return undefined;
  }
}

/**
 * Decodes one tunnel frame with the reference's acceptance rules (docs/protocol/wire.md §5): PILT needs
 * ≥ 38 bytes and its packet is everything after the magic (the packet decoder ignores bytes
 * beyond 34+L); PILS needs a body ≥ 32 and everything after the nonce is ciphertext ‖ tag;
 * PILK/PILA need bodies ≥ 36/132 and ignore any excess; PILP must be 4 or 8 bytes. Returned
 * byte fields are views into `bytes`. Throws FrameError on anything else.
 */
export function decodeFrame(bytes: Uint8Array): TunnelFrame {
  if (bytes.length < MAGIC_SIZE) throw new FrameError("short", `frame of ${bytes.length} bytes has no magic`);
  const magic = readU32(bytes, 0);
  const kind = kindOfMagic(magic);
  const bodyLength = bytes.length - MAGIC_SIZE;
  switch (kind) {
    case "PILT":
      if (bytes.length < PILT_MIN_SIZE) throw truncated(kind, bytes.length, PILT_MIN_SIZE);
      return { kind, packet: bytes.subarray(MAGIC_SIZE) };
    case "PILS": {
      if (bodyLength < PILS_MIN_BODY) throw truncated(kind, bytes.length, MAGIC_SIZE + PILS_MIN_BODY);
      const nonceAt = MAGIC_SIZE + SENDER_SIZE;
      return {
        kind,
        sender: readU32(bytes, MAGIC_SIZE),
        nonce: bytes.subarray(nonceAt, nonceAt + NONCE_SIZE),
        sealed: bytes.subarray(PILS_HEADER_SIZE),
      };
    }
    case "PILK": {
      if (bodyLength < PILK_BODY_SIZE) throw truncated(kind, bytes.length, MAGIC_SIZE + PILK_BODY_SIZE);
      const keyAt = MAGIC_SIZE + SENDER_SIZE;
      return {
        kind,
        sender: readU32(bytes, MAGIC_SIZE),
        x25519: bytes.subarray(keyAt, keyAt + X25519_PUBLIC_SIZE),
      };
    }
    case "PILA": {
      if (bodyLength < PILA_BODY_SIZE) throw truncated(kind, bytes.length, MAGIC_SIZE + PILA_BODY_SIZE);
      const xAt = MAGIC_SIZE + SENDER_SIZE;
      const edAt = xAt + X25519_PUBLIC_SIZE;
      const sigAt = edAt + ED25519_PUBLIC_SIZE;
      return {
        kind,
        sender: readU32(bytes, MAGIC_SIZE),
        x25519: bytes.subarray(xAt, edAt),
        ed25519: bytes.subarray(edAt, sigAt),
        signature: bytes.subarray(sigAt, sigAt + SIGNATURE_SIZE),
      };
    }
    case "PILP":
      if (bytes.length === PILP_SHORT_SIZE) return { kind };
      if (bytes.length === PILP_LONG_SIZE) return { kind, sender: readU32(bytes, MAGIC_SIZE) };
      throw new FrameError(
        "bad-length",
        `PILP must be ${PILP_SHORT_SIZE} or ${PILP_LONG_SIZE} bytes, got ${bytes.length}`,
      );
    default:
      throw new FrameError("unknown-magic", `unknown frame magic 0x${magic.toString(16).padStart(8, "0")}`);
  }
}

/**
 * Encodes a frame into a fresh buffer. Field sizes are checked (nonce 12, keys 32,
 * signature 64, sealed ≥ 16, packet ≥ 34, sender a u32) so that whatever this returns,
 * `decodeFrame` accepts and maps back to the same fields. PILP is written in the 8-byte
 * form when `sender` is given, else as the bare magic.
 */
export function encodeFrame(frame: TunnelFrame): Uint8Array<ArrayBuffer> {
  switch (frame.kind) {
    case "PILT": {
      checkMinLength("packet", frame.packet, PACKET_HEADER_SIZE);
      const out = new Uint8Array(MAGIC_SIZE + frame.packet.length);
      writeU32(out, 0, MAGIC_PILT);
      out.set(frame.packet, MAGIC_SIZE);
      return out;
    }
    case "PILS": {
      checkMinLength("sealed", frame.sealed, TAG_SIZE);
      const out = new Uint8Array(PILS_HEADER_SIZE + frame.sealed.length);
      encodePilsInto(out, 0, frame.sender, frame.nonce, frame.sealed);
      return out;
    }
    case "PILK": {
      checkSender(frame.sender);
      checkLength("x25519", frame.x25519, X25519_PUBLIC_SIZE);
      const out = new Uint8Array(MAGIC_SIZE + PILK_BODY_SIZE);
      writeU32(out, 0, MAGIC_PILK);
      writeU32(out, MAGIC_SIZE, frame.sender);
      out.set(frame.x25519, MAGIC_SIZE + SENDER_SIZE);
      return out;
    }
    case "PILA": {
      checkSender(frame.sender);
      checkLength("x25519", frame.x25519, X25519_PUBLIC_SIZE);
      checkLength("ed25519", frame.ed25519, ED25519_PUBLIC_SIZE);
      checkLength("signature", frame.signature, SIGNATURE_SIZE);
      const out = new Uint8Array(MAGIC_SIZE + PILA_BODY_SIZE);
      let at = 0;
      writeU32(out, at, MAGIC_PILA);
      writeU32(out, at += MAGIC_SIZE, frame.sender);
      out.set(frame.x25519, at += SENDER_SIZE);
      out.set(frame.ed25519, at += X25519_PUBLIC_SIZE);
      out.set(frame.signature, at + ED25519_PUBLIC_SIZE);
      return out;
    }
    case "PILP": {
      if (frame.sender === undefined) {
        const out = new Uint8Array(PILP_SHORT_SIZE);
        writeU32(out, 0, MAGIC_PILP);
        return out;
      }
      checkSender(frame.sender);
      const out = new Uint8Array(PILP_LONG_SIZE);
      writeU32(out, 0, MAGIC_PILP);
      writeU32(out, MAGIC_SIZE, frame.sender);
      return out;
    }
    default:
      throw new FrameError("invalid-field", `unknown frame kind ${(frame as { kind: unknown }).kind}`);
  }
}

/** Total PILS frame size for a plaintext of `plaintextLength` bytes: 36 + plaintext. */
export function pilsFrameSize(plaintextLength: number): number {
  return PILS_OVERHEAD + plaintextLength;
}

/**
 * Writes the 20-byte PILS header (magic ‖ sender BE ‖ nonce) at `out[offset..offset+20)`, so the
 * sender can have the AEAD write ciphertext ‖ tag directly behind it at `offset + PILS_HEADER_SIZE`.
 * Layout: 4 magic + 4 sender + 12 nonce + ciphertext + 16 tag = PILS_OVERHEAD + plaintext.
 * The sender bytes at offset+4 double as the AAD (see `pilsAad`).
 */
export function writePilsHeader(out: Uint8Array, offset: number, sender: number, nonce: Uint8Array): void {
  checkSender(sender);
  checkLength("nonce", nonce, NONCE_SIZE);
  if (!Number.isInteger(offset) || offset < 0 || offset + PILS_HEADER_SIZE > out.length) {
    throw new FrameError(
      "invalid-field",
      `no room for a ${PILS_HEADER_SIZE}-byte PILS header at offset ${offset}`,
    );
  }
  writeU32(out, offset, MAGIC_PILS);
  writeU32(out, offset + MAGIC_SIZE, sender);
  out.set(nonce, offset + MAGIC_SIZE + SENDER_SIZE);
}

/**
 * Writes a whole PILS frame (header then `sealed` = ciphertext ‖ tag) into `out` at `offset` and
 * returns the number of bytes written (20 + sealed.length). For AEADs that return a fresh sealed
 * buffer (WebCrypto), this is the single copy into a pre-sized datagram buffer.
 */
export function encodePilsInto(
  out: Uint8Array,
  offset: number,
  sender: number,
  nonce: Uint8Array,
  sealed: Uint8Array,
): number {
  checkMinLength("sealed", sealed, TAG_SIZE);
  const total = PILS_HEADER_SIZE + sealed.length;
  if (offset + total > out.length) {
    throw new FrameError("invalid-field", `no room for a ${total}-byte PILS frame at offset ${offset}`);
  }
  writePilsHeader(out, offset, sender, nonce);
  out.set(sealed, offset + PILS_HEADER_SIZE);
  return total;
}

/** The 4-byte AAD for a sender (its node ID, BE), as a fresh array. */
export function pilsAad(sender: number): Uint8Array<ArrayBuffer> {
  checkSender(sender);
  const out = new Uint8Array(SENDER_SIZE);
  writeU32(out, 0, sender);
  return out;
}

function truncated(kind: FrameKind, got: number, need: number): FrameError {
  return new FrameError("truncated", `${kind} frame of ${got} bytes is shorter than the minimum ${need}`);
}

function checkSender(sender: number): void {
  if (!Number.isInteger(sender) || sender < 0 || sender > U32_MAX) {
    throw new FrameError("invalid-field", `sender must be a u32 node ID, got ${sender}`);
  }
}

function checkLength(name: string, value: Uint8Array, size: number): void {
  if (!(value instanceof Uint8Array) || value.length !== size) {
    throw new FrameError("invalid-field", `${name} must be ${size} bytes, got ${value?.length}`);
  }
}

function checkMinLength(name: string, value: Uint8Array, min: number): void {
  if (!(value instanceof Uint8Array) || value.length < min) {
    throw new FrameError("invalid-field", `${name} must be at least ${min} bytes, got ${value?.length}`);
  }
}
