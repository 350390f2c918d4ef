/**
 * Per-source token buckets (docs/protocol/registry.md §3). Each request type belongs to a
 * category with its own rate per minute; each source (an IP address, or one
 * connection when so configured) has one bucket per category, holding up to one
 * minute's worth of tokens. A source over its rate is throttled alone: other
 * sources have their own buckets.
 * @module
 */

import { TokenBucket } from "../net/token_bucket.ts";

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

/** Wording of the throttle error per category (the reference's texts for its four). */
const NOUN: Record<RateCategory, string> = {
  register: "registrations",
  resolve: "resolves",
  query: "queries",
  heartbeat: "heartbeats",
  write: "writes",
  read: "reads",
};

/** Outcome of `take`: allowed, or denied with a suggested wait. */
export type RateDecision = { ok: true } | { ok: false; retryAfterMs: number; message: string };

/** A set of token buckets keyed by category and source. */
export class RateLimiter {
  #buckets = new Map<string, TokenBucket>();
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
    if (!b || b.burst !== rate) {
      // New source, or the limit was changed: a fresh bucket holding one window's worth.
      this.#buckets.set(key, b = new TokenBucket((rate * 1000) / RATE_WINDOW_MS, rate, now));
    }
    if (b.take(now)) return { ok: true };
    const retryAfterMs = Math.ceil(b.waitMs(now));
    return { ok: false, retryAfterMs, message: `rate limited: too many ${NOUN[category]} from ${label}` };
  }

  /** Counts a request that was actually refused (callers may let some denials through). */
  recordDenied(category: RateCategory): void {
    this.denied[category]++;
  }

  /** Drops buckets that have refilled completely (idle for a window): a new one would start the same. */
  prune(now: number = Date.now()): void {
    for (const [k, b] of this.#buckets) if (b.isFull(now)) this.#buckets.delete(k);
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
