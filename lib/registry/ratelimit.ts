/**
 * Per-source token buckets (registry.md §3). Each request type belongs to a
 * category with its own rate per minute; each source (an IP address, or one
 * connection when so configured) has one bucket per category, holding up to one
 * minute's worth of tokens. A source over its rate is throttled alone: other
 * sources have their own buckets.
 * @module
 */

/** Rate categories. The first four are the reference's; `write` and `read` cover every other type. */
export type RateCategory = "register" | "resolve" | "query" | "heartbeat" | "write" | "read";

/** Requests per minute per source for each category (0 = unlimited). */
export type RateLimits = Record<RateCategory, number>;

/**
 * Per-address limits, which only unauthenticated requests meet (a request signed by a
 * registered node is charged to that node: node_limits.ts). The reference's values for
 * its four categories, except `register`: 300 a minute (the reference allows 10) lets a
 * fleet of 1 000 nodes behind one NAT address register within about three minutes.
 */
export const DEFAULT_RATE_LIMITS: Readonly<RateLimits> = {
  register: 300,
  resolve: 100,
  query: 500,
  heartbeat: 50,
  write: 600,
  read: 1200,
};

/** Buckets refill over this window. */
export const RATE_WINDOW_MS = 60_000;
/** Buckets idle this long are forgotten. */
const IDLE_BUCKET_MS = 2 * RATE_WINDOW_MS;

/** Wording of the throttle error per category (the reference's texts for its four). */
const NOUN: Record<RateCategory, string> = {
  register: "registrations",
  resolve: "resolves",
  query: "queries",
  heartbeat: "heartbeats",
  write: "writes",
  read: "reads",
};

interface Bucket {
  tokens: number;
  last: number;
}

/** Outcome of `take`: allowed, or denied with a suggested wait. */
export type RateDecision = { ok: true } | { ok: false; retryAfterMs: number; message: string };

/** A set of token buckets keyed by category and source. */
export class RateLimiter {
  #buckets = new Map<string, Bucket>();
  /** Requests denied so far, per category. */
  readonly denied: Record<RateCategory, number> = {
    register: 0,
    resolve: 0,
    query: 0,
    heartbeat: 0,
    write: 0,
    read: 0,
  };

  constructor(readonly limits: RateLimits = { ...DEFAULT_RATE_LIMITS }) {}

  /** Takes one token for `source` in `category`; `label` names the source in the error text. */
  take(category: RateCategory, source: string, label: string, now: number = Date.now()): RateDecision {
    const rate = this.limits[category];
    if (!rate) return { ok: true };
    const key = `${category}|${source}`;
    let b = this.#buckets.get(key);
    if (!b) {
      this.#buckets.set(key, b = { tokens: rate, last: now });
    } else {
      b.tokens = Math.min(rate, b.tokens + (rate * (now - b.last)) / RATE_WINDOW_MS);
      b.last = now;
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return { ok: true };
    }
    const retryAfterMs = Math.ceil(((1 - b.tokens) * RATE_WINDOW_MS) / rate);
    return { ok: false, retryAfterMs, message: `rate limited: too many ${NOUN[category]} from ${label}` };
  }

  /** Counts a request that was actually refused (callers may let some denials through). */
  recordDenied(category: RateCategory): void {
    this.denied[category]++;
  }

  /** Drops buckets idle for two windows. */
  prune(now: number = Date.now()): void {
    for (const [k, b] of this.#buckets) if (now - b.last > IDLE_BUCKET_MS) this.#buckets.delete(k);
  }

  /** Buckets currently held. */
  get size(): number {
    return this.#buckets.size;
  }
}

/** Parses `register=10,query=500` (or `off`) over the defaults. Throws RangeError on bad text. */
export function parseRateLimits(text: string, base: RateLimits = { ...DEFAULT_RATE_LIMITS }): RateLimits {
  const out = { ...base };
  if (text === "off") {
    for (const k of Object.keys(out) as RateCategory[]) out[k] = 0;
    return out;
  }
  for (const part of text.split(",").filter((p) => p !== "")) {
    const m = /^([a-z]+)=(\d+)$/.exec(part.trim());
    if (!m || !(m[1] in out)) {
      throw new RangeError(
        `bad rate limit "${part}" (use e.g. register=10,query=500; categories ${
          Object.keys(out).join(", ")
        })`,
      );
    }
    out[m[1] as RateCategory] = Number(m[2]);
  }
  return out;
}
