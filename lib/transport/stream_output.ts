/**
 * What a stream puts on the wire (docs/protocol/transport.md §2, §4, §5.3): which flags, Seq, Ack and Window
 * each kind of packet carries — SYN, SYN+ACK, data, ACK (with a SACK option while out-of-order
 * data is held), FIN, FIN+ACK and RST — and the Window field we last advertised, which decides
 * when reading has reopened the window enough to be worth an update. The stream's state machine
 * decides when to send; this module only builds and sends, so that header rules live in one place.
 * @module
 */
import {
  FLAG_ACK,
  FLAG_FIN,
  FLAG_RST,
  FLAG_SYN,
  PROTO_STREAM,
  PROTOCOL_VERSION,
} from "../protocol/header.ts";
import type { Address } from "../protocol/address.ts";
import type { LifecycleTimers } from "./lifecycle.ts";
import type { ReceiveBuffer } from "./receive-buffer.ts";
import { encodeSack } from "./sack.ts";
import type { Segment } from "./send-buffer.ts";
import type { SendSide } from "./send-side.ts";
import { seqAdd } from "./seq.ts";
import { ISN, WINDOW_UPDATE_UNITS } from "./stream_constants.ts";
import type { AckClock } from "./stream_signals.ts";
import type { StreamHost } from "./stream_types.ts";

const EMPTY: Uint8Array = new Uint8Array(0);

/** The connection's 4-tuple, as packets carry it. */
export interface StreamEnds {
  readonly localAddr: Address;
  readonly localPort: number;
  readonly remoteAddr: Address;
  readonly remotePort: number;
}

/** The packets of one stream, with their counters for stats(). */
export class StreamOutput {
  /** Data segments sent (first or resent) and SACK options sent. */
  segsSent = 0;
  sackSent = 0;
  /** The Window field we last advertised. */
  private lastAdvertised = 0;

  constructor(
    private readonly ends: StreamEnds,
    private readonly host: StreamHost,
    private readonly rx: ReceiveBuffer,
    private readonly tx: SendSide,
    private readonly acks: AckClock,
    private readonly life: LifecycleTimers,
  ) {}

  /** A dial's SYN (first or resent). */
  syn(): void {
    this.emit(FLAG_SYN, ISN, 0, EMPTY, this.advertise());
  }

  /** The answer to an accepted SYN (sent again for a retransmitted SYN). */
  synAck(): void {
    this.emit(FLAG_SYN | FLAG_ACK, ISN, this.rx.rcvNxt, EMPTY, this.advertise());
  }

  /** Data segments always carry ACK, the current cumulative ack and window; they replace a pending ACK. */
  segment(seg: Segment): void {
    this.segsSent++;
    this.acks.sent();
    this.emit(FLAG_ACK, seg.seq, this.rx.rcvNxt, seg.data, this.advertise());
  }

  /** Our ACK, with a SACK option while out-of-order data is held; it settles the ACK clock. */
  ack(): void {
    let payload = EMPTY;
    if (this.rx.ooo.size > 0) {
      payload = encodeSack(this.rx.ooo.sackBlocks());
      this.sackSent++;
    }
    this.acks.sent();
    this.emit(FLAG_ACK, this.tx.sndNxt, this.rx.rcvNxt, payload, this.advertise());
  }

  /** An empty ACK that leaves the ACK clock alone: the handshake's last packet, and keepalives. */
  bareAck(): void {
    this.emit(FLAG_ACK, this.tx.sndNxt, this.rx.rcvNxt, EMPTY, this.advertise());
  }

  /** Our FIN (Ack and Window 0). */
  fin(): void {
    this.emit(FLAG_FIN, this.tx.sndNxt, 0, EMPTY, 0);
  }

  /** The answer to the peer's bare FIN at `finSeq`. */
  finAck(finSeq: number): void {
    this.emit(FLAG_FIN | FLAG_ACK, this.tx.sndNxt, seqAdd(finSeq, 1), EMPTY, 0);
  }

  /** RST from this connection's 4-tuple (Seq/Ack/Window 0, as the reference sends it). */
  rst(): void {
    this.emit(FLAG_RST, 0, 0, EMPTY, 0);
  }

  /** True when reading reopened the window enough (from zero, or by a full update step) to tell the peer. */
  windowReopened(): boolean {
    const w = this.rx.windowField();
    return (this.lastAdvertised === 0 && w > 0) || w - this.lastAdvertised >= WINDOW_UPDATE_UNITS;
  }

  /** The Window field to put on a packet now, remembered for window-update decisions. */
  private advertise(): number {
    return this.lastAdvertised = this.rx.windowField();
  }

  private emit(flags: number, seq: number, ack: number, payload: Uint8Array, window: number): void {
    this.life.lastSentAt = this.host.timers.now();
    const e = this.ends;
    this.host.send({
      version: PROTOCOL_VERSION,
      flags,
      protocol: PROTO_STREAM,
      src: e.localAddr,
      dst: e.remoteAddr,
      srcPort: e.localPort,
      dstPort: e.remotePort,
      seq,
      ack,
      window,
      payload,
    });
  }
}
