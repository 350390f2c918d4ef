/**
 * HKDF-SHA256 (RFC 5869) as pilot uses it: empty salt, one 32-byte output block, and a fixed
 * info label per channel (docs/protocol/wire.md §6.2, docs/protocol/services.md §2). Done synchronously with
 * the process's HMAC-SHA256 (libcrypto or node:crypto, primitives.ts; @noble/hashes cost the daemon
 * four more modules), so the intermediate PRK can be zeroed as soon as it is used.
 */
import { utf8 } from "../bytes.ts";
import { CryptoInputError } from "./errors.ts";
import { primitives } from "./primitives.ts";

/** HKDF info label for tunnel (PILS) keys. */
export const INFO_TUNNEL = "pilot-tunnel-v1";
/** HKDF info label for the port-443 secure channel. */
export const INFO_SECURE = "pilot-secure-v1";
/** Length of a derived key: one SHA-256 block, used as an AES-256 key. */
export const DERIVED_KEY_LENGTH = 32;
/** Length of an X25519 shared secret. */
export const SHARED_SECRET_LENGTH = 32;

const EMPTY_SALT = new Uint8Array(0);
const FIRST_BLOCK = 0x01;

/**
 * HKDF-Extract with an empty salt: PRK = HMAC-SHA256(key = "", ikm). Exposed for the test
 * vectors; production code should call {@link deriveKey}, which zeroes the PRK itself.
 */
export function hkdfExtract(ikm: Uint8Array): Uint8Array {
  return primitives.hmacSha256(EMPTY_SALT, ikm);
}

/**
 * HKDF-Expand for exactly one block: K = HMAC-SHA256(prk, info ‖ 0x01). One block is all pilot
 * ever needs (a 32-byte AES-256 key), so the general multi-block loop is not implemented.
 */
export function hkdfExpandOneBlock(prk: Uint8Array, info: string): Uint8Array {
  const label = utf8(info);
  const msg = new Uint8Array(label.length + 1);
  msg.set(label);
  msg[label.length] = FIRST_BLOCK;
  return primitives.hmacSha256(prk, msg);
}

/**
 * Derives the 32-byte AEAD key for `info` from an X25519 shared secret. The shared secret is
 * overwritten with zeros before returning (the caller hands ownership over), and so is the PRK;
 * the returned key should in turn be passed to a cipher constructor, which zeroes it.
 *
 * @example
 * ```ts
 * import { deriveKey, INFO_TUNNEL } from "./hkdf.ts";
 * const key = deriveKey(new Uint8Array(32).fill(1), INFO_TUNNEL);
 * console.assert(key.length === 32);
 * ```
 */
export function deriveKey(sharedSecret: Uint8Array, info: string): Uint8Array {
  if (sharedSecret.length !== SHARED_SECRET_LENGTH) {
    throw new CryptoInputError(
      `shared secret must be ${SHARED_SECRET_LENGTH} bytes, got ${sharedSecret.length}`,
    );
  }
  const prk = hkdfExtract(sharedSecret);
  sharedSecret.fill(0);
  try {
    return hkdfExpandOneBlock(prk, info);
  } finally {
    prk.fill(0);
  }
}
