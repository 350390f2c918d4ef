/**
 * A growable ring-buffer FIFO. Queues on the per-packet path (unacknowledged
 * segments, unsent writes, unread data) pop from the front on every ACK or
 * read; an Array's `shift()` there would copy the whole queue, this is O(1).
 * @module
 */

const MIN_CAPACITY = 16;

/**
 * FIFO with O(1) push, shift and indexed access (index 0 = oldest). Capacity
 * doubles when full and is never shrunk below the largest size seen, which
 * is fine for per-connection queues whose length the caller bounds.
 */
export class Ring<T> {
  private buf: (T | undefined)[];
  private mask: number;
  private head = 0;
  private count = 0;

  constructor(initialCapacity = MIN_CAPACITY) {
    let cap = MIN_CAPACITY;
    while (cap < initialCapacity) cap *= 2;
    this.buf = new Array(cap);
    this.mask = cap - 1;
  }

  /** Number of items held. */
  get length(): number {
    return this.count;
  }

  /** Appends at the back. */
  push(item: T): void {
    if (this.count === this.buf.length) this.grow();
    this.buf[(this.head + this.count) & this.mask] = item;
    this.count++;
  }

  /** Removes and returns the front item, or undefined when empty. */
  shift(): T | undefined {
    if (this.count === 0) return undefined;
    const item = this.buf[this.head];
    this.buf[this.head] = undefined; // let the GC have it
    this.head = (this.head + 1) & this.mask;
    this.count--;
    return item;
  }

  /** The front item without removing it. */
  peek(): T | undefined {
    return this.count === 0 ? undefined : this.buf[this.head];
  }

  /** The back item without removing it. */
  peekLast(): T | undefined {
    return this.count === 0 ? undefined : this.buf[(this.head + this.count - 1) & this.mask];
  }

  /** Item `i` places from the front (0-based); undefined when out of range. */
  at(i: number): T | undefined {
    if (i < 0 || i >= this.count) return undefined;
    return this.buf[(this.head + i) & this.mask];
  }

  /** Replaces the front item (e.g. with the unread rest of a partly consumed chunk). */
  replaceFront(item: T): void {
    if (this.count === 0) throw new RangeError("ring is empty");
    this.buf[this.head] = item;
  }

  /** Removes everything. */
  clear(): void {
    this.buf.fill(undefined);
    this.head = 0;
    this.count = 0;
  }

  private grow(): void {
    const old = this.buf;
    const next: (T | undefined)[] = new Array(old.length * 2);
    for (let i = 0; i < this.count; i++) next[i] = old[(this.head + i) & this.mask];
    this.buf = next;
    this.mask = next.length - 1;
    this.head = 0;
  }
}
