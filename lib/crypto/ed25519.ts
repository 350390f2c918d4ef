/**
 * Ed25519 (RFC 8032, pure) for node identities: PILA signatures, registry write
 * signatures and handshake signatures. Keys are raw 32-byte seeds and public keys.
 * On the process's synchronous primitives (libcrypto or node:crypto, primitives.ts): ~10× faster
 * than pure JS for verification, which registries do for every signed request (figures in
 * docs/benchmarks.md).
 */
import { CryptoInputError } from "./errors.ts";
import { primitives } from "./primitives.ts";

export const ED25519_PUBLIC_KEY_LENGTH = 32;
export const ED25519_SEED_LENGTH = 32;
export const ED25519_SIGNATURE_LENGTH = 64;

export interface Ed25519KeyPair {
  /** The 32-byte secret seed. */
  seed: Uint8Array;
  /** The 32-byte public key. */
  publicKey: Uint8Array;
}

function checkSeed(seed: Uint8Array): void {
  if (seed.length !== ED25519_SEED_LENGTH) {
    throw new CryptoInputError(`seed must be 32 bytes, got ${seed.length}`);
  }
}

/** A fresh key pair from the CSPRNG. */
export function generateEd25519KeyPair(): Ed25519KeyPair {
  const seed = crypto.getRandomValues(new Uint8Array(ED25519_SEED_LENGTH));
  return { seed, publicKey: primitives.ed25519PublicKey(seed) };
}

/** The key pair for a given 32-byte seed. */
export function ed25519FromSeed(seed: Uint8Array): Ed25519KeyPair {
  checkSeed(seed);
  return { seed: seed.slice(), publicKey: primitives.ed25519PublicKey(seed) };
}

/** Signs `message` with the seed; returns the 64-byte signature. */
export function signEd25519(seed: Uint8Array, message: Uint8Array): Uint8Array {
  checkSeed(seed);
  return primitives.ed25519Sign(seed, message);
}

/** True when `signature` is a valid signature of `message` by `publicKey`; false for any malformed input. */
export function verifyEd25519(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.length !== ED25519_PUBLIC_KEY_LENGTH || signature.length !== ED25519_SIGNATURE_LENGTH) {
    return false;
  }
  return primitives.ed25519Verify(publicKey, message, signature);
}

/**
 * {@link signEd25519} behind a Promise, for callers written against an async signer. It runs
 * synchronously, which measured faster than Web Crypto even with many operations in flight on this
 * project's machines (docs/benchmarks.md).
 */
export function signEd25519Async(seed: Uint8Array, message: Uint8Array): Promise<Uint8Array> {
  try {
    return Promise.resolve(signEd25519(seed, message));
  } catch (err) {
    return Promise.reject(err);
  }
}

/** {@link verifyEd25519} behind a Promise (same reasoning as {@link signEd25519Async}). */
export function verifyEd25519Async(
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
): Promise<boolean> {
  return Promise.resolve(verifyEd25519(publicKey, message, signature));
}
