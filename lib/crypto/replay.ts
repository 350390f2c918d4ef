/**
 * Anti-replay for PILS counters (docs/protocol/wire.md §6.4): a 256-entry sliding window over u64 counters,
 * in the bitmap style of RFC 6479 / RFC 4303 §3.4.3. Checking and recording are split: `check`
 * has no side effects and runs before AES-GCM opens the frame, `commit` records the counter only
 * after the tag verified, so a forged frame with a huge counter cannot slide the window (the
 * reference records first). Counters are handled as two u32 halves: plain number arithmetic is
 * ~10× faster than bigint on the receive path (see docs/benchmarks.md).
 *
 * One deliberate divergence from the reference: "nothing received yet" is an explicit flag rather
 * than max == 0, so a counter 0 (which a draft-following sender may use) cannot be replayed.
 *
 * Not safe for concurrent use; one window per peer context, driven from one event loop.
 */
import { readU32 } from "../bytes.ts";
import { CryptoInputError } from "./errors.ts";

/** Number of counters the window remembers behind the highest one seen. */
export const REPLAY_WINDOW_SIZE = 256;
/** How many superseded sender prefixes a {@link PrefixReplayGuard} remembers and refuses. */
export const MAX_RETIRED_PREFIXES = 16;

const WORD_BITS = 32;
const WORDS = REPLAY_WINDOW_SIZE / WORD_BITS;
const INDEX_MASK = REPLAY_WINDOW_SIZE - 1;
const TWO_32 = 0x1_0000_0000;
const U32_MASK = 0xffff_ffffn;
const PREFIX_OFFSET = 0;
const COUNTER_OFFSET = 4;
const NONCE_LENGTH = 12;

function checkNonceLength(nonce: Uint8Array): void {
  if (nonce.length < NONCE_LENGTH) {
    throw new CryptoInputError(`nonce must be ${NONCE_LENGTH} bytes, got ${nonce.length}`);
  }
}

function splitCounter(counter: bigint): [number, number] {
  if (counter < 0n || counter > 0xffff_ffff_ffff_ffffn) {
    throw new CryptoInputError(`counter ${counter} is not a u64`);
  }
  return [Number(counter >> 32n), Number(counter & U32_MASK)];
}

/**
 * The per-context replay window. Feed it the counter of each received frame: `check` says whether
 * it may be new (call it before opening), `commit` records it once the frame authenticated and
 * returns false if, meanwhile, the same counter was committed (e.g. two opens in flight). The
 * `*U64` forms take the counter as high and low u32 halves, the `*Nonce` forms read bytes 4..12 of
 * the 12-byte nonce; `check`/`commit` take a bigint for convenience.
 *
 * @example
 * ```ts
 * import { ReplayWindow } from "./replay.ts";
 * const w = new ReplayWindow();
 * const authenticated = true; // AES-GCM open succeeded
 * if (w.check(5n) && authenticated) w.commit(5n);
 * console.assert(!w.check(5n));
 * ```
 */
export class ReplayWindow {
  readonly #bits = new Uint32Array(WORDS);
  #empty = true;
  #maxHi = 0;
  #maxLo = 0;

  /** The highest counter committed so far (0 when none). */
  get max(): bigint {
    return (BigInt(this.#maxHi) << 32n) | BigInt(this.#maxLo);
  }

  /** Forgets everything, as after a re-derivation. */
  reset(): void {
    this.#bits.fill(0);
    this.#empty = true;
    this.#maxHi = 0;
    this.#maxLo = 0;
  }

  /** True when counter `hi·2^32 + lo` is neither a replay nor too old. No side effects. */
  checkU64(hi: number, lo: number): boolean {
    if (this.#empty || hi > this.#maxHi || (hi === this.#maxHi && lo > this.#maxLo)) return true;
    const behind = (this.#maxHi - hi) * TWO_32 + (this.#maxLo - lo);
    if (behind >= REPLAY_WINDOW_SIZE) return false;
    const index = lo & INDEX_MASK;
    return (this.#bits[index >>> 5] & (1 << (index & 31))) === 0;
  }

  /** Records counter `hi·2^32 + lo` after it authenticated; false (and no change) if it fails `checkU64`. */
  commitU64(hi: number, lo: number): boolean {
    if (!this.checkU64(hi, lo)) return false;
    if (this.#empty) {
      this.#empty = false;
      this.#maxHi = hi;
      this.#maxLo = lo;
    } else if (hi > this.#maxHi || (hi === this.#maxHi && lo > this.#maxLo)) {
      // Inexact above 2^53 only in ways that keep it >= 256, which is all that matters here.
      const ahead = (hi - this.#maxHi) * TWO_32 + (lo - this.#maxLo);
      if (ahead >= REPLAY_WINDOW_SIZE) {
        this.#bits.fill(0);
      } else {
        // Slots max+1 .. c now stand for new counters: clear what they held 256 counters ago.
        for (let s = 1; s <= ahead; s++) {
          const index = (this.#maxLo + s) & INDEX_MASK;
          this.#bits[index >>> 5] &= ~(1 << (index & 31));
        }
      }
      this.#maxHi = hi;
      this.#maxLo = lo;
    }
    const index = lo & INDEX_MASK;
    this.#bits[index >>> 5] |= 1 << (index & 31);
    return true;
  }

  /** {@link checkU64} for a bigint counter. */
  check(counter: bigint): boolean {
    const [hi, lo] = splitCounter(counter);
    return this.checkU64(hi, lo);
  }

  /** {@link commitU64} for a bigint counter. */
  commit(counter: bigint): boolean {
    const [hi, lo] = splitCounter(counter);
    return this.commitU64(hi, lo);
  }

  /** {@link checkU64} for the counter in bytes 4..12 of a 12-byte nonce. */
  checkNonce(nonce: Uint8Array): boolean {
    checkNonceLength(nonce);
    return this.checkU64(readU32(nonce, COUNTER_OFFSET), readU32(nonce, COUNTER_OFFSET + 4));
  }

  /** {@link commitU64} for the counter in bytes 4..12 of a 12-byte nonce. */
  commitNonce(nonce: Uint8Array): boolean {
    checkNonceLength(nonce);
    return this.commitU64(readU32(nonce, COUNTER_OFFSET), readU32(nonce, COUNTER_OFFSET + 4));
  }
}

/**
 * Replay state keyed by the sender's nonce prefix (the docs/protocol/wire.md §6.4 recommendation): a reference
 * peer that re-derives restarts its counter under a fresh random prefix, so an authenticated frame
 * with a new prefix starts a fresh window. The window of the previous prefix is kept for
 * stragglers; prefixes older than that are remembered (up to {@link MAX_RETIRED_PREFIXES}) and
 * refused, because the key may be unchanged across re-derivations and their frames would still
 * authenticate. Same check-then-commit contract as {@link ReplayWindow}.
 */
export class PrefixReplayGuard {
  #currentPrefix = -1;
  #current = new ReplayWindow();
  #previousPrefix = -1;
  #previous = new ReplayWindow();
  readonly #retired: number[] = [];

  /** The prefix (as a u32) of the newest window, or -1 before the first commit. */
  get currentPrefix(): number {
    return this.#currentPrefix;
  }

  /** True when the frame may be new. A never-seen prefix passes (its window would be fresh). */
  checkU64(prefix: number, hi: number, lo: number): boolean {
    if (prefix === this.#currentPrefix) return this.#current.checkU64(hi, lo);
    if (prefix === this.#previousPrefix) return this.#previous.checkU64(hi, lo);
    return !this.#retired.includes(prefix);
  }

  /** Records an authenticated frame; a new prefix retires the previous one and starts a fresh window. */
  commitU64(prefix: number, hi: number, lo: number): boolean {
    if (prefix === this.#currentPrefix) return this.#current.commitU64(hi, lo);
    if (prefix === this.#previousPrefix) return this.#previous.commitU64(hi, lo);
    if (this.#retired.includes(prefix)) return false;
    if (this.#previousPrefix !== -1) {
      this.#retired.push(this.#previousPrefix);
      if (this.#retired.length > MAX_RETIRED_PREFIXES) this.#retired.shift();
    }
    // Reuse the oldest window object for the new prefix: no allocation per re-key.
    const recycled = this.#previous;
    recycled.reset();
    this.#previousPrefix = this.#currentPrefix;
    this.#previous = this.#current;
    this.#currentPrefix = prefix;
    this.#current = recycled;
    return recycled.commitU64(hi, lo);
  }

  /** {@link checkU64} on a 12-byte nonce (prefix ‖ counter). */
  checkNonce(nonce: Uint8Array): boolean {
    checkNonceLength(nonce);
    return this.checkU64(
      readU32(nonce, PREFIX_OFFSET),
      readU32(nonce, COUNTER_OFFSET),
      readU32(nonce, COUNTER_OFFSET + 4),
    );
  }

  /** {@link commitU64} on a 12-byte nonce (prefix ‖ counter). */
  commitNonce(nonce: Uint8Array): boolean {
    checkNonceLength(nonce);
    return this.commitU64(
      readU32(nonce, PREFIX_OFFSET),
      readU32(nonce, COUNTER_OFFSET),
      readU32(nonce, COUNTER_OFFSET + 4),
    );
  }

  /** Forgets all prefixes and windows, as after a new key exchange with a different key. */
  reset(): void {
    this.#currentPrefix = -1;
    this.#previousPrefix = -1;
    this.#current.reset();
    this.#previous.reset();
    this.#retired.length = 0;
  }
}
