/**
 * Congestion window (docs/protocol/transport.md §6.5, draft column): initial window of 10
 * segments (RFC 6928), slow start and congestion avoidance with appropriate
 * byte counting (RFC 3465), multiplicative decrease when fast retransmit starts
 * a recovery, and a Tahoe reset to one segment on a retransmission timeout.
 * A reduction can be undone when the sender later learns that every
 * retransmission of the recovery was spurious (RFC 8985 §6.2, RFC 4015).
 * All sizes are bytes; the window never exceeds 1 MB.
 * @module
 */

/** Initial congestion window, in segments. */
export const INITIAL_WINDOW_SEGMENTS = 10;
/** Largest congestion window, in bytes. */
export const MAX_CWND_BYTES = 1_048_576;
/** Initial slow-start threshold (half the maximum window, as the reference). */
export const INITIAL_SSTHRESH_BYTES = MAX_CWND_BYTES / 2;
/** Lower bound of ssthresh after a loss, in segments (RFC 5681). */
export const MIN_SSTHRESH_SEGMENTS = 2;
/** ABC limit L: slow start grows by at most this many segments per ACK (RFC 3465 §2.2). */
export const ABC_LIMIT_SEGMENTS = 2;

/**
 * One connection's congestion window. The sender calls {@link onAck} for
 * every cumulative ACK that acknowledges new data outside fast recovery,
 * {@link onFastRetransmit} when three duplicate ACKs start a recovery, and
 * {@link onTimeout} once per retransmission-timeout loss event.
 */
export class CongestionControl {
  /** Congestion window in bytes. */
  cwnd: number;
  /** Slow-start threshold in bytes. */
  ssthresh: number = INITIAL_SSTHRESH_BYTES;
  /** Bytes acknowledged since the window last grew in congestion avoidance. */
  private avoidanceBytes = 0;
  private undoCwnd = 0;
  private undoSsthresh = 0;

  /** `mss` is the sender's segment size in bytes (a positive integer). */
  constructor(readonly mss: number) {
    if (!Number.isInteger(mss) || mss <= 0) {
      throw new RangeError(`mss must be a positive integer, got ${mss}`);
    }
    this.cwnd = Math.min(INITIAL_WINDOW_SEGMENTS * mss, MAX_CWND_BYTES);
  }

  /** True while the window is below ssthresh. */
  get inSlowStart(): boolean {
    return this.cwnd < this.ssthresh;
  }

  /**
   * Grows the window for `bytesAcked` newly acknowledged bytes: in slow start by
   * min(bytesAcked, L·MSS); in congestion avoidance by one MSS each time a full
   * window's worth of bytes has been acknowledged.
   */
  onAck(bytesAcked: number): void {
    if (bytesAcked <= 0) return;
    if (this.cwnd < this.ssthresh) {
      this.cwnd += Math.min(bytesAcked, ABC_LIMIT_SEGMENTS * this.mss);
      this.avoidanceBytes = 0;
    } else {
      this.avoidanceBytes += bytesAcked;
      if (this.avoidanceBytes >= this.cwnd) {
        this.avoidanceBytes -= this.cwnd;
        this.cwnd += this.mss;
      }
    }
    if (this.cwnd > MAX_CWND_BYTES) this.cwnd = MAX_CWND_BYTES;
  }

  /** Multiplicative decrease at the start of fast recovery: ssthresh = cwnd = max(cwnd/2, 2·MSS). */
  onFastRetransmit(): void {
    this.ssthresh = this.lossThreshold();
    this.cwnd = this.ssthresh;
    this.avoidanceBytes = 0;
  }

  /** Retransmission timeout: ssthresh = max(cwnd/2, 2·MSS), cwnd = 1 MSS (Tahoe). */
  onTimeout(): void {
    this.ssthresh = this.lossThreshold();
    this.cwnd = this.mss;
    this.avoidanceBytes = 0;
  }

  /** Remembers the current window and threshold, before the reductions of a new recovery episode. */
  saveForUndo(): void {
    this.undoCwnd = this.cwnd;
    this.undoSsthresh = this.ssthresh;
  }

  /** The episode's losses were not real: restores what {@link saveForUndo} kept (never shrinking the window). */
  undo(): void {
    if (this.undoCwnd > this.cwnd) this.cwnd = this.undoCwnd;
    if (this.undoSsthresh > this.ssthresh) this.ssthresh = this.undoSsthresh;
    this.avoidanceBytes = 0;
  }

  private lossThreshold(): number {
    return Math.max(Math.floor(this.cwnd / 2), MIN_SSTHRESH_SEGMENTS * this.mss);
  }
}
