/**
 * Ed25519 (RFC 8032, pure) for node identities: PILA signatures, registry write
 * signatures and handshake signatures. Keys are raw 32-byte seeds and public keys.
 */
import { ed25519 } from "@noble/curves/ed25519.js";

export const ED25519_PUBLIC_KEY_LENGTH = 32;
export const ED25519_SEED_LENGTH = 32;
export const ED25519_SIGNATURE_LENGTH = 64;

export interface Ed25519KeyPair {
  /** The 32-byte secret seed. */
  seed: Uint8Array;
  /** The 32-byte public key. */
  publicKey: Uint8Array;
}

/** A fresh key pair from the CSPRNG. */
export function generateEd25519KeyPair(): Ed25519KeyPair {
  const seed = ed25519.utils.randomSecretKey();
  return { seed, publicKey: ed25519.getPublicKey(seed) };
}

/** The key pair for a given 32-byte seed. */
export function ed25519FromSeed(seed: Uint8Array): Ed25519KeyPair {
  if (seed.length !== ED25519_SEED_LENGTH) throw new TypeError(`seed must be 32 bytes, got ${seed.length}`);
  return { seed: seed.slice(), publicKey: ed25519.getPublicKey(seed) };
}

/** Signs `message` with the seed; returns the 64-byte signature. */
export function signEd25519(seed: Uint8Array, message: Uint8Array): Uint8Array {
  return ed25519.sign(message, seed);
}

/** True when `signature` is a valid signature of `message` by `publicKey`; false for any malformed input. */
export function verifyEd25519(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.length !== ED25519_PUBLIC_KEY_LENGTH || signature.length !== ED25519_SIGNATURE_LENGTH) {
    return false;
  }
  try {
    return ed25519.verify(signature, message, publicKey);
  } catch {
    return false;
  }
}
