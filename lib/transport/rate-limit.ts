/**
 * SYN rate limiting (docs/protocol/transport.md §9): a global token bucket and one bucket per
 * source node, with the reference's integer refill rule (tokens are added in
 * whole units, and the refill timestamp only moves when at least one is
 * added). Times are milliseconds from the session layer's clock.
 * @module
 */
import { TokenBucket } from "../net/token_bucket.ts";

/** Global SYN bucket capacity and refill rate (SYN/s). */
export const SYN_RATE_GLOBAL = 100;
/** Per-source SYN bucket capacity and refill rate (SYN/s). */
export const SYN_RATE_PER_SOURCE = 10;
/** Most source nodes tracked at once; a new source is refused while full. */
export const SYN_MAX_SOURCES = 4096;
/** A per-source bucket untouched this long is dropped by {@link SynRateLimiter.sweep}. */
export const SYN_SOURCE_EXPIRY_MS = 10_000;

/** Which bucket refused a SYN, for drop counters. */
export type SynVerdict = "ok" | "global" | "source";

/**
 * The two-level SYN limiter: global bucket first, then the source's bucket
 * (created full on first sight, at most {@link SYN_MAX_SOURCES} of them).
 */
export class SynRateLimiter {
  private readonly global: TokenBucket;
  private readonly sources = new Map<number, TokenBucket>();

  constructor(
    now: number,
    readonly globalRate: number = SYN_RATE_GLOBAL,
    readonly perSourceRate: number = SYN_RATE_PER_SOURCE,
    readonly maxSources: number = SYN_MAX_SOURCES,
  ) {
    this.global = synBucket(globalRate, now);
  }

  /** Number of source buckets held. */
  get trackedSources(): number {
    return this.sources.size;
  }

  /** Decides whether a SYN from `node` may proceed, consuming tokens if so. */
  check(node: number, now: number): SynVerdict {
    if (!this.global.take(now)) return "global";
    let bucket = this.sources.get(node);
    if (!bucket) {
      if (this.sources.size >= this.maxSources) return "source";
      bucket = synBucket(this.perSourceRate, now);
      this.sources.set(node, bucket);
    }
    return bucket.take(now) ? "ok" : "source";
  }

  /** Drops source buckets not used for {@link SYN_SOURCE_EXPIRY_MS}. */
  sweep(now: number): void {
    for (const [node, b] of this.sources) {
      if (now - b.lastUsed > SYN_SOURCE_EXPIRY_MS) this.sources.delete(node);
    }
  }
}

/** A full bucket of `rate` tokens refilled at `rate`/s in whole tokens (the reference's SYN rule). */
function synBucket(rate: number, now: number): TokenBucket {
  return new TokenBucket(rate, rate, now, { wholeTokens: true });
}
