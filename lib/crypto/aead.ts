/**
 * Sealing contexts for pilot's two AES-256-GCM channels. A {@link TunnelCipher} owns the nonce
 * sequence `prefix(4) ‖ counter(u64 BE)` of one derived key (docs/protocol/wire.md §6.3): the prefix is random
 * per context, the first frame carries counter 1, and sealing stops before the counter wraps.
 * {@link SecureChannelCipher} is the port-443 variant with fixed role prefixes (docs/protocol/services.md §2).
 *
 * Not safe for concurrent use across workers; within one isolate, the nonce is reserved
 * synchronously when `seal` is called, so any number of async seals may be in flight.
 */
import {
  type AesGcmBackend,
  type AesGcmKey,
  importAesGcmKey,
  importAesGcmKeySync,
  NONCE_LENGTH,
} from "./aes_gcm.ts";
import { CounterExhaustedError, CryptoError, CryptoInputError } from "./errors.ts";
import { readU64, writeU32 } from "../bytes.ts";

/** Length of the random (tunnel) or role (port 443) nonce prefix. */
export const NONCE_PREFIX_LENGTH = 4;
/** Counter carried by the first sealed frame of a context (the reference increments before use). */
export const FIRST_COUNTER = 1n;
/** Last counter a context will seal with; 2^64−1 is never used, so the caller re-keys before it. */
export const LAST_COUNTER = 0xffff_ffff_ffff_fffen;

const TWO_32 = 0x1_0000_0000;
const U32_MASK = 0xffff_ffffn;
const LAST_HI = 0xffff_ffff;
const LAST_LO = 0xffff_fffe;

/** Port-443 nonce prefix of the listening side. */
export const SECURE_SERVER_PREFIX: Uint8Array = Uint8Array.of(0, 0, 0, 1);
/** Port-443 nonce prefix of the dialing side. */
export const SECURE_CLIENT_PREFIX: Uint8Array = Uint8Array.of(0, 0, 0, 2);

/** The nonce and ciphertext ‖ 16-byte tag of one sealed message. */
export interface SealedMessage {
  nonce: Uint8Array;
  ciphertextWithTag: Uint8Array;
}

/** One message of a batch seal. */
export interface SealRequest {
  plaintext: Uint8Array;
  aad: Uint8Array;
}

/** Options for building a {@link TunnelCipher}. */
export interface TunnelCipherOptions {
  /** AES backend (async factory only). Default `"hybrid"`: sync calls node:crypto, async ones Web Crypto. */
  backend?: AesGcmBackend;
  /** Fixed 4-byte nonce prefix; default is 4 CSPRNG bytes. Port 443 and test vectors set it. */
  prefix?: Uint8Array;
  /** Counter of the first sealed frame (default 1). For test vectors and exhaustion tests. */
  firstCounter?: bigint;
}

function checkPrefix(prefix: Uint8Array): Uint8Array {
  if (prefix.length !== NONCE_PREFIX_LENGTH) {
    throw new CryptoInputError(`nonce prefix must be ${NONCE_PREFIX_LENGTH} bytes, got ${prefix.length}`);
  }
  return prefix.slice();
}

function checkFirstCounter(counter: bigint): bigint {
  if (counter < 0n || counter > LAST_COUNTER + 1n) {
    throw new CryptoInputError(`first counter ${counter} is outside 0..2^64-1`);
  }
  return counter;
}

/** Reads the u64 BE counter of a 12-byte nonce. */
export function nonceCounter(nonce: Uint8Array): bigint {
  if (nonce.length !== NONCE_LENGTH) throw new CryptoInputError(`nonce must be ${NONCE_LENGTH} bytes`);
  return readU64(nonce, NONCE_PREFIX_LENGTH);
}

/**
 * The sealing/opening context of one derived tunnel key. It owns the nonce prefix and the send
 * counter; `open` takes the peer's nonce as received (the same key serves both directions, the
 * prefixes keep them apart). `sealSync`/`openSync` need a synchronous backend; `seal`, `open` and
 * `sealBatch` work on all and overlap when the backend is Web Crypto. Build one with
 * {@link createTunnelCipher} or {@link createTunnelCipherSync}, which zero the raw key.
 *
 * @example
 * ```ts
 * import { createTunnelCipherSync } from "./aead.ts";
 * const tx = createTunnelCipherSync(new Uint8Array(32));
 * const aad = Uint8Array.of(0, 0, 0, 1);
 * const { nonce, ciphertextWithTag } = tx.sealSync(new Uint8Array([1, 2, 3]), aad);
 * console.assert(tx.openSync(nonce, ciphertextWithTag, aad).length === 3);
 * ```
 */
export class TunnelCipher {
  /** The 4-byte prefix of every nonce this context seals with. */
  readonly prefix: Uint8Array;
  readonly #aes: AesGcmKey;
  // The next counter, as two u32 halves: plain numbers keep the per-packet step allocation-free.
  #hi: number;
  #lo: number;

  constructor(aes: AesGcmKey, options: Pick<TunnelCipherOptions, "prefix" | "firstCounter"> = {}) {
    this.#aes = aes;
    this.prefix = options.prefix
      ? checkPrefix(options.prefix)
      : crypto.getRandomValues(new Uint8Array(NONCE_PREFIX_LENGTH));
    const first = checkFirstCounter(options.firstCounter ?? FIRST_COUNTER);
    this.#hi = Number(first >> 32n);
    this.#lo = Number(first & U32_MASK);
  }

  /** Name of the AES backend in use. */
  get backend(): string {
    return this.#aes.backend;
  }

  /** True when `sealSync`/`openSync` are available. */
  get sync(): boolean {
    return this.#aes.sync;
  }

  /** The counter the next sealed frame will carry. */
  get nextCounter(): bigint {
    return (BigInt(this.#hi) << 32n) | BigInt(this.#lo);
  }

  /** True once the last counter has been used: the caller must re-key before sending again. */
  get exhausted(): boolean {
    return this.#hi === LAST_HI && this.#lo > LAST_LO;
  }

  /** Reserves the next nonce; throws {@link CounterExhaustedError} when none is left. */
  nextNonce(): Uint8Array {
    if (this.exhausted) {
      throw new CounterExhaustedError("nonce counter exhausted: re-key (new key exchange) before sealing");
    }
    const nonce = new Uint8Array(NONCE_LENGTH);
    nonce.set(this.prefix);
    writeU32(nonce, NONCE_PREFIX_LENGTH, this.#hi);
    writeU32(nonce, NONCE_PREFIX_LENGTH + 4, this.#lo);
    if (++this.#lo === TWO_32) {
      this.#lo = 0;
      this.#hi++;
    }
    return nonce;
  }

  /** Seals one message synchronously with the next nonce. */
  sealSync(plaintext: Uint8Array, aad: Uint8Array): SealedMessage {
    this.#requireSync();
    const nonce = this.nextNonce();
    return { nonce, ciphertextWithTag: this.#aes.sealSync(nonce, plaintext, aad) };
  }

  /** Seals one message; the nonce is reserved before the first await, so call order = counter order. */
  async seal(plaintext: Uint8Array, aad: Uint8Array): Promise<SealedMessage> {
    const nonce = this.nextNonce();
    return { nonce, ciphertextWithTag: await this.#aes.seal(nonce, plaintext, aad) };
  }

  /**
   * Seals a batch with all operations in flight at once; results keep the input order and carry
   * consecutive counters. Throws before sealing anything if the batch would exhaust the counter.
   */
  sealBatch(requests: readonly SealRequest[]): Promise<SealedMessage[]> {
    if (this.nextCounter + BigInt(requests.length) - 1n > LAST_COUNTER) {
      return Promise.reject(
        new CounterExhaustedError("nonce counter would be exhausted by this batch: re-key before sealing"),
      );
    }
    return Promise.all(requests.map((r) => this.seal(r.plaintext, r.aad)));
  }

  /** Opens a message sealed under this key (by either side); throws {@link CryptoError} on any failure. */
  openSync(nonce: Uint8Array, ciphertextWithTag: Uint8Array, aad: Uint8Array): Uint8Array {
    this.#requireSync();
    return this.#aes.openSync(nonce, ciphertextWithTag, aad);
  }

  /** Async {@link openSync}; with Web Crypto many opens can be in flight. */
  open(nonce: Uint8Array, ciphertextWithTag: Uint8Array, aad: Uint8Array): Promise<Uint8Array> {
    return this.#aes.open(nonce, ciphertextWithTag, aad);
  }

  #requireSync(): void {
    if (!this.#aes.sync) {
      throw new CryptoError(`AES backend ${this.#aes.backend} is async only; use seal()/open()`);
    }
  }
}

/**
 * Builds a tunnel context from a 32-byte derived key on the chosen backend (default hybrid) and
 * zeroes `key`. Async because Web Crypto key import is.
 */
export async function createTunnelCipher(
  key: Uint8Array,
  options: TunnelCipherOptions = {},
): Promise<TunnelCipher> {
  // Validate before importing so a bad prefix cannot leave a half-built context behind.
  if (options.prefix) checkPrefix(options.prefix);
  return new TunnelCipher(await importAesGcmKey(key, options.backend), options);
}

/** Builds a node:crypto-only tunnel context synchronously and zeroes `key`. */
export function createTunnelCipherSync(
  key: Uint8Array,
  options: Omit<TunnelCipherOptions, "backend"> = {},
): TunnelCipher {
  if (options.prefix) checkPrefix(options.prefix);
  return new TunnelCipher(importAesGcmKeySync(key), options);
}

/** Port-443 role: the listener is the server, the dialer the client. */
export type SecureRole = "server" | "client";

/**
 * Port-443 secure-channel cipher (docs/protocol/services.md §2): nonces are the role prefix (server 00000001,
 * client 00000002) ‖ counter from 1, and the AAD is the sender's prefix. `open` additionally
 * refuses frames whose prefix is not the peer's role (a reflected frame of our own would otherwise
 * authenticate, as both directions share the key) and counters that do not increase, which the
 * ordered stream guarantees from an honest peer (the reference receiver checks neither).
 */
export class SecureChannelCipher {
  readonly role: SecureRole;
  readonly #cipher: TunnelCipher;
  readonly #peerPrefix: Uint8Array;
  #lastPeerCounter = 0n;

  constructor(cipher: TunnelCipher, role: SecureRole) {
    this.role = role;
    this.#cipher = cipher;
    this.#peerPrefix = role === "server" ? SECURE_CLIENT_PREFIX : SECURE_SERVER_PREFIX;
  }

  /** Seals one frame's plaintext; AAD is our own prefix. */
  seal(plaintext: Uint8Array): SealedMessage {
    return this.#cipher.sealSync(plaintext, this.#cipher.prefix);
  }

  /** Opens a frame from the peer; throws {@link CryptoError} on a wrong prefix, old counter or bad tag. */
  open(nonce: Uint8Array, ciphertextWithTag: Uint8Array): Uint8Array {
    const counter = nonceCounter(nonce);
    const prefix = nonce.subarray(0, NONCE_PREFIX_LENGTH);
    for (let i = 0; i < NONCE_PREFIX_LENGTH; i++) {
      if (prefix[i] !== this.#peerPrefix[i]) {
        throw new CryptoError("secure-channel nonce has the wrong role prefix");
      }
    }
    if (counter <= this.#lastPeerCounter) {
      throw new CryptoError(`secure-channel counter ${counter} did not increase`);
    }
    const plaintext = this.#cipher.openSync(nonce, ciphertextWithTag, prefix);
    this.#lastPeerCounter = counter;
    return plaintext;
  }
}

/** Builds the port-443 cipher for `role` from the 32-byte `pilot-secure-v1` key; zeroes `key`. */
export function createSecureChannelCipher(
  key: Uint8Array,
  role: SecureRole,
  options: Pick<TunnelCipherOptions, "firstCounter"> = {},
): SecureChannelCipher {
  const prefix = role === "server" ? SECURE_SERVER_PREFIX : SECURE_CLIENT_PREFIX;
  return new SecureChannelCipher(
    createTunnelCipherSync(key, { prefix, firstCounter: options.firstCounter }),
    role,
  );
}
