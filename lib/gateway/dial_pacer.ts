/**
 * Paces the gateway's dials to each node. Every connection a gateway bridges arrives at the far
 * node from one source, ours, and the far node admits at most {@link SYN_RATE_PER_SOURCE} SYNs
 * a second from one source (a bucket of as many; docs/protocol/transport.md §9) and silently drops the rest.
 * A dropped SYN is only retried on the SYN schedule (1 s, 2 s, 4 s, … apart), so a burst of
 * 100 browser or curl connections would mostly wait out backoffs and some would time out.
 * Spacing our SYNs a little below the far side's rate instead admits each on its first
 * transmission (the margin absorbs jitter between our clock and the far side's arrivals).
 */
import { SYN_RATE_PER_SOURCE } from "../transport/rate-limit.ts";

/** Our share of the far side's per-source SYN rate. */
const PACE_FRACTION = 0.8;

/** Nodes whose pacing state is kept (least recently used dropped beyond this). */
const MAX_PACED_NODES = 4096;

/** Per-node token buckets mirroring the far side's per-source SYN bucket. */
export class DialPacer {
  readonly #buckets = new Map<number, { tokens: number; at: number }>();

  constructor(
    readonly ratePerSec: number = SYN_RATE_PER_SOURCE * PACE_FRACTION,
    readonly capacity: number = Math.floor(SYN_RATE_PER_SOURCE * PACE_FRACTION),
    readonly now: () => number = () => performance.now(),
  ) {}

  /**
   * Milliseconds to wait before the next dial to `node` may go, reserving its slot (0 = now).
   * Callers that give up after reserving simply leave a gap.
   */
  reserve(node: number): number {
    const now = this.now();
    let b = this.#buckets.get(node);
    if (!b) {
      b = { tokens: this.capacity, at: now };
      if (this.#buckets.size >= MAX_PACED_NODES) this.#buckets.delete(this.#buckets.keys().next().value!);
    } else {
      this.#buckets.delete(node); // re-insert: most recently used last
      b.tokens = Math.min(this.capacity, b.tokens + ((now - b.at) * this.ratePerSec) / 1000);
      b.at = now;
    }
    this.#buckets.set(node, b);
    b.tokens -= 1; // may go negative: the debt is the queue ahead of this dial
    return b.tokens >= 0 ? 0 : Math.ceil((-b.tokens * 1000) / this.ratePerSec);
  }
}
