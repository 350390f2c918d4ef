/**
 * Bytes the application has written but the stream has not yet put into a
 * segment. Chunks are kept by reference and segments are cut as views of them
 * when a segment fits inside one chunk, so a large write is segmented without
 * copying; only a segment that spans small writes is assembled into a new array.
 * @module
 */
import { Ring } from "./ring.ts";

/** FIFO of written chunks with zero-copy segment extraction. */
export class WriteQueue {
  private chunks = new Ring<Uint8Array>();
  /** Bytes of the front chunk already taken. */
  private offset = 0;
  private total = 0;

  /** Bytes waiting. */
  get length(): number {
    return this.total;
  }

  /** Appends `data` (kept by reference: the caller must not modify it afterwards). */
  push(data: Uint8Array): void {
    if (data.length === 0) return;
    this.chunks.push(data);
    this.total += data.length;
  }

  /** The `i`-th waiting byte (0-based), or -1 past the end. Cheap for small `i`. */
  byteAt(i: number): number {
    if (i < 0 || i >= this.total) return -1;
    let k = 0;
    let pos = i + this.offset;
    for (let c = this.chunks.at(k); c; c = this.chunks.at(++k)) {
      if (pos < c.length) return c[pos];
      pos -= c.length;
    }
    return -1;
  }

  /**
   * Removes and returns the next `n` bytes (1 ≤ n ≤ length): a view into the
   * front chunk when it holds them all, otherwise a new array.
   */
  take(n: number): Uint8Array {
    if (!(n >= 1 && n <= this.total)) throw new RangeError(`take(${n}) with ${this.total} bytes queued`);
    const front = this.chunks.peek()!;
    const avail = front.length - this.offset;
    if (avail >= n) {
      const view = front.subarray(this.offset, this.offset + n);
      this.advance(front, n);
      return view;
    }
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      const c = this.chunks.peek()!;
      const m = Math.min(c.length - this.offset, n - filled);
      out.set(c.subarray(this.offset, this.offset + m), filled);
      filled += m;
      this.advance(c, m);
    }
    return out;
  }

  /** Drops everything. */
  clear(): void {
    this.chunks.clear();
    this.offset = 0;
    this.total = 0;
  }

  private advance(front: Uint8Array, n: number): void {
    this.offset += n;
    this.total -= n;
    if (this.offset === front.length) {
      this.chunks.shift();
      this.offset = 0;
    }
  }
}
