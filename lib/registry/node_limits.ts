/**
 * Per-node request budgets (docs/compat.md "Rate limits"). A request signed by a
 * registered node is charged to that node's key, not to the address it came from,
 * so any number of nodes behind one NAT address each keep their own allowance.
 * Built on the project's token bucket; the per-address limits for unauthenticated
 * requests stay in ratelimit.ts.
 * @module
 */
import { TokenBucket } from "../net/token_bucket.ts";
import type { RateCategory } from "./ratelimit.ts";

/** What a node's request is charged to. Polling has its own budget so it never eats heartbeats. */
export type NodeCategory = "heartbeat" | "poll" | "lookup" | "write";

/** The node categories, in a fixed order (metrics, parsing). */
export const NODE_CATEGORIES: readonly NodeCategory[] = ["heartbeat", "poll", "lookup", "write"];

/** One budget: a sustained rate per minute and a burst (0 rate = unlimited). */
export interface NodeBudget {
  perMinute: number;
  burst: number;
}

/** Budgets per node category. */
export type NodeLimits = Record<NodeCategory, NodeBudget>;

/**
 * Defaults, sized against the daemon's cadence: a heartbeat every 30 s followed by one
 * `poll_handshakes` and one `poll_invites` is 2 heartbeats and 4 polls a minute. The
 * budgets are 60 times that, so even `--heartbeat 1s` stays inside them, and the bursts
 * absorb a reconnect storm or a CLI session.
 */
export const DEFAULT_NODE_LIMITS: Readonly<NodeLimits> = {
  heartbeat: { perMinute: 120, burst: 30 },
  poll: { perMinute: 240, burst: 60 },
  lookup: { perMinute: 600, burst: 120 },
  write: { perMinute: 300, burst: 60 },
};

/** Every per-node budget off. */
export const NODE_LIMITS_OFF: Readonly<NodeLimits> = {
  heartbeat: { perMinute: 0, burst: 0 },
  poll: { perMinute: 0, burst: 0 },
  lookup: { perMinute: 0, burst: 0 },
  write: { perMinute: 0, burst: 0 },
};

/** Message types that only collect what others relayed to a node. */
const POLL_TYPES: ReadonlySet<string> = new Set(["poll_handshakes", "poll_invites"]);

/** The node category of a request type, given the op's per-address category. */
export function nodeCategory(type: string, rate: RateCategory): NodeCategory {
  if (POLL_TYPES.has(type)) return "poll";
  if (rate === "heartbeat") return "heartbeat";
  if (rate === "resolve" || rate === "query" || rate === "read") return "lookup";
  return "write";
}

/** Outcome of a charge: allowed, or refused with the time after which one request fits again. */
export type NodeDecision = { ok: true } | { ok: false; retryAfterMs: number };

/**
 * Budgets are dropped when full again (idle), so memory follows the nodes that are
 * active; this many buckets at most (one per node and category), past which new ones
 * are refused until the next prune. Nodes are created only through the per-address
 * registration budget, so this is a backstop.
 */
export const MAX_NODE_BUCKETS = 4_000_000;

/** One token bucket per (node, category). */
export class NodeLimiter {
  readonly #buckets = new Map<string, TokenBucket>();
  /** Requests refused so far, per category. */
  readonly denied: Record<NodeCategory, number> = { heartbeat: 0, poll: 0, lookup: 0, write: 0 };

  constructor(readonly limits: NodeLimits = structuredClone(DEFAULT_NODE_LIMITS)) {}

  /** Charges one request of `category` to `node`. */
  take(category: NodeCategory, node: number, now: number): NodeDecision {
    const budget = this.limits[category];
    if (!(budget.perMinute > 0)) return { ok: true };
    const key = `${category}|${node}`;
    let bucket = this.#buckets.get(key);
    if (!bucket) {
      if (this.#buckets.size >= MAX_NODE_BUCKETS) return this.#deny(category, budget);
      bucket = new TokenBucket(budget.perMinute / 60, Math.max(1, budget.burst), now);
      this.#buckets.set(key, bucket);
    }
    return bucket.take(now) ? { ok: true } : this.#deny(category, budget);
  }

  #deny(category: NodeCategory, budget: NodeBudget): NodeDecision {
    this.denied[category]++;
    // The bucket holds less than one token: one token's refill time is an upper bound.
    return { ok: false, retryAfterMs: Math.ceil(60_000 / budget.perMinute) };
  }

  /** Forgets buckets that have refilled completely (they would start full anyway). */
  prune(now: number): void {
    for (const [key, bucket] of this.#buckets) if (bucket.isFull(now)) this.#buckets.delete(key);
  }

  /** Buckets currently held. */
  get size(): number {
    return this.#buckets.size;
  }
}
