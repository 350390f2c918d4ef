/**
 * The session manager: one per daemon. It owns the connection table and
 * demultiplexes decrypted packets by protocol (docs/protocol/transport.md §1): streams by
 * (local port, remote node, remote port), SYNs through the reference's
 * processing order (§3.3) with a pluggable trust gate, SYN rate limits and
 * connection limits; datagrams (§11) to bound sockets or a catch-all handler;
 * port-0 pings (§12, docs/protocol/wire.md §7) answered, and originated with RTT matching.
 * Like the streams, it does no I/O: the daemon hands it packets, gives it a
 * `send` callback and a {@link TimerService}.
 * @module
 */
import { Logger } from "../log.ts";
import type { Address } from "../protocol/address.ts";
import {
  FLAG_ACK,
  FLAG_RST,
  FLAG_SYN,
  PROTO_CONTROL,
  PROTO_DATAGRAM,
  PROTO_STREAM,
  PROTOCOL_VERSION,
} from "../protocol/header.ts";
import type { Packet } from "../protocol/packet.ts";
import { EPHEMERAL_PORT_MAX, EPHEMERAL_PORT_MIN, nextEphemeralPort, PORT_PING } from "../protocol/ports.ts";
import { SYN_RATE_GLOBAL, SYN_RATE_PER_SOURCE, SynRateLimiter } from "./rate-limit.ts";

import { type CloseReason, Stream, type StreamHost, type StreamOptions, type StreamState } from "./stream.ts";
import type { TimerService, TimerTarget } from "./timers.ts";
import type { SessionEvent } from "./session_events.ts";
import { Pinger, pongFor } from "./ping.ts";
import { PeerRttMemory } from "./peer_rtt.ts";

import {
  ACCEPT_QUEUE_CAPACITY,
  type Datagram,
  DATAGRAM_QUEUE_CAPACITY,
  DialError,
  type DialOptions,
  MAX_CONNECTIONS_PER_PORT,
  MAX_CONNECTIONS_TOTAL,
  MAX_DATAGRAM_PAYLOAD,
  type PingResult,
  type SessionCounters,
  SessionError,
  type SessionManagerOptions,
  SWEEP_INTERVAL_MS,
  type TrustGate,
} from "./session_types.ts";
import { DatagramSocket, Listener } from "./sockets.ts";
import { ConnectionTable } from "./connection_table.ts";
import { RecentlyClosedTuples } from "./closed_tuples.ts";
import { CHALLENGE_ACK_BURST, CHALLENGE_ACK_RATE } from "./rst_check.ts";
import { TokenBucket } from "../net/token_bucket.ts";

export type { SessionEvent } from "./session_events.ts";
export * from "./session_types.ts";
export { DatagramSocket, Listener } from "./sockets.ts";

const EPHEMERAL_PORT_COUNT = EPHEMERAL_PORT_MAX - EPHEMERAL_PORT_MIN + 1;
const EMPTY: Uint8Array = new Uint8Array(0);

/**
 * Connection table, listeners, datagram sockets and pings of one node. See the
 * module documentation for the wiring; every method is synchronous and does
 * no I/O except through `send`.
 */
export class SessionManager implements StreamHost, TimerTarget {
  readonly localAddr: Address;
  readonly timers: TimerService;
  /** Datagrams whose destination port has no bound socket (the daemon pushes them to IPC clients). */
  onDatagram?: (dg: Datagram) => void;
  /**
   * Receives refusals and connection lifecycle events ({@link SessionEvent}). Unset, nothing is
   * built for them; set, it is called only on SYNs, refusals and state changes, never per segment.
   */
  onEvent?: (event: SessionEvent) => void;
  /** Drop and refusal counters. */
  readonly counters: SessionCounters = {
    rstNoListener: 0,
    rstPortLimit: 0,
    rstTotalLimit: 0,
    rstAcceptQueueFull: 0,
    rstBadVersion: 0,
    rstIgnored: 0,
    rstChallenged: 0,
    rstChallengeLimited: 0,
    synUntrusted: 0,
    synRateGlobal: 0,
    synRateSource: 0,
    unmatched: 0,
    badVersion: 0,
    unknownProtocol: 0,
    datagramUntrusted: 0,
    datagramDropped: 0,
    pingsAnswered: 0,
  };

  /**
   * Set by a host that calls {@link SessionManager.endBatch} after each batch of packets it hands
   * to {@link SessionManager.onPacket}: ACKs then cover a whole batch (docs/protocol/transport.md §5.3).
   */
  batchAcks = false;
  /** Streams owing an ACK at the end of the current batch. */
  private readonly acksOwed: Stream[] = [];

  private readonly sendPacket: (pkt: Packet) => void;
  private readonly trustGate?: TrustGate;
  private readonly rstUntrusted: boolean;
  private readonly streamOptions: StreamOptions;
  private readonly maxPerPort: number;
  private readonly maxTotal: number;
  private readonly log: Logger;
  private readonly synLimiter: SynRateLimiter;
  /** Challenge ACKs for RSTs that did not match (RFC 5961 §7: one limit for all connections). */
  private readonly challengeAcks: TokenBucket;

  /** Every connection, by demux key and id, with the per-port and live counts. */
  private readonly conns = new ConnectionTable((stream) => {
    const rtt = stream.smoothedRttMs; // remembered for status views once the connection is gone
    if (rtt !== undefined) this.peerRtts.remember(stream.remoteAddr.node, rtt);
    this.closedTuples.remember(
      stream.localPort,
      stream.remoteAddr.node,
      stream.remotePort,
      this.timers.now(),
    );
  });
  /** Tuples whose connection ended recently: a dial does not reuse them while the peer may still send. */
  private readonly closedTuples = new RecentlyClosedTuples();
  private readonly listeners = new Map<number, Listener>();
  private readonly dgramSockets = new Map<number, DatagramSocket>();
  private readonly pinger: Pinger;
  /** Last RTT measured to each node (a ping, a connection that has closed), for status views. */
  private readonly peerRtts = new PeerRttMemory();
  private readonly pendingSyns = new Set<string>();
  private nextEphemeral: number;
  private sweepScheduled = false;

  constructor(opts: SessionManagerOptions) {
    this.localAddr = opts.localAddr;
    this.sendPacket = opts.send;
    this.timers = opts.timers;
    this.pinger = new Pinger(
      this.timers,
      this.localAddr,
      (pkt) => this.sendPacket(pkt),
      (node, rttMs) => this.peerRtts.remember(node, rttMs),
    );
    this.trustGate = opts.trustGate;
    this.rstUntrusted = opts.rstUntrusted ?? false;
    this.streamOptions = opts.streamOptions ?? {};
    this.maxPerPort = opts.maxConnectionsPerPort ?? MAX_CONNECTIONS_PER_PORT;
    this.maxTotal = opts.maxConnectionsTotal ?? MAX_CONNECTIONS_TOTAL;
    this.log = opts.logger ?? new Logger("transport");
    this.synLimiter = new SynRateLimiter(
      this.timers.now(),
      opts.synRateGlobal ?? SYN_RATE_GLOBAL,
      opts.synRatePerSource ?? SYN_RATE_PER_SOURCE,
    );
    this.nextEphemeral = opts.firstEphemeralPort ??
      EPHEMERAL_PORT_MIN + Math.floor(Math.random() * EPHEMERAL_PORT_COUNT);
    if (!(this.nextEphemeral >= EPHEMERAL_PORT_MIN && this.nextEphemeral <= EPHEMERAL_PORT_MAX)) {
      throw new SessionError(`firstEphemeralPort must be in ${EPHEMERAL_PORT_MIN}..${EPHEMERAL_PORT_MAX}`);
    }
    this.challengeAcks = new TokenBucket(CHALLENGE_ACK_RATE, CHALLENGE_ACK_BURST, this.timers.now());
  }

  // ---- inbound ----------------------------------------------------------------------------------

  /**
   * Handles one decrypted, decoded packet from the tunnel. Payload bytes are
   * kept by reference (delivered to readers without copying), so the caller
   * must not reuse the buffer the packet was decoded from.
   */
  onPacket(pkt: Packet): void {
    if (pkt.version !== PROTOCOL_VERSION) {
      // Draft §10: an unsupported-version SYN is refused with a version-1 RST; anything else is dropped.
      this.counters.badVersion++;
      if (pkt.protocol === PROTO_STREAM && (pkt.flags & (FLAG_SYN | FLAG_ACK)) === FLAG_SYN) {
        this.counters.rstBadVersion++;
        this.sendRstFor(pkt);
      }
      return;
    }
    switch (pkt.protocol) {
      case PROTO_STREAM:
        return this.onStreamPacket(pkt);
      case PROTO_DATAGRAM:
        return this.onDatagramPacket(pkt);
      case PROTO_CONTROL:
        return this.onControlPacket(pkt);
      default:
        this.counters.unknownProtocol++;
    }
  }

  private onStreamPacket(pkt: Packet): void {
    const conn = this.conns.lookup(pkt.dstPort, pkt.src.node, pkt.srcPort);
    if ((pkt.flags & (FLAG_SYN | FLAG_ACK | FLAG_RST)) === FLAG_SYN) {
      this.onSyn(pkt, conn);
      return;
    }
    if (conn) conn.handlePacket(pkt);
    else this.counters.unmatched++; // unknown 4-tuple: silently dropped, never RST
  }

  /** SYN processing in the reference's order (docs/protocol/transport.md §3.3). */
  private onSyn(pkt: Packet, existing: Stream | undefined): void {
    const listener = this.listeners.get(pkt.dstPort);
    if (!listener) {
      this.counters.rstNoListener++;
      this.sendRstFor(pkt);
      return;
    }
    if (existing) {
      if (existing.state === "ESTABLISHED") {
        existing.resendSynAck();
        return;
      }
      if (existing.state !== "TIME_WAIT") return;
      existing.abort(); // a new incarnation of a 4-tuple in TIME_WAIT replaces it
    }
    if (this.trustGate) {
      const key = `${pkt.dstPort}/${pkt.src.node}/${pkt.srcPort}`;
      if (this.pendingSyns.has(key)) return; // a retransmitted SYN while the first is being checked
      let verdict: boolean | Promise<boolean>;
      try {
        verdict = this.trustGate(pkt.src, "stream");
      } catch (err) {
        this.log.warn("trust gate failed", { error: String(err) });
        verdict = false;
      }
      if (verdict instanceof Promise) {
        this.pendingSyns.add(key);
        verdict.then((ok) => ok, () => false).then((ok) => {
          this.pendingSyns.delete(key);
          if (!ok) {
            this.counters.synUntrusted++;
            if (this.onEvent) this.refused("syn-rejected", pkt);
            if (this.rstUntrusted) this.sendRstFor(pkt);
            return;
          }
          // Re-check what may have changed while the gate was deciding.
          const l = this.listeners.get(pkt.dstPort);
          if (!l) return this.sendRstFor(pkt);
          const again = this.conns.lookup(pkt.dstPort, pkt.src.node, pkt.srcPort);
          if (again) {
            if (again.state === "ESTABLISHED") again.resendSynAck();
            return;
          }
          this.admitSyn(pkt, l);
        });
        return;
      }
      if (!verdict) {
        this.counters.synUntrusted++;
        if (this.onEvent) this.refused("syn-rejected", pkt);
        if (this.rstUntrusted) this.sendRstFor(pkt);
        return;
      }
    }
    this.admitSyn(pkt, listener);
  }

  /** Steps 4–8 of §3.3: rate limits, connection limits, create, SYN+ACK, accept queue. */
  private admitSyn(pkt: Packet, listener: Listener): void {
    const now = this.timers.now();
    const verdict = this.synLimiter.check(pkt.src.node, now);
    this.scheduleSweep(now);
    if (verdict !== "ok") {
      if (verdict === "global") this.counters.synRateGlobal++;
      else this.counters.synRateSource++;
      if (this.onEvent) {
        const { src, srcPort, dstPort } = pkt;
        this.emitEvent({ kind: "syn-rate-limited", src, srcPort, dstPort, scope: verdict });
      }
      return;
    }
    if (this.conns.liveOn(pkt.dstPort) >= this.maxPerPort) {
      this.counters.rstPortLimit++;
      return this.sendRstFor(pkt);
    }
    if (this.conns.live >= this.maxTotal) {
      this.counters.rstTotalLimit++;
      return this.sendRstFor(pkt);
    }
    const stream = this.createStream(pkt.dstPort, pkt.src, pkt.srcPort, this.streamOptions);
    stream.openPassive(pkt);
    // Reported once the SYN+ACK is on its way, so observers do not delay it (same order as before).
    if (this.onEvent) {
      this.emitEvent({ kind: "syn-received", stream });
      if (stream.state === "ESTABLISHED") this.emitEvent({ kind: "established", stream });
    }
    if (listener.queue.length >= ACCEPT_QUEUE_CAPACITY) {
      this.counters.rstAcceptQueueFull++;
      stream.abort(); // the SYN+ACK already went out; RST from the connection's 4-tuple
      return;
    }
    listener.queue.push(stream);
    const cb = listener.onConnection;
    if (cb) cb();
  }

  private onDatagramPacket(pkt: Packet): void {
    if (pkt.payload.length === 0) {
      this.counters.datagramDropped++;
      return;
    }
    const dg: Datagram = { src: pkt.src, srcPort: pkt.srcPort, dstPort: pkt.dstPort, data: pkt.payload };
    if (!this.trustGate) return this.deliverDatagram(dg);
    let verdict: boolean | Promise<boolean>;
    try {
      verdict = this.trustGate(pkt.src, "datagram");
    } catch {
      verdict = false;
    }
    if (verdict instanceof Promise) {
      verdict.then((ok) => ok, () => false).then((ok) =>
        ok ? this.deliverDatagram(dg) : this.datagramRefused(pkt)
      );
    } else if (verdict) this.deliverDatagram(dg);
    else this.datagramRefused(pkt);
  }

  private datagramRefused(pkt: Packet): void {
    this.counters.datagramUntrusted++;
    if (this.onEvent) this.refused("datagram-rejected", pkt);
  }

  private deliverDatagram(dg: Datagram): void {
    const sock = this.dgramSockets.get(dg.dstPort);
    if (sock) sock.enqueue(dg);
    else if (this.onDatagram) this.onDatagram(dg);
    else this.counters.datagramDropped++;
  }

  private onControlPacket(pkt: Packet): void {
    const isAck = (pkt.flags & FLAG_ACK) !== 0;
    if (pkt.dstPort === PORT_PING) {
      if (isAck) return; // never answer a pong (a peer pinging from port 0 would loop)
      this.counters.pingsAnswered++;
      this.sendPacket(pongFor(pkt, this.localAddr));
      return;
    }
    if (!isAck || pkt.srcPort !== PORT_PING) return;
    this.pinger.onPong(pkt);
  }

  /**
   * The RTT to `node` in ms: the smallest smoothed RTT of its open connections, else the last
   * one measured (an answered ping, a connection that has closed); undefined if never measured.
   */
  peerRtt(node: number): number | undefined {
    let best: number | undefined;
    for (const s of this.conns.ofNode(node)) {
      const rtt = s.smoothedRttMs;
      if (rtt !== undefined && (best === undefined || rtt < best)) best = rtt;
    }
    return best ?? this.peerRtts.get(node);
  }

  // ---- streams ----------------------------------------------------------------------------------

  /**
   * Binds a stream listener on `port` (any port, 0 included, as the reference).
   * Throws {@link SessionError} if the port already has one.
   */
  listen(port: number): Listener {
    checkPort(port);
    if (this.listeners.has(port)) throw new SessionError(`port ${port} already bound`);
    const l = new Listener(port, this);
    this.listeners.set(port, l);
    return l;
  }

  /** @internal Called by Listener.close(). */
  unlisten(l: Listener): void {
    if (this.listeners.get(l.port) === l) this.listeners.delete(l.port);
  }

  /**
   * Starts a dial to `remote`:`port` and returns the stream in SYN_SENT. Set
   * `onOpen` / `onClose` (reasons `refused`, `dial-timeout`) on it, or use
   * {@link connect}. The SYN schedule and relay hook are described at
   * `SYN_MAX_TRANSMISSIONS` in stream.ts.
   */
  dial(remote: Address, port: number, opts: DialOptions = {}): Stream {
    checkPort(port);
    const localPort = opts.localPort ?? this.allocatePort({ node: remote.node, port });
    checkPort(localPort);
    if (this.conns.lookup(localPort, remote.node, port)) {
      throw new SessionError(`a connection from port ${localPort} to ${remote}:${port} already exists`);
    }
    const { localPort: _lp, onSynTimeout, ...streamOpts } = opts;
    const stream = this.createStream(localPort, remote, port, { ...this.streamOptions, ...streamOpts });
    if (onSynTimeout) stream.onSynTimeout = onSynTimeout;
    stream.openActive();
    return stream;
  }

  /**
   * Dials and resolves with the stream once ESTABLISHED, or rejects with
   * {@link DialError}. Data may already be queued when it resolves: check
   * `readableLength` after attaching `onReadable`.
   */
  connect(remote: Address, port: number, opts: DialOptions = {}): Promise<Stream> {
    const s = this.dial(remote, port, opts);
    return new Promise((resolve, reject) => {
      s.onOpen = () => {
        s.onOpen = s.onClose = undefined;
        resolve(s);
      };
      s.onClose = (reason) => {
        s.onOpen = s.onClose = undefined;
        reject(new DialError(reason));
      };
    });
  }

  /** The connection with this id, if it is still in the table. */
  getConnection(id: number): Stream | undefined {
    return this.conns.get(id);
  }

  /** Every connection in the table (any state). */
  connections(): IterableIterator<Stream> {
    return this.conns.values();
  }

  /** Connections that are not CLOSED or TIME_WAIT. */
  get liveConnections(): number {
    return this.conns.live;
  }

  /** Ports with a stream listener. */
  get listenerPorts(): number[] {
    return [...this.listeners.keys()];
  }

  /** StreamHost: keeps the live counters and removes CLOSED streams from the table. */
  stateChanged(stream: Stream, previous: StreamState): void {
    const ended = this.conns.stateChanged(stream, previous);
    // The stream records why it stopped just after the state change: read it once this step ends.
    if (ended && this.onEvent) queueMicrotask(() => this.reportEnd(stream));
  }

  /** StreamHost: counts an RST that did not match its connection; rate-limits the challenge ACKs. */
  rstRefused(verdict: "challenge" | "ignore"): boolean {
    if (verdict === "ignore") {
      this.counters.rstIgnored++;
      return false;
    }
    if (!this.challengeAcks.take(this.timers.now())) {
      this.counters.rstChallengeLimited++;
      return false;
    }
    this.counters.rstChallenged++;
    return true;
  }

  /** StreamHost: holds a stream's ACK until {@link endBatch} when the host batches. */
  ackAtBatchEnd(stream: Stream): boolean {
    if (!this.batchAcks) return false;
    this.acksOwed.push(stream);
    return true;
  }

  /** The host's batch of received packets is done: the ACKs held for it go out. */
  endBatch(): void {
    if (this.acksOwed.length === 0) return;
    const owed = this.acksOwed.splice(0);
    for (const stream of owed) stream.batchEnded();
  }

  /** StreamHost: packets from streams go straight to the tunnel. */
  send(pkt: Packet): void {
    this.sendPacket(pkt);
  }

  // ---- datagrams ----------------------------------------------------------------------------------

  /** Binds a datagram socket on `port` (0 = next free ephemeral port). */
  bindDatagram(port = 0, capacity = DATAGRAM_QUEUE_CAPACITY): DatagramSocket {
    if (port === 0) port = this.allocatePort();
    checkPort(port);
    if (this.dgramSockets.has(port)) throw new SessionError(`datagram port ${port} already bound`);
    const s = new DatagramSocket(port, this, capacity);
    this.dgramSockets.set(port, s);
    return s;
  }

  /** @internal Called by DatagramSocket.close(). */
  unbindDatagram(s: DatagramSocket): void {
    if (this.dgramSockets.get(s.port) === s) this.dgramSockets.delete(s.port);
  }

  /**
   * Sends one datagram (flags 0, Seq/Ack/Window 0). Without `srcPort` a fresh
   * ephemeral port is used, as the reference does for every send. Broadcast
   * destinations must be expanded by the daemon (it knows the members).
   */
  sendTo(dst: Address, dstPort: number, data: Uint8Array, srcPort?: number): void {
    checkPort(dstPort);
    if (dst.isBroadcast()) {
      throw new SessionError("broadcast datagrams must be expanded to unicast by the daemon");
    }
    if (!(data instanceof Uint8Array) || data.length > MAX_DATAGRAM_PAYLOAD) {
      throw new SessionError(`datagram payload must be at most ${MAX_DATAGRAM_PAYLOAD} bytes`);
    }
    const src = srcPort ?? this.allocatePort();
    checkPort(src);
    this.sendPacket({
      version: PROTOCOL_VERSION,
      flags: 0,
      protocol: PROTO_DATAGRAM,
      src: this.localAddr,
      dst,
      srcPort: src,
      dstPort,
      seq: 0,
      ack: 0,
      window: 0,
      payload: data,
    });
  }

  // ---- ping ---------------------------------------------------------------------------------------

  /**
   * Sends a port-0 Control ping to `remote` from a reserved ephemeral port and
   * resolves with the RTT when the matching pong (Ack = Seq + 1, same node)
   * arrives; rejects with {@link PingTimeoutError} after `timeoutMs`.
   */
  ping(remote: Address, opts: { payload?: Uint8Array; timeoutMs?: number } = {}): Promise<PingResult> {
    return this.pinger.ping(remote, this.allocatePort(), opts);
  }

  // ---- events -------------------------------------------------------------------------------------

  private emitEvent(event: SessionEvent): void {
    try {
      this.onEvent?.(event);
    } catch (err) {
      this.log.warn("session event observer failed", { error: String(err) });
    }
  }

  private refused(kind: "syn-rejected" | "datagram-rejected", pkt: Packet): void {
    this.emitEvent({ kind, src: pkt.src, srcPort: pkt.srcPort, dstPort: pkt.dstPort });
  }

  /** Reports a connection the peer ended (FIN), reset (RST) or that idled out. */
  private reportEnd(stream: Stream): void {
    const kind = END_EVENTS[stream.closeReason ?? "local"];
    if (kind) this.emitEvent({ kind, stream });
  }

  // ---- housekeeping --------------------------------------------------------------------------------

  /** TimerTarget: the periodic sweep (expires idle SYN source buckets). */
  onTimer(now: number): void {
    this.sweepScheduled = false;
    this.synLimiter.sweep(now);
    this.scheduleSweep(now);
  }

  /** Daemon shutdown: resets every connection, closes listeners and sockets, fails pending pings. */
  shutdown(): void {
    for (const s of [...this.conns.values()]) s.abort();
    for (const l of [...this.listeners.values()]) l.close();
    for (const d of [...this.dgramSockets.values()]) d.close();
    this.pinger.shutdown();
    this.timers.cancel(this);
    this.sweepScheduled = false;
  }

  private scheduleSweep(now: number): void {
    if (this.sweepScheduled || this.synLimiter.trackedSources === 0) return;
    this.sweepScheduled = true;
    this.timers.schedule(this, now + SWEEP_INTERVAL_MS);
  }

  // ---- table --------------------------------------------------------------------------------------

  private createStream(
    localPort: number,
    remote: Address,
    remotePort: number,
    options: StreamOptions,
  ): Stream {
    const stream = new Stream({
      id: this.conns.allocateId(),
      host: this,
      localAddr: this.localAddr,
      localPort,
      remoteAddr: remote,
      remotePort,
      options,
    });
    this.conns.add(stream);
    return stream;
  }

  /**
   * The next free ephemeral port, sequentially (from a random start) with wrap-around,
   * skipping ports used by any connection (TIME_WAIT included), listener,
   * datagram socket or pending ping and, for a dial to `peer`, ports whose
   * tuple with that peer closed recently (closed_tuples.ts).
   */
  allocatePort(peer?: { node: number; port: number }): number {
    const now = this.timers.now();
    for (let i = 0; i < EPHEMERAL_PORT_COUNT; i++) {
      const p = this.nextEphemeral;
      this.nextEphemeral = nextEphemeralPort(p);
      if (
        !this.conns.usesPort(p) && !this.listeners.has(p) && !this.dgramSockets.has(p) &&
        !this.pinger.has(p) &&
        !(peer && this.closedTuples.has(p, peer.node, peer.port, now))
      ) {
        return p;
      }
    }
    throw new SessionError("no free ephemeral port");
  }

  /** RST answering `pkt`: addresses and ports swapped, Seq/Ack/Window 0 (docs/protocol/transport.md §8). */
  private sendRstFor(pkt: Packet): void {
    this.sendPacket({
      version: PROTOCOL_VERSION,
      flags: FLAG_RST,
      protocol: PROTO_STREAM,
      src: pkt.dst,
      dst: pkt.src,
      srcPort: pkt.dstPort,
      dstPort: pkt.srcPort,
      seq: 0,
      ack: 0,
      window: 0,
      payload: EMPTY,
    });
  }
}

/** The close reasons that are the peer's doing (or the idle timer's), and the event each raises. */
const END_EVENTS: Partial<Record<CloseReason, "fin" | "rst" | "idle-timeout">> = {
  remote: "fin",
  reset: "rst",
  idle: "idle-timeout",
};

function checkPort(port: number): void {
  if (!Number.isInteger(port) || port < 0 || port > 0xffff) {
    throw new SessionError(`port must be an integer in 0..65535, got ${port}`);
  }
}
