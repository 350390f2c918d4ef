/**
 * Ed25519 (RFC 8032, pure) for node identities: PILA signatures, registry write
 * signatures and handshake signatures. Keys are raw 32-byte seeds and public keys.
 * The synchronous functions use @noble/curves; the `*Async` ones use Web Crypto, which
 * measured ~5× faster (docs/benchmarks.md), for callers that verify many signatures.
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

const WEB_ALGORITHM = "Ed25519";
// RFC 8410 PrivateKeyInfo for an Ed25519 seed: Web Crypto imports private keys only as PKCS#8.
const PKCS8_SEED_PREFIX = Uint8Array.of(
  0x30,
  0x2e,
  0x02,
  0x01,
  0x00,
  0x30,
  0x05,
  0x06,
  0x03,
  0x2b,
  0x65,
  0x70,
  0x04,
  0x22,
  0x04,
  0x20,
);

/** Signs with Web Crypto; same bytes as {@link signEd25519} (Ed25519 is deterministic). */
export async function signEd25519Async(seed: Uint8Array, message: Uint8Array): Promise<Uint8Array> {
  if (seed.length !== ED25519_SEED_LENGTH) throw new TypeError(`seed must be 32 bytes, got ${seed.length}`);
  const pkcs8 = new Uint8Array(PKCS8_SEED_PREFIX.length + ED25519_SEED_LENGTH);
  pkcs8.set(PKCS8_SEED_PREFIX);
  pkcs8.set(seed, PKCS8_SEED_PREFIX.length);
  try {
    const key = await crypto.subtle.importKey("pkcs8", pkcs8, WEB_ALGORITHM, false, ["sign"]);
    return new Uint8Array(await crypto.subtle.sign(WEB_ALGORITHM, key, new Uint8Array(message)));
  } finally {
    pkcs8.fill(0);
  }
}

/**
 * {@link verifyEd25519} on Web Crypto: resolves true only for a valid signature, false for an
 * invalid one or any malformed input. Use it when verifying many signatures (e.g. a registry).
 */
export async function verifyEd25519Async(
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
): Promise<boolean> {
  if (publicKey.length !== ED25519_PUBLIC_KEY_LENGTH || signature.length !== ED25519_SIGNATURE_LENGTH) {
    return false;
  }
  try {
    const key = await crypto.subtle.importKey("raw", new Uint8Array(publicKey), WEB_ALGORITHM, false, [
      "verify",
    ]);
    return await crypto.subtle.verify(WEB_ALGORITHM, key, new Uint8Array(signature), new Uint8Array(message));
  } catch {
    return false;
  }
}
