/**
 * Token-bucket rate limiting (the beacon's relay path, the tunnel's unauthenticated
 * key-exchange triggers, the registry's per-source limits, the event broker's publishers). Pure: the caller passes the clock (milliseconds) so tests are
 * deterministic and the hot path makes no syscalls. The `wholeTokens` option reproduces the
 * reference's SYN-limiter rule (docs/protocol/transport.md §9), so that limiter can use this bucket too.
 * Not safe for concurrent use (JavaScript's single thread makes that moot here).
 */

/** How a {@link TokenBucket} starts and refills. */
export interface TokenBucketOptions {
  /** Tokens at creation (default: `burst`, a full bucket). */
  tokens?: number;
  /**
   * Refill in whole tokens only, moving the refill time only when at least one is added (the
   * reference's SYN-limiter rule). Default: continuous, fractional refill.
   */
  wholeTokens?: boolean;
}

/** One bucket: refills at `ratePerSecond`, holds at most `burst` tokens, starts full unless told otherwise. */
export class TokenBucket {
  private tokens: number;
  private last: number;
  private readonly wholeTokens: boolean;
  #lastUsed: number;

  constructor(
    readonly ratePerSecond: number,
    readonly burst: number,
    now: number,
    options: TokenBucketOptions = {},
  ) {
    if (!(ratePerSecond > 0) || !(burst >= 1)) {
      throw new RangeError(`token bucket needs rate > 0 and burst >= 1, got ${ratePerSecond}/${burst}`);
    }
    this.tokens = options.tokens ?? burst;
    this.wholeTokens = options.wholeTokens ?? false;
    this.last = now;
    this.#lastUsed = now;
  }

  /** Time (ms) of the last `take`, for forgetting idle buckets. */
  get lastUsed(): number {
    return this.#lastUsed;
  }

  /** Takes `cost` tokens if available and returns true; otherwise leaves the bucket unchanged and returns false. */
  take(now: number, cost = 1): boolean {
    this.#lastUsed = now;
    this.refill(now);
    if (this.tokens < cost) return false;
    this.tokens -= cost;
    return true;
  }

  /** Milliseconds until `cost` tokens will be available; 0 when they are now. */
  waitMs(now: number, cost = 1): number {
    this.refill(now);
    return this.tokens >= cost ? 0 : ((cost - this.tokens) * 1000) / this.ratePerSecond;
  }

  /** True when the bucket has been idle long enough to be full again (safe to forget). */
  isFull(now: number): boolean {
    this.refill(now);
    return this.tokens >= this.burst;
  }

  /** Tokens available at `now` (fractional); lets a caller keep a reserve for more urgent work. */
  available(now: number): number {
    this.refill(now);
    return this.tokens;
  }

  private refill(now: number): void {
    const elapsed = now - this.last;
    if (elapsed <= 0) return; // clock went backwards or same tick: no refill
    if (this.wholeTokens) {
      const add = Math.floor((elapsed * this.ratePerSecond) / 1000);
      if (add < 1) return; // keep the old refill time so fractions accumulate
      this.tokens = Math.min(this.burst, this.tokens + add);
      this.last = now;
      return;
    }
    this.tokens = Math.min(this.burst, this.tokens + (elapsed * this.ratePerSecond) / 1000);
    this.last = now;
  }
}

/**
 * One token bucket per key (the beacon keys by sender node ID), with a cap on how many
 * keys are tracked so a flood of distinct keys cannot grow memory without bound: past
 * `maxKeys`, unknown keys are refused until `sweep` forgets idle (full) buckets.
 */
export class KeyedRateLimiter<K> {
  private readonly buckets = new Map<K, TokenBucket>();

  constructor(readonly ratePerSecond: number, readonly burst: number, readonly maxKeys: number) {}

  /** Number of keys currently tracked. */
  get size(): number {
    return this.buckets.size;
  }

  /** Charges one unit to `key`; false when its bucket is empty or the key table is full. */
  allow(key: K, now: number): boolean {
    let bucket = this.buckets.get(key);
    if (!bucket) {
      if (this.buckets.size >= this.maxKeys) return false;
      bucket = new TokenBucket(this.ratePerSecond, this.burst, now);
      this.buckets.set(key, bucket);
    }
    return bucket.take(now);
  }

  /** Forgets buckets that have refilled completely; they would start full again anyway. */
  sweep(now: number): void {
    for (const [key, bucket] of this.buckets) if (bucket.isFull(now)) this.buckets.delete(key);
  }
}
