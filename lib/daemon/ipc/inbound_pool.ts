/**
 * A byte budget all IPC clients share for unprocessed input beyond their own small
 * allowance. Without it, every client could hold a nearly complete 1 MiB frame at
 * once (500 clients: 500 MiB); with it, the daemon holds at most
 * `clients × allowance + pool` bytes of client input, whatever the clients do.
 * Memory once taken is not reliably given back to the OS by the allocator, so the
 * peak is what must be bounded, not only how long it lasts.
 * @module
 */

/** Shared accounting of bytes held beyond each client's allowance. */
export class InboundPool {
  readonly limit: number;
  #used = 0;
  #waiters: (() => void)[] = [];

  constructor(limit: number) {
    this.limit = limit;
  }

  /** Bytes currently taken. */
  get used(): number {
    return this.#used;
  }

  /** Takes up to `want` bytes; returns how many were granted (0 when the pool is full). */
  take(want: number): number {
    const granted = Math.max(0, Math.min(want, this.limit - this.#used));
    this.#used += granted;
    return granted;
  }

  /**
   * Changes the bytes taken by `delta`; a decrease wakes everyone waiting for room.
   * Callers only grow their share out of bytes they were granted before.
   */
  adjust(delta: number): void {
    if (delta === 0) return;
    this.#used += delta;
    if (delta < 0 && this.#used < this.limit) { for (const w of this.#waiters.splice(0)) w(); }
  }

  /** Resolves once some room is free (at once if there is some now). */
  room(): Promise<void> {
    if (this.#used < this.limit) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }
}
