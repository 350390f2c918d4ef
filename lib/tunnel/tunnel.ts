/**
 * The encrypted UDP tunnel between daemons (docs/protocol/wire.md §5, §6, §8.2–8.4): one UDP socket, a peer
 * table keyed by node ID, per-peer key exchange (PILA, or PILK where policy allows), PILS for all
 * traffic afterwards, and the beacon hooks (relay wrapping, RelayDeliver, PunchCommand).
 *
 * This class keeps the peer table, the lifecycle and the stats; the data path is split by stage:
 * - route.ts — the one decision of where a frame to a peer goes (direct or through the relay);
 * - send.ts — encode, then PILT, seal or queue; initiator.ts — our key-exchange frames and retries;
 * - sealing.ts — the PILS crypto strategy (libcrypto, batch, sync), chosen once at open;
 * - receive.ts — frames in, packets out, with the trust rules; handshake.ts — PILA/PILK accepted;
 * - roaming.ts — what may move a peer or put it on the relay (an authenticated, fresh PILS);
 * - beacon_hooks.ts — RelayDeliver and PunchCommand.
 * Beacon messages are accepted only from the configured beacon.
 */
import { bytesEqual } from "../bytes.ts";
import { errorMessage } from "../errors.ts";
import { ed25519FromSeed } from "../crypto/ed25519.ts";
import { generateX25519KeyPair, type X25519KeyPair } from "../crypto/x25519.ts";
import type { BeaconMessage } from "../beacon/messages.ts";
import { Logger } from "../log.ts";
import type { Packet } from "../protocol/packet.ts";
import { BeaconHooks } from "./beacon_hooks.ts";
import { TunnelCore } from "./core.ts";
import { Endpoint, type HostPort } from "./endpoint.ts";
import { TunnelError } from "./errors.ts";
import type { TunnelEvent } from "./events.ts";
import { type FaultOptions, FaultySocket } from "./faults.ts";
import { classifyDatagram } from "./frames.ts";
import { Handshake } from "./handshake.ts";
import { Initiator, KEY_EXCHANGE_MAX_ATTEMPTS, KEY_EXCHANGE_RETRY_MS } from "./initiator.ts";
import {
  type DeriveOptions,
  disposeContext,
  ownKeyExchangeFrame,
  type TunnelIdentity,
} from "./key_exchange.ts";
import { Libcrypto } from "../crypto/libcrypto_aes.ts";
import type { Peer } from "./peer.ts";
import { checkNodeId } from "./peer_table.ts";
import { Receiver } from "./receive.ts";
import { Roaming } from "./roaming.ts";
import { type AesStrategy, createPilsCrypto, type PilsCrypto } from "./sealing.ts";
import { Sender } from "./send.ts";
import type { PeerInfo, PeerPath, TunnelStats } from "./stats.ts";
import { openUdpSocket, type UdpBackend } from "./udp.ts";

export { MAX_PEERS, UNPROVEN_PEER_TTL_MS } from "./peer_table.ts";
export { MAX_PEER_ROWS } from "./stats.ts";
export {
  KEY_EXCHANGE_MAX_ATTEMPTS,
  KEY_EXCHANGE_RESEND_MS,
  KEY_EXCHANGE_RETRY_MS,
  UNKNOWN_SENDER_REPLY_INTERVAL_MS,
  UNKNOWN_SENDER_REPLY_RATE,
} from "./initiator.ts";
export { MAX_PUNCHED_ENDPOINTS, PUNCH_BURST } from "./beacon_hooks.ts";
export type { AesStrategy } from "./sealing.ts";
export { TunnelError } from "./errors.ts";

/** Everything {@link Tunnel.open} needs. */
export interface TunnelOptions {
  /** Local UDP address (IP literal; "::" for dual stack) and port (0 = ephemeral). */
  listen: HostPort;
  /** Our node ID, when already known (else {@link Tunnel.setNodeId} after registration). */
  nodeId?: number;
  /** Ed25519 identity: PILA is sent when present, PILK otherwise. */
  identity?: TunnelIdentity;
  /** Encrypt traffic (PILS after a key exchange). When false everything is PILT and PILK/PILA are ignored. */
  encrypt: boolean;
  /** Accept anonymous PILK from nodes without a registered key (default false). */
  allowPilk?: boolean;
  /**
   * Accept inbound PILT while encrypting, and fall back to PILT for a peer whose key exchange
   * never completes (default false: plaintext is never a silent fallback).
   */
  allowPlaintext?: boolean;
  /** The Ed25519 key the registry holds for a node, or undefined when it has none. */
  resolvePeerKey?: (nodeId: number) => Promise<Uint8Array | undefined>;
  /** Beacon UDP address; a host name is resolved once at open. */
  beacon?: HostPort;
  /** Fault injection on outgoing datagrams (tests, benchmarks). */
  faults?: FaultOptions;
  log?: Logger;
  /** UDP binding (default "auto": linux FFI when available, else node:dgram). */
  udp?: UdpBackend | "auto";
  /** Kernel socket buffer size to ask for (default 4 MiB). */
  socketBufferBytes?: number;
  /** PILS crypto strategy (default "auto"). */
  aes?: AesStrategy;
  /** Our X25519 key pair; default a fresh one per open, as the reference makes one per start. */
  x25519?: X25519KeyPair;
  /** Key-exchange retry timing (tests shorten it). */
  keyExchangeRetryMs?: number;
  keyExchangeMaxAttempts?: number;
  /** Tests only: counter of each new context's first frame, to reach nonce rotation quickly. */
  firstCounter?: bigint;
  /** Milliseconds clock for the per-packet path bookkeeping (default `performance.now`). */
  clock?: () => number;
}

/**
 * One daemon's tunnel endpoint. Open with {@link Tunnel.open}; set `onPacket` to receive decoded
 * packets (with the sender's node ID) and `onBeaconMessage` for beacon messages the tunnel does
 * not handle itself (DiscoverReply and anything else from the beacon). `send` never throws for
 * network or peer trouble: every packet that cannot go is counted under a drop reason.
 *
 * @example Two tunnels on loopback exchanging one plaintext packet
 * ```ts
 * import { Tunnel } from "./tunnel.ts";
 * import { Address } from "../protocol/address.ts";
 * import { PROTO_DATAGRAM, PROTOCOL_VERSION } from "../protocol/header.ts";
 *
 * const a = await Tunnel.open({ listen: { host: "127.0.0.1", port: 0 }, nodeId: 7, encrypt: false });
 * const b = await Tunnel.open({ listen: { host: "127.0.0.1", port: 0 }, nodeId: 9, encrypt: false });
 * const got = new Promise<number>((resolve) => (b.onPacket = (_packet, from) => resolve(from)));
 * a.addPeer(9, b.localAddress());
 * a.send(9, {
 *   version: PROTOCOL_VERSION, flags: 0, protocol: PROTO_DATAGRAM,
 *   src: new Address(0, 7), dst: new Address(0, 9), srcPort: 1000, dstPort: 1001, seq: 0, ack: 0, window: 0,
 *   payload: new TextEncoder().encode("hello"),
 * });
 * console.assert((await got) === 7);
 * await a.close();
 * await b.close();
 * ```
 */
export class Tunnel {
  /**
   * Receives every accepted packet; `from` is the authenticated (or, for PILT, claimed) sender.
   * The packet owns its payload bytes (no buffer behind them is reused), so it may be kept.
   */
  onPacket: (packet: Packet, from: number) => void = () => {};
  /** Called once the packets of one socket read have been handed to `onPacket` (to batch replies). */
  onBatchEnd: () => void = () => {};
  /** Receives beacon messages other than RelayDeliver and PunchCommand, from the configured beacon. */
  onBeaconMessage: (message: BeaconMessage, from: Endpoint) => void = () => {};
  /**
   * Receives each PILP that names its sender and arrived directly: a hint (unauthenticated) that
   * `sender` may be reachable at `from`, for the NAT code to probe with an authenticated frame.
   */
  onPunchFrame: (sender: number, from: Endpoint) => void = () => {};
  /**
   * Told when a peer is put on the relay (by `setRelay` or by its frames arriving through the
   * beacon), e.g. for the NAT code to start probing for a direct path again.
   */
  onRelayActivated: (node: number) => void = () => {};
  /** Decides whether a PunchCommand is obeyed (the NAT code punches only vouched endpoints). */
  mayPunch: (command: Extract<BeaconMessage, { kind: "PunchCommand" }>) => boolean = () => true;
  /**
   * Receives tunnel events (peer added, key exchange completed, relay activated, replay refused;
   * see {@link TunnelEvent}). Unset, nothing is built for them.
   */
  onEvent?: (event: TunnelEvent) => void;

  readonly #core: TunnelCore;
  readonly #identity?: TunnelIdentity;
  readonly #x25519: X25519KeyPair;
  readonly #deriveOptions: DeriveOptions;
  readonly #crypto: PilsCrypto;
  readonly #sender: Sender;
  readonly #initiator: Initiator;
  readonly #handshake: Handshake;
  readonly #roaming: Roaming;
  readonly #receiver: Receiver;
  readonly #beaconHooks: BeaconHooks;

  private constructor(
    options: TunnelOptions,
    log: Logger,
    beacon: Endpoint | undefined,
    strategy: Exclude<AesStrategy, "auto">,
    deriveOptions: DeriveOptions,
  ) {
    const core = new TunnelCore(
      log,
      {
        encrypt: options.encrypt,
        allowPlaintext: options.allowPlaintext ?? false,
      },
      this,
      options.clock,
    );
    this.#core = core;
    core.beacon = beacon;
    this.#identity = options.identity;
    this.#x25519 = options.x25519 ?? generateX25519KeyPair();
    this.#deriveOptions = deriveOptions;
    // Stages in data-path order; the arrows close the two loops (opened frames go back to the
    // receiver, queued packets start a key exchange).
    this.#crypto = createPilsCrypto(
      strategy,
      core,
      (opening, plaintext) => this.#receiver.acceptPils(opening, plaintext),
    );
    this.#sender = new Sender(core, this.#crypto, {
      start: (peer, now) => this.#initiator.start(peer, now),
      rotate: (peer, ctx) => this.#handshake.rotate(peer, ctx),
    });
    this.#initiator = new Initiator(core, this.#sender, {
      retryMs: options.keyExchangeRetryMs ?? KEY_EXCHANGE_RETRY_MS,
      maxAttempts: options.keyExchangeMaxAttempts ?? KEY_EXCHANGE_MAX_ATTEMPTS,
    });
    this.#handshake = new Handshake({
      log,
      allowPilk: options.allowPilk ?? false,
      hasIdentity: this.#identity !== undefined,
      privateKey: this.#x25519.privateKey,
      deriveOptions,
      resolvePeerKey: options.resolvePeerKey,
      closed: () => core.closed,
      peer: (node, create) => core.peers.lookup(node, create),
      routable: (peer) => this.#sender.routable(peer),
      sendKeyExchange: (peer) => this.#initiator.send(peer),
      keyExchangeFrom: (peer, from, relayed, answer) =>
        this.#roaming.keyExchangeFrom(peer, from, relayed, answer),
      flushPending: (peer) => this.#sender.flushPending(peer),
      drop: (reason) => core.drop(reason),
      accepted: (rekey) => {
        core.counters.keyExchangesAccepted++;
        if (rekey) core.counters.rekeys++;
      },
      rotated: () => core.counters.rekeys++,
      established: (peer, info) => this.#established(peer, info),
    });
    this.#roaming = new Roaming(core, this.#sender, this.#initiator);
    this.#receiver = new Receiver(core, this.#crypto, this.#handshake, this.#initiator, this.#roaming);
    core.onEvict = (peer) => {
      this.#handshake.forget(peer.node);
      disposeContext(peer.session.ctx);
      peer.session.ctx = undefined;
    };
    this.#beaconHooks = new BeaconHooks(
      core,
      (frame, from, node) => this.#receiver.onFrame(frame, from, node),
    );
    if (options.nodeId !== undefined) this.setNodeId(options.nodeId);
  }

  /**
   * Binds the socket and returns a running tunnel. Throws {@link TunnelError} for invalid options
   * (identity whose public key does not match its seed, bad node ID, fault fractions outside
   * [0, 1], libcrypto required but not loadable) and UdpError when the socket cannot be bound.
   */
  static async open(options: TunnelOptions): Promise<Tunnel> {
    if (options.identity) {
      const derived = ed25519FromSeed(options.identity.seed).publicKey;
      if (!bytesEqual(derived, options.identity.publicKey)) {
        throw new TunnelError("identity public key does not match its seed");
      }
    }
    if (options.nodeId !== undefined) checkNodeId(options.nodeId);
    const faults = options.faults;
    if (faults) {
      for (const [name, value] of Object.entries(faults)) {
        if (name !== "seed" && value !== undefined && !(value >= 0 && value <= 1)) {
          throw new TunnelError(`fault ${name} must be a fraction in [0, 1], got ${value}`);
        }
      }
    }
    const log = options.log ?? new Logger("tunnel");
    const beacon = options.beacon ? await resolveEndpoint(options.beacon) : undefined;
    const deriveOptions: DeriveOptions = { backend: "hybrid", firstCounter: options.firstCounter };
    const strategy = chooseStrategy(options, deriveOptions, log);
    const tunnel = new Tunnel(options, log, beacon, strategy, deriveOptions);
    const core = tunnel.#core;
    try {
      const socket = await openUdpSocket({
        listen: options.listen,
        backend: options.udp,
        bufferBytes: options.socketBufferBytes,
        log: options.log,
      }, {
        onDatagram: (bytes, from) => tunnel.#onDatagram(bytes, from),
        onBatchEnd: () => tunnel.#crypto.batchEnd(),
      });
      core.faults = faults ? new FaultySocket(socket, faults) : undefined;
      core.socket = core.faults ?? socket;
    } catch (err) {
      deriveOptions.libcrypto?.close();
      throw err;
    }
    log.info("tunnel open", {
      addr: core.socket.local.key,
      udp: core.socket.backend,
      rcvbuf: core.socket.bufferBytes.receive,
      sndbuf: core.socket.bufferBytes.send,
      encrypt: options.encrypt,
      aes: strategy,
    });
    return tunnel;
  }

  /** Our node ID, once known. */
  get nodeId(): number | undefined {
    return this.#core.nodeId;
  }

  /** Our X25519 public key for this run. */
  get x25519PublicKey(): Uint8Array {
    return this.#x25519.publicKey.slice();
  }

  /** Sets our node ID (after registration): it is the sender of every frame and part of the PILA signature. */
  setNodeId(nodeId: number): void {
    checkNodeId(nodeId);
    this.#core.setNodeId(nodeId, ownKeyExchangeFrame(nodeId, this.#x25519.publicKey, this.#identity));
  }

  /** The bound UDP address. */
  localAddress(): HostPort {
    return { host: this.#core.socket.local.host, port: this.#core.socket.local.port };
  }

  /** Which UDP binding runs and the kernel buffer sizes it got. */
  socketInfo(): { backend: UdpBackend; receiveBuffer?: number; sendBuffer?: number } {
    const socket = this.#core.socket;
    return {
      backend: socket.backend,
      receiveBuffer: socket.bufferBytes.receive,
      sendBuffer: socket.bufferBytes.send,
    };
  }

  /** Changes (or clears) the beacon address; a host name is resolved. */
  async setBeacon(beacon: HostPort | undefined): Promise<void> {
    this.#core.beacon = beacon ? await resolveEndpoint(beacon) : undefined;
  }

  /**
   * Adds or refreshes a peer reached directly at `endpoint` (from the registry) and, with
   * encryption on and no key yet, sends our key-exchange frame (docs/protocol/wire.md §6.5 "initiate" rule 1).
   */
  addPeer(node: number, endpoint: Endpoint | HostPort | string): void {
    const core = this.#core;
    const known = core.peers.has(node);
    const peer = core.peers.lookup(node, true);
    if (!peer) return;
    const previous = peer.path.endpoint;
    peer.path.endpoint = Endpoint.from(endpoint);
    peer.path.vouched = true;
    if (core.observed && (!known || !peer.path.endpoint.equals(previous))) {
      core.report({ kind: "peer-added", node, endpoint: peer.path.endpoint.key });
    }
    if (core.policy.encrypt && !peer.session.ctx && !peer.session.plaintext) {
      this.#initiator.start(peer, true);
    }
  }

  /** Sets a peer's direct endpoint without starting anything (NAT code: punched address, LAN address). */
  setEndpoint(node: number, endpoint: Endpoint | HostPort | string): void {
    const peer = this.#core.peers.lookup(node, true);
    if (!peer) return;
    peer.path.endpoint = Endpoint.from(endpoint);
    peer.path.vouched = true;
  }

  /**
   * Switches a peer to (or from) relay mode: every frame wrapped in beacon Relay (0x05). Moving a
   * peer whose key exchange is still pending to the relay sends our key-exchange frame along the
   * new path at once, with a fresh retry budget.
   */
  setRelay(node: number, relay: boolean): void {
    const core = this.#core;
    const peer = core.peers.lookup(node, true);
    if (!peer) return;
    peer.path.vouched = true;
    if (peer.path.relay === relay) return;
    peer.path.relay = relay;
    if (relay) core.relayActivated(peer);
    if (
      relay && core.policy.encrypt && !peer.session.ctx && !peer.session.plaintext && peer.pending.length > 0
    ) {
      peer.timers.keyExchangeAttempts = 0;
      this.#initiator.start(peer, true);
    }
  }

  /**
   * Sends PILP frames to `to` (a punch, or a keepalive for a punched NAT mapping) and remembers the
   * endpoint as punched. Returns false when the tunnel is closed or has no node ID yet.
   */
  punch(to: Endpoint | HostPort | string, count = 1): boolean {
    if (this.#core.closed || this.#core.nodeId === undefined) return false;
    let endpoint: Endpoint;
    try {
      endpoint = Endpoint.from(to);
    } catch {
      return false;
    }
    this.#beaconHooks.punch(endpoint, count);
    return true;
  }

  /**
   * Tests a direct path to `node` at `to` without moving the peer there: with a key, `packet` is
   * sealed and sent to `to`; without one, our key-exchange frame is. Whatever comes back
   * authenticated moves the peer (a direct PILS also takes it off the relay). Returns false when
   * nothing could be sent (unknown peer, closed, bad endpoint).
   */
  probe(node: number, to: Endpoint | HostPort | string, packet: Packet): boolean {
    const core = this.#core;
    const peer = core.peers.get(node);
    if (!peer || core.closed || core.nodeId === undefined) return false;
    let endpoint: Endpoint;
    try {
      endpoint = Endpoint.from(to);
    } catch {
      return false;
    }
    if (!core.policy.encrypt || peer.session.plaintext) return this.#sender.sendPlain(peer, packet, endpoint);
    if (peer.session.ready) {
      const bytes = this.#sender.encode(packet);
      if (!bytes) return false;
      this.#sender.seal(peer, bytes, endpoint);
      return true;
    }
    return this.#initiator.sendTo(endpoint);
  }

  /** Forgets a peer entirely: endpoint, key, queue (trust revocation). */
  removePeer(node: number): void {
    const peer = this.#core.peers.get(node);
    if (!peer) return;
    this.#sender.clearQueue(peer);
    this.#core.peers.delete(node);
    this.#handshake.forget(node);
    disposeContext(peer.session.ctx);
    peer.session.ctx = undefined;
  }

  /** True when a key exchange with `node` completed (PILS can flow). */
  isEncrypted(node: number): boolean {
    return this.#core.peers.get(node)?.session.ctx !== undefined;
  }

  /** Sends raw bytes (a beacon message) to the beacon; false when no beacon is configured. */
  sendBeacon(bytes: Uint8Array): boolean {
    const core = this.#core;
    if (!core.beacon || core.closed) {
      core.drop(core.closed ? "closed" : "no-route");
      return false;
    }
    core.emit(undefined, bytes, core.beacon);
    return true;
  }

  /**
   * Sends one packet to `node`: sealed as PILS when a key is ready, queued (and a key exchange
   * started) when not, PILT when encryption is off. A `Uint8Array` is taken as an already encoded
   * packet (header ‖ payload with CRC). Never throws; failures are counted in `stats().drops`.
   */
  send(node: number, packet: Packet | Uint8Array): void {
    this.#sender.send(node, packet);
  }

  /** One row per peer (at most `limit`; `pilot info` passes MAX_PEER_ROWS). */
  peers(limit = Infinity): PeerInfo[] {
    const rows: PeerInfo[] = [];
    for (const peer of this.#core.peers.values()) {
      if (rows.length >= limit) break;
      rows.push(this.#row(peer));
    }
    return rows;
  }

  /** The peer-list row of one node, or undefined when the tunnel has no entry for it. */
  peer(node: number): PeerInfo | undefined {
    const peer = this.#core.peers.get(node);
    return peer ? this.#row(peer) : undefined;
  }

  #row(peer: Peer): PeerInfo {
    return {
      node_id: peer.node,
      endpoint: peer.path.endpoint?.key ?? "",
      encrypted: peer.session.ctx !== undefined,
      authenticated: peer.session.ctx?.authenticated ?? false,
      path: this.#pathLabel(peer),
      pending: peer.pending.length,
    };
  }

  #pathLabel(peer: Peer): PeerPath {
    if (peer.path.relay) return "relay";
    return peer.path.endpoint && this.#beaconHooks.isPunched(peer.path.endpoint) ? "punched" : "direct";
  }

  /** A snapshot of the counters. */
  stats(): TunnelStats {
    const core = this.#core;
    const c = core.counters;
    const drops = { ...c.drops };
    drops["send-error"] += core.socket.counters.sendErrors;
    drops.oversize += core.socket.counters.oversize;
    drops["injected-drop"] += core.faults?.faults.dropped ?? 0;
    let encrypted = 0;
    let authenticated = 0;
    let relay = 0;
    let pending = 0;
    for (const peer of core.peers.values()) {
      if (peer.session.ctx) encrypted++;
      if (peer.session.ctx?.authenticated) authenticated++;
      if (peer.path.relay) relay++;
      pending += peer.pending.length;
    }
    return {
      datagramsSent: c.datagramsSent,
      bytesSent: c.bytesSent,
      datagramsReceived: c.datagramsReceived,
      bytesReceived: c.bytesReceived,
      packetsSent: c.packetsSent,
      packetsDelivered: c.packetsDelivered,
      framesEncrypted: c.framesEncrypted,
      framesDecrypted: c.framesDecrypted,
      decryptFailures: c.drops["auth-failure"],
      keyExchangesSent: c.keyExchangesSent,
      keyExchangesAccepted: c.keyExchangesAccepted,
      rekeys: c.rekeys,
      injectedDuplicates: core.faults?.faults.duplicated ?? 0,
      injectedReorders: core.faults?.faults.reordered ?? 0,
      drops,
      peers: core.peers.size,
      encryptedPeers: encrypted,
      authenticatedPeers: authenticated,
      relayPeers: relay,
      punchCommands: c.punchCommands,
      punchesReceived: c.punchesReceived,
      directRecoveries: c.directRecoveries,
      endpointChanges: c.endpointChanges,
      pathProbes: c.pathProbes,
      peersExpired: c.peersExpired,
      pendingPackets: pending,
      cryptoInFlight: this.#crypto.inFlight,
    };
  }

  /** Stops everything: timers, socket, in-flight crypto. Safe to call twice. */
  async close(): Promise<void> {
    const core = this.#core;
    if (core.closed) return;
    core.closed = true;
    for (const peer of core.peers.values()) this.#sender.clearQueue(peer);
    await core.socket.close();
    await Promise.allSettled([this.#crypto.settled(), this.#handshake.settled()]);
    for (const peer of core.peers.values()) {
      disposeContext(peer.session.ctx);
      peer.session.ctx = undefined;
    }
    this.#deriveOptions.libcrypto?.close();
  }

  /** The AES strategy in use (after "auto" was resolved). */
  get aesStrategy(): Exclude<AesStrategy, "auto"> {
    return this.#crypto.name;
  }

  #onDatagram(bytes: Uint8Array, from: Endpoint): void {
    const core = this.#core;
    core.counters.datagramsReceived++;
    core.counters.bytesReceived += bytes.length;
    if (core.closed) return;
    const kind = classifyDatagram(bytes);
    if (kind === "beacon") return this.#beaconHooks.onBeacon(bytes, from);
    if (kind !== "frame") return core.drop("bad-frame");
    this.#receiver.onFrame(bytes, from, -1);
  }

  #established(
    peer: Peer,
    info: { authenticated: boolean; rekeyed: boolean; added: boolean; relayed: boolean },
  ): void {
    const core = this.#core;
    if (!core.observed) return;
    if (info.added && peer.path.endpoint && !peer.path.relay) {
      core.report({ kind: "peer-added", node: peer.node, endpoint: peer.path.endpoint.key });
    }
    core.report({
      kind: "established",
      node: peer.node,
      authenticated: info.authenticated,
      relay: peer.path.relay || info.relayed,
      rekeyed: info.rekeyed,
    });
  }
}

/**
 * Resolves "auto" and loads libcrypto (into `deriveOptions`, so every context seals through it)
 * when it is wanted; throws {@link TunnelError} when it was required and cannot load.
 */
function chooseStrategy(
  options: TunnelOptions,
  deriveOptions: DeriveOptions,
  log: Logger,
): Exclude<AesStrategy, "auto"> {
  const strategy = options.aes ?? "auto";
  if (!options.encrypt) return "batch"; // nothing is sealed
  if (strategy !== "auto" && strategy !== "libcrypto") return strategy;
  try {
    deriveOptions.libcrypto = Libcrypto.open();
    return "libcrypto";
  } catch (err) {
    if (strategy === "libcrypto") throw new TunnelError(errorMessage(err), { cause: err });
    log.info("libcrypto unavailable, sealing with Web Crypto", { err: String(err) });
    return "batch";
  }
}

async function resolveEndpoint(hp: HostPort): Promise<Endpoint> {
  try {
    return Endpoint.of(hp.host, hp.port);
  } catch {
    const { lookup } = await import("node:dns/promises");
    const { address } = await lookup(hp.host);
    return Endpoint.of(address, hp.port);
  }
}
