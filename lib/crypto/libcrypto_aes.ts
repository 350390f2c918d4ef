/**
 * AES-256-GCM through the system's OpenSSL libcrypto over Deno FFI, for the tunnel's data path on
 * Linux. Measured ≈2 µs of CPU to seal or open a 4 KiB packet, against ≈15–19 µs for Web Crypto
 * with many operations in flight and ≈35 µs for node:crypto (docs/benchmarks.md): the per-call
 * overhead of the runtime's crypto APIs, not AES itself, was the tunnel's bottleneck. It is
 * synchronous, so a packet is sealed and sent in the same call, and it writes into caller buffers.
 *
 * Each key is one EVP_CIPHER_CTX per direction holding the expanded key in native memory (freed,
 * and cleansed by OpenSSL, on `dispose`). Only Linux is tried (lib/crypto/libcrypto_loader.ts).
 * Where it cannot load, the tunnel uses Web Crypto.
 */
import { checkKey, checkNonce, checkSealed, SyncAesGcmKey, TAG_LENGTH } from "./aes_gcm_key.ts";
import { CryptoError } from "./errors.ts";
import { openLibcrypto } from "./libcrypto_loader.ts";

export { libcryptoUnavailable } from "./libcrypto_loader.ts";
const EVP_CTRL_GCM_GET_TAG = 0x10;
const EVP_CTRL_GCM_SET_TAG = 0x11;
/** Largest input one EVP update takes (its length is a C int). */
const MAX_INPUT = 0x7fff_ffff;

const SYMBOLS = {
  EVP_CIPHER_CTX_new: { parameters: [], result: "pointer" },
  EVP_CIPHER_CTX_free: { parameters: ["pointer"], result: "void" },
  EVP_aes_256_gcm: { parameters: [], result: "pointer" },
  EVP_EncryptInit_ex: { parameters: ["pointer", "pointer", "pointer", "buffer", "buffer"], result: "i32" },
  EVP_EncryptUpdate: { parameters: ["pointer", "buffer", "buffer", "buffer", "i32"], result: "i32" },
  EVP_EncryptFinal_ex: { parameters: ["pointer", "buffer", "buffer"], result: "i32" },
  EVP_DecryptInit_ex: { parameters: ["pointer", "pointer", "pointer", "buffer", "buffer"], result: "i32" },
  EVP_DecryptUpdate: { parameters: ["pointer", "buffer", "buffer", "buffer", "i32"], result: "i32" },
  EVP_DecryptFinal_ex: { parameters: ["pointer", "buffer", "buffer"], result: "i32" },
  EVP_CIPHER_CTX_ctrl: { parameters: ["pointer", "i32", "i32", "buffer"], result: "i32" },
} as const;

type Lib = Deno.DynamicLibrary<typeof SYMBOLS>;

/**
 * A loaded libcrypto. Keys made from it must be disposed before `close`; `close` disposes any
 * that are left, so nothing native outlives the library handle.
 */
export class Libcrypto {
  readonly #lib: Lib;
  readonly #aes256gcm: Deno.PointerValue;
  readonly #keys = new Set<LibcryptoAesGcm>();
  #closed = false;

  private constructor(lib: Lib) {
    this.#lib = lib;
    this.#aes256gcm = lib.symbols.EVP_aes_256_gcm();
    if (this.#aes256gcm === null) throw new CryptoError("libcrypto has no AES-256-GCM");
  }

  /** Loads libcrypto; throws {@link CryptoError} when it is unavailable. */
  static open(): Libcrypto {
    return openLibcrypto(SYMBOLS, (lib) => new Libcrypto(lib));
  }

  /**
   * Frees the contexts of keys from {@link importCollectedKey} that were collected undisposed; after
   * `close` the library is gone, so nothing is freed any more (the process is ending with it).
   */
  readonly #collector = new FinalizationRegistry<{ enc: Deno.PointerObject; dec: Deno.PointerObject }>(
    (c) => {
      if (this.#closed) return;
      this.#lib.symbols.EVP_CIPHER_CTX_free(c.enc);
      this.#lib.symbols.EVP_CIPHER_CTX_free(c.dec);
    },
  );

  /** An AES-256-GCM key (32 bytes, zeroed after import); dispose it, or `close` does. */
  importKey(key: Uint8Array): LibcryptoAesGcm {
    const { enc, dec } = this.#contexts(key);
    const k = new LibcryptoAesGcm(this.#lib.symbols, enc, dec, (x) => this.#keys.delete(x));
    this.#keys.add(k);
    return k;
  }

  /**
   * An AES-256-GCM key (32 bytes, zeroed after import) for holders that cannot say when they are done
   * with it (a port-443 channel's cipher): its native contexts are freed on `dispose` or, failing
   * that, once the key object is garbage-collected.
   */
  importCollectedKey(key: Uint8Array): LibcryptoAesGcm {
    const { enc, dec } = this.#contexts(key);
    const k = new LibcryptoAesGcm(this.#lib.symbols, enc, dec, (x) => this.#collector.unregister(x));
    this.#collector.register(k, { enc, dec }, k);
    return k;
  }

  #contexts(key: Uint8Array): { enc: Deno.PointerObject; dec: Deno.PointerObject } {
    if (this.#closed) throw new CryptoError("libcrypto is closed");
    checkKey(key);
    const s = this.#lib.symbols;
    const enc = s.EVP_CIPHER_CTX_new();
    const dec = s.EVP_CIPHER_CTX_new();
    try {
      if (enc === null || dec === null) throw new CryptoError("EVP_CIPHER_CTX_new failed");
      if (
        s.EVP_EncryptInit_ex(enc, this.#aes256gcm, null, key, null) !== 1 ||
        s.EVP_DecryptInit_ex(dec, this.#aes256gcm, null, key, null) !== 1
      ) {
        throw new CryptoError("EVP AES-256-GCM key setup failed");
      }
    } catch (err) {
      if (enc !== null) s.EVP_CIPHER_CTX_free(enc);
      if (dec !== null) s.EVP_CIPHER_CTX_free(dec);
      throw err;
    } finally {
      key.fill(0);
    }
    return { enc, dec };
  }

  /** Disposes every key still alive and unloads the library. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const k of [...this.#keys]) k.dispose();
    this.#lib.close();
  }
}

/**
 * One AES-256-GCM key. Beyond the {@link AesGcmKey} interface it offers `sealInto`/`openInto`,
 * which write into caller buffers, so the send path allocates nothing per packet.
 */
export class LibcryptoAesGcm extends SyncAesGcmKey {
  readonly backend = "libcrypto";
  readonly #s: Lib["symbols"];
  #enc: Deno.PointerObject | null;
  #dec: Deno.PointerObject | null;
  readonly #onDispose: (k: LibcryptoAesGcm) => void;
  readonly #outLength = new Uint8Array(4);

  constructor(
    symbols: Lib["symbols"],
    enc: Deno.PointerObject,
    dec: Deno.PointerObject,
    onDispose: (k: LibcryptoAesGcm) => void,
  ) {
    super();
    this.#s = symbols;
    this.#enc = enc;
    this.#dec = dec;
    this.#onDispose = onDispose;
  }

  /**
   * Seals `plaintext` into `out[at..]` as ciphertext ‖ tag and returns its length
   * (plaintext + 16). Throws {@link CryptoError} for bad sizes or a disposed key.
   */
  sealInto(nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array, out: Uint8Array, at: number): number {
    const ctx = this.#enc;
    if (ctx === null) throw new CryptoError("AES key disposed");
    const n = plaintext.length;
    checkSizes(nonce, n, out.length - at - TAG_LENGTH);
    const s = this.#s;
    const len = this.#outLength;
    const dst = out.subarray(at);
    if (
      s.EVP_EncryptInit_ex(ctx, null, null, null, nonce) !== 1 ||
      s.EVP_EncryptUpdate(ctx, null, len, aad, aad.length) !== 1 ||
      s.EVP_EncryptUpdate(ctx, dst, len, plaintext, n) !== 1 ||
      s.EVP_EncryptFinal_ex(ctx, dst, len) !== 1 || // GCM's final writes no bytes, only the tag state
      s.EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LENGTH, dst.subarray(n)) !== 1
    ) {
      throw new CryptoError("EVP AES-GCM seal failed");
    }
    return n + TAG_LENGTH;
  }

  /**
   * Opens ciphertext ‖ tag into `out[at..]`; returns the plaintext length, or -1 when the tag
   * does not verify (whatever was written to `out` must then be ignored).
   */
  openInto(nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array, out: Uint8Array, at: number): number {
    const ctx = this.#dec;
    if (ctx === null) throw new CryptoError("AES key disposed");
    const n = sealed.length - TAG_LENGTH;
    if (n < 0) return -1;
    checkSizes(nonce, n, out.length - at);
    const s = this.#s;
    const len = this.#outLength;
    const dst = out.subarray(at);
    if (
      s.EVP_DecryptInit_ex(ctx, null, null, null, nonce) !== 1 ||
      s.EVP_DecryptUpdate(ctx, null, len, aad, aad.length) !== 1 ||
      s.EVP_DecryptUpdate(ctx, dst, len, sealed, n) !== 1 ||
      s.EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LENGTH, sealed.subarray(n)) !== 1
    ) {
      return -1;
    }
    return s.EVP_DecryptFinal_ex(ctx, dst, len) > 0 ? n : -1;
  }

  sealSync(nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array {
    const out = new Uint8Array(plaintext.length + TAG_LENGTH);
    this.sealInto(nonce, plaintext, aad, out, 0);
    return out;
  }

  openSync(nonce: Uint8Array, ciphertextWithTag: Uint8Array, aad: Uint8Array): Uint8Array {
    checkSealed(ciphertextWithTag);
    const out = new Uint8Array(ciphertextWithTag.length - TAG_LENGTH);
    if (this.openInto(nonce, ciphertextWithTag, aad, out, 0) < 0) {
      out.fill(0); // unauthenticated plaintext must not leak
      throw new CryptoError("AES-GCM authentication failed");
    }
    return out;
  }

  /** Frees the native contexts (OpenSSL cleanses the key schedule). Further use throws. */
  dispose(): void {
    if (this.#enc !== null) this.#s.EVP_CIPHER_CTX_free(this.#enc);
    if (this.#dec !== null) this.#s.EVP_CIPHER_CTX_free(this.#dec);
    this.#enc = null;
    this.#dec = null;
    this.#onDispose(this);
  }
}

function checkSizes(nonce: Uint8Array, length: number, room: number): void {
  checkNonce(nonce);
  if (length > MAX_INPUT) throw new CryptoError("AES-GCM input too large");
  if (length > room) throw new CryptoError("output buffer too small");
}
