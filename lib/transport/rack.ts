/**
 * Time-based loss detection after RACK (RFC 8985 §6): a segment is presumed
 * lost once a segment sent after it has been delivered (cumulatively or
 * selectively acknowledged) and a reordering window has passed on top of that
 * delivery's round trip. Comparing send times instead of counting duplicate
 * ACKs also finds lost retransmissions (a retransmission has a new send time),
 * which otherwise wait for the retransmission timer. Without timestamps or
 * DSACK on the wire, a retransmission is known to have been spurious when its
 * acknowledgement returns faster than any round trip seen (RFC 8985 §6.2 step
 * 2); that widens the reordering window. Local sender behaviour only.
 * @module
 */
import type { Segment, SendBuffer } from "./send-buffer.ts";
import { seqAfter, seqAfterOrEqual } from "./seq.ts";

/** Before any reordering is seen, loss is declared at once when this many segments are SACKed (RFC 8985 DupThresh). */
export const RACK_DUP_THRESH = 3;
/** The reordering window is this many quarters of the minimum RTT at most (it also never exceeds SRTT). */
export const REO_WND_MAX_MULT = 16;
/** Loss recoveries without a spurious retransmission after which the reordering window shrinks back (RFC 8985). */
export const REO_WND_PERSIST = 16;
/** A minimum-RTT sample older than this is replaced by the next sample (the path may have changed). */
export const MIN_RTT_WINDOW_MS = 10_000;

/**
 * What one delivered segment told {@link Rack.onDelivered}: `fresh` (RACK state
 * updated), `spurious` (a retransmitted segment acknowledged sooner than any
 * round trip takes, so the original arrived), `ambiguous` (a retransmitted
 * segment delivered before any RTT is known).
 */
export type Delivery = "fresh" | "spurious" | "ambiguous";

/**
 * One connection's RACK state. The sender reports each newly delivered segment
 * ({@link onDelivered}), then calls {@link detectLosses} once per ACK and again
 * at {@link timerAt}, and retransmits what it marked.
 */
export class Rack {
  /** Send time of the most recently sent segment known to be delivered (-Infinity before the first). */
  xmitTs = -Infinity;
  /** Send order ({@link Segment.order}) of that segment; 0 before the first. */
  xmitOrder = 0;
  /** Round trip of that segment's delivery, ms. */
  rtt = 0;
  /** Smallest RTT measured from a segment sent once, ms (Infinity before the first). */
  minRtt = Infinity;
  /** Whether a segment sent once was delivered below the highest delivered sequence (reordering). */
  reorderingSeen = false;
  /** When a segment waiting out the reordering window becomes lost (Infinity: none waits). */
  timerAt = Infinity;
  private minRttAt = -Infinity;
  private fack = 0;
  private hasFack = false;
  private reoMult = 1;
  private spuriousRoundEnd = 0;
  private inSpuriousRound = false;
  private recoveriesSinceSpurious = 0;

  /**
   * Records the delivery of `seg` at `now` (once per segment: when it is first
   * SACKed, or cumulatively acknowledged without having been SACKed).
   */
  onDelivered(seg: Segment, now: number): Delivery {
    const rtt = now - seg.sentAt;
    if (seg.attempts > 1 && !(rtt >= this.minRtt)) {
      return this.minRtt < Infinity ? "spurious" : "ambiguous";
    }
    if (seg.attempts === 1) {
      if (rtt <= this.minRtt || now - this.minRttAt > MIN_RTT_WINDOW_MS) {
        this.minRtt = rtt;
        this.minRttAt = now;
      }
      if (this.hasFack && seqAfter(this.fack, seg.end)) this.reorderingSeen = true;
    }
    if (!this.hasFack || seqAfter(seg.end, this.fack)) {
      this.fack = seg.end;
      this.hasFack = true;
    }
    if (seg.order > this.xmitOrder) {
      this.xmitTs = seg.sentAt;
      this.xmitOrder = seg.order;
      this.rtt = rtt;
    }
    return "fresh";
  }

  /**
   * A retransmission turned out spurious: the reordering window grows by a
   * quarter of the minimum RTT, at most once per round trip (data sent up to
   * `sndNxt` must be acknowledged first, RFC 8985 §6.2 step 4).
   */
  onSpurious(sndUna: number, sndNxt: number): void {
    if (this.inSpuriousRound && !seqAfterOrEqual(sndUna, this.spuriousRoundEnd)) return;
    this.inSpuriousRound = true;
    this.spuriousRoundEnd = sndNxt;
    this.recoveriesSinceSpurious = 0;
    if (this.reoMult < REO_WND_MAX_MULT) this.reoMult++;
  }

  /** A loss recovery ended; after {@link REO_WND_PERSIST} without spurious retransmissions the window resets. */
  onRecoveryEnd(): void {
    if (++this.recoveriesSinceSpurious >= REO_WND_PERSIST) {
      this.reoMult = 1;
      this.recoveriesSinceSpurious = 0;
    }
  }

  /**
   * The reordering window (ms): 0 while no reordering has been seen and the
   * sender is recovering or already holds `sackedSegments` ≥ DupThresh;
   * otherwise multiples of min_RTT/4, never above `srtt`.
   */
  reoWnd(inRecovery: boolean, sackedSegments: number, srtt: number): number {
    if (!this.reorderingSeen && (inRecovery || sackedSegments >= RACK_DUP_THRESH)) return 0;
    if (!(this.minRtt < Infinity)) return 0;
    const w = this.reoMult * this.minRtt / 4;
    return srtt > 0 && srtt < w ? srtt : w;
  }

  /**
   * Marks as lost every segment of `buf` (not SACKed, not already marked) that
   * was sent before the most recently delivered one and has waited its round
   * trip plus `reoWnd` (ms); returns how many it marked and sets
   * {@link timerAt} to when the next waiting segment would qualify.
   */
  detectLosses(buf: SendBuffer, now: number, reoWnd: number): number {
    this.timerAt = Infinity;
    if (this.xmitOrder === 0) return 0;
    let lost = 0;
    for (let i = 0;; i++) {
      const seg = buf.at(i);
      if (!seg) break;
      if (seg.sacked || seg.lost) continue;
      if (seg.order > this.xmitOrder) {
        // Sequence order is send order for first transmissions, so no later segment qualifies either.
        if (seg.attempts === 1) break;
        continue;
      }
      const at = seg.sentAt + this.rtt + reoWnd;
      if (at <= now) {
        buf.markLostAt(i);
        lost++;
      } else if (at < this.timerAt) this.timerAt = at;
    }
    return lost;
  }
}
