/**
 * A byte budget that all clients of a server (the daemon's IPC socket, the registry's listener)
 * share for unfinished input beyond their own small allowance. Without it, every client could
 * hold a nearly complete largest frame at once (500 IPC clients: 500 MiB); with it, the server
 * holds at most `clients × allowance + pool` bytes of client input, whatever the clients do.
 * Memory once taken is not reliably given back to the OS by the allocator, so the peak is what
 * must be bounded, not only how long it lasts.
 *
 * Clients that find the pool full queue for it, and freed bytes are handed to them in arrival
 * order. Waking every waiter on each release instead let them all race for the same bytes: with
 * 500 IPC clients dropped at once that was 500 × 500 wake-ups, over 100 MB of short-lived
 * promises and +60 MiB of resident heap.
 * @module
 */

/** A queued wait for pool bytes; call it off with {@link PoolRequest.cancel}. */
export interface PoolRequest {
  /** Resolves with the bytes granted (more than 0, at most what was asked). */
  readonly granted: Promise<number>;
  /** Leaves the queue. Returns the bytes already granted, which the caller must give back with `adjust`. */
  cancel(): number;
}

interface Waiter {
  want: number;
  /** Least it accepts: served only once this much is free. */
  min: number;
  grant: number;
  resolve(bytes: number): void;
}

/** Shared accounting of bytes held beyond each client's allowance. */
export class InboundPool {
  readonly limit: number;
  #used = 0;
  readonly #queue: Waiter[] = [];

  constructor(limit: number) {
    this.limit = limit;
  }

  /** Bytes currently taken. */
  get used(): number {
    return this.#used;
  }

  /** Clients queued for bytes. */
  get waiting(): number {
    return this.#queue.length;
  }

  /**
   * Takes up to `want` bytes now, and at least `min` (capped at the pool's size) or nothing;
   * returns how many were granted (0 when too little is free or others queue).
   */
  take(want: number, min = 1): number {
    if (this.#queue.length > 0 || this.limit - this.#used < this.#least(want, min)) return 0;
    return this.#grant(want);
  }

  /**
   * Queues for up to `want` bytes (more than 0), and at least `min` (capped at the pool's size):
   * served in arrival order as bytes are freed, the first in line holding up the rest until its
   * least is free. A holder that asked for all it needs never has to wait again, so holders
   * cannot block one another with partial shares.
   */
  request(want: number, min = 1): PoolRequest {
    let resolve!: (bytes: number) => void;
    const granted = new Promise<number>((r) => resolve = r);
    want = Math.max(1, want);
    const waiter: Waiter = { want, min: this.#least(want, min), grant: 0, resolve };
    this.#queue.push(waiter);
    this.#serve();
    return {
      granted,
      cancel: () => {
        const at = this.#queue.indexOf(waiter);
        if (at >= 0) this.#queue.splice(at, 1);
        return waiter.grant;
      },
    };
  }

  /**
   * Queues as {@link request} does until granted, or until `abandoned` settles first (the client
   * left, or no longer needs the bytes): then resolves 0, having given back anything granted.
   */
  async queue(want: number, min: number, abandoned: Promise<unknown>): Promise<number> {
    const request = this.request(want, min);
    const granted = await Promise.race([request.granted, abandoned.then(() => 0, () => 0)]);
    if (granted > 0) return granted;
    this.adjust(-request.cancel());
    return 0;
  }

  /**
   * Changes the bytes taken by `delta`; freed bytes go to queued requests.
   * Callers only grow their share out of bytes they were granted before.
   */
  adjust(delta: number): void {
    if (delta === 0) return;
    this.#used += delta;
    if (delta < 0) this.#serve();
  }

  #least(want: number, min: number): number {
    return Math.max(1, Math.min(min, want, this.limit));
  }

  #grant(want: number): number {
    const granted = Math.max(0, Math.min(want, this.limit - this.#used));
    this.#used += granted;
    return granted;
  }

  #serve(): void {
    while (this.#queue.length > 0 && this.limit - this.#used >= this.#queue[0].min) {
      const waiter = this.#queue.shift()!;
      waiter.grant = this.#grant(waiter.want);
      waiter.resolve(waiter.grant);
    }
  }
}
