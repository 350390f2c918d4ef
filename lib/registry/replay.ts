/**
 * Remembers the nonces of accepted signed requests for as long as their
 * timestamps are acceptable, so that a captured request cannot be replayed.
 * Bounded: when full it refuses new nonces (fail closed) rather than forgetting
 * live ones.
 * @module
 */

/** Default bound on remembered nonces (about 100 MB worst case). */
export const DEFAULT_MAX_NONCES = 1_000_000;
/** Expiry is tracked in buckets of this many milliseconds. */
const BUCKET_MS = 1_000;

/** Result of `admit`. */
export type NonceDecision = "fresh" | "replay" | "full";

/** A set of nonces with per-nonce expiry. */
export class NonceCache {
  #seen = new Set<string>();
  /** Expiry bucket → nonces expiring in it. */
  #buckets = new Map<number, string[]>();
  #lastPrune = 0;

  constructor(readonly maxEntries: number = DEFAULT_MAX_NONCES) {}

  /** Records `nonce` until `expiresAt` unless it was seen before or the cache is full. */
  admit(nonce: string, expiresAt: number, now: number = Date.now()): NonceDecision {
    if (now - this.#lastPrune >= BUCKET_MS) this.prune(now);
    if (this.#seen.has(nonce)) return "replay";
    if (this.#seen.size >= this.maxEntries) return "full";
    this.#seen.add(nonce);
    const bucket = Math.ceil(expiresAt / BUCKET_MS);
    let list = this.#buckets.get(bucket);
    if (!list) this.#buckets.set(bucket, list = []);
    list.push(nonce);
    return "fresh";
  }

  /** Forgets nonces whose time has passed. */
  prune(now: number = Date.now()): void {
    this.#lastPrune = now;
    const limit = Math.floor(now / BUCKET_MS);
    for (const [bucket, list] of this.#buckets) {
      if (bucket > limit) continue;
      for (const n of list) this.#seen.delete(n);
      this.#buckets.delete(bucket);
    }
  }

  get size(): number {
    return this.#seen.size;
  }
}
