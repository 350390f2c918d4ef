/**
 * The sender's retransmission queue (docs/protocol/transport.md §5.1, §6.1–6.3): segments
 * sent but not yet cumulatively acknowledged, in sequence order, each with its
 * last send time, transmission count and SACK/loss marks. It keeps running
 * totals so the sender can compute the RFC 6675 "pipe" (bytes believed to be
 * in the network) in O(1), and cursors so that loss marking and finding the
 * next segment to retransmit are amortised O(1) per segment.
 * @module
 */
import { Ring } from "./ring.ts";
import { seqAfter, seqAfterOrEqual, seqBefore, seqBeforeOrEqual } from "./seq.ts";

/** One transmitted segment. `data` is kept unchanged so retransmissions reuse the original boundaries. */
export interface Segment {
  /** Sequence number of the first byte. */
  readonly seq: number;
  /** Sequence number just after the last byte. */
  readonly end: number;
  /** Payload (often a view into the application's written chunk). */
  readonly data: Uint8Array;
  /** Time of the latest transmission (ms). */
  sentAt: number;
  /**
   * Position of the latest transmission in this buffer's send order (set by
   * {@link SendBuffer.push} and {@link SendBuffer.retransmitted}): tells which of
   * two segments sent at the same clock reading went out last.
   */
  order: number;
  /** Transmissions so far (1 after the first send). */
  attempts: number;
  /** Covered by a SACK block: the receiver holds it, so it is not retransmitted. */
  sacked: boolean;
  /** Presumed lost and waiting to be retransmitted. */
  lost: boolean;
}

/**
 * Unacknowledged segments ordered by sequence number (contiguous: each starts
 * where the previous ends). Absolute indices (`base` + position) let cursors
 * survive removals at the front.
 */
export class SendBuffer {
  private ring = new Ring<Segment>(64);
  /** Absolute index of the front segment. */
  private base = 0;
  /** Next absolute index the loss scan looks at. */
  private markCursor = 0;
  /** No segment before this absolute index is marked lost. */
  private retxCursor = 0;
  private totalBytes = 0;
  private transmissions = 0;
  private sackedTotal = 0;
  private lostTotal = 0;
  /** Send time of the newest segment removed by the last {@link ackTo} that is a valid RTT sample, or -1. */
  rttSampleSentAt = -1;

  /** Number of segments held. */
  get length(): number {
    return this.ring.length;
  }

  /** Sum of the held payload lengths. */
  get bytes(): number {
    return this.totalBytes;
  }

  /** Bytes in segments marked as SACKed. */
  get sackedBytes(): number {
    return this.sackedTotal;
  }

  /** Bytes in segments marked as lost and not yet retransmitted. */
  get lostBytes(): number {
    return this.lostTotal;
  }

  /** {@link Segment.order} of the latest transmission. */
  get lastOrder(): number {
    return this.transmissions;
  }

  /** RFC 6675 pipe: held bytes minus SACKed bytes minus bytes presumed lost. */
  get pipe(): number {
    return this.totalBytes - this.sackedTotal - this.lostTotal;
  }

  /** The oldest segment. */
  first(): Segment | undefined {
    return this.ring.peek();
  }

  /** The newest segment. */
  last(): Segment | undefined {
    return this.ring.peekLast();
  }

  /** Appends a freshly sent segment (its seq must follow the previous segment's end). */
  push(seg: Segment): void {
    seg.order = ++this.transmissions;
    this.ring.push(seg);
    this.totalBytes += seg.data.length;
  }

  /** The segment at position `i` from the front (0 = oldest), or undefined. */
  at(i: number): Segment | undefined {
    return this.ring.at(i);
  }

  /**
   * Removes every segment wholly covered by cumulative ACK `ack` and returns
   * the number of payload bytes removed. Sets {@link rttSampleSentAt} from the
   * newest removed segment that was sent once and never SACKed (Karn).
   * `delivered` is called for each removed segment that was not already SACKed
   * (so each segment is reported delivered once, for loss detection).
   */
  ackTo(ack: number, delivered?: (seg: Segment) => void): number {
    let removed = 0;
    this.rttSampleSentAt = -1;
    for (let seg = this.ring.peek(); seg && seqAfterOrEqual(ack, seg.end); seg = this.ring.peek()) {
      this.ring.shift();
      this.base++;
      const len = seg.data.length;
      removed += len;
      if (seg.sacked) this.sackedTotal -= len;
      else {
        if (seg.attempts === 1) this.rttSampleSentAt = seg.sentAt;
        delivered?.(seg);
      }
      if (seg.lost) this.lostTotal -= len;
    }
    this.totalBytes -= removed;
    if (this.markCursor < this.base) this.markCursor = this.base;
    if (this.retxCursor < this.base) this.retxCursor = this.base;
    return removed;
  }

  /**
   * Marks every held segment lying entirely inside [left, right) as SACKed and
   * returns the bytes newly marked. Blocks that are empty, inverted or outside
   * the held range mark nothing. `delivered` is called for each newly marked segment.
   */
  markSacked(left: number, right: number, delivered?: (seg: Segment) => void): number {
    if (!seqAfter(right, left) || this.ring.length === 0) return 0;
    let i = this.indexAtOrAfter(left);
    let marked = 0;
    for (let seg = this.ring.at(i); seg && seqBeforeOrEqual(seg.end, right); seg = this.ring.at(++i)) {
      if (seg.sacked) continue;
      seg.sacked = true;
      const len = seg.data.length;
      this.sackedTotal += len;
      marked += len;
      if (seg.lost) {
        seg.lost = false;
        this.lostTotal -= len;
      }
      delivered?.(seg);
    }
    return marked;
  }

  /** Restarts loss marking and retransmission scanning from the front (a new recovery episode). */
  restartLossScan(): void {
    this.markCursor = this.retxCursor = this.base;
  }

  /**
   * Marks as lost each segment not yet examined in this episode that ends at
   * or before `limit` and is not SACKed (RFC 6675-style: data below the highest
   * SACKed sequence that the receiver still lacks).
   */
  markLostUpTo(limit: number): void {
    for (;;) {
      const seg = this.ring.at(this.markCursor - this.base);
      if (!seg || seqAfter(seg.end, limit)) return;
      if (!seg.sacked && !seg.lost) this.markLost(seg, this.markCursor);
      this.markCursor++;
    }
  }

  /** Marks the front segment lost unless it is SACKed or already marked. */
  markFrontLost(): void {
    const seg = this.ring.peek();
    if (seg && !seg.sacked && !seg.lost) this.markLost(seg, this.base);
    if (this.markCursor === this.base) this.markCursor++;
  }

  /** Marks the segment at position `i` from the front lost (no-op if it is SACKed or already marked). */
  markLostAt(i: number): void {
    const seg = this.ring.at(i);
    if (seg && !seg.sacked && !seg.lost) this.markLost(seg, this.base + i);
  }

  /** The lowest segment marked lost, or undefined. */
  nextLost(): Segment | undefined {
    if (this.lostTotal === 0) return undefined;
    // Invariant: no lost segment lies before retxCursor, so the scan stops at the first one.
    for (;;) {
      const seg = this.ring.at(this.retxCursor - this.base);
      if (!seg) return undefined;
      if (seg.lost) return seg;
      this.retxCursor++;
    }
  }

  /** Records a retransmission of `seg` at `now`: counts the attempt and clears its loss mark. */
  retransmitted(seg: Segment, now: number): void {
    seg.attempts++;
    seg.sentAt = now;
    seg.order = ++this.transmissions;
    if (seg.lost) {
      seg.lost = false;
      this.lostTotal -= seg.data.length;
    }
  }

  /** Drops everything. */
  clear(): void {
    this.base += this.ring.length;
    this.ring.clear();
    this.markCursor = this.retxCursor = this.base;
    this.totalBytes = this.sackedTotal = this.lostTotal = 0;
  }

  private markLost(seg: Segment, abs: number): void {
    seg.lost = true;
    this.lostTotal += seg.data.length;
    if (abs < this.retxCursor) this.retxCursor = abs;
  }

  /** Position (from the front) of the first segment starting at or after `seq`. */
  private indexAtOrAfter(seq: number): number {
    let lo = 0, hi = this.ring.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (seqBefore(this.ring.at(mid)!.seq, seq)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
