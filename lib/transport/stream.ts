/**
 * One stream connection's state machine (transport.md §2–§8), free of I/O.
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
 * @module
 */
import { PilotError } from "../errors.ts";
import type { Address } from "../protocol/address.ts";
import {
  FLAG_ACK,
  FLAG_FIN,
  FLAG_RST,
  FLAG_SYN,
  PROTO_STREAM,
  PROTOCOL_VERSION,
} from "../protocol/header.ts";
import type { Packet } from "../protocol/packet.ts";
import { CongestionControl, MAX_CWND_BYTES } from "./congestion.ts";
import { Rack } from "./rack.ts";
import { ReassemblyBuffer } from "./reassembly.ts";
import { Ring } from "./ring.ts";
import { RtoEstimator } from "./rto.ts";
import { dataLooksLikeSack, decodeSack, encodeSack, isSack } from "./sack.ts";
import { type Segment, SendBuffer } from "./send-buffer.ts";
import { seqAdd, seqAfter, seqAfterOrEqual, seqBeforeOrEqual, seqDiff } from "./seq.ts";
import type { TimerService, TimerTarget } from "./timers.ts";
import { WriteQueue } from "./write-queue.ts";

/** Default maximum segment size (payload bytes per packet). */
export const DEFAULT_MSS = 4096;
/** Bytes per advertised window unit: the reference multiplies the Window field by its 4096-byte MSS. */
export const WINDOW_UNIT_BYTES = 4096;
/** Largest value of the 16-bit Window field. */
export const MAX_WINDOW_FIELD = 0xffff;
/** Receive buffer for unread in-order data: 512 segments of 4096 bytes, as the reference. */
export const RECV_BUFFER_BYTES = 512 * WINDOW_UNIT_BYTES;
/**
 * In-order data still accepted beyond a full receive buffer, because reference
 * senders ignore a zero window; one maximum congestion window. Beyond this,
 * data is dropped without an ACK.
 */
export const RECV_OVERCOMMIT_BYTES = MAX_CWND_BYTES;
/** Written-but-unsegmented bytes `write` accepts before signalling backpressure. */
export const SEND_BUFFER_BYTES = 1_048_576;
/** Window the peer is assumed to offer when its SYN / SYN+ACK says 0 (the reference's 512 segments). */
export const DEFAULT_PEER_WINDOW_UNITS = 512;
/** Send a window update once the window has reopened by this many units since the last advertisement. */
export const WINDOW_UPDATE_UNITS = 128;
/** Initial sequence number (the reference always uses 0; its SACK comparisons are not wrap-safe). */
export const ISN = 0;
/** Delayed ACK: acknowledge at the latest every this many data segments... */
export const DELAYED_ACK_SEGMENTS = 2;
/** ...or this long after the first unacknowledged one. */
export const DELAYED_ACK_MS = 40;
/**
 * After out-of-order data (a loss or reordering on the path) the receiver
 * acknowledges each of the next this many data segments at once instead of
 * every second one, so a sender with a small window learns promptly what
 * arrived and its time-based loss detection is not held up by the 40 ms timer.
 */
export const QUICK_ACK_SEGMENTS = 16;
/** Nagle: how long a sub-MSS remainder may be held while data is unacknowledged. */
export const NAGLE_DELAY_MS = 40;
/** Duplicate pure ACKs that trigger fast retransmit. */
export const DUP_ACK_THRESHOLD = 3;
/**
 * Tail loss probe (RFC 8985 §7): when nothing has been delivered for a probe
 * timeout, max(2·SRTT, SRTT + 4·RTTVAR) + this, while data is outstanding, a
 * probe segment is sent so that its acknowledgement reveals a lost tail
 * without waiting for the retransmission timeout (200 ms at least). The slack
 * stands for timer granularity and scheduling delays on sub-millisecond paths.
 */
export const TLP_SLACK_MS = 2;
/** Probes per stall (each waits twice as long as the previous) before only the retransmission timer is left. */
export const TLP_MAX_PROBES = 5;
/**
 * Transmissions of the oldest segment by the retransmission timer (the
 * original + 7 timeouts in a row, with no new cumulative ACK) before the
 * connection is reset. Fast retransmissions and probes do not count.
 */
export const MAX_TRANSMISSIONS = 8;
/** First zero-window probe interval (doubles after each probe). */
export const PERSIST_INITIAL_MS = 500;
/** Cap of the zero-window probe interval. */
export const PERSIST_MAX_MS = 30_000;
/**
 * Send a keepalive when nothing has been sent for this long. Measured from our
 * last transmission, not from the last packet received: otherwise one side's
 * keepalives would suppress the other's and the first would idle-close.
 */
export const KEEPALIVE_MS = 30_000;
/** Close a connection after this much inactivity. */
export const IDLE_TIMEOUT_MS = 120_000;
/** How long a closed connection keeps its 4-tuple. */
export const TIME_WAIT_MS = 10_000;
/**
 * Dial SYN schedule (draft-conformant, transport.md §3.2): the SYN timer starts
 * at 1 s and doubles up to 8 s; 6 SYNs in all, at 0, 1, 3, 7, 15, 23 s, and the
 * dial fails at 31 s. After the 3rd expiry the daemon may move the peer to
 * relay (onSynTimeout), so the last 3 SYNs go via relay. Every SYN is identical.
 */
export const SYN_RTO_INITIAL_MS = 1_000;
/** Cap of the doubling SYN timer. */
export const SYN_RTO_MAX_MS = 8_000;
/** SYNs sent before a dial fails with `dial-timeout`. */
export const SYN_MAX_TRANSMISSIONS = 6;
/** SYN expiries after which the daemon should switch the peer to relay. */
export const SYN_DIRECT_ATTEMPTS = 3;
/** FIN transmissions before giving up on the peer's answer and entering TIME_WAIT anyway. */
export const FIN_MAX_TRANSMISSIONS = 3;
/** How long close() waits for unsent/unacknowledged data to drain before resetting. */
export const CLOSE_LINGER_MS = 60_000;

const EMPTY: Uint8Array = new Uint8Array(0);
const BYTE_S = 0x53;

/** Connection states (names as in the IPC conn_list). SYN_RECV, LISTEN and CLOSE_WAIT are never entered. */
export type StreamState = "CLOSED" | "SYN_SENT" | "ESTABLISHED" | "FIN_WAIT" | "TIME_WAIT";

/**
 * Why a connection stopped being writable: `local` close(), `remote` FIN,
 * `reset` RST received, `refused` RST while dialing, `dial-timeout` SYN
 * schedule exhausted, `timeout` retransmission limit, `idle` 120 s without
 * activity, `aborted` local abort(), `linger` close() could not drain in time.
 */
export type CloseReason =
  | "local"
  | "remote"
  | "reset"
  | "refused"
  | "dial-timeout"
  | "timeout"
  | "idle"
  | "aborted"
  | "linger";

/** A write, read or close was attempted in a state that does not allow it. */
export class StreamStateError extends PilotError {}

/** Per-connection tunables. */
export interface StreamOptions {
  /** Payload bytes per segment (default 4096; 1400 avoids IP fragmentation on the Internet). */
  mss?: number;
  /** Send every write at once instead of coalescing small writes (Nagle off). */
  noDelay?: boolean;
  /** Unsent bytes `write` accepts (default 1 MiB). */
  sendBufferBytes?: number;
  /** Unread bytes that fill the advertised window (default 2 MiB). */
  recvBufferBytes?: number;
}

/** What a stream needs from whoever owns it (the session manager, or a test). */
export interface StreamHost {
  /** Clock and wake-ups. */
  readonly timers: TimerService;
  /** Hands a packet to the network; must not synchronously call back into the stream. */
  send(pkt: Packet): void;
  /** Told after every state change (the manager keeps counters and removes CLOSED streams). */
  stateChanged(stream: Stream, previous: StreamState): void;
}

/** Identity and addressing of a new stream. */
export interface StreamInit {
  id: number;
  host: StreamHost;
  localAddr: Address;
  localPort: number;
  remoteAddr: Address;
  remotePort: number;
  options?: StreamOptions;
}

/** Counters and congestion state, with the IPC conn_list field meanings (camelCase). */
export interface StreamStats {
  id: number;
  localPort: number;
  remoteAddr: string;
  remotePort: number;
  state: StreamState;
  congWin: number;
  ssthresh: number;
  inFlight: number;
  srttMs: number;
  rttvarMs: number;
  unacked: number;
  oooBuf: number;
  peerRecvWin: number;
  recvWin: number;
  inRecovery: boolean;
  bytesSent: number;
  bytesRecv: number;
  segsSent: number;
  segsRecv: number;
  retransmits: number;
  fastRetx: number;
  /** Segments marked lost by time-based (RACK) detection. */
  rackLost: number;
  /** Tail loss probes sent. */
  tlpProbes: number;
  /** Retransmission timeouts. */
  timeouts: number;
  /** Retransmissions shown spurious (acknowledged sooner than a round trip). */
  spuriousRetx: number;
  /** Loss recoveries whose window reduction was undone because every retransmission was spurious. */
  undos: number;
  sackRecv: number;
  sackSent: number;
  dupAcks: number;
}

const enum Recovery {
  None,
  Fast,
  Timeout,
}

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

  private host: StreamHost;
  private timers: TimerService;
  private _state: StreamState = "CLOSED";
  private nagle: boolean;
  private readonly sendBufferBytes: number;
  private readonly recvBufferBytes: number;
  private readonly windowUnit: number;

  // send side
  private sndUna = ISN;
  private sndNxt = ISN;
  private readonly sendBuf = new SendBuffer();
  private readonly writeQ = new WriteQueue();
  private readonly cc: CongestionControl;
  private readonly rtt = new RtoEstimator();
  private peerWindowBytes: number;
  private peerWindowField = DEFAULT_PEER_WINDOW_UNITS;
  private dupAcks = 0;
  private recovery = Recovery.None;
  private recoveryPoint = ISN;
  private recoveryStart = 0;
  /** Retransmissions sent in the current recovery episode, and how many of them are not known to be spurious. */
  private episodeRetx = 0;
  private episodeUnconfirmed = 0;
  private readonly rack = new Rack();
  /** Clock reading of the ACK being processed (for {@link onDelivered}). */
  private ackNow = 0;
  /** Last time data was delivered or new data was sent: the tail loss probe waits from here. */
  private progressAt = 0;
  /** Probes sent since data was last delivered (each waits twice as long as the previous). */
  private probes = 0;
  /** A tail loss probe is waiting for its round trip; its send time, end of data at the time, and kind. */
  private probeOut = false;
  private probeSentAt = 0;
  private probeOrder = 0;
  private probeEnd = ISN;
  private probeSeg: Segment | undefined;
  private probeSpurious = false;
  private lastRtoAt = -Infinity;
  /** Retransmission timeouts since the cumulative ACK last advanced. */
  private backoffs = 0;
  private persistInterval = PERSIST_INITIAL_MS;
  private persistAt = Infinity;
  private nagleAt = Infinity;
  private wantWritable = false;
  private closing = false;

  // receive side
  private rcvNxt = 0;
  private readonly ooo = new ReassemblyBuffer();
  private readonly recvQ = new Ring<Uint8Array>();
  private unread = 0;
  private segsSinceAck = 0;
  private quickAcks = 0;
  private delayedAckAt = Infinity;
  private lastAdvertised = 0;
  private finSeq = -1;
  private remoteEnded = false;
  /** Set by close(): received data is acknowledged but thrown away. */
  private discardInput = false;

  // lifecycle timers
  private lastActivity = 0;
  private lastSentAt = 0;
  private synAttempts = 0;
  private synRto = SYN_RTO_INITIAL_MS;
  private synDeadline = Infinity;
  private finSent = false;
  private finSentAt = 0;
  private finAttempts = 0;
  private lingerUntil = Infinity;
  private timeWaitUntil = Infinity;
  private wakeAt = Infinity;

  // events waiting to be fired
  private evOpen = false;
  private evReadable = false;
  private evWritable = false;
  private evClose: CloseReason | undefined;
  private closeReported = false;
  /** Why the connection closed, once it has. */
  closeReason: CloseReason | undefined;

  // statistics
  private bytesSent = 0;
  private bytesRecv = 0;
  private segsSent = 0;
  private segsRecv = 0;
  private retransmits = 0;
  private fastRetx = 0;
  private rackLost = 0;
  private tlpProbes = 0;
  private timeouts = 0;
  private spuriousRetx = 0;
  private undos = 0;
  private sackRecv = 0;
  private sackSent = 0;
  private dupAckCount = 0;

  constructor(init: StreamInit) {
    const o = init.options ?? {};
    this.id = init.id;
    this.host = init.host;
    this.timers = init.host.timers;
    this.localAddr = init.localAddr;
    this.localPort = init.localPort;
    this.remoteAddr = init.remoteAddr;
    this.remotePort = init.remotePort;
    this.mss = positiveInt(o.mss ?? DEFAULT_MSS, "mss");
    if (this.mss > 0xffff) throw new RangeError(`mss must be at most 65535, got ${this.mss}`);
    this.nagle = !o.noDelay;
    this.sendBufferBytes = positiveInt(o.sendBufferBytes ?? SEND_BUFFER_BYTES, "sendBufferBytes");
    this.recvBufferBytes = positiveInt(o.recvBufferBytes ?? RECV_BUFFER_BYTES, "recvBufferBytes");
    // A window unit never exceeds our segment size, so a small MSS reads the window conservatively.
    this.windowUnit = Math.min(this.mss, WINDOW_UNIT_BYTES);
    this.cc = new CongestionControl(this.mss);
    this.peerWindowBytes = DEFAULT_PEER_WINDOW_UNITS * this.windowUnit;
  }

  /** Current state. */
  get state(): StreamState {
    return this._state;
  }

  /** The smoothed RTT in ms, unrounded; undefined before the first sample. */
  get smoothedRttMs(): number | undefined {
    return this.rtt.hasSample ? this.rtt.srtt : undefined;
  }

  /** True while `write` accepts data (dialing or established, close() not called). */
  get writable(): boolean {
    return (this._state === "ESTABLISHED" || this._state === "SYN_SENT") && !this.closing;
  }

  /** Bytes received in order and not yet read. */
  get readableLength(): number {
    return this.unread;
  }

  /** Bytes accepted by `write` and not yet put into segments. */
  get writableLength(): number {
    return this.writeQ.length;
  }

  /** Bytes sent and not yet acknowledged. */
  get inFlight(): number {
    return seqDiff(this.sndNxt, this.sndUna);
  }

  /** True once the peer has finished (or the connection died) and every received byte has been read. */
  get eof(): boolean {
    return this.remoteEnded && this.recvQ.length === 0;
  }

  /** Turns Nagle coalescing off (`true`) or on. */
  setNoDelay(noDelay: boolean): void {
    this.nagle = !noDelay;
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
        const n = Math.min(this.sendBufferBytes - this.writeQ.length, data.length - taken);
        if (n <= 0) break;
        this.writeQ.push(n === data.length ? data : data.subarray(taken, taken + n));
        taken += n;
        if (this._state !== "ESTABLISHED") break;
        // Sending may free room at once (a wide-open window): take more now, since calling
        // onWritable from inside write() would surprise a caller that has not yet seen the result.
        this.flush(now);
      }
      if (taken < data.length) this.wantWritable = true;
      this.evWritable = false;
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
    const head = this.recvQ.peek();
    if (!head) return null;
    let out: Uint8Array;
    if (head.length <= maxBytes) {
      this.recvQ.shift();
      out = head;
    } else {
      const n = Math.max(1, Math.floor(maxBytes));
      out = head.subarray(0, n);
      this.recvQ.replaceFront(head.subarray(n));
    }
    this.unread -= out.length;
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
        this.sendRst();
        this.terminate("local");
      });
      return;
    }
    if (this._state !== "ESTABLISHED") return;
    this.run(() => {
      this.closing = true;
      this.discardInput = true;
      this.nagle = false;
      this.lastActivity = now;
      this.lingerUntil = now + CLOSE_LINGER_MS;
      this.recvQ.clear();
      this.unread = 0;
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
      this.sendRst();
      this.terminate("aborted");
    });
  }

  /** A snapshot of counters and congestion state. */
  stats(): StreamStats {
    return {
      id: this.id,
      localPort: this.localPort,
      remoteAddr: this.remoteAddr.toString(),
      remotePort: this.remotePort,
      state: this._state,
      congWin: this.cc.cwnd,
      ssthresh: this.cc.ssthresh,
      inFlight: this.inFlight,
      srttMs: Math.round(this.rtt.srtt),
      rttvarMs: Math.round(this.rtt.rttvar),
      unacked: this.sendBuf.length,
      oooBuf: this.ooo.size,
      peerRecvWin: this.peerWindowBytes,
      recvWin: this.windowField() * WINDOW_UNIT_BYTES,
      inRecovery: this.recovery !== Recovery.None,
      bytesSent: this.bytesSent,
      bytesRecv: this.bytesRecv,
      segsSent: this.segsSent,
      segsRecv: this.segsRecv,
      retransmits: this.retransmits,
      fastRetx: this.fastRetx,
      rackLost: this.rackLost,
      tlpProbes: this.tlpProbes,
      timeouts: this.timeouts,
      spuriousRetx: this.spuriousRetx,
      undos: this.undos,
      sackRecv: this.sackRecv,
      sackSent: this.sackSent,
      dupAcks: this.dupAckCount,
    };
  }

  // ---- manager API ---------------------------------------------------------------------------

  /** @internal Starts a dial: sends the first SYN. */
  openActive(): void {
    const now = this.timers.now();
    this.run(() => {
      this.sndUna = ISN;
      this.sndNxt = seqAdd(ISN, 1);
      this.lastActivity = now;
      this.setState("SYN_SENT");
      this.synAttempts = 1;
      this.synRto = SYN_RTO_INITIAL_MS;
      this.synDeadline = now + this.synRto;
      this.emit(FLAG_SYN, ISN, 0, EMPTY, this.advertise());
    });
  }

  /** @internal Accepts a SYN: records the peer, sends SYN+ACK and becomes ESTABLISHED at once (ref). */
  openPassive(syn: Packet): void {
    const now = this.timers.now();
    this.run(() => {
      this.rcvNxt = seqAdd(syn.seq, 1);
      this.sndUna = this.sndNxt = seqAdd(ISN, 1);
      this.takeHandshakeWindow(syn.window);
      this.lastActivity = now;
      this.setState("ESTABLISHED");
      this.emit(FLAG_SYN | FLAG_ACK, ISN, this.rcvNxt, EMPTY, this.advertise());
    });
  }

  /** @internal Answers a retransmitted SYN for this 4-tuple with the SYN+ACK again. */
  resendSynAck(): void {
    if (this._state !== "ESTABLISHED") return;
    this.emit(FLAG_SYN | FLAG_ACK, ISN, this.rcvNxt, EMPTY, this.advertise());
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
      // Any RST for the 4-tuple ends the connection; reference RSTs carry Seq 0, so no sequence check.
      if (this._state !== "CLOSED") this.terminate(this._state === "SYN_SENT" ? "refused" : "reset");
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
      if (this.finSeq >= 0 && pkt.payload.length > 0 && !isSack(pkt.payload)) {
        this.onData(pkt.seq, pkt.payload);
      }
      return;
    }
    if (st !== "ESTABLISHED" && st !== "FIN_WAIT") return;
    this.lastActivity = now;
    const payload = pkt.payload;
    const sack = payload.length > 0 && isSack(payload);
    const hasData = payload.length > 0 && !sack;
    const advanced = this.onAck(pkt, now, !hasData);
    // Window: ignore an empty, non-advancing ACK saying 0 (a reference keepalive or probe).
    if (advanced || payload.length > 0 || pkt.window !== 0) this.setPeerWindow(pkt.window);
    if (sack) this.onSack(payload, now);
    else if (hasData) {
      // A segment that fills a gap, or repeats data we hold (the sender retransmitted it, so it
      // is waiting for news), is acknowledged at once.
      const urgent = this.ooo.size > 0 || seqBeforeOrEqual(seqAdd(pkt.seq, payload.length), this.rcvNxt);
      if (this.onData(pkt.seq, payload)) this.scheduleAck(now, urgent);
    }
    this.afterAck(now);
    this.flush(now);
  }

  private onSynAck(pkt: Packet, now: number): void {
    this.rcvNxt = seqAdd(pkt.seq, 1);
    this.sndUna = this.sndNxt;
    this.takeHandshakeWindow(pkt.window);
    this.lastActivity = now;
    this.synDeadline = Infinity;
    this.setState("ESTABLISHED");
    this.emit(FLAG_ACK, this.sndNxt, this.rcvNxt, EMPTY, this.advertise());
    this.evOpen = true;
    this.flush(now);
  }

  /** Processes the Ack field; returns true when it acknowledged new data. */
  private onAck(pkt: Packet, now: number, pure: boolean): boolean {
    const ack = pkt.ack;
    if (seqAfter(ack, this.sndNxt)) return false; // acknowledges data never sent: ignore
    if (seqAfter(ack, this.sndUna)) {
      const acked = seqDiff(ack, this.sndUna);
      this.sndUna = ack;
      this.ackNow = now;
      this.sendBuf.ackTo(ack, this.delivered);
      const sentAt = this.sendBuf.rttSampleSentAt;
      if (sentAt >= 0) this.rtt.sample(now - sentAt);
      this.dupAcks = 0;
      this.lastRtoAt = -Infinity;
      this.backoffs = 0;
      this.persistInterval = PERSIST_INITIAL_MS;
      this.progressAt = now;
      this.probes = 0;
      // No growth during fast recovery, nor for the ACK that ends it (the window restarts at ssthresh).
      if (this.recovery !== Recovery.None && seqAfterOrEqual(ack, this.recoveryPoint)) this.endRecovery();
      else if (this.recovery !== Recovery.Fast) this.cc.onAck(acked);
      if (this.probeOut && seqAfterOrEqual(ack, this.probeEnd)) this.probeAnswered();
      if (this.closing) this.maybeSendFin(now);
      return true;
    }
    // Duplicate: RFC 5681 §2 — pure (SACK counts as pure), same window, data outstanding;
    // answers to zero-window probes are not loss signals.
    if (
      ack === this.sndUna && pure && pkt.window === this.peerWindowField && pkt.window !== 0 &&
      this.sndNxt !== this.sndUna
    ) {
      this.dupAcks++;
      this.dupAckCount++;
      if (this.dupAcks === DUP_ACK_THRESHOLD && this.recovery === Recovery.None) {
        // The draft's fast retransmit: the first unacknowledged segment is resent at once.
        this.sendBuf.markFrontLost();
        this.enterFastRecovery(now);
      }
    }
    return false;
  }

  private onSack(payload: Uint8Array, now: number): void {
    this.sackRecv++;
    this.ackNow = now;
    for (const { left, right } of decodeSack(payload)) {
      // Only blocks inside [sndUna, sndNxt] mean anything; the rest are stale or bogus.
      if (!seqAfterOrEqual(left, this.sndUna) || !seqBeforeOrEqual(right, this.sndNxt)) continue;
      if (this.sendBuf.markSacked(left, right, this.delivered) > 0) {
        this.progressAt = now;
        this.probes = 0;
      }
    }
  }

  /** Told once about every newly delivered (cumulatively acknowledged or SACKed) segment. */
  private readonly delivered = (seg: Segment): void => {
    if (this.rack.onDelivered(seg, this.ackNow) !== "spurious") return;
    this.spuriousRetx++;
    this.rack.onSpurious(this.sndUna, this.sndNxt);
    if (this.recovery !== Recovery.None && seg.sentAt >= this.recoveryStart) this.episodeUnconfirmed--;
    if (seg === this.probeSeg) this.probeSpurious = true;
  };

  /** After an ACK's cumulative and selective parts: the probe's round trip, then time-based loss detection. */
  private afterAck(now: number): void {
    if (this.probeOut && this.rack.xmitOrder >= this.probeOrder) this.probeAnswered();
    this.detectLosses(now);
  }

  /** RACK: marks what is presumed lost, and starts a recovery episode if none is running. */
  private detectLosses(now: number): void {
    if (this.sendBuf.length === 0) {
      this.rack.timerAt = Infinity;
      return;
    }
    const reo = this.rack.reoWnd(
      this.recovery !== Recovery.None,
      this.sendBuf.sackedBytes / this.mss,
      this.rtt.hasSample ? this.rtt.srtt : 0,
    );
    const lost = this.rack.detectLosses(this.sendBuf, now, reo);
    if (lost === 0) return;
    this.rackLost += lost;
    // The retransmissions now due restart the probe timer: no probe is needed until they had their chance.
    this.progressAt = now;
    this.probes = 0;
    if (this.recovery === Recovery.None) this.enterFastRecovery(now);
  }

  /**
   * Takes a data segment (§5.2): in order → deliver and drain the reassembly
   * buffer; ahead → buffer; old → only a part beyond rcvNxt is new. Returns
   * false when it must not be acknowledged (receive hard cap reached).
   */
  private onData(seq: number, data: Uint8Array): boolean {
    this.segsRecv++;
    const ahead = seqDiff(seq, this.rcvNxt);
    if (ahead > 0) {
      if (ahead < this.recvBufferBytes + RECV_OVERCOMMIT_BYTES) this.ooo.insert(seq, data);
      return true;
    }
    if (ahead < 0) {
      if (data.length <= -ahead) return true;
      data = data.subarray(-ahead);
    }
    if (!this.discardInput && this.unread + data.length > this.recvBufferBytes + RECV_OVERCOMMIT_BYTES) {
      return false;
    }
    this.deliver(data);
    for (let d = this.ooo.pull(this.rcvNxt); d; d = this.ooo.pull(this.rcvNxt)) this.deliver(d);
    return true;
  }

  private deliver(data: Uint8Array): void {
    this.rcvNxt = seqAdd(this.rcvNxt, data.length);
    this.bytesRecv += data.length;
    if (!this.discardInput && this._state !== "CLOSED") {
      this.recvQ.push(data);
      this.unread += data.length;
      this.evReadable = true;
    }
    if (this.finSeq >= 0 && seqAfterOrEqual(this.rcvNxt, this.finSeq)) {
      this.finSeq = -1;
      this.remoteEnded = true;
      this.evReadable = true;
    }
  }

  /**
   * Delayed-ACK rule (§5.3) after a data segment: at once while out-of-order
   * data is held, when this segment filled (part of) a gap or was a duplicate
   * (`urgent`, RFC 5681 §4.2), and for the next {@link QUICK_ACK_SEGMENTS}
   * segments after that.
   */
  private scheduleAck(now: number, urgent: boolean): void {
    if (this.ooo.size > 0 || urgent) {
      this.quickAcks = QUICK_ACK_SEGMENTS;
      this.sendAck();
      return;
    }
    if (this.quickAcks > 0) {
      this.quickAcks--;
      this.sendAck();
      return;
    }
    if (++this.segsSinceAck >= DELAYED_ACK_SEGMENTS) this.sendAck();
    else if (this.delayedAckAt === Infinity) this.delayedAckAt = now + DELAYED_ACK_MS;
  }

  private onFin(pkt: Packet, now: number): void {
    const bare = !(pkt.flags & FLAG_ACK);
    const st = this._state;
    if (st === "TIME_WAIT") {
      // Our FIN+ACK was lost; answer again. A FIN+ACK is never answered (no ping-pong).
      if (bare) this.emit(FLAG_FIN | FLAG_ACK, this.sndNxt, seqAdd(pkt.seq, 1), EMPTY, 0);
      return;
    }
    if (st !== "ESTABLISHED" && st !== "FIN_WAIT") return;
    this.lastActivity = now;
    if (bare) this.emit(FLAG_FIN | FLAG_ACK, this.sndNxt, seqAdd(pkt.seq, 1), EMPTY, 0);
    // If the FIN overtook data, keep accepting that data during TIME_WAIT before signalling EOF.
    if (!this.discardInput && seqAfter(pkt.seq, this.rcvNxt)) this.finSeq = pkt.seq;
    else this.remoteEnded = true;
    this.evReadable = true;
    this.enterTimeWait(now);
    this.reportClose("remote");
  }

  // ---- send path ------------------------------------------------------------------------------

  /** Sends what the windows allow: lost segments first, then new data (Nagle, SACK-lookalike rule). */
  private flush(now: number): void {
    const st = this._state;
    if ((st !== "ESTABLISHED" && st !== "FIN_WAIT") || this.finSent) return;
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
        if (this.peerWindowBytes === 0 && inflight === 0 && this.persistAt === Infinity) {
          this.persistAt = now + this.persistInterval;
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
    if (this.wantWritable && this.writeQ.length <= this.sendBufferBytes / 2 && !this.closing) {
      this.wantWritable = false;
      this.evWritable = true;
    }
  }

  private sendNew(data: Uint8Array, now: number): void {
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
    this.lastActivity = now;
    this.progressAt = now;
    this.bytesSent += data.length;
    this.sendSegment(seg);
  }

  private retransmit(seg: Segment, now: number): void {
    this.sendBuf.retransmitted(seg, now);
    this.retransmits++;
    if (this.recovery !== Recovery.None) {
      this.episodeRetx++;
      this.episodeUnconfirmed++;
    }
    this.sendSegment(seg);
  }

  /** Data segments always carry ACK, the current cumulative ack and window; they replace a pending ACK. */
  private sendSegment(seg: Segment): void {
    this.segsSent++;
    this.segsSinceAck = 0;
    this.delayedAckAt = Infinity;
    this.emit(FLAG_ACK, seg.seq, this.rcvNxt, seg.data, this.advertise());
  }

  private sendAck(): void {
    let payload = EMPTY;
    if (this.ooo.size > 0) {
      payload = encodeSack(this.ooo.sackBlocks());
      this.sackSent++;
    }
    this.segsSinceAck = 0;
    this.delayedAckAt = Infinity;
    this.emit(FLAG_ACK, this.sndNxt, this.rcvNxt, payload, this.advertise());
  }

  private maybeWindowUpdate(): void {
    const w = this.windowField();
    if ((this.lastAdvertised === 0 && w > 0) || w - this.lastAdvertised >= WINDOW_UPDATE_UNITS) {
      this.run(() => this.sendAck());
    }
  }

  private maybeSendFin(now: number): void {
    if (this._state !== "FIN_WAIT" || this.finSent || this.writeQ.length > 0 || this.sendBuf.length > 0) {
      return;
    }
    this.finSent = true;
    this.finAttempts = 1;
    this.finSentAt = now;
    this.emit(FLAG_FIN, this.sndNxt, 0, EMPTY, 0);
  }

  private sendRst(): void {
    this.emit(FLAG_RST, 0, 0, EMPTY, 0);
  }

  private emit(flags: number, seq: number, ack: number, payload: Uint8Array, window: number): void {
    this.lastSentAt = this.timers.now();
    this.host.send({
      version: PROTOCOL_VERSION,
      flags,
      protocol: PROTO_STREAM,
      src: this.localAddr,
      dst: this.remoteAddr,
      srcPort: this.localPort,
      dstPort: this.remotePort,
      seq,
      ack,
      window,
      payload,
    });
  }

  /** The Window field to put on a packet now, remembered for window-update decisions. */
  private advertise(): number {
    return this.lastAdvertised = this.windowField();
  }

  private windowField(): number {
    if (this.discardInput) {
      return Math.min(MAX_WINDOW_FIELD, Math.floor(this.recvBufferBytes / WINDOW_UNIT_BYTES));
    }
    const free = this.recvBufferBytes - this.unread;
    return free <= 0 ? 0 : Math.min(MAX_WINDOW_FIELD, Math.floor(free / WINDOW_UNIT_BYTES));
  }

  private setPeerWindow(field: number): void {
    this.peerWindowField = field;
    const bytes = field * this.windowUnit;
    if (bytes > 0) this.persistAt = Infinity;
    this.peerWindowBytes = bytes;
  }

  /** SYN / SYN+ACK windows: 0 there means "unknown" (ref semantics), so assume the reference's 512. */
  private takeHandshakeWindow(field: number): void {
    this.setPeerWindow(field === 0 ? DEFAULT_PEER_WINDOW_UNITS : field);
  }

  // ---- loss recovery --------------------------------------------------------------------------

  /**
   * Starts a loss recovery episode: one multiplicative decrease for all losses
   * found until everything sent so far is acknowledged (RFC 6675), then the
   * first lost segment goes out regardless of the pipe (RFC 6675 §5 step 4.3).
   */
  private enterFastRecovery(now: number): void {
    this.startEpisode(now);
    this.recovery = Recovery.Fast;
    this.fastRetx++;
    this.cc.onFastRetransmit();
    const seg = this.sendBuf.nextLost();
    if (seg) this.retransmit(seg, now);
  }

  private startEpisode(now: number): void {
    this.recoveryPoint = this.sndNxt;
    this.recoveryStart = now;
    this.episodeRetx = this.episodeUnconfirmed = 0;
    this.cc.saveForUndo();
  }

  /** Everything sent before the episode began is acknowledged; undo the reduction if no loss was real. */
  private endRecovery(): void {
    if (this.episodeRetx > 0 && this.episodeUnconfirmed <= 0) {
      this.cc.undo();
      this.undos++;
    }
    this.recovery = Recovery.None;
    this.rack.onRecoveryEnd();
  }

  /** The probe's round trip completed. A probe that resent data repaired a loss: reduce once (RFC 8985 §7.4.2). */
  private probeAnswered(): void {
    this.probeOut = false;
    if (
      this.probeSeg && !this.probeSpurious && this.recovery === Recovery.None &&
      this.recoveryStart < this.probeSentAt
    ) {
      this.cc.onFastRetransmit();
    }
    this.probeSeg = undefined;
  }

  /**
   * When a tail loss probe is due (Infinity: not armed): PTO after the last
   * progress, then, while nothing is delivered, after twice the previous wait
   * (so a few probes, not one, precede the retransmission timeout).
   */
  private probeDeadline(): number {
    if (!this.rtt.hasSample || this.peerWindowBytes === 0 || this.probes >= TLP_MAX_PROBES) return Infinity;
    const n = this.sendBuf.length;
    if (n === 0) return Infinity;
    const { srtt, rttvar } = this.rtt;
    let pto = Math.max(2 * srtt, srtt + 4 * rttvar) + TLP_SLACK_MS;
    // A lone segment may be waiting for the peer's delayed ACK.
    if (n === 1) pto += DELAYED_ACK_MS;
    return this.probes === 0 ? this.progressAt + pto : this.probeSentAt + pto * 2 ** this.probes;
  }

  /** Sends the tail loss probe: new data if the peer's window allows, else the highest unSACKed segment. */
  private sendProbe(now: number): void {
    this.probeSeg = undefined;
    this.probeSpurious = false;
    const queued = this.writeQ.length;
    if (queued > 0 && seqDiff(this.sndNxt, this.sndUna) < this.peerWindowBytes) {
      let size = queued < this.mss ? queued : this.mss;
      if (this.writeQ.byteAt(0) === BYTE_S && dataLooksLikeSack(size, (i) => this.writeQ.byteAt(i))) size = 1;
      this.sendNew(this.writeQ.take(size), now);
    } else {
      let seg: Segment | undefined;
      for (let i = this.sendBuf.length - 1; i >= 0; i--) {
        const s = this.sendBuf.at(i)!;
        if (!s.sacked) {
          seg = s;
          break;
        }
      }
      if (!seg) {
        this.probes = TLP_MAX_PROBES; // everything is SACKed: nothing to probe with until an ACK comes
        return;
      }
      this.retransmit(seg, now);
      this.probeSeg = seg;
    }
    this.tlpProbes++;
    this.probes++;
    this.probeOut = true;
    this.probeSentAt = now;
    this.probeOrder = this.sendBuf.lastOrder;
    this.probeEnd = this.sndNxt;
  }

  /** Retransmission timer for the oldest unacknowledged segment (or a zero-window probe). */
  private onRetransmitTimer(now: number, head: Segment): void {
    if (this.peerWindowBytes === 0) {
      // Persist: the receiver said 0, so this is a window probe; it never counts toward the limit.
      this.persistInterval = Math.min(this.persistInterval * 2, PERSIST_MAX_MS);
      this.retransmit(head, now);
      return;
    }
    if (this.backoffs >= MAX_TRANSMISSIONS - 1) {
      this.sendRst();
      this.terminate("timeout");
      return;
    }
    this.backoffs++;
    this.timeouts++;
    if (this.recovery === Recovery.None) this.startEpisode(now);
    else this.recoveryPoint = this.sndNxt;
    if (this.recovery !== Recovery.Timeout) this.cc.onTimeout();
    else this.cc.cwnd = this.mss;
    this.recovery = Recovery.Timeout;
    this.lastRtoAt = now;
    this.dupAcks = 0;
    this.probeOut = false;
    this.probeSeg = undefined;
    this.probes = 0;
    this.progressAt = now;
    this.rtt.backoff();
    // Everything outstanding and not SACKed is presumed lost; the ACK clock resends the rest.
    this.sendBuf.restartLossScan();
    this.sendBuf.markLostUpTo(this.sndNxt);
    const seg = this.sendBuf.nextLost() ?? head;
    this.retransmit(seg, now);
  }

  // ---- timers ---------------------------------------------------------------------------------

  private expire(now: number): void {
    switch (this._state) {
      case "SYN_SENT":
        if (now >= this.synDeadline) this.onSynExpired(now);
        return;
      case "TIME_WAIT":
        if (now >= this.timeWaitUntil) {
          if (this.finSeq >= 0) {
            this.finSeq = -1;
            this.remoteEnded = true;
            this.evReadable = true;
          }
          this.terminate(this.closeReason ?? "remote");
        }
        return;
      case "ESTABLISHED":
      case "FIN_WAIT":
        break;
      default:
        return;
    }
    if (now >= this.delayedAckAt) this.sendAck();
    const head = this.sendBuf.first();
    if (head && now >= this.retransmitDeadline(head)) {
      this.onRetransmitTimer(now, head);
      if (this.isClosedState()) return;
    } else if (head) {
      if (now >= this.rack.timerAt) this.detectLosses(now);
      if (now >= this.probeDeadline()) this.sendProbe(now);
    } else if (now >= this.persistAt) {
      this.persistAt = Infinity;
      if (this.peerWindowBytes === 0 && this.writeQ.length > 0) {
        this.sendNew(this.writeQ.take(1), now);
        this.persistInterval = Math.min(this.persistInterval * 2, PERSIST_MAX_MS);
      }
    }
    this.flush(now); // includes a due Nagle remainder
    if (this._state === "ESTABLISHED") {
      if (now - this.lastActivity >= IDLE_TIMEOUT_MS) {
        this.emit(FLAG_FIN, this.sndNxt, 0, EMPTY, 0);
        this.remoteEnded = true;
        this.evReadable = true;
        this.enterTimeWait(now);
        this.reportClose("idle");
        return;
      }
      if (now - this.lastSentAt >= KEEPALIVE_MS) {
        // Not activity: a peer that stays silent is still closed after IDLE_TIMEOUT_MS.
        this.emit(FLAG_ACK, this.sndNxt, this.rcvNxt, EMPTY, this.advertise());
      }
    } else if (this._state === "FIN_WAIT") {
      if (!this.finSent) {
        if (now >= this.lingerUntil) {
          this.sendRst();
          this.terminate("linger");
        }
      } else if (now >= this.finSentAt + this.rtt.rto) {
        if (this.finAttempts >= FIN_MAX_TRANSMISSIONS) this.enterTimeWait(now);
        else {
          this.finAttempts++;
          this.finSentAt = now;
          this.emit(FLAG_FIN, this.sndNxt, 0, EMPTY, 0);
        }
      }
    }
  }

  private onSynExpired(now: number): void {
    if (this.synAttempts >= SYN_MAX_TRANSMISSIONS) {
      this.terminate("dial-timeout");
      return;
    }
    const hook = this.onSynTimeout;
    if (hook) {
      try {
        hook(this.synAttempts);
      } catch { /* a failing hook must not break the dial */ }
      if (this._state !== "SYN_SENT") return;
    }
    this.synAttempts++;
    this.synRto = Math.min(this.synRto * 2, SYN_RTO_MAX_MS);
    this.synDeadline = now + this.synRto;
    this.emit(FLAG_SYN, ISN, 0, EMPTY, this.advertise());
  }

  private retransmitDeadline(head: Segment): number {
    const from = head.sentAt > this.lastRtoAt ? head.sentAt : this.lastRtoAt;
    return from + (this.peerWindowBytes === 0 ? this.persistInterval : this.rtt.rto);
  }

  private nextDeadline(now: number): number {
    switch (this._state) {
      case "SYN_SENT":
        return this.synDeadline;
      case "TIME_WAIT":
        return this.timeWaitUntil;
      case "ESTABLISHED":
      case "FIN_WAIT": {
        let t = this.delayedAckAt;
        // A Nagle hold that has expired only waits for window space now: an ACK will flush it.
        if (this.nagleAt < t && this.nagleAt > now) t = this.nagleAt;
        const head = this.sendBuf.first();
        if (head) t = Math.min(t, this.retransmitDeadline(head), this.rack.timerAt, this.probeDeadline());
        else if (this.persistAt < t) t = this.persistAt;
        if (this._state === "ESTABLISHED") {
          t = Math.min(
            t,
            this.lastActivity + IDLE_TIMEOUT_MS,
            this.lastSentAt + KEEPALIVE_MS,
          );
        } else {
          t = Math.min(t, this.finSent ? this.finSentAt + this.rtt.rto : this.lingerUntil);
        }
        return t;
      }
      default:
        return Infinity;
    }
  }

  // ---- state changes --------------------------------------------------------------------------

  private enterTimeWait(now: number): void {
    this.writeQ.clear();
    this.sendBuf.clear();
    this.sndUna = this.sndNxt;
    this.delayedAckAt = this.nagleAt = this.persistAt = Infinity;
    this.closing = true;
    this.timeWaitUntil = now + TIME_WAIT_MS;
    this.setState("TIME_WAIT");
  }

  /** Final state: forget everything but unread data, cancel timers, tell the host. */
  private terminate(reason: CloseReason): void {
    this.writeQ.clear();
    this.sendBuf.clear();
    this.ooo.clear();
    this.sndUna = this.sndNxt;
    this.closing = true;
    if (!this.remoteEnded) {
      this.remoteEnded = true;
      this.evReadable = true;
    }
    this.reportClose(reason);
    this.timers.cancel(this);
    this.wakeAt = Infinity;
    this.setState("CLOSED");
  }

  private reportClose(reason: CloseReason): void {
    if (this.closeReason === undefined) this.closeReason = reason;
    if (!this.closeReported) {
      this.closeReported = true;
      this.evClose = reason;
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
    if (this._state !== "CLOSED") {
      const t = this.nextDeadline(this.timers.now());
      if (t < this.wakeAt) {
        this.wakeAt = t;
        this.timers.schedule(this, t);
      }
    }
    this.fireEvents();
  }

  private fireEvents(): void {
    if (this.evOpen) {
      this.evOpen = false;
      callback(this.onOpen);
    }
    if (this.evReadable) {
      this.evReadable = false;
      callback(this.onReadable);
    }
    if (this.evWritable) {
      this.evWritable = false;
      callback(this.onWritable);
    }
    if (this.evClose !== undefined) {
      const reason = this.evClose;
      this.evClose = undefined;
      const cb = this.onClose;
      if (cb) callback(() => cb(reason));
    }
  }
}

/** Calls an application callback; an exception there must not corrupt the state machine. */
function callback(fn: (() => void) | undefined): void {
  if (!fn) return;
  try {
    fn();
  } catch (err) {
    queueMicrotask(() => {
      throw err;
    });
  }
}

function positiveInt(v: number, name: string): number {
  if (!Number.isInteger(v) || v <= 0) throw new RangeError(`${name} must be a positive integer, got ${v}`);
  return v;
}
