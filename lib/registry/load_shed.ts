/**
 * The registry's global budget (docs/compat.md "Rate limits"): requests per second,
 * requests in progress and heap in use, across every source. When one of them runs
 * short the most expensive work is shed first: look-ups and lists give way before
 * writes and registrations, and those before heartbeats and polls, which keep nodes
 * alive and only stop when the budget is exhausted outright.
 * @module
 */
import { getHeapStatistics } from "node:v8";
import { TokenBucket } from "../net/token_bucket.ts";
import type { RateCategory } from "./ratelimit.ts";

/** How much a request matters to keeping the overlay running, cheapest to shed last. */
export type WorkClass = "essential" | "standard" | "expensive";

/** Share of each budget a class may use: past it, that class is refused and the rest kept for the others. */
export const CLASS_SHARE: Readonly<Record<WorkClass, number>> = {
  essential: 1,
  standard: 0.8,
  expensive: 0.5,
};

/** The class of a request type: heartbeats and polls keep nodes alive, look-ups and lists are shed first. */
export function workClass(type: string, rate: RateCategory): WorkClass {
  if (rate === "heartbeat" || type === "poll_handshakes" || type === "poll_invites") return "essential";
  if (rate === "query" || rate === "read" || rate === "resolve") return "expensive";
  return "standard";
}

/** Global limits; 0 turns one off. */
export interface GlobalLimits {
  /** Requests per second across all sources (the burst is one second's worth). */
  requestsPerSecond: number;
  /** Requests being handled at once (e.g. waiting for the log to reach disk). */
  maxInFlight: number;
  /** V8 heap in use past which work is shed. */
  maxHeapBytes: number;
}

/**
 * The default heap budget: three quarters of V8's heap limit (which follows the machine's memory
 * and `--v8-flags=--max-old-space-size`), so work is shed while garbage collection still keeps up.
 */
export function defaultHeapBudget(): number {
  try {
    return Math.floor(getHeapStatistics().heap_size_limit * 0.75);
  } catch {
    return 1024 * 1024 * 1024;
  }
}

/**
 * Defaults: requests per second far above what 10 000 daemons at the default cadence send
 * (about 1 000 a second); the heap budget from V8's limit.
 */
export const DEFAULT_GLOBAL_LIMITS: Readonly<GlobalLimits> = {
  requestsPerSecond: 5_000,
  maxInFlight: 4_096,
  maxHeapBytes: defaultHeapBudget(),
};

/** Every global limit off. */
export const GLOBAL_LIMITS_OFF: Readonly<GlobalLimits> = {
  requestsPerSecond: 0,
  maxInFlight: 0,
  maxHeapBytes: 0,
};

/** Why the global budget refused a request. */
export type ShedReason = "global_rate" | "in_flight" | "memory";

/** Outcome of `admit`. */
export type ShedDecision = { ok: true } | { ok: false; reason: ShedReason; retryAfterMs: number };

/** The heap is sampled at most this often (reading it is a syscall's worth of work). */
const HEAP_SAMPLE_MS = 1_000;

/** Admission against the global budget. */
export class LoadShedder {
  #bucket: TokenBucket | null;
  #inFlight = 0;
  #heap = 0;
  #heapAt = -Infinity;

  constructor(
    readonly limits: GlobalLimits = { ...DEFAULT_GLOBAL_LIMITS },
    readonly heapUsed: () => number = () => Deno.memoryUsage().heapUsed,
    now: number = Date.now(),
  ) {
    this.#bucket = limits.requestsPerSecond > 0
      ? new TokenBucket(limits.requestsPerSecond, limits.requestsPerSecond, now)
      : null;
  }

  /** Requests admitted and not yet finished. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /**
   * Admits one request of `cls` against the heap and in-flight budgets (call `done` when it
   * finishes) or says why not. Checked before anything else: it costs nothing.
   */
  admit(cls: WorkClass, now: number): ShedDecision {
    const share = CLASS_SHARE[cls];
    const { maxInFlight, maxHeapBytes } = this.limits;
    if (maxHeapBytes > 0) {
      if (now - this.#heapAt >= HEAP_SAMPLE_MS || now < this.#heapAt) {
        this.#heap = this.heapUsed();
        this.#heapAt = now;
      }
      // Essential work is kept even over the heap budget: refusing heartbeats would
      // turn memory pressure into a re-registration storm.
      if (cls !== "essential" && this.#heap >= maxHeapBytes * share) {
        return { ok: false, reason: "memory", retryAfterMs: 5_000 };
      }
    }
    if (maxInFlight > 0 && this.#inFlight + 1 > maxInFlight * share) {
      return { ok: false, reason: "in_flight", retryAfterMs: 1_000 };
    }
    this.#inFlight++;
    return { ok: true };
  }

  /**
   * Charges one request of `cls` to the global rate. Called after the per-address or
   * per-node budget let it through, so requests those refuse (a flood) cost the
   * well-behaved nothing here.
   */
  charge(cls: WorkClass, now: number): ShedDecision {
    if (!this.#bucket) return { ok: true };
    // The reserve kept for more urgent classes: `expensive` may not dip into the last half.
    const reserve = this.limits.requestsPerSecond * (1 - CLASS_SHARE[cls]);
    if (this.#bucket.available(now) < reserve + 1 || !this.#bucket.take(now)) {
      return { ok: false, reason: "global_rate", retryAfterMs: 1_000 };
    }
    return { ok: true };
  }

  /** Marks an admitted request finished. */
  done(): void {
    if (this.#inFlight > 0) this.#inFlight--;
  }
}
