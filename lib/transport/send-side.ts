/**
 * A stream's send side (docs/protocol/transport.md §4–§6): the bytes written and not yet segmented, the segments
 * in flight, the peer's window, Nagle, congestion control, the RTO estimator and loss recovery.
 * It turns written bytes into segments as the windows allow and processes the peer's cumulative
 * and selective acknowledgements; the stream puts each segment on the wire ({@link SendSideHost}).
 * @module
 */
import { CongestionControl } from "./congestion.ts";
import { LossRecovery } from "./recovery.ts";
import { RtoEstimator } from "./rto.ts";
import { dataLooksLikeSack, decodeSack } from "./sack.ts";
import { type Segment, SendBuffer } from "./send-buffer.ts";
import { seqAdd, seqAfter, seqAfterOrEqual, seqBeforeOrEqual, seqDiff } from "./seq.ts";
import { DEFAULT_PEER_WINDOW_UNITS, ISN, NAGLE_DELAY_MS, PERSIST_MAX_MS } from "./stream_constants.ts";
import { WriteQueue } from "./write-queue.ts";

/** First byte of a SACK option: data starting with it may be sent alone (§5.4). */
const BYTE_S = 0x53;

/** What the send side needs from its stream. */
export interface SendSideHost {
  /** Puts a data segment on the wire (with ACK, our cumulative ack and window). */
  transmit(seg: Segment): void;
  /** New data went out at `now` (connection activity). */
  sentNew(now: number): void;
  /** The retransmission limit was reached: reset the connection. */
  giveUp(): void;
}

/** Outgoing data of one stream. */
export class SendSide {
  /** Oldest unacknowledged sequence number, and the next one to send. */
  sndUna = ISN;
  sndNxt = ISN;
  /** Segments sent and not yet cumulatively acknowledged. */
  readonly sendBuf = new SendBuffer();
  /** Bytes written and not yet segmented (at most `bufferBytes`). */
  readonly writeQ = new WriteQueue();
  readonly cc: CongestionControl;
  readonly rtt = new RtoEstimator();
  /** Loss recovery, probes and their timers. */
  readonly recovery: LossRecovery;
  /** The window the peer offers, in bytes, and the Window field it came in. */
  peerWindowBytes: number;
  peerWindowField = DEFAULT_PEER_WINDOW_UNITS;
  /** Nagle on, and when a held sub-MSS remainder goes anyway (Infinity: none held). */
  nagle: boolean;
  nagleAt = Infinity;
  /** A write was short: `onWritable` is due once half the buffer is free. */
  wantWritable = false;
  /** Payload bytes sent (first transmissions), segments resent, SACK options received. */
  bytesSent = 0;
  retransmits = 0;
  sackRecv = 0;

  constructor(
    readonly mss: number,
    /** Bytes per unit of the peer's Window field. */
    private readonly windowUnit: number,
    /** Written-but-unsegmented bytes accepted. */
    readonly bufferBytes: number,
    nagle: boolean,
    private readonly host: SendSideHost,
  ) {
    this.nagle = nagle;
    this.cc = new CongestionControl(mss);
    this.peerWindowBytes = DEFAULT_PEER_WINDOW_UNITS * windowUnit;
    this.recovery = new LossRecovery(this.sendBuf, this.cc, this.rtt, mss, {
      sndUna: () => this.sndUna,
      sndNxt: () => this.sndNxt,
      peerWindowBytes: () => this.peerWindowBytes,
      retransmit: (seg, now) => this.retransmit(seg, now),
      sendNewForProbe: (now) => this.sendNewForProbe(now),
      giveUp: () => host.giveUp(),
    });
  }

  /** Bytes sent and not yet acknowledged. */
  get inFlight(): number {
    return seqDiff(this.sndNxt, this.sndUna);
  }

  /**
   * Sends what the windows allow: lost segments first, then new data (Nagle, SACK-lookalike
   * rule). Returns true when a short write may now be told there is room (`onWritable`).
   */
  flush(now: number, closing: boolean): boolean {
    const mss = this.mss;
    for (;;) {
      if (this.sendBuf.pipe >= this.cc.cwnd) break;
      const lost = this.sendBuf.nextLost();
      if (lost) {
        this.retransmit(lost, now);
        continue;
      }
      const queued = this.writeQ.length;
      if (queued === 0) break;
      const inflight = seqDiff(this.sndNxt, this.sndUna);
      if (inflight >= this.peerWindowBytes) {
        const r = this.recovery;
        if (this.peerWindowBytes === 0 && inflight === 0 && r.persistAt === Infinity) {
          r.persistAt = now + r.persistInterval;
        }
        break;
      }
      let size = queued < mss ? queued : mss;
      if (size < mss && this.nagle && inflight > 0) {
        if (this.nagleAt === Infinity) this.nagleAt = now + NAGLE_DELAY_MS;
        if (now < this.nagleAt) break;
      }
      // A segment that would parse as a SACK option is sent with its first byte alone (§5.4).
      if (this.writeQ.byteAt(0) === BYTE_S && dataLooksLikeSack(size, (i) => this.writeQ.byteAt(i))) size = 1;
      if (size < mss) this.nagleAt = Infinity;
      this.sendNew(this.writeQ.take(size), now);
    }
    if (this.writeQ.length === 0) this.nagleAt = Infinity;
    if (this.wantWritable && this.writeQ.length <= this.bufferBytes / 2 && !closing) {
      this.wantWritable = false;
      return true;
    }
    return false;
  }

  /** Sends `data` as a new segment. */
  sendNew(data: Uint8Array, now: number): void {
    const seg: Segment = {
      seq: this.sndNxt,
      end: seqAdd(this.sndNxt, data.length),
      data,
      sentAt: now,
      order: 0,
      attempts: 1,
      sacked: false,
      lost: false,
    };
    this.sendBuf.push(seg);
    this.sndNxt = seg.end;
    this.host.sentNew(now);
    this.recovery.onNewData(now);
    this.bytesSent += data.length;
    this.host.transmit(seg);
  }

  /** Resends a segment. */
  retransmit(seg: Segment, now: number): void {
    this.sendBuf.retransmitted(seg, now);
    this.retransmits++;
    this.recovery.onRetransmit();
    this.host.transmit(seg);
  }

  /** Tail loss probe with new data: one segment of the write queue, if the peer's window allows. */
  sendNewForProbe(now: number): boolean {
    const queued = this.writeQ.length;
    if (queued === 0 || seqDiff(this.sndNxt, this.sndUna) >= this.peerWindowBytes) return false;
    let size = queued < this.mss ? queued : this.mss;
    if (this.writeQ.byteAt(0) === BYTE_S && dataLooksLikeSack(size, (i) => this.writeQ.byteAt(i))) size = 1;
    this.sendNew(this.writeQ.take(size), now);
    return true;
  }

  /**
   * Processes the Ack field (with the packet's Window field; `pure` when it carried no data);
   * returns true when it acknowledged new data.
   */
  onAck(ack: number, window: number, now: number, pure: boolean): boolean {
    if (seqAfter(ack, this.sndNxt)) return false; // acknowledges data never sent: ignore
    if (seqAfter(ack, this.sndUna)) {
      const acked = seqDiff(ack, this.sndUna);
      this.sndUna = ack;
      this.recovery.ackAt(now);
      this.sendBuf.ackTo(ack, this.recovery.delivered);
      const sentAt = this.sendBuf.rttSampleSentAt;
      if (sentAt >= 0) this.rtt.sample(now - sentAt);
      this.recovery.onCumulativeAck(ack, acked, now);
      return true;
    }
    // Duplicate: RFC 5681 §2 — pure (SACK counts as pure), same window, data outstanding;
    // answers to zero-window probes are not loss signals.
    if (
      ack === this.sndUna && pure && window === this.peerWindowField && window !== 0 &&
      this.sndNxt !== this.sndUna
    ) {
      this.recovery.onDuplicateAck(now);
    }
    return false;
  }

  /** A SACK option: marks the blocks inside [sndUna, sndNxt] as delivered. */
  onSack(payload: Uint8Array, now: number): void {
    this.sackRecv++;
    this.recovery.ackAt(now);
    for (const { left, right } of decodeSack(payload)) {
      // Only blocks inside [sndUna, sndNxt] mean anything; the rest are stale or bogus.
      if (!seqAfterOrEqual(left, this.sndUna) || !seqBeforeOrEqual(right, this.sndNxt)) continue;
      if (this.sendBuf.markSacked(left, right, this.recovery.delivered) > 0) {
        this.recovery.onSackProgress(now);
      }
    }
  }

  /** The peer's Window field. */
  setPeerWindow(field: number): void {
    this.peerWindowField = field;
    const bytes = field * this.windowUnit;
    if (bytes > 0) this.recovery.persistAt = Infinity;
    this.peerWindowBytes = bytes;
  }

  /** SYN / SYN+ACK windows: 0 there means "unknown" (ref semantics), so assume the reference's 512. */
  takeHandshakeWindow(field: number): void {
    this.setPeerWindow(field === 0 ? DEFAULT_PEER_WINDOW_UNITS : field);
  }

  /**
   * Runs the send side's timers that are due at `now`: the retransmission timer for the oldest
   * segment, else RACK's loss timer and the tail-loss probe, and with nothing in flight the
   * persist timer's zero-window probe. Only the retransmission timer may give up on the
   * connection ({@link SendSideHost.giveUp}), so the stream checks its state afterwards.
   */
  onTimers(now: number): void {
    const head = this.sendBuf.first();
    const r = this.recovery;
    if (head && now >= r.retransmitDeadline(head)) r.onRetransmitTimer(now, head);
    else if (head) {
      if (now >= r.rack.timerAt) r.detectLosses(now);
      if (now >= r.probeDeadline()) r.sendProbe(now);
    } else if (now >= r.persistAt) {
      r.persistAt = Infinity;
      if (this.peerWindowBytes === 0 && this.writeQ.length > 0) {
        this.sendNew(this.writeQ.take(1), now);
        r.persistInterval = Math.min(r.persistInterval * 2, PERSIST_MAX_MS);
      }
    }
  }

  /** The earlier of `t` and the send side's next timer (see {@link onTimers}). */
  deadline(t: number): number {
    const head = this.sendBuf.first();
    const r = this.recovery;
    if (head) return Math.min(t, r.retransmitDeadline(head), r.rack.timerAt, r.probeDeadline());
    return r.persistAt < t ? r.persistAt : t;
  }

  /** Forgets everything unsent and unacknowledged (close, reset). */
  clear(): void {
    this.writeQ.clear();
    this.sendBuf.clear();
    this.sndUna = this.sndNxt;
  }
}
