/**
 * The encrypted UDP tunnel between daemons (wire.md §5, §6, §8.2–8.4): one UDP socket, a peer
 * table keyed by node ID, per-peer key exchange (PILA, or PILK where policy allows), PILS for all
 * traffic afterwards, and the beacon hooks (relay wrapping, RelayDeliver, PunchCommand).
 *
 * Data path: with libcrypto (Linux, the default where it loads) `send` encodes, seals in place
 * and hands the datagram to the socket in the same call, and a received PILS is opened and
 * delivered inside the socket's batch callback; the socket sends everything queued in one task
 * turn with one sendmmsg. Without libcrypto, packets are sealed with Web Crypto as they are sent
 * (the plaintext is copied on the call, so the encode buffer is reused) and the promises of one
 * task turn form a batch that a microtask emits in call order: many operations in flight, nonces
 * unique, frames in counter order. Received PILS are opened the same way, one batch per socket
 * read, and delivered in arrival order. Either way the replay counter is committed only after
 * the tag verified.
 *
 * Trust rules: a peer's endpoint moves only on a verified PILA or a PILS that opened (or when the
 * daemon sets it); an accepted PILK or a plaintext packet may fill in a missing endpoint but never
 * move one, and PILP or a failed frame never touch it. A PILS whose inner Src.node is not its
 * sender is dropped; beacon messages are accepted only from the configured beacon.
 */
import { bytesEqual } from "../bytes.ts";
import type { AesGcmBackend } from "../crypto/aes_gcm.ts";
import { ed25519FromSeed } from "../crypto/ed25519.ts";
import { generateX25519KeyPair, type X25519KeyPair } from "../crypto/x25519.ts";
import { type BeaconMessage, decodeBeaconMessage, RELAY_HEADER_SIZE } from "../beacon/messages.ts";
import { PilotError } from "../errors.ts";
import { Logger } from "../log.ts";
import {
  decodePacket,
  encodePacket,
  encodePacketInto,
  type Packet,
  PacketError,
} from "../protocol/packet.ts";
import { HEADER_LENGTH, MAX_PAYLOAD_LENGTH } from "../protocol/header.ts";
import { Endpoint, type HostPort } from "./endpoint.ts";
import { type FaultOptions, FaultySocket } from "./faults.ts";
import {
  classifyDatagram,
  decodeFrame,
  encodeFrame,
  FrameError,
  MAGIC_PILS,
  MAGIC_PILT,
  MAGIC_SIZE,
  NONCE_SIZE,
  PILS_HEADER_SIZE,
  PILS_MIN_BODY,
  SENDER_SIZE,
  TAG_SIZE,
  writePilsHeader,
} from "./frames.ts";
import { Libcrypto } from "./aes_libcrypto.ts";
import {
  type CryptoContext,
  disposeContext,
  ownKeyExchangeFrame,
  type TunnelIdentity,
} from "./key_exchange.ts";
import { Handshake, type KeyExchangeFrame } from "./handshake.ts";
import { MAX_QUEUED_PEERS, Peer } from "./peer.ts";
import { KeyedInterval } from "./rate_limit.ts";
import { TokenBucket } from "../net/token_bucket.ts";
import { REPLAY_EVENT_INTERVAL_MS, REPLAY_EVENT_PEERS, type TunnelEvent } from "./events.ts";
import { type DropReason, emptyDrops, type PeerInfo, type PeerPath, type TunnelStats } from "./stats.ts";
import { openUdpSocket, type UdpBackend, type UdpSocket } from "./udp.ts";

/** Largest peer table; entries beyond it are refused (relay deliveries, plaintext senders). */
export const MAX_PEERS = 65536;
/** Minimum gap between key-exchange frames sent to one peer because packets are waiting. */
export const KEY_EXCHANGE_RESEND_MS = 250;
/** Retry period while packets wait for a key exchange, and how many retries before giving up. */
export const KEY_EXCHANGE_RETRY_MS = 1000;
export const KEY_EXCHANGE_MAX_ATTEMPTS = 8;
/** Key-exchange offers to one source that sent PILS we cannot open (per source, and globally). */
export const UNKNOWN_SENDER_REPLY_INTERVAL_MS = 1000;
export const UNKNOWN_SENDER_REPLY_RATE = 50;
/** Source endpoints remembered by the per-source limiter. */
const RATE_LIMIT_KEYS = 4096;
/** PILP frames sent per PunchCommand, back to back (wire.md §8.5). */
export const PUNCH_BURST = 3;
/** Endpoints remembered as punched (for the "punched" path label); the oldest is forgotten beyond this. */
export const MAX_PUNCHED_ENDPOINTS = 4096;
const BEACON_RELAY = 0x05;
const U32_MAX = 0xffffffff;

/**
 * How PILS frames are sealed and opened: "libcrypto" (system OpenSSL over FFI, synchronous, in
 * place; Linux), "batch" (Web Crypto, many operations in flight), "sync" (node:crypto, one at a
 * time). "auto" (default) is libcrypto where it loads, else batch.
 */
export type AesStrategy = "auto" | "libcrypto" | "batch" | "sync";

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
}

/** A tunnel option was invalid. */
export class TunnelError extends PilotError {}

interface TxItem {
  peer: Peer;
  sealing: Promise<{ nonce: Uint8Array; ciphertextWithTag: Uint8Array }>;
  /** Direct destination overriding the peer's path (a probe). */
  via?: Endpoint;
}

interface RxItem {
  peer: Peer;
  ctx: CryptoContext;
  prefix: number;
  hi: number;
  lo: number;
  opening: Promise<Uint8Array>;
  from: Endpoint;
  relayed: boolean;
}

/** Mutable counters behind {@link TunnelStats}. */
interface Counters {
  datagramsSent: number;
  bytesSent: number;
  datagramsReceived: number;
  bytesReceived: number;
  packetsSent: number;
  packetsDelivered: number;
  framesEncrypted: number;
  framesDecrypted: number;
  keyExchangesSent: number;
  keyExchangesAccepted: number;
  rekeys: number;
  punchCommands: number;
  punchesReceived: number;
  directRecoveries: number;
  drops: Record<DropReason, number>;
}

/**
 * One daemon's tunnel endpoint. Open with {@link Tunnel.open}; set `onPacket` to receive decoded
 * packets (with the sender's node ID) and `onBeaconMessage` for beacon messages the tunnel does
 * not handle itself (DiscoverReply and anything else from the beacon). `send` never throws for
 * network or peer trouble: every packet that cannot go is counted under a drop reason.
 *
 * @example
 * ```ts ignore
 * const t = await Tunnel.open({ listen: { host: "0.0.0.0", port: 4000 }, nodeId: 7, encrypt: true,
 *   identity, resolvePeerKey: (node) => registry.publicKey(node) });
 * t.onPacket = (packet, from) => transport.receive(packet, from);
 * t.addPeer(9, "203.0.113.5:4000");
 * t.send(9, packet);
 * ```
 */
export class Tunnel {
  /**
   * Receives every accepted packet; `from` is the authenticated (or, for PILT, claimed) sender.
   * The packet owns its payload bytes (no buffer behind them is reused), so it may be kept.
   */
  onPacket: (packet: Packet, from: number) => void = () => {};
  /** Receives beacon messages other than RelayDeliver and PunchCommand, from the configured beacon. */
  onBeaconMessage: (message: BeaconMessage, from: Endpoint) => void = () => {};
  /**
   * Receives each PILP that names its sender and arrived directly: a hint (unauthenticated) that
   * `sender` may be reachable at `from`, for the NAT code to probe with an authenticated frame.
   */
  onPunchFrame: (sender: number, from: Endpoint) => void = () => {};
  /** Decides whether a PunchCommand is obeyed (the NAT code punches only vouched endpoints). */
  mayPunch: (command: Extract<BeaconMessage, { kind: "PunchCommand" }>) => boolean = () => true;
  /**
   * Receives tunnel events (peer added, key exchange completed, relay activated, replay refused;
   * see {@link TunnelEvent}). Unset, nothing is built for them.
   */
  onEvent?: (event: TunnelEvent) => void;

  #socket!: UdpSocket;
  #faults?: FaultySocket;
  readonly #log: Logger;
  readonly #encrypt: boolean;
  readonly #allowPilk: boolean;
  readonly #allowPlaintext: boolean;
  readonly #identity?: TunnelIdentity;
  readonly #x25519: X25519KeyPair;
  readonly #resolvePeerKey?: (nodeId: number) => Promise<Uint8Array | undefined>;
  #strategy: Exclude<AesStrategy, "auto"> = "batch";
  readonly #deriveOptions: { backend: AesGcmBackend; firstCounter?: bigint; libcrypto?: Libcrypto };
  readonly #retryMs: number;
  readonly #maxAttempts: number;
  #beacon?: Endpoint;
  #nodeId?: number;
  #ownAad = new Uint8Array(SENDER_SIZE);
  #keyExchangeFrame?: Uint8Array;
  readonly #peers = new Map<number, Peer>();
  /** Endpoint keys we punched towards (PunchCommand), for the "punched" path label. */
  readonly #punched = new Set<string>();
  #queuedPeers = 0;
  /** Last replay report per peer; made on the first replay seen while an observer is set. */
  #replayReports?: KeyedInterval<number>;
  readonly #handshake: Handshake;
  readonly #counters: Counters;
  #inFlight = 0;
  readonly #unknownPerSource = new KeyedInterval<string>(UNKNOWN_SENDER_REPLY_INTERVAL_MS, RATE_LIMIT_KEYS);
  readonly #unknownGlobal = new TokenBucket(UNKNOWN_SENDER_REPLY_RATE, UNKNOWN_SENDER_REPLY_RATE, Date.now());
  // Send scratch: packets are encoded behind room for a relay header and a PILT magic.
  readonly #scratch = new Uint8Array(RELAY_HEADER_SIZE + MAGIC_SIZE + HEADER_LENGTH + MAX_PAYLOAD_LENGTH);
  // PILS header scratch: relay header (9) ‖ PILS header (20); direct frames use the tail view.
  readonly #pilsHead = new Uint8Array(RELAY_HEADER_SIZE + PILS_HEADER_SIZE);
  readonly #pilsHeadDirect = this.#pilsHead.subarray(RELAY_HEADER_SIZE);
  // PILT head scratch: relay header (9) ‖ PILT magic (4).
  readonly #piltHead = new Uint8Array(RELAY_HEADER_SIZE + MAGIC_SIZE);
  readonly #piltHeadDirect = this.#piltHead.subarray(RELAY_HEADER_SIZE);
  // In-place PILS output (libcrypto): relay header ‖ PILS header ‖ ciphertext ‖ tag.
  readonly #pilsOut = new Uint8Array(
    RELAY_HEADER_SIZE + PILS_HEADER_SIZE + HEADER_LENGTH + MAX_PAYLOAD_LENGTH + TAG_SIZE,
  );
  #txBatch: TxItem[] = [];
  #txScheduled = false;
  #txChain: Promise<void> = Promise.resolve();
  #rxBatch: RxItem[] = [];
  #rxChain: Promise<void> = Promise.resolve();
  #closed = false;

  private constructor(options: TunnelOptions, beacon?: Endpoint) {
    this.#log = options.log ?? new Logger("tunnel");
    this.#encrypt = options.encrypt;
    this.#allowPilk = options.allowPilk ?? false;
    this.#allowPlaintext = options.allowPlaintext ?? false;
    this.#identity = options.identity;
    this.#x25519 = options.x25519 ?? generateX25519KeyPair();
    this.#resolvePeerKey = options.resolvePeerKey;
    this.#deriveOptions = { backend: "hybrid", firstCounter: options.firstCounter };
    this.#retryMs = options.keyExchangeRetryMs ?? KEY_EXCHANGE_RETRY_MS;
    this.#maxAttempts = options.keyExchangeMaxAttempts ?? KEY_EXCHANGE_MAX_ATTEMPTS;
    this.#beacon = beacon;
    this.#counters = {
      datagramsSent: 0,
      bytesSent: 0,
      datagramsReceived: 0,
      bytesReceived: 0,
      packetsSent: 0,
      packetsDelivered: 0,
      framesEncrypted: 0,
      framesDecrypted: 0,
      keyExchangesSent: 0,
      keyExchangesAccepted: 0,
      rekeys: 0,
      punchCommands: 0,
      punchesReceived: 0,
      directRecoveries: 0,
      drops: emptyDrops(),
    };
    this.#handshake = new Handshake({
      log: this.#log,
      allowPilk: this.#allowPilk,
      hasIdentity: this.#identity !== undefined,
      privateKey: this.#x25519.privateKey,
      deriveOptions: this.#deriveOptions,
      resolvePeerKey: options.resolvePeerKey,
      closed: () => this.#closed,
      peer: (node, create) => this.#peer(node, create),
      routable: (peer) => this.#routable(peer),
      sendKeyExchange: (peer) => this.#sendKeyExchange(peer),
      flushPending: (peer) => this.#flushPending(peer),
      drop: (reason) => this.#drop(reason),
      accepted: (rekey) => {
        this.#counters.keyExchangesAccepted++;
        if (rekey) this.#counters.rekeys++;
      },
      rotated: () => this.#counters.rekeys++,
      established: (peer, info) => this.#established(peer, info),
    });
    if (options.nodeId !== undefined) this.setNodeId(options.nodeId);
  }

  /**
   * Binds the socket and returns a running tunnel. Throws {@link TunnelError} for invalid options
   * (identity whose public key does not match its seed, bad node ID, fault fractions outside
   * [0, 1]) and UdpError when the socket cannot be bound.
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
    const beacon = options.beacon ? await resolveEndpoint(options.beacon) : undefined;
    const tunnel = new Tunnel(options, beacon);
    const strategy = options.aes ?? "auto";
    if (!options.encrypt) {
      tunnel.#strategy = "batch"; // nothing is sealed
    } else if (strategy === "auto" || strategy === "libcrypto") {
      try {
        tunnel.#deriveOptions.libcrypto = Libcrypto.open();
        tunnel.#strategy = "libcrypto";
      } catch (err) {
        if (strategy === "libcrypto") throw new TunnelError(String((err as Error).message), { cause: err });
        tunnel.#log.info("libcrypto unavailable, sealing with Web Crypto", { err: String(err) });
      }
    } else {
      tunnel.#strategy = strategy;
    }
    let socket: UdpSocket;
    try {
      socket = await openUdpSocket({
        listen: options.listen,
        backend: options.udp,
        bufferBytes: options.socketBufferBytes,
        log: options.log,
      }, {
        onDatagram: (bytes, from) => tunnel.#onDatagram(bytes, from),
        onBatchEnd: () => tunnel.#onBatchEnd(),
      });
    } catch (err) {
      tunnel.#deriveOptions.libcrypto?.close();
      throw err;
    }
    tunnel.#faults = faults ? new FaultySocket(socket, faults) : undefined;
    tunnel.#socket = tunnel.#faults ?? socket;
    tunnel.#log.info("tunnel open", {
      addr: socket.local.key,
      udp: socket.backend,
      rcvbuf: socket.bufferBytes.receive,
      sndbuf: socket.bufferBytes.send,
      encrypt: options.encrypt,
      aes: tunnel.#strategy,
    });
    return tunnel;
  }

  /** Our node ID, once known. */
  get nodeId(): number | undefined {
    return this.#nodeId;
  }

  /** Our X25519 public key for this run. */
  get x25519PublicKey(): Uint8Array {
    return this.#x25519.publicKey.slice();
  }

  /** Sets our node ID (after registration): it is the sender of every frame and part of the PILA signature. */
  setNodeId(nodeId: number): void {
    checkNodeId(nodeId);
    this.#nodeId = nodeId;
    this.#ownAad = new Uint8Array(SENDER_SIZE);
    writeU32(this.#ownAad, 0, nodeId);
    this.#keyExchangeFrame = ownKeyExchangeFrame(nodeId, this.#x25519.publicKey, this.#identity);
  }

  /** The bound UDP address. */
  localAddress(): HostPort {
    return { host: this.#socket.local.host, port: this.#socket.local.port };
  }

  /** Which UDP binding runs and the kernel buffer sizes it got. */
  socketInfo(): { backend: UdpBackend; receiveBuffer?: number; sendBuffer?: number } {
    return {
      backend: this.#socket.backend,
      receiveBuffer: this.#socket.bufferBytes.receive,
      sendBuffer: this.#socket.bufferBytes.send,
    };
  }

  /** Changes (or clears) the beacon address; a host name is resolved. */
  async setBeacon(beacon: HostPort | undefined): Promise<void> {
    this.#beacon = beacon ? await resolveEndpoint(beacon) : undefined;
  }

  /**
   * Adds or refreshes a peer reached directly at `endpoint` (from the registry) and, with
   * encryption on and no key yet, sends our key-exchange frame (wire.md §6.5 "initiate" rule 1).
   */
  addPeer(node: number, endpoint: Endpoint | HostPort | string): void {
    const known = this.#peers.has(node);
    const peer = this.#peer(node, true);
    if (!peer) return;
    const previous = peer.endpoint;
    peer.endpoint = Endpoint.from(endpoint);
    if (this.onEvent && (!known || !peer.endpoint.equals(previous))) {
      this.#report({ kind: "peer-added", node, endpoint: peer.endpoint.key });
    }
    if (this.#encrypt && !peer.ctx && !peer.plaintext) this.#startKeyExchange(peer, true);
  }

  /** Sets a peer's direct endpoint without starting anything (NAT code: punched address, LAN address). */
  setEndpoint(node: number, endpoint: Endpoint | HostPort | string): void {
    const peer = this.#peer(node, true);
    if (peer) peer.endpoint = Endpoint.from(endpoint);
  }

  /**
   * Switches a peer to (or from) relay mode: every frame wrapped in beacon Relay (0x05). Moving a
   * peer whose key exchange is still pending to the relay sends our key-exchange frame along the
   * new path at once, with a fresh retry budget.
   */
  setRelay(node: number, relay: boolean): void {
    const peer = this.#peer(node, true);
    if (!peer || peer.relay === relay) return;
    peer.relay = relay;
    if (relay && this.onEvent) this.#report({ kind: "relay-activated", node });
    if (relay && this.#encrypt && !peer.ctx && !peer.plaintext && peer.pending.length > 0) {
      peer.keyExchangeAttempts = 0;
      this.#startKeyExchange(peer, true);
    }
  }

  /**
   * Sends PILP frames to `to` (a punch, or a keepalive for a punched NAT mapping) and remembers the
   * endpoint as punched. Returns false when the tunnel is closed or has no node ID yet.
   */
  punch(to: Endpoint | HostPort | string, count = 1): boolean {
    if (this.#closed || this.#nodeId === undefined) return false;
    let endpoint: Endpoint;
    try {
      endpoint = Endpoint.from(to);
    } catch {
      return false;
    }
    this.#rememberPunched(endpoint);
    const frame = encodeFrame({ kind: "PILP", sender: this.#nodeId });
    for (let i = 0; i < count; i++) this.#emit(undefined, frame, endpoint);
    return true;
  }

  /**
   * Tests a direct path to `node` at `to` without moving the peer there: with a key, `packet` is
   * sealed and sent to `to`; without one, our key-exchange frame is. Whatever comes back
   * authenticated moves the peer (a direct PILS also takes it off the relay). Returns false when
   * nothing could be sent (unknown peer, closed, bad endpoint).
   */
  probe(node: number, to: Endpoint | HostPort | string, packet: Packet): boolean {
    const peer = this.#peers.get(node);
    if (!peer || this.#closed || this.#nodeId === undefined) return false;
    let endpoint: Endpoint;
    try {
      endpoint = Endpoint.from(to);
    } catch {
      return false;
    }
    if (!this.#encrypt || peer.plaintext) {
      const encoded = this.#encode(packet);
      if (!encoded) return false;
      writeU32(this.#piltHeadDirect, 0, MAGIC_PILT);
      this.#counters.packetsSent++;
      this.#emit(this.#piltHeadDirect, encoded, endpoint);
      return true;
    }
    if (peer.ready) {
      const bytes = this.#encode(packet);
      if (!bytes) return false;
      this.#seal(peer, bytes, endpoint);
      return true;
    }
    if (!this.#keyExchangeFrame) return false;
    this.#counters.keyExchangesSent++;
    this.#emit(undefined, this.#keyExchangeFrame, endpoint);
    return true;
  }

  /** Forgets a peer entirely: endpoint, key, queue (trust revocation). */
  removePeer(node: number): void {
    const peer = this.#peers.get(node);
    if (!peer) return;
    this.#clearQueue(peer);
    this.#peers.delete(node);
    this.#handshake.forget(node);
    disposeContext(peer.ctx);
    peer.ctx = undefined;
  }

  /** True when a key exchange with `node` completed (PILS can flow). */
  isEncrypted(node: number): boolean {
    return this.#peers.get(node)?.ctx !== undefined;
  }

  /** Sends raw bytes (a beacon message) to the beacon; false when no beacon is configured. */
  sendBeacon(bytes: Uint8Array): boolean {
    if (!this.#beacon || this.#closed) {
      this.#drop(this.#closed ? "closed" : "no-route");
      return false;
    }
    this.#emit(undefined, bytes, this.#beacon);
    return true;
  }

  /**
   * Sends one packet to `node`: sealed as PILS when a key is ready, queued (and a key exchange
   * started) when not, PILT when encryption is off. A `Uint8Array` is taken as an already encoded
   * packet (header ‖ payload with CRC). Never throws; failures are counted in `stats().drops`.
   */
  send(node: number, packet: Packet | Uint8Array): void {
    if (this.#closed) return this.#drop("closed");
    if (this.#nodeId === undefined) return this.#drop("no-node-id");
    const peer = this.#peers.get(node);
    if (!peer || !this.#routable(peer)) return this.#drop("no-route");
    try {
      if (!this.#encrypt || peer.plaintext) return this.#sendPlain(peer, packet);
      if (peer.ready) {
        const bytes = this.#encode(packet);
        if (bytes) this.#seal(peer, bytes);
        return;
      }
      const copy = packet instanceof Uint8Array ? this.#encode(packet)?.slice() : this.#encodeCopy(packet);
      if (copy) this.#queue(peer, copy);
    } catch (err) {
      // Nothing above should throw; if it does, one packet is lost, not the caller's loop.
      this.#log.warn("send failed", { peer: node, err: String(err) });
      this.#drop("send-error");
    }
  }

  /** One row per peer, for `pilot info`. */
  peers(): PeerInfo[] {
    const rows: PeerInfo[] = [];
    for (const peer of this.#peers.values()) rows.push(this.#row(peer));
    return rows;
  }

  /** The peer-list row of one node, or undefined when the tunnel has no entry for it. */
  peer(node: number): PeerInfo | undefined {
    const peer = this.#peers.get(node);
    return peer ? this.#row(peer) : undefined;
  }

  #row(peer: Peer): PeerInfo {
    return {
      node_id: peer.node,
      endpoint: peer.endpoint?.key ?? "",
      encrypted: peer.ctx !== undefined,
      authenticated: peer.ctx?.authenticated ?? false,
      path: this.#path(peer),
      pending: peer.pending.length,
    };
  }

  #path(peer: Peer): PeerPath {
    if (peer.relay) return "relay";
    return peer.endpoint && this.#punched.has(peer.endpoint.key) ? "punched" : "direct";
  }

  /** A snapshot of the counters. */
  stats(): TunnelStats {
    const c = this.#counters;
    const drops = { ...c.drops };
    drops["send-error"] += this.#socket.counters.sendErrors;
    drops.oversize += this.#socket.counters.oversize;
    drops["injected-drop"] += this.#faults?.faults.dropped ?? 0;
    let encrypted = 0;
    let authenticated = 0;
    let relay = 0;
    let pending = 0;
    for (const peer of this.#peers.values()) {
      if (peer.ctx) encrypted++;
      if (peer.ctx?.authenticated) authenticated++;
      if (peer.relay) relay++;
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
      injectedDuplicates: this.#faults?.faults.duplicated ?? 0,
      injectedReorders: this.#faults?.faults.reordered ?? 0,
      drops,
      peers: this.#peers.size,
      encryptedPeers: encrypted,
      authenticatedPeers: authenticated,
      relayPeers: relay,
      punchCommands: c.punchCommands,
      punchesReceived: c.punchesReceived,
      directRecoveries: c.directRecoveries,
      pendingPackets: pending,
      cryptoInFlight: this.#inFlight,
    };
  }

  /** Stops everything: timers, socket, in-flight crypto. Safe to call twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const peer of this.#peers.values()) this.#clearQueue(peer);
    await this.#socket.close();
    await Promise.allSettled([this.#txChain, this.#rxChain, this.#handshake.settled()]);
    for (const peer of this.#peers.values()) {
      disposeContext(peer.ctx);
      peer.ctx = undefined;
    }
    this.#deriveOptions.libcrypto?.close();
  }

  /** The AES strategy in use (after "auto" was resolved). */
  get aesStrategy(): Exclude<AesStrategy, "auto"> {
    return this.#strategy;
  }

  // ---- send path ----

  #routable(peer: Peer): boolean {
    return peer.relay ? this.#beacon !== undefined : peer.endpoint !== undefined;
  }

  /** Encodes into the shared scratch (valid until the next send); undefined when the packet is invalid. */
  #encode(packet: Packet | Uint8Array): Uint8Array | undefined {
    if (packet instanceof Uint8Array) {
      if (packet.length >= HEADER_LENGTH && packet.length <= HEADER_LENGTH + MAX_PAYLOAD_LENGTH) {
        return packet;
      }
    } else {
      try {
        const at = RELAY_HEADER_SIZE + MAGIC_SIZE;
        const n = encodePacketInto(packet, this.#scratch, at);
        return this.#scratch.subarray(at, at + n);
      } catch (err) {
        if (!(err instanceof PacketError)) throw err;
      }
    }
    this.#drop("bad-packet-out");
    return undefined;
  }

  #encodeCopy(packet: Packet): Uint8Array | undefined {
    try {
      return encodePacket(packet);
    } catch (err) {
      if (!(err instanceof PacketError)) throw err;
      this.#drop("bad-packet-out");
      return undefined;
    }
  }

  /** Seals and sends along the peer's path, or straight to `via` when given (a probe). */
  #seal(peer: Peer, plaintext: Uint8Array, via?: Endpoint): void {
    const ctx = peer.ctx!;
    if (++ctx.sealed >= ctx.rotateAfter) this.#handshake.rotate(peer, ctx);
    if (ctx.fast) return this.#sealInPlace(peer, ctx, plaintext, via);
    if (this.#strategy === "sync") {
      const sealed = ctx.cipher.sealSync(plaintext, this.#ownAad);
      this.#emitPils(peer, sealed.nonce, sealed.ciphertextWithTag, via);
      return;
    }
    this.#inFlight++;
    this.#txBatch.push({ peer, sealing: ctx.cipher.seal(plaintext, this.#ownAad), via });
    if (!this.#txScheduled) {
      this.#txScheduled = true;
      queueMicrotask(this.#flushTx);
    }
  }

  readonly #flushTx = (): void => {
    this.#txScheduled = false;
    const batch = this.#txBatch;
    this.#txBatch = [];
    const settled = Promise.allSettled(batch.map((item) => item.sealing));
    this.#txChain = this.#txChain.then(() => settled).then((results) => {
      for (let i = 0; i < results.length; i++) {
        this.#inFlight--;
        const r = results[i];
        if (r.status === "fulfilled") {
          this.#emitPils(batch[i].peer, r.value.nonce, r.value.ciphertextWithTag, batch[i].via);
        } else {
          this.#log.warn("seal failed", { err: String(r.reason) });
          this.#drop("send-error");
        }
      }
      this.#socket.flush();
    });
  };

  /** libcrypto path: seal straight into the datagram buffer, headers around it, one copy to the socket. */
  #sealInPlace(peer: Peer, ctx: CryptoContext, plaintext: Uint8Array, via?: Endpoint): void {
    const nonce = ctx.cipher.nextNonce();
    const out = this.#pilsOut;
    const bodyAt = RELAY_HEADER_SIZE + PILS_HEADER_SIZE;
    const sealedLength = ctx.fast!.sealInto(nonce, plaintext, this.#ownAad, out, bodyAt);
    const sender = this.#nodeId!;
    let start = RELAY_HEADER_SIZE;
    let to = via ?? peer.endpoint;
    if (peer.relay && !via) {
      start = 0;
      to = this.#beacon;
      writeRelayHeader(out, sender, peer.node);
    }
    if (!to) return this.#drop("no-route");
    writePilsHeader(out, RELAY_HEADER_SIZE, sender, nonce);
    this.#counters.framesEncrypted++;
    this.#counters.packetsSent++;
    this.#emit(undefined, out.subarray(start, bodyAt + sealedLength), to);
  }

  #emitPils(peer: Peer, nonce: Uint8Array, sealed: Uint8Array, via?: Endpoint): void {
    if (this.#closed) return this.#drop("closed");
    const sender = this.#nodeId!;
    let head = this.#pilsHeadDirect;
    let to = via ?? peer.endpoint;
    if (peer.relay && !via) {
      head = this.#pilsHead;
      to = this.#beacon;
      writeRelayHeader(head, sender, peer.node);
    }
    if (!to) return this.#drop("no-route");
    writePilsHeader(head, head === this.#pilsHead ? RELAY_HEADER_SIZE : 0, sender, nonce);
    this.#counters.framesEncrypted++;
    this.#counters.packetsSent++;
    this.#emit(head, sealed, to);
  }

  #sendPlain(peer: Peer, packet: Packet | Uint8Array): void {
    const to = peer.relay ? this.#beacon : peer.endpoint;
    if (!to) return this.#drop("no-route");
    const encoded = this.#encode(packet);
    if (!encoded) return;
    const head = peer.relay ? this.#piltHead : this.#piltHeadDirect;
    if (peer.relay) writeRelayHeader(head, this.#nodeId!, peer.node);
    writeU32(head, head.length - MAGIC_SIZE, MAGIC_PILT);
    this.#counters.packetsSent++;
    this.#emit(head, encoded, to);
  }

  /** Sends a non-PILS frame to a peer along its path (wrapped for the relay when needed). */
  #sendFrame(peer: Peer, frame: Uint8Array): void {
    if (peer.relay) {
      if (!this.#beacon) return this.#drop("no-route");
      const head = new Uint8Array(RELAY_HEADER_SIZE);
      writeRelayHeader(head, this.#nodeId!, peer.node);
      this.#emit(head, frame, this.#beacon);
    } else if (peer.endpoint) {
      this.#emit(undefined, frame, peer.endpoint);
    } else {
      this.#drop("no-route");
    }
  }

  #emit(head: Uint8Array | undefined, body: Uint8Array, to: Endpoint): void {
    this.#counters.datagramsSent++;
    this.#counters.bytesSent += (head?.length ?? 0) + body.length;
    this.#socket.send(head, body, to);
  }

  #queue(peer: Peer, packet: Uint8Array): void {
    if (peer.pending.length === 0) {
      if (this.#queuedPeers >= MAX_QUEUED_PEERS) return this.#drop("too-many-queues");
      this.#queuedPeers++;
    }
    if (peer.enqueue(packet)) this.#drop("queue-full");
    if (!peer.rotating) this.#startKeyExchange(peer, false);
  }

  #clearQueue(peer: Peer): void {
    if (peer.retryTimer !== undefined) clearTimeout(peer.retryTimer);
    peer.retryTimer = undefined;
    peer.keyExchangeAttempts = 0;
    if (peer.pending.length > 0) {
      peer.takePending();
      this.#queuedPeers--;
    }
  }

  /** Sends queued packets once a context is ready (or plaintext was chosen). */
  #flushPending(peer: Peer): void {
    if (peer.pending.length === 0) return;
    const items = peer.pending;
    this.#clearQueue(peer);
    for (const bytes of items) {
      if (peer.plaintext) this.#sendPlain(peer, bytes);
      else if (peer.ready) this.#seal(peer, bytes);
      else this.#queue(peer, bytes);
    }
  }

  // ---- key exchange: sending ----

  /** Sends our frame (throttled unless `now`), and keeps retrying while packets wait. */
  #startKeyExchange(peer: Peer, now: boolean): void {
    const t = performance.now();
    if (now || t - peer.lastKeyExchangeAt >= KEY_EXCHANGE_RESEND_MS) this.#sendKeyExchange(peer);
    if (peer.pending.length > 0 && peer.retryTimer === undefined && !this.#closed) {
      peer.retryTimer = setTimeout(() => this.#retryKeyExchange(peer), this.#retryMs);
    }
  }

  #retryKeyExchange(peer: Peer): void {
    peer.retryTimer = undefined;
    if (this.#closed || peer.pending.length === 0 || this.#peers.get(peer.node) !== peer) return;
    if (peer.ready) return this.#flushPending(peer);
    if (++peer.keyExchangeAttempts >= this.#maxAttempts) {
      if (this.#allowPlaintext) {
        this.#log.warn("key exchange failed; sending plaintext as allowed", { peer: peer.node });
        peer.plaintext = true;
        this.#flushPending(peer);
      } else {
        this.#log.info("key exchange failed; dropping queued packets", {
          peer: peer.node,
          packets: peer.pending.length,
        });
        this.#counters.drops["kx-timeout"] += peer.pending.length;
        this.#clearQueue(peer);
      }
      return;
    }
    this.#sendKeyExchange(peer);
    peer.retryTimer = setTimeout(() => this.#retryKeyExchange(peer), this.#retryMs);
  }

  #sendKeyExchange(peer: Peer): void {
    if (!this.#keyExchangeFrame) return;
    peer.lastKeyExchangeAt = performance.now();
    this.#counters.keyExchangesSent++;
    this.#sendFrame(peer, this.#keyExchangeFrame);
  }

  /** Offers our key to the source of a PILS we hold no key for (a peer that restarted), rate-limited. */
  #offerKeyExchange(sender: number, from: Endpoint, relayed: boolean): void {
    if (!this.#keyExchangeFrame || !this.#encrypt) return;
    if (!this.#unknownPerSource.allow(relayed ? `relay/${sender}` : from.key)) return;
    if (!this.#unknownGlobal.take(Date.now())) return;
    this.#counters.keyExchangesSent++;
    if (relayed) {
      const peer = this.#peers.get(sender);
      if (peer) this.#sendFrame(peer, this.#keyExchangeFrame);
    } else {
      this.#emit(undefined, this.#keyExchangeFrame, from);
    }
  }

  // ---- receive path ----

  #onDatagram(bytes: Uint8Array, from: Endpoint): void {
    this.#counters.datagramsReceived++;
    this.#counters.bytesReceived += bytes.length;
    if (this.#closed) return;
    const kind = classifyDatagram(bytes);
    if (kind === "beacon") return this.#onBeacon(bytes, from);
    if (kind !== "frame") return this.#drop("bad-frame");
    this.#onFrame(bytes, from, -1);
  }

  /** Dispatches one frame; `relaySender` ≥ 0 when it came inside a RelayDeliver from that node. */
  #onFrame(bytes: Uint8Array, from: Endpoint, relaySender: number): void {
    const relayed = relaySender >= 0;
    if (bytes.length >= MAGIC_SIZE && readU32(bytes, 0) === MAGIC_PILS) {
      if (bytes.length < MAGIC_SIZE + PILS_MIN_BODY) return this.#drop("bad-frame");
      const sender = readU32(bytes, MAGIC_SIZE);
      if (relayed && sender !== relaySender) return this.#drop("relay-mismatch");
      return this.#onPils(bytes, sender, from, relayed);
    }
    let frame;
    try {
      frame = decodeFrame(bytes);
    } catch (err) {
      if (!(err instanceof FrameError)) throw err;
      return this.#drop("bad-frame");
    }
    switch (frame.kind) {
      case "PILT":
        // Copied: the receive buffer is reused, and the packet's payload may be kept by the caller.
        return this.#onPilt(frame.packet.slice(), from, relaySender);
      case "PILK":
      case "PILA":
        if (relayed && frame.sender !== relaySender) return this.#drop("relay-mismatch");
        return this.#onKeyExchange(frame, from, relayed);
      case "PILP":
        // NAT punch: opens a mapping, proves nothing (wire.md §5.5). A named sender is a hint only.
        this.#counters.punchesReceived++;
        if (!relayed && frame.sender !== undefined && frame.sender !== this.#nodeId) {
          try {
            this.onPunchFrame(frame.sender, from);
          } catch (err) {
            this.#log.warn("onPunchFrame threw", { err: String(err) });
          }
        }
        return;
      default:
        return this.#drop("bad-frame");
    }
  }

  #onPils(bytes: Uint8Array, sender: number, from: Endpoint, relayed: boolean): void {
    if (this.#nodeId === undefined) return this.#drop("no-node-id");
    if (sender === this.#nodeId) return this.#drop("self");
    const peer = this.#peers.get(sender);
    const ctx = peer?.ctx;
    if (!peer || !ctx) {
      this.#drop("unknown-sender");
      return this.#offerKeyExchange(sender, from, relayed);
    }
    const nonceAt = MAGIC_SIZE + SENDER_SIZE;
    const prefix = readU32(bytes, nonceAt);
    const hi = readU32(bytes, nonceAt + 4);
    const lo = readU32(bytes, nonceAt + 8);
    if (!ctx.replay.checkU64(prefix, hi, lo)) return this.#replayed(peer, hi, lo);
    const nonce = bytes.subarray(nonceAt, nonceAt + NONCE_SIZE);
    const sealed = bytes.subarray(PILS_HEADER_SIZE);
    if (ctx.fast) {
      // The packet keeps its payload, so the plaintext gets its own buffer.
      const plaintext = new Uint8Array(sealed.length - TAG_SIZE);
      if (ctx.fast.openInto(nonce, sealed, ctx.aad, plaintext, 0) < 0) return this.#drop("auth-failure");
      return this.#acceptPils(peer, ctx, prefix, hi, lo, plaintext, from, relayed);
    }
    if (this.#strategy === "sync") {
      let plaintext: Uint8Array;
      try {
        plaintext = ctx.cipher.openSync(nonce, sealed, ctx.aad);
      } catch {
        return this.#drop("auth-failure");
      }
      return this.#acceptPils(peer, ctx, prefix, hi, lo, plaintext, from, relayed);
    }
    // Web Crypto copies nonce and ciphertext before returning, so the receive slot may be reused.
    this.#inFlight++;
    const opening = ctx.cipher.open(nonce, sealed, ctx.aad);
    this.#rxBatch.push({ peer, ctx, prefix, hi, lo, opening, from, relayed });
  }

  #onBatchEnd(): void {
    if (this.#rxBatch.length === 0) return;
    const batch = this.#rxBatch;
    this.#rxBatch = [];
    const settled = Promise.allSettled(batch.map((item) => item.opening));
    this.#rxChain = this.#rxChain.then(() => settled).then((results) => {
      for (let i = 0; i < results.length; i++) {
        this.#inFlight--;
        const r = results[i];
        const item = batch[i];
        if (r.status === "rejected") {
          this.#drop("auth-failure");
          continue;
        }
        if (this.#closed) continue;
        this.#acceptPils(
          item.peer,
          item.ctx,
          item.prefix,
          item.hi,
          item.lo,
          r.value,
          item.from,
          item.relayed,
        );
      }
    });
  }

  #acceptPils(
    peer: Peer,
    ctx: CryptoContext,
    prefix: number,
    hi: number,
    lo: number,
    plaintext: Uint8Array,
    from: Endpoint,
    relayed: boolean,
  ): void {
    if (!ctx.replay.commitU64(prefix, hi, lo)) return this.#replayed(peer, hi, lo);
    this.#counters.framesDecrypted++;
    let packet: Packet;
    try {
      packet = decodePacket(plaintext);
    } catch (err) {
      if (!(err instanceof PacketError)) throw err;
      return this.#drop(err.reason === "checksum" ? "checksum" : "bad-packet");
    }
    if (packet.src.node !== peer.node) return this.#drop("spoofed-source");
    peer.sameKeyReplies = 0; // it holds our key
    if (!relayed && peer.ctx === ctx && this.#peers.get(peer.node) === peer) {
      peer.lastDirectAt = performance.now();
      // Roaming: an authenticated frame from a new address moves the peer there.
      if (!from.equals(peer.endpoint)) {
        this.#log.debug("peer endpoint changed", { peer: peer.node, from: peer.endpoint?.key, to: from.key });
        peer.endpoint = from;
      }
      // A relayed peer whose authenticated traffic now arrives directly has a working (punched)
      // path: answer along it. A stateful NAT passes our replies on the mapping the peer opened.
      if (peer.relay) {
        peer.relay = false;
        this.#counters.directRecoveries++;
        this.#log.info("peer reachable directly; leaving the relay", { peer: peer.node, at: from.key });
      }
    }
    this.#deliver(packet, peer.node);
  }

  #onPilt(bytes: Uint8Array, from: Endpoint, relaySender: number): void {
    if (this.#encrypt && !this.#allowPlaintext) return this.#drop("plaintext-refused");
    let packet: Packet;
    try {
      packet = decodePacket(bytes);
    } catch (err) {
      if (!(err instanceof PacketError)) throw err;
      return this.#drop(err.reason === "checksum" ? "checksum" : "bad-packet");
    }
    const sender = packet.src.node;
    if (relaySender >= 0 && sender !== relaySender) return this.#drop("relay-mismatch");
    if (this.#nodeId !== undefined && sender === this.#nodeId) return this.#drop("self");
    // Plaintext is unauthenticated: it may create a peer (so replies have a path) but never moves one.
    const peer = this.#peer(sender, true);
    if (peer && !peer.endpoint && relaySender < 0) peer.endpoint = from;
    this.#deliver(packet, sender);
  }

  #deliver(packet: Packet, from: number): void {
    this.#counters.packetsDelivered++;
    try {
      this.onPacket(packet, from);
    } catch (err) {
      this.#log.warn("onPacket threw", { err: String(err) });
    }
  }

  #onKeyExchange(frame: KeyExchangeFrame, from: Endpoint, relayed: boolean): void {
    if (!this.#encrypt) return this.#drop("encryption-off");
    if (this.#nodeId === undefined) return this.#drop("no-node-id");
    if (frame.sender === this.#nodeId) return this.#drop("self");
    // Copied: the receive buffer is reused before the handshake's first await returns.
    this.#handshake.receive(
      {
        kind: frame.kind,
        sender: frame.sender,
        x25519: frame.x25519.slice(),
        ed25519: frame.ed25519?.slice(),
        signature: frame.signature?.slice(),
      },
      from,
      relayed,
    );
  }

  // ---- beacon ----

  #onBeacon(bytes: Uint8Array, from: Endpoint): void {
    if (!this.#beacon || !from.equals(this.#beacon)) return this.#drop("beacon-source");
    let message: BeaconMessage;
    try {
      message = decodeBeaconMessage(bytes);
    } catch {
      return this.#drop("bad-beacon");
    }
    switch (message.kind) {
      case "RelayDeliver":
        return this.#onRelayDeliver(message.sender, message.frame, from);
      case "PunchCommand":
        return this.mayPunch(message) ? this.#punch(message.ip, message.port) : undefined;
      default:
        try {
          this.onBeaconMessage(message, from);
        } catch (err) {
          this.#log.warn("onBeaconMessage threw", { err: String(err) });
        }
    }
  }

  #onRelayDeliver(sender: number, frame: Uint8Array, from: Endpoint): void {
    if (this.#nodeId !== undefined && sender === this.#nodeId) return this.#drop("self");
    if (frame.length < MAGIC_SIZE) return this.#drop("bad-frame");
    // A node that reaches us through the relay is answered through it (sticky, wire.md §8.2).
    const peer = this.#peer(sender, true);
    if (!peer) return;
    const wasRelay = peer.relay;
    peer.relayedFrameSeen(performance.now());
    if (!wasRelay && peer.relay && this.onEvent) this.#report({ kind: "relay-activated", node: sender });
    this.#onFrame(frame, from, sender);
  }

  #punch(ip: string, port: number): void {
    let to: Endpoint;
    try {
      to = Endpoint.of(ip, port);
    } catch {
      return this.#drop("bad-beacon");
    }
    this.#counters.punchCommands++;
    this.#rememberPunched(to);
    const frame = encodeFrame({ kind: "PILP", sender: this.#nodeId });
    for (let i = 0; i < PUNCH_BURST; i++) this.#emit(undefined, frame, to);
  }

  #rememberPunched(to: Endpoint): void {
    this.#punched.delete(to.key); // re-inserted last: the set is kept in recency order
    this.#punched.add(to.key);
    if (this.#punched.size > MAX_PUNCHED_ENDPOINTS) {
      this.#punched.delete(this.#punched.values().next().value!);
    }
  }

  // ---- helpers ----

  #peer(node: number, create: boolean): Peer | undefined {
    let peer = this.#peers.get(node);
    if (peer || !create) return peer;
    checkNodeId(node);
    if (this.#peers.size >= MAX_PEERS) {
      this.#drop("peer-table-full");
      return undefined;
    }
    peer = new Peer(node);
    this.#peers.set(node, peer);
    return peer;
  }

  #drop(reason: DropReason): void {
    this.#counters.drops[reason]++;
  }

  // ---- events ----

  #report(event: TunnelEvent): void {
    try {
      this.onEvent?.(event);
    } catch (err) {
      this.#log.warn("onEvent threw", { err: String(err) });
    }
  }

  #established(peer: Peer, info: { authenticated: boolean; rekeyed: boolean; added: boolean }): void {
    if (!this.onEvent) return;
    if (info.added && peer.endpoint && !peer.relay) {
      this.#report({ kind: "peer-added", node: peer.node, endpoint: peer.endpoint.key });
    }
    this.#report({
      kind: "established",
      node: peer.node,
      authenticated: info.authenticated,
      relay: peer.relay,
      rekeyed: info.rekeyed,
    });
  }

  /** A PILS refused by the replay window: counted always, reported at most once per interval per peer. */
  #replayed(peer: Peer, hi: number, lo: number): void {
    this.#drop("replay");
    if (!this.onEvent) return;
    this.#replayReports ??= new KeyedInterval<number>(REPLAY_EVENT_INTERVAL_MS, REPLAY_EVENT_PEERS);
    if (!this.#replayReports.allow(peer.node)) return;
    this.#report({ kind: "replay", node: peer.node, counter: hi * 0x1_0000_0000 + lo });
  }
}

function checkNodeId(node: number): void {
  if (!Number.isInteger(node) || node < 0 || node > U32_MAX) {
    throw new TunnelError(`node ID must be a u32, got ${node}`);
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

function writeRelayHeader(out: Uint8Array, sender: number, dest: number): void {
  out[0] = BEACON_RELAY;
  writeU32(out, 1, sender);
  writeU32(out, 5, dest);
}

function readU32(bytes: Uint8Array, at: number): number {
  return ((bytes[at] << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3]) >>> 0;
}

function writeU32(out: Uint8Array, at: number, value: number): void {
  out[at] = value >>> 24;
  out[at + 1] = (value >>> 16) & 0xff;
  out[at + 2] = (value >>> 8) & 0xff;
  out[at + 3] = value & 0xff;
}
