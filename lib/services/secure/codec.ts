/**
 * Wire formats of the port-443 secure channel (docs/protocol/services.md §2), pure and I/O-free: the encrypted
 * frame `u32 len · nonce[12] · ciphertext‖tag` (len counts nonce and ciphertext, at most 16 MiB)
 * and the 92-byte mutual-authentication message `u32 node_id · u64 unix_ts · nonce[16] · sig[64]`
 * with the bytes its Ed25519 signature covers.
 * @module
 */
import { PilotError } from "../../errors.ts";
import { NONCE_LENGTH, TAG_LENGTH } from "../../crypto/aes_gcm.ts";
import { X25519_KEY_LENGTH } from "../../crypto/x25519.ts";
import { ED25519_SIGNATURE_LENGTH } from "../../crypto/ed25519.ts";
import { readU32, writeU32 } from "../../bytes.ts";

/** Bytes of the frame length prefix. */
export const FRAME_LENGTH_PREFIX = 4;
/** Largest frame body (nonce + ciphertext + tag) a receiver accepts. */
export const MAX_FRAME_BODY = 16 << 20;
/** Smallest meaningful frame body: a nonce and an empty ciphertext's tag. */
export const MIN_FRAME_BODY = NONCE_LENGTH + TAG_LENGTH;
/** Largest plaintext sealed into one frame; longer writes are split. */
export const MAX_FRAME_PLAINTEXT = MAX_FRAME_BODY - MIN_FRAME_BODY;
/** Bytes of each side's ephemeral X25519 key sent in the clear at the start. */
export const KEY_EXCHANGE_LENGTH = X25519_KEY_LENGTH;

/** Domain-separation label of the authentication signature. */
export const AUTH_LABEL = "pilot-secure-auth:";
/** Bytes of the random nonce in an authentication message. */
export const AUTH_NONCE_LENGTH = 16;
/** Bytes of an authentication message. */
export const AUTH_MESSAGE_LENGTH = 4 + 8 + AUTH_NONCE_LENGTH + ED25519_SIGNATURE_LENGTH;

/** Base class of every secure-channel failure. */
export class SecureChannelError extends PilotError {}

/** A frame or authentication message is malformed (length out of range, wrong size). */
export class SecureFrameError extends SecureChannelError {}

/** Seals nothing: lays out an already sealed frame as one buffer for one write. */
export function encodeSecureFrame(nonce: Uint8Array, ciphertextWithTag: Uint8Array): Uint8Array {
  if (nonce.length !== NONCE_LENGTH) throw new SecureFrameError(`nonce must be ${NONCE_LENGTH} bytes`);
  const body = NONCE_LENGTH + ciphertextWithTag.length;
  checkFrameBodyLength(body);
  const out = new Uint8Array(FRAME_LENGTH_PREFIX + body);
  writeU32(out, 0, body);
  out.set(nonce, FRAME_LENGTH_PREFIX);
  out.set(ciphertextWithTag, FRAME_LENGTH_PREFIX + NONCE_LENGTH);
  return out;
}

/** Throws {@link SecureFrameError} unless `length` is a valid frame-body length. */
export function checkFrameBodyLength(length: number): void {
  if (length < MIN_FRAME_BODY || length > MAX_FRAME_BODY) {
    throw new SecureFrameError(`frame length ${length} is outside ${MIN_FRAME_BODY}..${MAX_FRAME_BODY}`);
  }
}

/** Reads and checks the 4-byte length prefix. */
export function decodeFrameLength(prefix: Uint8Array): number {
  if (prefix.length < FRAME_LENGTH_PREFIX) throw new SecureFrameError("frame length prefix is truncated");
  const length = readU32(prefix, 0);
  checkFrameBodyLength(length);
  return length;
}

/** Splits a frame body into its nonce and ciphertext‖tag. */
export function splitFrameBody(body: Uint8Array): { nonce: Uint8Array; ciphertextWithTag: Uint8Array } {
  checkFrameBodyLength(body.length);
  return { nonce: body.subarray(0, NONCE_LENGTH), ciphertextWithTag: body.subarray(NONCE_LENGTH) };
}

/**
 * Decodes one complete frame from the start of `bytes`: the body parts and the bytes used, or null
 * when only part of a frame is present. Throws {@link SecureFrameError} on a bad length.
 */
export function decodeSecureFrame(
  bytes: Uint8Array,
): { nonce: Uint8Array; ciphertextWithTag: Uint8Array; consumed: number } | null {
  if (bytes.length < FRAME_LENGTH_PREFIX) return null;
  const length = decodeFrameLength(bytes);
  const consumed = FRAME_LENGTH_PREFIX + length;
  if (bytes.length < consumed) return null;
  return { ...splitFrameBody(bytes.subarray(FRAME_LENGTH_PREFIX, consumed)), consumed };
}

/** The fields of an authentication message. */
export interface AuthMessage {
  nodeId: number;
  /** Unix time in seconds. */
  timestamp: bigint;
  nonce: Uint8Array;
  signature: Uint8Array;
}

/** Lays out an authentication message (92 bytes). */
export function encodeAuthMessage(message: AuthMessage): Uint8Array {
  if (message.nonce.length !== AUTH_NONCE_LENGTH) {
    throw new SecureFrameError(`auth nonce must be ${AUTH_NONCE_LENGTH} bytes`);
  }
  if (message.signature.length !== ED25519_SIGNATURE_LENGTH) {
    throw new SecureFrameError(`auth signature must be ${ED25519_SIGNATURE_LENGTH} bytes`);
  }
  const out = new Uint8Array(AUTH_MESSAGE_LENGTH);
  const view = new DataView(out.buffer);
  view.setUint32(0, message.nodeId);
  view.setBigUint64(4, BigInt.asUintN(64, message.timestamp));
  out.set(message.nonce, 12);
  out.set(message.signature, 12 + AUTH_NONCE_LENGTH);
  return out;
}

/** Parses an authentication message; throws {@link SecureFrameError} unless it is exactly 92 bytes. */
export function decodeAuthMessage(bytes: Uint8Array): AuthMessage {
  if (bytes.length !== AUTH_MESSAGE_LENGTH) {
    throw new SecureFrameError(`auth message must be ${AUTH_MESSAGE_LENGTH} bytes, got ${bytes.length}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    nodeId: view.getUint32(0),
    timestamp: view.getBigUint64(4),
    nonce: bytes.slice(12, 12 + AUTH_NONCE_LENGTH),
    signature: bytes.slice(12 + AUTH_NONCE_LENGTH),
  };
}

/**
 * The bytes an authentication signature covers:
 * `"pilot-secure-auth:" · u32 node_id · sender's X25519 public key · u64 ts · nonce16`.
 */
export function authSignedBytes(
  nodeId: number,
  senderX25519: Uint8Array,
  timestamp: bigint,
  nonce: Uint8Array,
): Uint8Array {
  if (senderX25519.length !== X25519_KEY_LENGTH) throw new SecureFrameError("X25519 key must be 32 bytes");
  const label = new TextEncoder().encode(AUTH_LABEL);
  const out = new Uint8Array(label.length + 4 + X25519_KEY_LENGTH + 8 + AUTH_NONCE_LENGTH);
  const view = new DataView(out.buffer);
  out.set(label);
  let at = label.length;
  view.setUint32(at, nodeId);
  at += 4;
  out.set(senderX25519, at);
  at += X25519_KEY_LENGTH;
  view.setBigUint64(at, BigInt.asUintN(64, timestamp));
  at += 8;
  out.set(nonce, at);
  return out;
}
