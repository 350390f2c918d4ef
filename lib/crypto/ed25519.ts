/**
 * Ed25519 (RFC 8032, pure) for node identities: PILA signatures, registry write
 * signatures and handshake signatures. Keys are raw 32-byte seeds and public keys.
 * Backed by node:crypto: synchronous and ~10× faster than pure JS for verification,
 * which registries do for every signed request (figures in docs/benchmarks.md).
 */
import { type KeyObject, sign, verify } from "node:crypto";
import { privateKeyObject, publicKeyObject, rawPublicKey } from "./node_keys.ts";
import { CryptoInputError } from "./errors.ts";

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
  return { seed, publicKey: rawPublicKey(privateKeyObject("Ed25519", seed)) };
}

/** The key pair for a given 32-byte seed. */
export function ed25519FromSeed(seed: Uint8Array): Ed25519KeyPair {
  checkSeed(seed);
  return { seed: seed.slice(), publicKey: rawPublicKey(privateKeyObject("Ed25519", seed)) };
}

/**
 * The prepared private key of each seed array still in use. Preparing one (PKCS#8 parse plus deriving
 * the public key) costs more than the signature itself (~40 µs against ~25 µs here), and a node signs
 * with the same seed all its life: every registry request, heartbeat and handshake. An entry keeps a
 * copy of the seed's bytes so that a seed array rewritten in place (another key, or zeroed) is never
 * signed for with the key it used to hold; it goes when its seed array is collected.
 */
const preparedSeeds = new WeakMap<Uint8Array, { bytes: Uint8Array; key: KeyObject }>();

function preparedSigningKey(seed: Uint8Array): KeyObject {
  const hit = preparedSeeds.get(seed);
  if (hit && equalBytes(hit.bytes, seed)) return hit.key;
  const key = privateKeyObject("Ed25519", seed);
  if (hit) hit.bytes.fill(0);
  preparedSeeds.set(seed, { bytes: seed.slice(), key });
  return key;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

/** Signs `message` with the seed; returns the 64-byte signature. */
export function signEd25519(seed: Uint8Array, message: Uint8Array): Uint8Array {
  checkSeed(seed);
  return new Uint8Array(sign(null, message, preparedSigningKey(seed)));
}

/** True when `signature` is a valid signature of `message` by `publicKey`; false for any malformed input. */
export function verifyEd25519(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.length !== ED25519_PUBLIC_KEY_LENGTH || signature.length !== ED25519_SIGNATURE_LENGTH) {
    return false;
  }
  try {
    return verify(null, message, publicKeyObject("Ed25519", publicKey), signature);
  } catch {
    return false;
  }
}

/**
 * {@link signEd25519} behind a Promise, for callers written against an async signer. It runs
 * synchronously on node:crypto, which measured faster than Web Crypto even with many operations in
 * flight on this project's machines (docs/benchmarks.md).
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
