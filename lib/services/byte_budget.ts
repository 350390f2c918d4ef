/**
 * A shared cap on bytes held in memory by one service across all its connections. A frame may
 * legally announce 16 MiB, so without a cap a thousand connections could pin 16 GiB before a
 * single byte is stored; services reserve a frame's length here before buffering it and refuse
 * (or skip) the frame when the budget is spent.
 * @module
 */

/** Counts reserved bytes against a fixed limit. Single-threaded: reservations are synchronous. */
export class ByteBudget {
  readonly limit: number;
  #used = 0;

  constructor(limit: number) {
    if (!(Number.isInteger(limit) && limit >= 0)) {
      throw new RangeError(`budget must be a whole number, got ${limit}`);
    }
    this.limit = limit;
  }

  /** Bytes currently reserved. */
  get used(): number {
    return this.#used;
  }

  /** Reserves `n` bytes if they fit; false (nothing reserved) otherwise. */
  tryReserve(n: number): boolean {
    if (n < 0 || this.#used + n > this.limit) return false;
    this.#used += n;
    return true;
  }

  /** Returns `n` previously reserved bytes. */
  release(n: number): void {
    this.#used = Math.max(0, this.#used - n);
  }
}
