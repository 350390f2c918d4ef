/**
 * X25519 (RFC 7748) for the tunnel and port-443 key exchanges, on the process's synchronous
 * primitives (libcrypto or node:crypto, primitives.ts). Synchronous, so the key-exchange handler has
 * no await point where peer state could change underneath it, and the fastest backends measured
 * (~5× @noble/curves, ~2× Web Crypto; docs/benchmarks.md).
 */
import { CryptoError, CryptoInputError } from "./errors.ts";
import { deriveKey } from "./hkdf.ts";
import { primitives } from "./primitives.ts";

/** Length of X25519 private keys, public keys and shared secrets. */
export const X25519_KEY_LENGTH = 32;

/** An X25519 key pair as raw RFC 7748 bytes. */
export interface X25519KeyPair {
  /** The 32-byte private scalar (clamped when used). */
  privateKey: Uint8Array;
  /** The 32-byte public u-coordinate. */
  publicKey: Uint8Array;
}

function checkLength(bytes: Uint8Array, what: string): void {
  if (bytes.length !== X25519_KEY_LENGTH) {
    throw new CryptoInputError(`X25519 ${what} must be ${X25519_KEY_LENGTH} bytes, got ${bytes.length}`);
  }
}

/** A fresh X25519 key pair from the CSPRNG (the daemon makes one per start, docs/protocol/wire.md §6.1). */
export function generateX25519KeyPair(): X25519KeyPair {
  const privateKey = crypto.getRandomValues(new Uint8Array(X25519_KEY_LENGTH));
  return { privateKey, publicKey: primitives.x25519PublicKey(privateKey) };
}

/** The key pair of a given 32-byte private key (copied). Throws {@link CryptoError} on a wrong length. */
export function x25519FromPrivateKey(privateKey: Uint8Array): X25519KeyPair {
  checkLength(privateKey, "private key");
  return { privateKey: privateKey.slice(), publicKey: primitives.x25519PublicKey(privateKey) };
}

/**
 * The 32-byte X25519 shared secret of our private key and the peer's public key. Throws
 * {@link CryptoError} for wrong lengths and for low-order peer keys, whose shared secret would be
 * all zeros (the reference rejects those too). The caller owns and should zero the result;
 * {@link deriveSharedKey} does that for it.
 */
export function x25519SharedSecret(privateKey: Uint8Array, peerPublicKey: Uint8Array): Uint8Array {
  checkLength(privateKey, "private key");
  checkLength(peerPublicKey, "peer public key");
  const shared = primitives.x25519(privateKey, peerPublicKey);
  let acc = 0;
  for (const b of shared) acc |= b;
  if (acc === 0) throw new CryptoError("X25519 shared secret is all zeros");
  return shared;
}

/**
 * X25519 followed by HKDF-SHA256 with `info` (docs/protocol/wire.md §6.2): the 32-byte AEAD key for this pair of
 * keys. The intermediate shared secret and PRK are zeroed; pass the key to a cipher constructor,
 * which zeroes it in turn.
 */
export function deriveSharedKey(privateKey: Uint8Array, peerPublicKey: Uint8Array, info: string): Uint8Array {
  return deriveKey(x25519SharedSecret(privateKey, peerPublicKey), info);
}
