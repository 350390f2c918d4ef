/**
 * Out-of-order receive buffer (docs/protocol/transport.md §5.2–5.4). Segments that arrive
 * ahead of the next expected sequence number wait here, matched by their exact
 * start sequence like the reference, until the gap before them fills. Memory
 * is bounded by a segment count and a byte count; the buffer also produces the
 * SACK blocks describing what it holds.
 * @module
 */
import type { SackBlock } from "./sack.ts";
import { SACK_MAX_BLOCKS } from "./sack.ts";
import { seqAdd, seqAfter, seqAfterOrEqual, seqBefore, seqDiff } from "./seq.ts";

/** Most segments held (the reference's out-of-order limit). */
export const REASSEMBLY_MAX_SEGMENTS = 128;
/** Most payload bytes held, so large peer segments cannot inflate the 128-segment bound. */
export const REASSEMBLY_MAX_BYTES = 1_048_576;

/** Outcome of {@link ReassemblyBuffer.insert}. */
export type ReassemblyInsert = "buffered" | "duplicate" | "full";

interface Held {
  seq: number;
  end: number;
  data: Uint8Array;
}

/**
 * Holds out-of-order segments sorted by sequence number. All held segments
 * must lie within 2^31 of each other (the caller only inserts segments within
 * its receive window ahead of the expected sequence number). Payloads are kept
 * by reference, not copied.
 */
export class ReassemblyBuffer {
  private held: Held[] = [];
  private heldBytes = 0;

  constructor(
    readonly maxSegments: number = REASSEMBLY_MAX_SEGMENTS,
    readonly maxBytes: number = REASSEMBLY_MAX_BYTES,
  ) {}

  /** Number of segments held. */
  get size(): number {
    return this.held.length;
  }

  /** Payload bytes held. */
  get bytes(): number {
    return this.heldBytes;
  }

  /**
   * Buffers a non-empty segment starting at `seq` (which the caller has checked
   * is after the expected sequence number). A segment with the same start is a
   * duplicate and is not stored; a full buffer refuses it.
   */
  insert(seq: number, data: Uint8Array): ReassemblyInsert {
    const i = this.lowerBound(seq);
    if (i < this.held.length && this.held[i].seq === seq) return "duplicate";
    if (this.held.length >= this.maxSegments || this.heldBytes + data.length > this.maxBytes) return "full";
    this.held.splice(i, 0, { seq, end: seqAdd(seq, data.length), data });
    this.heldBytes += data.length;
    return "buffered";
  }

  /**
   * Removes and returns the next in-order bytes for expected sequence number
   * `next`: the first held segment if it starts at or before `next` and reaches
   * beyond it (trimmed to start at `next`). Segments wholly before `next` are
   * discarded on the way. Returns undefined when a gap remains.
   */
  pull(next: number): Uint8Array | undefined {
    while (this.held.length > 0) {
      const first = this.held[0];
      if (seqAfter(first.seq, next)) return undefined;
      this.held.shift(); // at most 128 entries
      this.heldBytes -= first.data.length;
      if (seqAfter(first.end, next)) {
        const skip = seqDiff(next, first.seq);
        return skip === 0 ? first.data : first.data.subarray(skip);
      }
    }
    return undefined;
  }

  /**
   * Up to `max` (≤ 4) SACK blocks for what is held: segments sorted by
   * sequence, touching or overlapping ones merged, lowest ranges first.
   */
  sackBlocks(max: number = SACK_MAX_BLOCKS): SackBlock[] {
    const out: SackBlock[] = [];
    let left = 0, right = 0, open = false;
    for (const h of this.held) {
      if (open && seqAfterOrEqual(right, h.seq)) {
        if (seqAfter(h.end, right)) right = h.end;
        continue;
      }
      if (open) {
        out.push({ left, right });
        if (out.length === max) return out;
      }
      left = h.seq, right = h.end, open = true;
    }
    if (open && out.length < max) out.push({ left, right });
    return out;
  }

  /** Drops everything. */
  clear(): void {
    this.held = [];
    this.heldBytes = 0;
  }

  /** Index of the first held segment whose start is not before `seq`. */
  private lowerBound(seq: number): number {
    let lo = 0, hi = this.held.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (seqBefore(this.held[mid].seq, seq)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
