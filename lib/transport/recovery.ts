/**
 * A stream's loss recovery and probing, beside {@link Rack} (time-based loss detection) and
 * congestion control: duplicate ACKs and fast retransmit, recovery episodes with their undo when
 * every retransmission proved spurious (RFC 6675, RFC 8985 §7.4.2 for probes), the tail loss probe
 * (RFC 8985 §7), the retransmission timer with its backoff and limit, and the zero-window
 * (persist) probe. Free of I/O: it sends through its {@link RecoveryHost}, the stream.
 * @module
 */
import type { CongestionControl } from "./congestion.ts";
import { Rack } from "./rack.ts";
import type { RtoEstimator } from "./rto.ts";
import type { Segment, SendBuffer } from "./send-buffer.ts";
import { seqAfterOrEqual } from "./seq.ts";
import {
  DELAYED_ACK_MS,
  DUP_ACK_THRESHOLD,
  ISN,
  MAX_TRANSMISSIONS,
  PERSIST_INITIAL_MS,
  PERSIST_MAX_MS,
  TLP_MAX_PROBES,
  TLP_SLACK_MS,
} from "./stream_constants.ts";

/** What loss recovery needs from its stream. */
export interface RecoveryHost {
  /** Oldest unacknowledged and next sequence number. */
  sndUna(): number;
  sndNxt(): number;
  /** The window the peer offers, in bytes (0: a zero window, probed by the persist timer). */
  peerWindowBytes(): number;
  /** Resends a segment (counted in the episode through {@link LossRecovery.onRetransmit}). */
  retransmit(seg: Segment, now: number): void;
  /** Sends up to one segment of queued new data if the peer's window allows; false when it did not. */
  sendNewForProbe(now: number): boolean;
  /** The retransmission limit was reached: reset the connection. */
  giveUp(): void;
}

/** Which recovery is running. */
type Phase = "none" | "fast" | "timeout";

/** Counters shown in the stream's stats. */
export interface RecoveryCounters {
  /** Fast retransmits (recovery episodes entered by duplicate ACKs or RACK). */
  fastRetx: number;
  /** Segments marked lost by time-based (RACK) detection. */
  rackLost: number;
  /** Tail loss probes sent. */
  tlpProbes: number;
  /** Retransmission timeouts. */
  timeouts: number;
  /** Retransmissions shown spurious (acknowledged sooner than a round trip). */
  spuriousRetx: number;
  /** Recoveries whose window reduction was undone because every retransmission was spurious. */
  undos: number;
  /** Duplicate ACKs received. */
  dupAcks: number;
}

/** Loss-recovery and probe state of one stream. */
export class LossRecovery {
  /** RACK: the newest delivered transmission and the reordering window. */
  readonly rack = new Rack();
  readonly counters: RecoveryCounters = {
    fastRetx: 0,
    rackLost: 0,
    tlpProbes: 0,
    timeouts: 0,
    spuriousRetx: 0,
    undos: 0,
    dupAcks: 0,
  };

  /** Duplicate ACKs in a row (fast retransmit at DUP_ACK_THRESHOLD). */
  #dupAcks = 0;
  /** The recovery running, the sequence number that ends it, and when it began. */
  #phase: Phase = "none";
  #recoveryPoint = ISN;
  #recoveryStart = 0;
  /** Retransmissions sent in the current episode, and how many of them are not known to be spurious. */
  #episodeRetx = 0;
  #episodeUnconfirmed = 0;
  /** Clock reading of the ACK being processed (for {@link delivered}). */
  #ackNow = 0;
  /** Last time data was delivered or new data was sent: the tail loss probe waits from here. */
  progressAt = 0;
  /** Probes sent since data was last delivered (each waits twice as long as the previous). */
  #probes = 0;
  /** A tail loss probe is waiting for its round trip: its send time, transmission order, end of data, and the segment it resent. */
  #probeOut = false;
  #probeSentAt = 0;
  #probeOrder = 0;
  #probeEnd = ISN;
  #probeSeg: Segment | undefined;
  /** The resent probe segment was shown spurious. */
  #probeSpurious = false;
  /** When the retransmission timer last fired (the next one waits from here at least). */
  #lastRtoAt = -Infinity;
  /** Retransmission timeouts since the cumulative ACK last advanced. */
  #backoffs = 0;
  /** Zero-window probe interval (doubles up to PERSIST_MAX_MS), and when the next probe is due. */
  persistInterval = PERSIST_INITIAL_MS;
  persistAt = Infinity;

  constructor(
    private readonly sendBuf: SendBuffer,
    private readonly cc: CongestionControl,
    private readonly rtt: RtoEstimator,
    private readonly mss: number,
    private readonly host: RecoveryHost,
  ) {}

  /** True while a recovery episode runs. */
  get inRecovery(): boolean {
    return this.#phase !== "none";
  }

  /** The cumulative ACK advanced to `ack`, acknowledging `acked` bytes. */
  onCumulativeAck(ack: number, acked: number, now: number): void {
    this.#dupAcks = 0;
    this.#lastRtoAt = -Infinity;
    this.#backoffs = 0;
    this.persistInterval = PERSIST_INITIAL_MS;
    this.progressAt = now;
    this.#probes = 0;
    // No growth during fast recovery, nor for the ACK that ends it (the window restarts at ssthresh).
    if (this.#phase !== "none" && seqAfterOrEqual(ack, this.#recoveryPoint)) this.#endRecovery();
    else if (this.#phase !== "fast") this.cc.onAck(acked);
    if (this.#probeOut && seqAfterOrEqual(ack, this.#probeEnd)) this.#probeAnswered();
  }

  /** A duplicate ACK (RFC 5681 §2): the third starts fast retransmit of the first unacknowledged segment. */
  onDuplicateAck(now: number): void {
    this.#dupAcks++;
    this.counters.dupAcks++;
    if (this.#dupAcks === DUP_ACK_THRESHOLD && this.#phase === "none") {
      // The draft's fast retransmit: the first unacknowledged segment is resent at once.
      this.sendBuf.markFrontLost();
      this.#enterFastRecovery(now);
    }
  }

  /** The clock reading of the ACK (cumulative or SACK) being processed. */
  ackAt(now: number): void {
    this.#ackNow = now;
  }

  /** New data was SACKed: progress for the probe timer. */
  onSackProgress(now: number): void {
    this.progressAt = now;
    this.#probes = 0;
  }

  /** New data was sent: the probe timer restarts from now. */
  onNewData(now: number): void {
    this.progressAt = now;
  }

  /** A segment was resent: counted in the running episode. */
  onRetransmit(): void {
    if (this.#phase !== "none") {
      this.#episodeRetx++;
      this.#episodeUnconfirmed++;
    }
  }

  /** Told once about every newly delivered (cumulatively acknowledged or SACKed) segment. */
  readonly delivered = (seg: Segment): void => {
    if (this.rack.onDelivered(seg, this.#ackNow) !== "spurious") return;
    this.counters.spuriousRetx++;
    this.rack.onSpurious(this.host.sndUna(), this.host.sndNxt());
    if (this.#phase !== "none" && seg.sentAt >= this.#recoveryStart) this.#episodeUnconfirmed--;
    if (seg === this.#probeSeg) this.#probeSpurious = true;
  };

  /** After an ACK's cumulative and selective parts: the probe's round trip, then time-based loss detection. */
  afterAck(now: number): void {
    if (this.#probeOut && this.rack.xmitOrder >= this.#probeOrder) this.#probeAnswered();
    this.detectLosses(now);
  }

  /** RACK: marks what is presumed lost, and starts a recovery episode if none is running. */
  detectLosses(now: number): void {
    if (this.sendBuf.length === 0) {
      this.rack.timerAt = Infinity;
      return;
    }
    const reo = this.rack.reoWnd(
      this.#phase !== "none",
      this.sendBuf.sackedBytes / this.mss,
      this.rtt.hasSample ? this.rtt.srtt : 0,
    );
    const lost = this.rack.detectLosses(this.sendBuf, now, reo);
    if (lost === 0) return;
    this.counters.rackLost += lost;
    // The retransmissions now due restart the probe timer: no probe is needed until they had their chance.
    this.progressAt = now;
    this.#probes = 0;
    if (this.#phase === "none") this.#enterFastRecovery(now);
  }

  /**
   * Starts a loss recovery episode: one multiplicative decrease for all losses
   * found until everything sent so far is acknowledged (RFC 6675), then the
   * first lost segment goes out regardless of the pipe (RFC 6675 §5 step 4.3).
   */
  #enterFastRecovery(now: number): void {
    this.#startEpisode(now);
    this.#phase = "fast";
    this.counters.fastRetx++;
    this.cc.onFastRetransmit();
    const seg = this.sendBuf.nextLost();
    if (seg) this.host.retransmit(seg, now);
  }

  #startEpisode(now: number): void {
    this.#recoveryPoint = this.host.sndNxt();
    this.#recoveryStart = now;
    this.#episodeRetx = this.#episodeUnconfirmed = 0;
    this.cc.saveForUndo();
  }

  /** Everything sent before the episode began is acknowledged; undo the reduction if no loss was real. */
  #endRecovery(): void {
    if (this.#episodeRetx > 0 && this.#episodeUnconfirmed <= 0) {
      this.cc.undo();
      this.counters.undos++;
    }
    this.#phase = "none";
    this.rack.onRecoveryEnd();
  }

  /** The probe's round trip completed. A probe that resent data repaired a loss: reduce once (RFC 8985 §7.4.2). */
  #probeAnswered(): void {
    this.#probeOut = false;
    if (
      this.#probeSeg && !this.#probeSpurious && this.#phase === "none" &&
      this.#recoveryStart < this.#probeSentAt
    ) {
      this.cc.onFastRetransmit();
    }
    this.#probeSeg = undefined;
  }

  /**
   * When a tail loss probe is due (Infinity: not armed): PTO after the last
   * progress, then, while nothing is delivered, after twice the previous wait
   * (so a few probes, not one, precede the retransmission timeout).
   */
  probeDeadline(): number {
    if (!this.rtt.hasSample || this.host.peerWindowBytes() === 0 || this.#probes >= TLP_MAX_PROBES) {
      return Infinity;
    }
    const n = this.sendBuf.length;
    if (n === 0) return Infinity;
    const { srtt, rttvar } = this.rtt;
    let pto = Math.max(2 * srtt, srtt + 4 * rttvar) + TLP_SLACK_MS;
    // A lone segment may be waiting for the peer's delayed ACK.
    if (n === 1) pto += DELAYED_ACK_MS;
    return this.#probes === 0 ? this.progressAt + pto : this.#probeSentAt + pto * 2 ** this.#probes;
  }

  /** Sends the tail loss probe: new data if the peer's window allows, else the highest unSACKed segment. */
  sendProbe(now: number): void {
    this.#probeSeg = undefined;
    this.#probeSpurious = false;
    if (!this.host.sendNewForProbe(now)) {
      let seg: Segment | undefined;
      for (let i = this.sendBuf.length - 1; i >= 0; i--) {
        const s = this.sendBuf.at(i)!;
        if (!s.sacked) {
          seg = s;
          break;
        }
      }
      if (!seg) {
        this.#probes = TLP_MAX_PROBES; // everything is SACKed: nothing to probe with until an ACK comes
        return;
      }
      this.host.retransmit(seg, now);
      this.#probeSeg = seg;
    }
    this.counters.tlpProbes++;
    this.#probes++;
    this.#probeOut = true;
    this.#probeSentAt = now;
    this.#probeOrder = this.sendBuf.lastOrder;
    this.#probeEnd = this.host.sndNxt();
  }

  /** When the retransmission (or zero-window probe) timer for `head`, the oldest segment, fires. */
  retransmitDeadline(head: Segment): number {
    const from = head.sentAt > this.#lastRtoAt ? head.sentAt : this.#lastRtoAt;
    return from + (this.host.peerWindowBytes() === 0 ? this.persistInterval : this.rtt.rto);
  }

  /** Retransmission timer for the oldest unacknowledged segment (or a zero-window probe). */
  onRetransmitTimer(now: number, head: Segment): void {
    if (this.host.peerWindowBytes() === 0) {
      // Persist: the receiver said 0, so this is a window probe; it never counts toward the limit.
      this.persistInterval = Math.min(this.persistInterval * 2, PERSIST_MAX_MS);
      this.host.retransmit(head, now);
      return;
    }
    if (this.#backoffs >= MAX_TRANSMISSIONS - 1) {
      this.host.giveUp();
      return;
    }
    this.#backoffs++;
    this.counters.timeouts++;
    if (this.#phase === "none") this.#startEpisode(now);
    else this.#recoveryPoint = this.host.sndNxt();
    if (this.#phase !== "timeout") this.cc.onTimeout();
    else this.cc.cwnd = this.mss;
    this.#phase = "timeout";
    this.#lastRtoAt = now;
    this.#dupAcks = 0;
    this.#probeOut = false;
    this.#probeSeg = undefined;
    this.#probes = 0;
    this.progressAt = now;
    this.rtt.backoff();
    // Everything outstanding and not SACKed is presumed lost; the ACK clock resends the rest.
    this.sendBuf.restartLossScan();
    this.sendBuf.markLostUpTo(this.host.sndNxt());
    const seg = this.sendBuf.nextLost() ?? head;
    this.host.retransmit(seg, now);
  }
}
