/**
 * The synchronous primitives on node:crypto (lib/crypto/primitives.ts): where libcrypto cannot be
 * loaded (macOS, Windows, no --allow-ffi). Keys travel as RFC 8410 DER (node_keys.ts).
 * @module
 */
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  createSecretKey,
  diffieHellman,
  type KeyObject,
  sign,
  verify,
} from "node:crypto";
import {
  type AesGcmBackend,
  authFailure,
  checkNonce,
  checkSealed,
  SyncAesGcmKey,
  TAG_LENGTH,
} from "./aes_gcm_key.ts";
import { constantTimeEqual } from "../bytes.ts";
import { CryptoError } from "./errors.ts";
import { privateKeyObject, publicKeyObject, rawPublicKey } from "./node_keys.ts";
import type { SyncPrimitives } from "./primitives.ts";

const NODE_ALGORITHM = "aes-256-gcm";

/** A plain Uint8Array copy of a node digest or key, the original zeroed. */
function plainCopy(buf: Uint8Array): Uint8Array {
  const out = new Uint8Array(buf);
  buf.fill(0);
  return out;
}

/** A plain Uint8Array view of a Node Buffer (no copy), so callers and deepEqual see one type. */
function plainView(buf: Uint8Array): Uint8Array {
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
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
  if (hit && constantTimeEqual(hit.bytes, seed)) return hit.key;
  const key = privateKeyObject("Ed25519", seed);
  if (hit) hit.bytes.fill(0);
  preparedSeeds.set(seed, { bytes: seed.slice(), key });
  return key;
}

/** node:crypto AES-256-GCM: synchronous; the key lives in a KeyObject outside the JS heap. */
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

/** The node:crypto implementation. */
export const nodePrimitives: SyncPrimitives = {
  name: "node",
  x25519PublicKey: (privateKey) => rawPublicKey(privateKeyObject("X25519", privateKey)),
  x25519(privateKey, peerPublicKey) {
    let shared: Uint8Array;
    try {
      const publicKey = publicKeyObject("X25519", peerPublicKey);
      shared = diffieHellman({ privateKey: privateKeyObject("X25519", privateKey), publicKey });
    } catch (err) {
      // The derivation fails exactly when the result would be all zeros (a low-order peer key).
      throw new CryptoError("X25519 peer public key is of low order: the shared secret would be all zeros", {
        cause: err,
      });
    }
    // A plain Uint8Array over the Buffer's bytes, so callers see one type and zeroing reaches them.
    return plainView(shared);
  },
  ed25519PublicKey: (seed) => rawPublicKey(privateKeyObject("Ed25519", seed)),
  ed25519Sign: (seed, message) => new Uint8Array(sign(null, message, preparedSigningKey(seed))),
  ed25519Verify(publicKey, message, signature) {
    try {
      return verify(null, message, publicKeyObject("Ed25519", publicKey), signature);
    } catch {
      return false;
    }
  },
  hmacSha256: (key, message) => plainCopy(createHmac("sha256", key).update(message).digest()),
  sha256: (data) => plainCopy(createHash("sha256").update(data).digest()),
  aesGcm: (key) => new NodeAesGcm(createSecretKey(key)),
};
