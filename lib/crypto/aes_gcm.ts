/**
 * AES-256-GCM keyed engines with an explicit nonce, behind one small interface so the tunnel can
 * pick a backend: `node:crypto` (synchronous, one call at a time) or Web Crypto (asynchronous; many
 * operations may be in flight). Any other implementation (e.g. a pure-JS one) can be plugged in by
 * implementing {@link AesGcmKey}. Nonce management lives in aead.ts, not here.
 */
import { createCipheriv, createDecipheriv, createSecretKey, type KeyObject } from "node:crypto";
import { CryptoError, CryptoInputError } from "./errors.ts";

/** AES-256 key length in bytes. */
export const AES_KEY_LENGTH = 32;
/** GCM nonce length used by pilot: 4-byte prefix ‖ 8-byte counter. */
export const NONCE_LENGTH = 12;
/** GCM tag length in bytes (appended to the ciphertext). */
export const TAG_LENGTH = 16;

const NODE_ALGORITHM = "aes-256-gcm";
const WEB_ALGORITHM = "AES-GCM";
const TAG_BITS = TAG_LENGTH * 8;

/** Which implementation backs an {@link AesGcmKey}. */
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

function authFailure(cause?: unknown): CryptoError {
  return new CryptoError("AES-GCM authentication failed", { cause });
}

/** Web Crypto wants ArrayBuffer-backed views; copy only when the view is backed by something else. */
function bufferSource(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes.buffer instanceof ArrayBuffer ? bytes as Uint8Array<ArrayBuffer> : new Uint8Array(bytes);
}

/** A plain Uint8Array view of a Node Buffer (no copy), so callers and deepEqual see one type. */
function plainView(buf: Uint8Array): Uint8Array {
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
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

/** node:crypto engine: synchronous; the key lives in a KeyObject outside the JS heap. */
class NodeAesGcm extends SyncAesGcmKey {
  readonly backend: AesGcmBackend = "node";
  readonly #key: KeyObject;

  constructor(key: KeyObject) {
    super();
    this.#key = key;
  }

  sealSync(nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array {
    checkNonce(nonce);
    const cipher = createCipheriv(NODE_ALGORITHM, this.#key, nonce, { authTagLength: TAG_LENGTH });
    cipher.setAAD(aad);
    const body = cipher.update(plaintext);
    cipher.final(); // GCM is a stream mode: final() emits nothing but computes the tag
    const out = new Uint8Array(body.length + TAG_LENGTH);
    out.set(body);
    out.set(cipher.getAuthTag(), body.length);
    return out;
  }

  openSync(nonce: Uint8Array, ciphertextWithTag: Uint8Array, aad: Uint8Array): Uint8Array {
    checkNonce(nonce);
    checkSealed(ciphertextWithTag);
    const split = ciphertextWithTag.length - TAG_LENGTH;
    const decipher = createDecipheriv(NODE_ALGORITHM, this.#key, nonce, { authTagLength: TAG_LENGTH });
    decipher.setAAD(aad);
    decipher.setAuthTag(ciphertextWithTag.subarray(split));
    const body = decipher.update(ciphertextWithTag.subarray(0, split));
    try {
      decipher.final();
    } catch (err) {
      body.fill(0); // unauthenticated plaintext must not leak
      throw authFailure(err);
    }
    return plainView(body);
  }
}

/** Web Crypto engine: asynchronous only; the key is a non-extractable CryptoKey. */
class WebCryptoAesGcm implements AesGcmKey {
  readonly backend: AesGcmBackend = "webcrypto";
  readonly sync = false;
  readonly #key: CryptoKey;

  constructor(key: CryptoKey) {
    this.#key = key;
  }

  sealSync(): Uint8Array {
    throw new CryptoError("the webcrypto AES-GCM backend has no synchronous API; use seal()");
  }

  openSync(): Uint8Array {
    throw new CryptoError("the webcrypto AES-GCM backend has no synchronous API; use open()");
  }

  async seal(nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Promise<Uint8Array> {
    checkNonce(nonce);
    const params = {
      name: WEB_ALGORITHM,
      iv: bufferSource(nonce),
      additionalData: bufferSource(aad),
      tagLength: TAG_BITS,
    };
    return new Uint8Array(await crypto.subtle.encrypt(params, this.#key, bufferSource(plaintext)));
  }

  async open(nonce: Uint8Array, ciphertextWithTag: Uint8Array, aad: Uint8Array): Promise<Uint8Array> {
    checkNonce(nonce);
    checkSealed(ciphertextWithTag);
    const params = {
      name: WEB_ALGORITHM,
      iv: bufferSource(nonce),
      additionalData: bufferSource(aad),
      tagLength: TAG_BITS,
    };
    try {
      return new Uint8Array(await crypto.subtle.decrypt(params, this.#key, bufferSource(ciphertextWithTag)));
    } catch (err) {
      throw authFailure(err);
    }
  }
}

/** Synchronous calls go to node:crypto, asynchronous ones to Web Crypto (which can overlap). */
class HybridAesGcm implements AesGcmKey {
  readonly backend: AesGcmBackend = "hybrid";
  readonly sync = true;
  readonly #node: NodeAesGcm;
  readonly #web: WebCryptoAesGcm;

  constructor(node: NodeAesGcm, web: WebCryptoAesGcm) {
    this.#node = node;
    this.#web = web;
  }

  sealSync(nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array {
    return this.#node.sealSync(nonce, plaintext, aad);
  }

  openSync(nonce: Uint8Array, ciphertextWithTag: Uint8Array, aad: Uint8Array): Uint8Array {
    return this.#node.openSync(nonce, ciphertextWithTag, aad);
  }

  seal(nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Promise<Uint8Array> {
    return this.#web.seal(nonce, plaintext, aad);
  }

  open(nonce: Uint8Array, ciphertextWithTag: Uint8Array, aad: Uint8Array): Promise<Uint8Array> {
    return this.#web.open(nonce, ciphertextWithTag, aad);
  }
}

/**
 * Builds a node:crypto AES-256-GCM engine from a 32-byte key and overwrites `key` with zeros
 * (the KeyObject keeps its own copy outside the JS heap). Synchronous, for callers that cannot
 * await, such as the port-443 stream writer.
 */
export function importAesGcmKeySync(key: Uint8Array): AesGcmKey {
  checkKey(key);
  try {
    return new NodeAesGcm(createSecretKey(key));
  } finally {
    key.fill(0);
  }
}

/**
 * Builds an AES-256-GCM engine on `backend` (default `"hybrid"`: node:crypto for the sync calls,
 * Web Crypto for the async ones) and overwrites `key` with zeros once the engine holds it.
 */
export async function importAesGcmKey(
  key: Uint8Array,
  backend: AesGcmBackend = "hybrid",
): Promise<AesGcmKey> {
  checkKey(key);
  try {
    if (backend === "node") return new NodeAesGcm(createSecretKey(key));
    const web = new WebCryptoAesGcm(
      await crypto.subtle.importKey("raw", bufferSource(key), WEB_ALGORITHM, false, ["encrypt", "decrypt"]),
    );
    if (backend === "webcrypto") return web;
    return new HybridAesGcm(new NodeAesGcm(createSecretKey(key)), web);
  } finally {
    key.fill(0);
  }
}
