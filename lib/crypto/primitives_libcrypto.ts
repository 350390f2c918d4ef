/**
 * The synchronous primitives on the system's OpenSSL libcrypto over Deno FFI
 * (lib/crypto/primitives.ts), Linux only. X25519 and Ed25519 go through EVP_PKEY raw keys (OpenSSL
 * 1.1.1 and 3 both have them), HMAC and SHA-256 through the one-shot calls, AES-256-GCM through
 * libcrypto_aes.ts. Native objects never outlive a call, except the prepared signing key of each
 * seed in use and the AES contexts, which are freed when their JS owner is collected.
 * @module
 */
import { constantTimeEqual } from "../bytes.ts";
import { CryptoError } from "./errors.ts";
import { Libcrypto } from "./libcrypto_aes.ts";
import { openLibcrypto } from "./libcrypto_loader.ts";
import type { SyncPrimitives } from "./primitives.ts";

// Key type identifiers (OpenSSL's NID_X25519 and NID_ED25519).
const EVP_PKEY_X25519 = 1034;
const EVP_PKEY_ED25519 = 1087;
const KEY_LENGTH = 32;
const SIGNATURE_LENGTH = 64;
const DIGEST_LENGTH = 32;

const SYMBOLS = {
  EVP_PKEY_new_raw_private_key: { parameters: ["i32", "pointer", "buffer", "usize"], result: "pointer" },
  EVP_PKEY_new_raw_public_key: { parameters: ["i32", "pointer", "buffer", "usize"], result: "pointer" },
  EVP_PKEY_get_raw_public_key: { parameters: ["pointer", "buffer", "buffer"], result: "i32" },
  EVP_PKEY_free: { parameters: ["pointer"], result: "void" },
  EVP_PKEY_CTX_new: { parameters: ["pointer", "pointer"], result: "pointer" },
  EVP_PKEY_CTX_free: { parameters: ["pointer"], result: "void" },
  EVP_PKEY_derive_init: { parameters: ["pointer"], result: "i32" },
  EVP_PKEY_derive_set_peer: { parameters: ["pointer", "pointer"], result: "i32" },
  EVP_PKEY_derive: { parameters: ["pointer", "buffer", "buffer"], result: "i32" },
  EVP_MD_CTX_new: { parameters: [], result: "pointer" },
  EVP_MD_CTX_free: { parameters: ["pointer"], result: "void" },
  EVP_DigestSignInit: { parameters: ["pointer", "pointer", "pointer", "pointer", "pointer"], result: "i32" },
  EVP_DigestSign: { parameters: ["pointer", "buffer", "buffer", "buffer", "usize"], result: "i32" },
  EVP_DigestVerifyInit: {
    parameters: ["pointer", "pointer", "pointer", "pointer", "pointer"],
    result: "i32",
  },
  EVP_DigestVerify: { parameters: ["pointer", "buffer", "usize", "buffer", "usize"], result: "i32" },
  EVP_sha256: { parameters: [], result: "pointer" },
  EVP_Digest: { parameters: ["buffer", "usize", "buffer", "buffer", "pointer", "pointer"], result: "i32" },
  HMAC: {
    parameters: ["pointer", "buffer", "i32", "buffer", "usize", "buffer", "buffer"],
    result: "pointer",
  },
} as const;

type Symbols = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/** A one-byte stand-in for an empty input, so no call ever receives a null data pointer. */
const EMPTY = new Uint8Array(1);

function data(bytes: Uint8Array): Uint8Array {
  return bytes.length === 0 ? EMPTY : bytes;
}

class LibcryptoPrimitives implements SyncPrimitives {
  readonly name = "libcrypto";
  readonly #s: Symbols;
  readonly #sha256: Deno.PointerObject;
  readonly #aes: Libcrypto;
  /** Scratch for size_t / unsigned int out-parameters (calls never overlap: JS is single-threaded). */
  readonly #size = new BigUint64Array(1);
  readonly #sizeBytes = new Uint8Array(this.#size.buffer);
  /** The parsed private key of each key array in use (see #preparedKey). */
  readonly #preparedKeys = new WeakMap<
    Uint8Array,
    { type: number; bytes: Uint8Array; pkey: Deno.PointerObject }
  >();
  readonly #freeKey = new FinalizationRegistry<Deno.PointerObject>((pkey) => this.#s.EVP_PKEY_free(pkey));

  constructor(symbols: Symbols, aes: Libcrypto) {
    this.#s = symbols;
    this.#aes = aes;
    const md = symbols.EVP_sha256();
    if (md === null) throw new CryptoError("libcrypto has no SHA-256");
    this.#sha256 = md;
  }

  #privateKey(type: number, raw: Uint8Array): Deno.PointerObject {
    const pkey = this.#s.EVP_PKEY_new_raw_private_key(type, null, raw, BigInt(raw.length));
    if (pkey === null) throw new CryptoError("libcrypto refused the private key");
    return pkey;
  }

  #publicKeyOf(pkey: Deno.PointerObject): Uint8Array {
    const out = new Uint8Array(KEY_LENGTH);
    this.#size[0] = BigInt(KEY_LENGTH);
    if (this.#s.EVP_PKEY_get_raw_public_key(pkey, out, this.#sizeBytes) !== 1) {
      throw new CryptoError("libcrypto could not derive the public key");
    }
    return out;
  }

  x25519PublicKey(privateKey: Uint8Array): Uint8Array {
    return this.#publicKeyOf(this.#preparedKey(EVP_PKEY_X25519, privateKey));
  }

  x25519(privateKey: Uint8Array, peerPublicKey: Uint8Array): Uint8Array {
    const s = this.#s;
    const own = this.#preparedKey(EVP_PKEY_X25519, privateKey);
    const peer = s.EVP_PKEY_new_raw_public_key(
      EVP_PKEY_X25519,
      null,
      peerPublicKey,
      BigInt(peerPublicKey.length),
    );
    if (peer === null) throw new CryptoError("libcrypto refused the X25519 peer public key");
    const ctx = s.EVP_PKEY_CTX_new(own, null);
    try {
      if (ctx === null) throw new CryptoError("EVP_PKEY_CTX_new failed");
      const out = new Uint8Array(KEY_LENGTH);
      this.#size[0] = BigInt(KEY_LENGTH);
      if (
        s.EVP_PKEY_derive_init(ctx) !== 1 || s.EVP_PKEY_derive_set_peer(ctx, peer) !== 1 ||
        s.EVP_PKEY_derive(ctx, out, this.#sizeBytes) !== 1
      ) {
        // OpenSSL fails the derivation exactly when the result would be all zeros.
        throw new CryptoError("X25519 peer public key is of low order: the shared secret would be all zeros");
      }
      return out;
    } finally {
      if (ctx !== null) s.EVP_PKEY_CTX_free(ctx);
      s.EVP_PKEY_free(peer);
    }
  }

  ed25519PublicKey(seed: Uint8Array): Uint8Array {
    return this.#publicKeyOf(this.#preparedKey(EVP_PKEY_ED25519, seed));
  }

  /**
   * The parsed private key for `raw` (parsing derives the public key, a scalar multiplication as
   * costly as the operation itself), kept per key array: a daemon uses one X25519 key and one
   * Ed25519 seed all its life. Re-parsed when the array's bytes or the key type changed.
   */
  #preparedKey(type: number, raw: Uint8Array): Deno.PointerObject {
    const hit = this.#preparedKeys.get(raw);
    if (hit && hit.type === type && constantTimeEqual(hit.bytes, raw)) return hit.pkey;
    const pkey = this.#privateKey(type, raw);
    if (hit) hit.bytes.fill(0); // the old key is freed when its entry is collected
    const entry = { type, bytes: raw.slice(), pkey };
    this.#preparedKeys.set(raw, entry);
    this.#freeKey.register(entry, pkey);
    return pkey;
  }

  ed25519Sign(seed: Uint8Array, message: Uint8Array): Uint8Array {
    const s = this.#s;
    const pkey = this.#preparedKey(EVP_PKEY_ED25519, seed);
    const md = s.EVP_MD_CTX_new();
    if (md === null) throw new CryptoError("EVP_MD_CTX_new failed");
    try {
      const sig = new Uint8Array(SIGNATURE_LENGTH);
      this.#size[0] = BigInt(SIGNATURE_LENGTH);
      if (
        s.EVP_DigestSignInit(md, null, null, null, pkey) !== 1 ||
        s.EVP_DigestSign(md, sig, this.#sizeBytes, data(message), BigInt(message.length)) !== 1
      ) {
        throw new CryptoError("Ed25519 signing failed in libcrypto");
      }
      return sig;
    } finally {
      s.EVP_MD_CTX_free(md);
    }
  }

  ed25519Verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
    if (publicKey.length !== KEY_LENGTH || signature.length !== SIGNATURE_LENGTH) return false;
    const s = this.#s;
    const pkey = s.EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, null, publicKey, BigInt(publicKey.length));
    if (pkey === null) return false;
    const md = s.EVP_MD_CTX_new();
    try {
      if (md === null) throw new CryptoError("EVP_MD_CTX_new failed");
      return s.EVP_DigestVerifyInit(md, null, null, null, pkey) === 1 &&
        s.EVP_DigestVerify(md, signature, BigInt(signature.length), data(message), BigInt(message.length)) ===
          1;
    } finally {
      if (md !== null) s.EVP_MD_CTX_free(md);
      s.EVP_PKEY_free(pkey);
    }
  }

  hmacSha256(key: Uint8Array, message: Uint8Array): Uint8Array {
    const out = new Uint8Array(DIGEST_LENGTH);
    const ok = this.#s.HMAC(
      this.#sha256,
      data(key),
      key.length,
      data(message),
      BigInt(message.length),
      out,
      this.#sizeBytes,
    );
    if (ok === null) throw new CryptoError("HMAC-SHA256 failed in libcrypto");
    return out;
  }

  sha256(input: Uint8Array): Uint8Array {
    const out = new Uint8Array(DIGEST_LENGTH);
    if (
      this.#s.EVP_Digest(data(input), BigInt(input.length), out, this.#sizeBytes, this.#sha256, null) !== 1
    ) {
      throw new CryptoError("SHA-256 failed in libcrypto");
    }
    return out;
  }

  aesGcm(key: Uint8Array) {
    // importCollectedKey zeroes what it is given; the caller owns (and zeroes) `key`.
    return this.#aes.importCollectedKey(key.slice());
  }
}

/**
 * The libcrypto primitives, or undefined when libcrypto cannot be loaded (the caller falls back to
 * node:crypto). The libraries stay loaded for the life of the process.
 */
export function openLibcryptoPrimitives(): SyncPrimitives | undefined {
  try {
    const aes = Libcrypto.open();
    try {
      return openLibcrypto(SYMBOLS, (lib) => new LibcryptoPrimitives(lib.symbols, aes));
    } catch (err) {
      aes.close();
      throw err;
    }
  } catch (err) {
    if (err instanceof CryptoError) return undefined;
    throw err;
  }
}
