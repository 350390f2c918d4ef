/**
 * The handshake replay cache (docs/protocol/services.md §1.2 step 2): keys of messages already
 * processed, remembered for {@link REPLAY_TTL_MS}. The set is bounded; when it is full
 * and nothing has expired, new messages are dropped rather than old entries evicted,
 * so a flood cannot push a recorded message out and replay it. Only messages that
 * passed signature verification are recorded, so unauthenticated junk cannot fill it.
 * Not safe for concurrent use across workers (the daemon is single-threaded).
 * @module
 */

/** Most keys remembered. */
export const REPLAY_CAPACITY = 8192;
/** How long a key is remembered. */
export const REPLAY_TTL_MS = 10 * 60_000;
/** How often the owner should call {@link HandshakeReplayCache.reap}. */
export const REPLAY_REAP_INTERVAL_MS = 5 * 60_000;

/** Answer of {@link HandshakeReplayCache.seen}. */
export type ReplayVerdict = "new" | "replay" | "full";

/** Keys of recently processed messages, oldest first (Map insertion order). */
export class HandshakeReplayCache {
  readonly #seen = new Map<string, number>();

  constructor(readonly capacity: number = REPLAY_CAPACITY, readonly ttlMs: number = REPLAY_TTL_MS) {}

  /** Number of keys held. */
  get size(): number {
    return this.#seen.size;
  }

  /**
   * Whether `key` may be processed at `nowMs`: "replay" when it was recorded within the
   * TTL, "full" when there is no room for it. Does not record it (see {@link record}).
   */
  seen(key: string, nowMs: number): ReplayVerdict {
    const at = this.#seen.get(key);
    if (at !== undefined && nowMs - at < this.ttlMs) return "replay";
    if (at === undefined && this.#seen.size >= this.capacity) {
      this.reap(nowMs);
      if (this.#seen.size >= this.capacity) return "full";
    }
    return "new";
  }

  /** Records `key` as processed at `nowMs`. Returns false when the cache is full. */
  record(key: string, nowMs: number): boolean {
    if (this.seen(key, nowMs) === "full") return false;
    this.#seen.delete(key); // re-insert at the back so the order stays by time
    this.#seen.set(key, nowMs);
    return true;
  }

  /** Forgets keys older than the TTL; returns how many went. */
  reap(nowMs: number): number {
    let removed = 0;
    for (const [key, at] of this.#seen) {
      if (nowMs - at < this.ttlMs) break;
      this.#seen.delete(key);
      removed++;
    }
    return removed;
  }
}
