/**
 * AES-256-GCM keyed engines with an explicit nonce, behind one small interface so the tunnel can
 * pick a backend: the process's synchronous engine (libcrypto over FFI on Linux, else node:crypto;
 * lib/crypto/primitives.ts), Web Crypto (asynchronous; many operations may be in flight), or both.
 * Any other implementation can be plugged in by implementing {@link AesGcmKey}. Nonce management
 * lives in aead.ts, not here.
 */
import { CryptoError } from "./errors.ts";
import {
  type AesGcmBackend,
  type AesGcmKey,
  authFailure,
  checkKey,
  checkNonce,
  checkSealed,
} from "./aes_gcm_key.ts";
import { primitives } from "./primitives.ts";

export {
  AES_KEY_LENGTH,
  type AesGcmBackend,
  type AesGcmKey,
  checkKey,
  checkNonce,
  checkSealed,
  NONCE_LENGTH,
  SyncAesGcmKey,
  TAG_LENGTH,
} from "./aes_gcm_key.ts";

const WEB_ALGORITHM = "AES-GCM";
const TAG_BITS = 16 * 8;

/** Web Crypto wants ArrayBuffer-backed views; copy only when the view is backed by something else. */
function bufferSource(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes.buffer instanceof ArrayBuffer ? bytes as Uint8Array<ArrayBuffer> : new Uint8Array(bytes);
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

/** Synchronous calls go to the process's synchronous engine, asynchronous ones to Web Crypto (which can overlap). */
class HybridAesGcm implements AesGcmKey {
  readonly backend: AesGcmBackend = "hybrid";
  readonly sync = true;
  readonly #node: AesGcmKey;
  readonly #web: WebCryptoAesGcm;

  constructor(node: AesGcmKey, web: WebCryptoAesGcm) {
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
 * Builds the process's synchronous AES-256-GCM engine (lib/crypto/primitives.ts) from a 32-byte key
 * and overwrites `key` with zeros. Synchronous, for callers that cannot await, such as the port-443
 * stream writer.
 */
export function importAesGcmKeySync(key: Uint8Array): AesGcmKey {
  checkKey(key);
  try {
    return primitives.aesGcm(key);
  } finally {
    key.fill(0);
  }
}

/**
 * Builds an AES-256-GCM engine on `backend` (default `"hybrid"`: the synchronous engine for the sync calls,
 * Web Crypto for the async ones) and overwrites `key` with zeros once the engine holds it.
 */
export async function importAesGcmKey(
  key: Uint8Array,
  backend: AesGcmBackend = "hybrid",
): Promise<AesGcmKey> {
  checkKey(key);
  try {
    if (backend === "node") return primitives.aesGcm(key);
    const web = new WebCryptoAesGcm(
      await crypto.subtle.importKey("raw", bufferSource(key), WEB_ALGORITHM, false, ["encrypt", "decrypt"]),
    );
    if (backend === "webcrypto") return web;
    return new HybridAesGcm(primitives.aesGcm(key), web);
  } finally {
    key.fill(0);
  }
}
