/**
 * The PILA key-exchange signature (docs/protocol/wire.md §5.4): Ed25519 by the node's identity over the 40-byte
 * message "auth" ‖ SenderNode (u32 BE) ‖ X25519 public key. Only the message and signature live
 * here; the frame layout belongs to the tunnel's frame codec.
 */
import { utf8, writeU32 } from "../bytes.ts";
import { ED25519_SIGNATURE_LENGTH, signEd25519, verifyEd25519 } from "./ed25519.ts";
import { CryptoInputError } from "./errors.ts";
import { X25519_KEY_LENGTH } from "./x25519.ts";

/** The 4-byte ASCII label that starts the signed message (no colon, as the reference signs it). */
export const PILA_LABEL = "auth";
/** Length of the signed message: label(4) ‖ node(4) ‖ X25519 public key(32). */
export const PILA_MESSAGE_LENGTH = 40;
/** Length of the signature carried in the frame. */
export const PILA_SIGNATURE_LENGTH = ED25519_SIGNATURE_LENGTH;

const LABEL_BYTES = utf8(PILA_LABEL);
const NODE_OFFSET = LABEL_BYTES.length;
const KEY_OFFSET = NODE_OFFSET + 4;
const U32_MAX = 0xffff_ffff;

/**
 * Builds the 40-byte PILA signed message for `nodeId` (u32) and the sender's X25519 public key.
 * Throws {@link CryptoInputError} for a node ID outside u32 or a key that is not 32 bytes.
 */
export function pilaMessage(nodeId: number, x25519PublicKey: Uint8Array): Uint8Array {
  if (!Number.isInteger(nodeId) || nodeId < 0 || nodeId > U32_MAX) {
    throw new CryptoInputError(`node ID must be a u32, got ${nodeId}`);
  }
  if (x25519PublicKey.length !== X25519_KEY_LENGTH) {
    throw new CryptoInputError(
      `X25519 public key must be ${X25519_KEY_LENGTH} bytes, got ${x25519PublicKey.length}`,
    );
  }
  const msg = new Uint8Array(PILA_MESSAGE_LENGTH);
  msg.set(LABEL_BYTES);
  writeU32(msg, NODE_OFFSET, nodeId);
  msg.set(x25519PublicKey, KEY_OFFSET);
  return msg;
}

/** Signs the PILA message with the identity's 32-byte Ed25519 seed; returns the 64-byte signature. */
export function signPila(identitySeed: Uint8Array, nodeId: number, x25519PublicKey: Uint8Array): Uint8Array {
  return signEd25519(identitySeed, pilaMessage(nodeId, x25519PublicKey));
}

/**
 * True when `signature` is the PILA signature of `nodeId` and `x25519PublicKey` by
 * `ed25519PublicKey`. The caller must first have checked that this Ed25519 key is the one the
 * registry holds for `nodeId`; a valid signature by any other key proves nothing. Malformed input
 * (bad lengths, node ID out of range) yields false rather than an exception.
 */
export function verifyPila(
  ed25519PublicKey: Uint8Array,
  nodeId: number,
  x25519PublicKey: Uint8Array,
  signature: Uint8Array,
): boolean {
  let msg: Uint8Array;
  try {
    msg = pilaMessage(nodeId, x25519PublicKey);
  } catch {
    return false;
  }
  return verifyEd25519(ed25519PublicKey, msg, signature);
}
