/**
 * A bounded delivery queue with one worker: items are taken in batches and handed to
 * `deliver`; a failed batch is retried with exponential backoff, then given up (and
 * passed to `onGiveUp`). `push` never blocks and never awaits: when the queue is full
 * the item is dropped and counted, so a slow or dead receiver cannot slow the
 * registry's request path. Delivery is at least once: a batch whose outcome was not
 * seen (a timeout after the receiver took it) is sent again.
 * @module
 */
import type { Logger } from "../../log.ts";

/** Why a delivery failed, and whether retrying can help (4xx other than 408/429 cannot). */
export class DeliveryError extends Error {
  constructor(message: string, readonly permanent = false) {
    super(message);
    this.name = "DeliveryError";
  }
}

/** Counters for /metrics and the `get_*` replies. */
export interface DeliveryStats {
  /** Items delivered. */
  delivered: number;
  /** Retries made (attempts after the first). */
  retried: number;
  /** Items refused because the queue was full. */
  dropped: number;
  /** Items given up after the last attempt or a permanent refusal. */
  failed: number;
}

/** Queue settings; all limits are the caller's named constants. */
export interface DeliveryQueueOptions<T> {
  name: string;
  capacity: number;
  batchSize: number;
  maxAttempts: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** After the first item of a batch arrives, wait this long for more (fewer writes, fsyncs and requests). */
  lingerMs?: number;
  deliver(batch: T[]): Promise<void>;
  onDelivered?(batch: T[]): void;
  onGiveUp?(batch: T[], err: Error): void;
  logger: Logger;
}

/** Log a full queue at most this often (counting every drop). */
const OVERFLOW_LOG_INTERVAL_MS = 10_000;

/** Backoff before attempt `attempt` (2, 3, …): base·2^(attempt−2), capped, with ±25 % jitter. */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random = Math.random): number {
  const raw = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 2));
  return Math.round(raw * (0.75 + random() * 0.5));
}

/** See the module comment. */
export class DeliveryQueue<T> {
  readonly stats: DeliveryStats = { delivered: 0, retried: 0, dropped: 0, failed: 0 };
  #items: T[] = [];
  #running: Promise<void> | null = null;
  #closed = false;
  #wake: (() => void) | null = null;
  #lastOverflowLog = 0;
  #droppedSinceLog = 0;

  constructor(readonly opts: DeliveryQueueOptions<T>) {}

  /** Items waiting (not counting a batch in flight). */
  get length(): number {
    return this.#items.length;
  }

  /** True while a batch is being delivered or items wait. */
  get busy(): boolean {
    return this.#items.length > 0 || this.#running !== null;
  }

  /** Queues `item`; false (and counted) when the queue is full or closed. Never blocks. */
  push(item: T): boolean {
    if (this.#closed || this.#items.length >= this.opts.capacity) {
      this.stats.dropped++;
      this.#droppedSinceLog++;
      const now = Date.now();
      if (now - this.#lastOverflowLog >= OVERFLOW_LOG_INTERVAL_MS) {
        this.#lastOverflowLog = now;
        this.opts.logger.warn("delivery queue full; dropping", {
          queue: this.opts.name,
          dropped: this.#droppedSinceLog,
          capacity: this.opts.capacity,
        });
        this.#droppedSinceLog = 0;
      }
      return false;
    }
    this.#items.push(item);
    if (!this.#running) this.#running = this.#run().finally(() => this.#running = null);
    return true;
  }

  async #run(): Promise<void> {
    while (this.#items.length > 0 && !this.#closed) {
      // Off the caller's stack (the request that produced the item is answered first), and a
      // moment to gather a batch unless one is already full.
      const linger = this.#items.length >= this.opts.batchSize ? 0 : this.opts.lingerMs ?? 0;
      await new Promise((r) => setTimeout(r, linger));
      const batch = this.#items.splice(0, this.opts.batchSize);
      await this.#deliver(batch);
    }
  }

  async #deliver(batch: T[]): Promise<void> {
    for (let attempt = 1;; attempt++) {
      try {
        await this.opts.deliver(batch);
        this.stats.delivered += batch.length;
        this.opts.onDelivered?.(batch);
        return;
      } catch (e) {
        const err = e instanceof Error ? e : new Error(String(e));
        const permanent = err instanceof DeliveryError && err.permanent;
        if (permanent || attempt >= this.opts.maxAttempts || this.#closed) {
          this.stats.failed += batch.length;
          this.opts.logger.warn("delivery given up", {
            queue: this.opts.name,
            items: batch.length,
            attempts: attempt,
            err: err.message,
          });
          this.opts.onGiveUp?.(batch, err);
          return;
        }
        this.stats.retried++;
        await this.#sleep(backoffDelay(attempt + 1, this.opts.backoffBaseMs, this.opts.backoffMaxMs));
      }
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#wake = null;
        resolve();
      }, ms);
      this.#wake = () => {
        clearTimeout(timer);
        this.#wake = null;
        resolve();
      };
    });
  }

  /** Waits up to `ms` for the queue to empty, then stops; what is still queued is returned. */
  async close(ms: number): Promise<T[]> {
    const deadline = Date.now() + ms;
    while (this.busy && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    this.#closed = true;
    this.#wake?.();
    await this.#running;
    return this.#items.splice(0);
  }
}
