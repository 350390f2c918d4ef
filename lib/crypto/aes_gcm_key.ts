/**
 * AES-256-GCM engine interface, its argument checks and the base of the synchronous engines: the
 * part every engine shares, with no backend imported, so engines in other modules (libcrypto,
 * node:crypto) can extend it without pulling each other in.
 * @module
 */
import { CryptoError, CryptoInputError } from "./errors.ts";

/** AES-256 key length in bytes. */
export const AES_KEY_LENGTH = 32;
/** GCM nonce length used by pilot: 4-byte prefix ‖ 8-byte counter. */
export const NONCE_LENGTH = 12;
/** GCM tag length in bytes (appended to the ciphertext). */
export const TAG_LENGTH = 16;

/**
 * Which implementation backs an {@link AesGcmKey}: `"node"` names the process's synchronous engine
 * (libcrypto over FFI on Linux, else node:crypto; lib/crypto/primitives.ts), `"webcrypto"` the
 * asynchronous one, `"hybrid"` both. Engines report their own `backend` name.
 */
export type AesGcmBackend = "node" | "webcrypto" | "hybrid";

/**
 * A keyed AES-256-GCM engine. `seal` returns ciphertext ‖ 16-byte tag; `open` takes the same and
 * returns the plaintext or throws {@link CryptoError}. `sealSync`/`openSync` exist only on backends
 * that can work synchronously (`sync` is true); the async methods always work.
 */
export interface AesGcmKey {
  readonly backend: AesGcmBackend | string;
  readonly sync: boolean;
  sealSync(nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array;
  openSync(nonce: Uint8Array, ciphertextWithTag: Uint8Array, aad: Uint8Array): Uint8Array;
  seal(nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Promise<Uint8Array>;
  open(nonce: Uint8Array, ciphertextWithTag: Uint8Array, aad: Uint8Array): Promise<Uint8Array>;
}

/** Throws {@link CryptoError} unless `key` is an AES-256 key. */
export function checkKey(key: Uint8Array): void {
  if (key.length !== AES_KEY_LENGTH) {
    throw new CryptoInputError(`AES-256-GCM key must be ${AES_KEY_LENGTH} bytes, got ${key.length}`);
  }
}

/** Throws {@link CryptoError} unless `nonce` is a 12-byte GCM nonce. */
export function checkNonce(nonce: Uint8Array): void {
  if (nonce.length !== NONCE_LENGTH) {
    throw new CryptoInputError(`nonce must be ${NONCE_LENGTH} bytes, got ${nonce.length}`);
  }
}

/** Throws {@link CryptoError} unless `sealed` is long enough to hold the tag. */
export function checkSealed(sealed: Uint8Array): void {
  if (sealed.length < TAG_LENGTH) {
    throw new CryptoInputError(
      `ciphertext must be at least ${TAG_LENGTH} bytes (the tag), got ${sealed.length}`,
    );
  }
}

/**
 * The base of the synchronous engines (node:crypto, libcrypto): `seal`/`open` are their sync
 * counterparts with the outcome, or the error, delivered as a promise.
 */
export abstract class SyncAesGcmKey implements AesGcmKey {
  abstract readonly backend: AesGcmBackend | string;
  readonly sync = true;

  abstract sealSync(nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array;
  abstract openSync(nonce: Uint8Array, ciphertextWithTag: Uint8Array, aad: Uint8Array): Uint8Array;

  seal(nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Promise<Uint8Array> {
    try {
      return Promise.resolve(this.sealSync(nonce, plaintext, aad));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  open(nonce: Uint8Array, ciphertextWithTag: Uint8Array, aad: Uint8Array): Promise<Uint8Array> {
    try {
      return Promise.resolve(this.openSync(nonce, ciphertextWithTag, aad));
    } catch (err) {
      return Promise.reject(err);
    }
  }
}

/** The error for a tag that does not verify; the cause is the backend's own error, if any. */
export function authFailure(cause?: unknown): CryptoError {
  return new CryptoError("AES-GCM authentication failed", { cause });
}
