/**
 * Per-key minimum intervals for the tunnel's unauthenticated triggers (key-exchange replies to
 * unknown senders, PILA verification work; the global rate is a TokenBucket from
 * lib/net/token_bucket.ts): a bounded table, so neither a flood of distinct sources nor one noisy source costs more than a
 * fixed budget. Time is injected for tests.
 */

/** Milliseconds clock. */
export type Clock = () => number;

/**
 * Allows one event per key every `intervalMs`. The table holds at most `maxKeys` entries; when
 * full, entries older than the interval are swept, and if none are, the new key is refused (so
 * a flood of fresh keys cannot grow memory or bypass the limit).
 */
export class KeyedInterval<K> {
  readonly #last = new Map<K, number>();

  constructor(
    readonly intervalMs: number,
    readonly maxKeys: number,
    private readonly now: Clock = Date.now,
  ) {}

  /** True (and recorded) when `key` has had no allowed event within the interval. */
  allow(key: K): boolean {
    const t = this.now();
    const last = this.#last.get(key);
    if (last !== undefined && t - last < this.intervalMs) return false;
    if (last === undefined && this.#last.size >= this.maxKeys) {
      for (const [k, at] of this.#last) if (t - at >= this.intervalMs) this.#last.delete(k);
      if (this.#last.size >= this.maxKeys) return false;
    }
    this.#last.set(key, t);
    return true;
  }

  /** Forgets `key`, e.g. when its peer is removed. */
  forget(key: K): void {
    this.#last.delete(key);
  }
}
