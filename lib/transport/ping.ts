/**
 * Port-0 Control pings (docs/protocol/transport.md §12, docs/protocol/wire.md §7): the pong for a received ping, and the
 * pings this node originated, each from its own ephemeral port and matched to its pong by node
 * and Ack = Seq + 1.
 * @module
 */
import type { Address } from "../protocol/address.ts";
import { FLAG_ACK, PROTO_CONTROL, PROTOCOL_VERSION } from "../protocol/header.ts";
import type { Packet } from "../protocol/packet.ts";
import { PORT_PING } from "../protocol/ports.ts";
import { seqAdd } from "./seq.ts";
import { PING_TIMEOUT_MS, type PingResult, PingTimeoutError } from "./session_types.ts";
import type { TimerService, TimerTarget } from "./timers.ts";

const EMPTY: Uint8Array = new Uint8Array(0);

/** The pong answering `ping` (same payload, Ack = Seq + 1), sent from port 0 by `local`. */
export function pongFor(ping: Packet, local: Address): Packet {
  return {
    version: PROTOCOL_VERSION,
    flags: FLAG_ACK,
    protocol: PROTO_CONTROL,
    src: local,
    dst: ping.src,
    srcPort: PORT_PING,
    dstPort: ping.srcPort,
    seq: ping.seq,
    ack: seqAdd(ping.seq, 1),
    window: 0,
    payload: ping.payload,
  };
}

interface PendingPing extends TimerTarget {
  node: number;
  seq: number;
  sentAt: number;
  resolve: (r: PingResult) => void;
  reject: (e: Error) => void;
}

/** The pings this node sent and is waiting for, by local port. */
export class Pinger {
  readonly #pending = new Map<number, PendingPing>();
  #nextSeq = 1;

  constructor(
    private readonly timers: TimerService,
    private readonly local: Address,
    private readonly send: (pkt: Packet) => void,
    /** Told each RTT a pong measured. */
    private readonly measured: (node: number, rttMs: number) => void = () => {},
  ) {}

  /** True while a ping waits on `port` (the port is then in use). */
  has(port: number): boolean {
    return this.#pending.has(port);
  }

  /** Sends a ping to `remote` from `port`; see `SessionManager.ping`. */
  ping(
    remote: Address,
    port: number,
    opts: { payload?: Uint8Array; timeoutMs?: number },
  ): Promise<PingResult> {
    const seq = this.#nextSeq;
    this.#nextSeq = seqAdd(seq, 1);
    const now = this.timers.now();
    const { promise, resolve, reject } = Promise.withResolvers<PingResult>();
    const p: PendingPing = {
      node: remote.node,
      seq,
      sentAt: now,
      resolve,
      reject,
      onTimer: () => {
        this.#finish(port, p);
        reject(new PingTimeoutError(`no pong from ${remote} within ${opts.timeoutMs ?? PING_TIMEOUT_MS} ms`));
      },
    };
    this.#pending.set(port, p);
    this.timers.schedule(p, now + (opts.timeoutMs ?? PING_TIMEOUT_MS));
    this.send({
      version: PROTOCOL_VERSION,
      flags: 0,
      protocol: PROTO_CONTROL,
      src: this.local,
      dst: remote,
      srcPort: port,
      dstPort: PORT_PING,
      seq,
      ack: 0,
      window: 0,
      payload: opts.payload ?? EMPTY,
    });
    return promise;
  }

  /** A pong (ACK from port 0): resolves the ping it answers, if any. */
  onPong(pkt: Packet): void {
    const p = this.#pending.get(pkt.dstPort);
    if (!p || p.node !== pkt.src.node || pkt.ack !== seqAdd(p.seq, 1)) return;
    this.#finish(pkt.dstPort, p);
    const rttMs = this.timers.now() - p.sentAt;
    this.measured(p.node, rttMs);
    p.resolve({ rttMs, bytes: pkt.payload.length });
  }

  /** Fails every waiting ping (shutdown). */
  shutdown(): void {
    for (const [port, p] of [...this.#pending]) {
      this.#finish(port, p);
      p.reject(new PingTimeoutError("session manager shut down"));
    }
  }

  #finish(port: number, p: PendingPing): void {
    this.timers.cancel(p);
    if (this.#pending.get(port) === p) this.#pending.delete(port);
  }
}
