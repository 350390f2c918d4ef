/**
 * One stream connection's state machine (docs/protocol/transport.md §2–§8), free of I/O.
 * Inputs: packets for this connection ({@link Stream.handlePacket}), the
 * application's `write`/`read`/`close`, and timer wake-ups through the host's
 * {@link TimerService}. Outputs: packets handed to the host's `send`, and
 * events (`onOpen`, `onReadable`, `onWritable`, `onClose`).
 *
 * Memory is bounded on both sides: `write` accepts at most the send-buffer
 * size of not-yet-segmented bytes (returning how many it took), unacknowledged
 * data is bounded by the congestion window (≤ 1 MB), and unread received data
 * shrinks the advertised window, with a hard cap beyond it for peers that
 * ignore a zero window.
 *
 * This file is the state machine only; its parts live beside it: send-side.ts (segments, windows,
 * loss recovery and their timers), receive-buffer.ts, stream_output.ts (the packets we send),
 * lifecycle.ts (handshake, FIN, linger, TIME_WAIT, keepalive and idle clocks), stream_signals.ts
 * (events, ACK clock), stream_options.ts and stream_stats.ts.
 * @module
 */
import { FLAG_ACK, FLAG_FIN, FLAG_RST, FLAG_SYN } from "../protocol/header.ts";
import type { Address } from "../protocol/address.ts";
import type { Packet } from "../protocol/packet.ts";
import { ReceiveBuffer } from "./receive-buffer.ts";
import { isSack } from "./sack.ts";
import { seqAdd, seqBeforeOrEqual } from "./seq.ts";
import type { TimerService, TimerTarget } from "./timers.ts";
import { SendSide } from "./send-side.ts";
import { LifecycleTimers } from "./lifecycle.ts";
import { AckClock, PendingEvents } from "./stream_signals.ts";
import { StreamOutput } from "./stream_output.ts";
import { buildStreamStats } from "./stream_stats.ts";
import { resolveStreamOptions } from "./stream_options.ts";
import { judgeRst } from "./rst_check.ts";
import { ACK_STRETCH_SEGMENTS, CLOSE_LINGER_MS, IDLE_TIMEOUT_MS, ISN } from "./stream_constants.ts";
import {
  type CloseReason,
  type StreamHost,
  type StreamInit,
  type StreamState,
  StreamStateError,
  type StreamStats,
} from "./stream_types.ts";

export * from "./stream_constants.ts";
export * from "./stream_types.ts";

/**
 * A stream connection. Created by the session manager (dial or accepted SYN);
 * the application uses {@link write}, {@link read}, {@link close},
 * {@link abort} and the `on*` callbacks. Callbacks run after the stream has
 * finished processing the event that caused them, so they may call back in.
 */
export class Stream implements TimerTarget {
  readonly id: number;
  readonly localAddr: Address;
  readonly localPort: number;
  readonly remoteAddr: Address;
  readonly remotePort: number;
  readonly mss: number;

  /** Connection established (dialer: SYN+ACK received). */
  onOpen?: () => void;
  /** New data can be read, or the end of the stream was reached. */
  onReadable?: () => void;
  /** After `write` accepted less than offered: there is room again. */
  onWritable?: () => void;
  /** The connection can no longer send (reason given); unread data may still be read. Fires once. */
  onClose?: (reason: CloseReason) => void;
  /** Dial hook: the `expiries`-th SYN timer ran out and another SYN is about to be sent. */
  onSynTimeout?: (expiries: number) => void;

  /** The owner: sends our packets, hears about state changes. */
  private host: StreamHost;
  /** Clock and wake-ups (the host's). */
  private timers: TimerService;
  private _state: StreamState = "CLOSED";

  /** Outgoing data: write queue, segments in flight, windows, congestion control, loss recovery. */
  private readonly tx: SendSide;
  /** close() was called or the connection ended: nothing more is written. */
  private closing = false;

  /** Incoming data: next expected sequence number, out-of-order segments, unread bytes, the end. */
  private readonly rx: ReceiveBuffer;
  /** When our ACKs go out (delayed, quick). */
  private readonly acks = new AckClock();
  /** The packets we send, built from the current sequence numbers and window. */
  private readonly out: StreamOutput;

  /** SYN schedule, FIN retransmissions, linger, TIME_WAIT, keepalive and idle clocks. */
  private readonly life = new LifecycleTimers();
  /** When the host's timer is armed for us (Infinity: not armed). */
  private wakeAt = Infinity;

  /** Application events raised by the current step, fired when it ends. */
  private readonly ev = new PendingEvents();
  /** onClose was raised already (it fires once). */
  private closeReported = false;
  /** Why the connection closed, once it has. */
  closeReason: CloseReason | undefined;

  constructor(init: StreamInit) {
    const o = resolveStreamOptions(init.options);
    this.id = init.id;
    this.host = init.host;
    this.timers = init.host.timers;
    this.localAddr = init.localAddr;
    this.localPort = init.localPort;
    this.remoteAddr = init.remoteAddr;
    this.remotePort = init.remotePort;
    this.mss = o.mss;
    this.rx = new ReceiveBuffer(o.recvBufferBytes, () => this.ev.readable = true);
    this.tx = new SendSide(o.mss, o.windowUnit, o.sendBufferBytes, o.nagle, {
      transmit: (seg) => this.out.segment(seg),
      sentNew: (now) => this.life.lastActivity = now,
      giveUp: () => {
        this.out.rst();
        this.terminate("timeout");
      },
    });
    this.out = new StreamOutput(this, this.host, this.rx, this.tx, this.acks, this.life);
  }

  /** Current state. */
  get state(): StreamState {
    return this._state;
  }

  /** The smoothed RTT in ms, unrounded; undefined before the first sample. */
  get smoothedRttMs(): number | undefined {
    return this.tx.rtt.hasSample ? this.tx.rtt.srtt : undefined;
  }

  /** True while `write` accepts data (dialing or established, close() not called). */
  get writable(): boolean {
    return (this._state === "ESTABLISHED" || this._state === "SYN_SENT") && !this.closing;
  }

  /** Bytes received in order and not yet read. */
  get readableLength(): number {
    return this.rx.unread;
  }

  /** Bytes accepted by `write` and not yet put into segments. */
  get writableLength(): number {
    return this.tx.writeQ.length;
  }

  /** Bytes sent and not yet acknowledged. */
  get inFlight(): number {
    return this.tx.inFlight;
  }

  /** True once the peer has finished (or the connection died) and every received byte has been read. */
  get eof(): boolean {
    return this.rx.eof;
  }

  /** Turns Nagle coalescing off (`true`) or on. */
  setNoDelay(noDelay: boolean): void {
    this.tx.nagle = !noDelay;
    if (noDelay) this.run(() => this.flush(this.timers.now()));
  }

  // ---- application API ------------------------------------------------------------------------

  /**
   * Queues bytes for sending and returns how many were accepted (possibly 0,
   * or fewer than offered when the send buffer is full: wait for `onWritable`
   * and write the rest; it never fires from inside this call). Accepted bytes
   * are kept by reference, so do not modify `data` afterwards. Throws
   * {@link StreamStateError} unless {@link writable}.
   */
  write(data: Uint8Array): number {
    if (!this.writable) throw new StreamStateError(`connection ${this.id} not established (${this._state})`);
    let taken = 0;
    this.depth++;
    try {
      const now = this.timers.now();
      while (taken < data.length) {
        const n = Math.min(this.tx.bufferBytes - this.tx.writeQ.length, data.length - taken);
        if (n <= 0) break;
        this.tx.writeQ.push(n === data.length ? data : data.subarray(taken, taken + n));
        taken += n;
        if (this._state !== "ESTABLISHED") break;
        // Sending may free room at once (a wide-open window): take more now, since calling
        // onWritable from inside write() would surprise a caller that has not yet seen the result.
        this.flush(now);
      }
      if (taken < data.length) this.tx.wantWritable = true;
      this.ev.writable = false;
    } finally {
      this.leave();
    }
    return taken;
  }

  /**
   * Takes the next chunk of in-order data (at most `maxBytes`), or null when
   * nothing is waiting (check {@link eof} to tell the end of the stream).
   * Reading reopens the advertised window.
   */
  read(maxBytes = Infinity): Uint8Array | null {
    const out = this.rx.read(maxBytes);
    if (!out) return null;
    if (this._state === "ESTABLISHED") this.maybeWindowUpdate();
    return out;
  }

  /**
   * Graceful close: no more writes; already written data is still delivered
   * (bounded by {@link CLOSE_LINGER_MS}), then FIN and TIME_WAIT. Unread and
   * further received data is discarded. Dialing connections are abandoned.
   */
  close(): void {
    const now = this.timers.now();
    if (this._state === "SYN_SENT") {
      this.run(() => {
        this.out.rst();
        this.terminate("local");
      });
      return;
    }
    if (this._state !== "ESTABLISHED") return;
    this.run(() => {
      this.closing = true;
      this.rx.discard();
      this.tx.nagle = false;
      this.life.lastActivity = now;
      this.life.lingerUntil = now + CLOSE_LINGER_MS;
      this.setState("FIN_WAIT");
      this.reportClose("local");
      this.flush(now);
      this.maybeSendFin(now);
    });
  }

  /** Abortive close: sends RST and forgets the connection at once. */
  abort(): void {
    if (this._state === "CLOSED" || this._state === "TIME_WAIT") {
      if (this._state === "TIME_WAIT") this.run(() => this.terminate("aborted"));
      return;
    }
    this.run(() => {
      this.out.rst();
      this.terminate("aborted");
    });
  }

  /** A snapshot of counters and congestion state. */
  stats(): StreamStats {
    return buildStreamStats(this, this.tx, this.rx, this.out);
  }

  // ---- manager API ---------------------------------------------------------------------------

  /** @internal Starts a dial: sends the first SYN. */
  openActive(): void {
    const now = this.timers.now();
    this.run(() => {
      this.tx.sndUna = ISN;
      this.tx.sndNxt = seqAdd(ISN, 1);
      this.life.lastActivity = now;
      this.setState("SYN_SENT");
      this.life.synSent(now);
      this.out.syn();
    });
  }

  /** @internal Accepts a SYN: records the peer, sends SYN+ACK and becomes ESTABLISHED at once (ref). */
  openPassive(syn: Packet): void {
    const now = this.timers.now();
    this.run(() => {
      this.rx.rcvNxt = seqAdd(syn.seq, 1);
      this.tx.sndUna = this.tx.sndNxt = seqAdd(ISN, 1);
      this.tx.takeHandshakeWindow(syn.window);
      this.life.lastActivity = now;
      this.setState("ESTABLISHED");
      this.out.synAck();
    });
  }

  /** @internal Answers a retransmitted SYN for this 4-tuple with the SYN+ACK again. */
  resendSynAck(): void {
    if (this._state !== "ESTABLISHED") return;
    this.out.synAck();
  }

  /** @internal Processes one packet addressed to this connection's 4-tuple. */
  handlePacket(pkt: Packet): void {
    this.depth++;
    try {
      this.receive(pkt, this.timers.now());
    } finally {
      this.leave();
    }
  }

  /** @internal The host's batch of received packets is done: sends the ACK it was asked to hold. */
  batchEnded(): void {
    if (!this.acks.atBatchEnd) return;
    this.acks.atBatchEnd = false;
    const st = this._state;
    if (st === "ESTABLISHED" || st === "FIN_WAIT") this.run(() => this.out.ack());
  }

  /** @internal Timer wake-up (TimerTarget). */
  onTimer(now: number): void {
    this.wakeAt = Infinity;
    this.depth++;
    try {
      this.expire(now);
    } finally {
      this.leave();
    }
  }

  // ---- receive path ---------------------------------------------------------------------------

  private receive(pkt: Packet, now: number): void {
    const f = pkt.flags;
    if (f & FLAG_RST) {
      if (this._state === "CLOSED") return;
      const verdict = judgeRst(pkt.seq, pkt.ack, {
        synSent: this._state === "SYN_SENT",
        sndNxt: this.tx.sndNxt,
        rcvNxt: this.rx.rcvNxt,
        rcvWindow: this.rx.capacity,
      });
      if (verdict === "accept") this.terminate(this._state === "SYN_SENT" ? "refused" : "reset");
      else if (this.host.rstRefused?.(verdict) && this._state !== "TIME_WAIT") this.out.bareAck();
      return;
    }
    if (f & FLAG_SYN) {
      if ((f & FLAG_ACK) && this._state === "SYN_SENT") this.onSynAck(pkt, now);
      return; // duplicate SYN+ACKs are ignored; bare SYNs are the manager's business
    }
    if (f & FLAG_FIN) {
      this.onFin(pkt, now);
      return;
    }
    if (!(f & FLAG_ACK)) return; // payload on packets without ACK is dropped (ref)
    const st = this._state;
    if (st === "TIME_WAIT") {
      // Late data before a FIN that overtook it is still delivered, but not acknowledged.
      if (this.rx.finSeq >= 0 && pkt.payload.length > 0 && !isSack(pkt.payload)) {
        this.rx.accept(pkt.seq, pkt.payload, this._state !== "CLOSED");
      }
      return;
    }
    if (st !== "ESTABLISHED" && st !== "FIN_WAIT") return;
    this.life.lastActivity = now;
    const payload = pkt.payload;
    const sack = payload.length > 0 && isSack(payload);
    const hasData = payload.length > 0 && !sack;
    const advanced = this.tx.onAck(pkt.ack, pkt.window, now, !hasData);
    if (advanced && this.closing) this.maybeSendFin(now);
    // Window: ignore an empty, non-advancing ACK saying 0 (a reference keepalive or probe).
    if (advanced || payload.length > 0 || pkt.window !== 0) this.tx.setPeerWindow(pkt.window);
    if (sack) this.tx.onSack(payload, now);
    else if (hasData) {
      // A segment that fills a gap, or repeats data we hold (the sender retransmitted it, so it
      // is waiting for news), is acknowledged at once.
      const urgent = this.rx.ooo.size > 0 ||
        seqBeforeOrEqual(seqAdd(pkt.seq, payload.length), this.rx.rcvNxt);
      if (this.rx.accept(pkt.seq, payload, this._state !== "CLOSED")) {
        this.scheduleAck(now, urgent, payload.length < this.mss);
      }
    }
    this.tx.recovery.afterAck(now);
    this.flush(now);
  }

  private onSynAck(pkt: Packet, now: number): void {
    this.rx.rcvNxt = seqAdd(pkt.seq, 1);
    this.tx.sndUna = this.tx.sndNxt;
    this.tx.takeHandshakeWindow(pkt.window);
    this.life.lastActivity = now;
    this.life.synDeadline = Infinity;
    this.setState("ESTABLISHED");
    this.out.bareAck();
    this.ev.open = true;
    this.flush(now);
  }

  /**
   * Delayed-ACK rule (§5.3) after a data segment, see {@link AckClock.onData}. An ACK due now goes
   * at once only when it needs a SACK option. Otherwise it waits for the end of the host's batch
   * of received packets (up to {@link ACK_STRETCH_SEGMENTS}), or without a batching host for the
   * end of the step; a data segment sent before then carries it instead.
   */
  private scheduleAck(now: number, urgent: boolean, short: boolean): void {
    const acks = this.acks;
    if (!acks.onData(now, this.rx.ooo.size > 0, urgent, short)) return;
    if (this.rx.ooo.size > 0) this.out.ack();
    else if (acks.unacked >= ACK_STRETCH_SEGMENTS) acks.dueAtStepEnd(now);
    else if (!acks.atBatchEnd) {
      if (this.host.ackAtBatchEnd?.(this)) acks.atBatchEnd = true;
      else acks.dueAtStepEnd(now);
    }
  }

  private onFin(pkt: Packet, now: number): void {
    const bare = !(pkt.flags & FLAG_ACK);
    const st = this._state;
    if (st === "TIME_WAIT") {
      // Our FIN+ACK was lost; answer again. A FIN+ACK is never answered (no ping-pong).
      if (bare) this.out.finAck(pkt.seq);
      return;
    }
    if (st !== "ESTABLISHED" && st !== "FIN_WAIT") return;
    this.life.lastActivity = now;
    if (bare) this.out.finAck(pkt.seq);
    // If the FIN overtook data, keep accepting that data during TIME_WAIT before signalling EOF.
    this.rx.finAt(pkt.seq);
    this.enterTimeWait(now);
    this.reportClose("remote");
  }

  // ---- send path ------------------------------------------------------------------------------

  /** Sends what the windows allow (see {@link SendSide.flush}), while the connection may send. */
  private flush(now: number): void {
    const st = this._state;
    if ((st !== "ESTABLISHED" && st !== "FIN_WAIT") || this.life.finSent) return;
    if (this.tx.flush(now, this.closing)) this.ev.writable = true;
  }

  /** Tells the peer that reading reopened our window, when it reopened enough. */
  private maybeWindowUpdate(): void {
    if (this.out.windowReopened()) this.run(() => this.out.ack());
  }

  private maybeSendFin(now: number): void {
    if (
      this._state !== "FIN_WAIT" || this.life.finSent || this.tx.writeQ.length > 0 ||
      this.tx.sendBuf.length > 0
    ) {
      return;
    }
    this.life.finOut(now);
    this.out.fin();
  }

  // ---- timers ---------------------------------------------------------------------------------

  private expire(now: number): void {
    switch (this._state) {
      case "SYN_SENT":
        if (now >= this.life.synDeadline) this.onSynExpired(now);
        return;
      case "TIME_WAIT":
        // Data a FIN overtook had until now to arrive; terminate() ends the reader's stream.
        if (now >= this.life.timeWaitUntil) this.terminate(this.closeReason ?? "remote");
        return;
      case "ESTABLISHED":
      case "FIN_WAIT":
        break;
      default:
        return;
    }
    if (now >= this.acks.delayedAt) this.out.ack();
    this.tx.onTimers(now);
    if (this.isClosedState()) return; // the retransmission limit was reached
    this.flush(now); // includes a due Nagle remainder
    if (this._state === "ESTABLISHED") {
      if (now - this.life.lastActivity >= IDLE_TIMEOUT_MS) {
        this.out.fin();
        this.rx.end();
        this.enterTimeWait(now);
        this.reportClose("idle");
        return;
      }
      if (now >= this.life.keepaliveAt) {
        // Not activity: a peer that stays silent is still closed after IDLE_TIMEOUT_MS.
        this.out.bareAck();
      }
    } else if (this._state === "FIN_WAIT") {
      if (!this.life.finSent) {
        if (now >= this.life.lingerUntil) {
          this.out.rst();
          this.terminate("linger");
        }
      } else if (now >= this.life.finSentAt + this.tx.rtt.rto) {
        if (this.life.finExhausted) this.enterTimeWait(now);
        else {
          this.life.finResent(now);
          this.out.fin();
        }
      }
    }
  }

  private onSynExpired(now: number): void {
    if (this.life.synExhausted) {
      this.terminate("dial-timeout");
      return;
    }
    const hook = this.onSynTimeout;
    if (hook) {
      try {
        hook(this.life.synAttempts);
      } catch { /* a failing hook must not break the dial */ }
      if (this._state !== "SYN_SENT") return;
    }
    this.life.synResent(now);
    this.out.syn();
  }

  private nextDeadline(now: number): number {
    const state = this._state;
    let t = this.life.deadline(state, this.tx.rtt.rto);
    if (state !== "ESTABLISHED" && state !== "FIN_WAIT") return t;
    t = Math.min(t, this.acks.delayedAt);
    // A Nagle hold that has expired only waits for window space now: an ACK will flush it.
    if (this.tx.nagleAt < t && this.tx.nagleAt > now) t = this.tx.nagleAt;
    return this.tx.deadline(t);
  }

  // ---- state changes --------------------------------------------------------------------------

  private enterTimeWait(now: number): void {
    this.tx.clear();
    this.acks.delayedAt = this.tx.nagleAt = this.tx.recovery.persistAt = Infinity;
    this.closing = true;
    this.life.startTimeWait(now);
    // The retransmission and ACK clocks are gone: give up the earlier wake-up they asked for, so the
    // step's end reschedules for TIME_WAIT's end and an idle daemon is not woken for nothing.
    this.wakeAt = Infinity;
    this.setState("TIME_WAIT");
  }

  /** Final state: forget everything but unread data, cancel timers, tell the host. */
  private terminate(reason: CloseReason): void {
    this.tx.writeQ.clear();
    this.tx.sendBuf.clear();
    this.rx.ooo.clear();
    this.tx.sndUna = this.tx.sndNxt;
    this.closing = true;
    this.rx.end();
    this.reportClose(reason);
    this.timers.cancel(this);
    this.wakeAt = Infinity;
    this.setState("CLOSED");
  }

  private reportClose(reason: CloseReason): void {
    if (this.closeReason === undefined) this.closeReason = reason;
    if (!this.closeReported) {
      this.closeReported = true;
      this.ev.close = reason;
    }
  }

  private isClosedState(): boolean {
    return this._state === "CLOSED" || this._state === "TIME_WAIT";
  }

  private setState(next: StreamState): void {
    const prev = this._state;
    if (prev === next) return;
    this._state = next;
    this.host.stateChanged(this, prev);
  }

  // ---- plumbing -------------------------------------------------------------------------------

  private depth = 0;

  /** Runs `fn` as one step of the state machine (see {@link leave}). */
  private run(fn: () => void): void {
    this.depth++;
    try {
      fn();
    } finally {
      this.leave();
    }
  }

  /** Ends a step: the outermost one re-arms the timer and fires pending events. */
  private leave(): void {
    if (--this.depth > 0) return;
    this.fireEvents();
    // §5.3: a sub-MSS segment not answered by the events' handlers is acknowledged now.
    if (this.acks.ackAtStepEnd) {
      this.acks.ackAtStepEnd = false;
      const st = this._state;
      if (this.acks.delayedAt !== Infinity && (st === "ESTABLISHED" || st === "FIN_WAIT")) this.out.ack();
    }
    if (this._state !== "CLOSED") {
      const t = this.nextDeadline(this.timers.now());
      if (t < this.wakeAt) {
        this.wakeAt = t;
        this.timers.schedule(this, t);
      }
    }
  }

  private fireEvents(): void {
    this.ev.fire(this);
  }
}
