/**
 * The beacon: a UDP rendezvous and relay server for daemons behind NAT (docs/protocol/wire.md §8.1). It
 * learns each node's public endpoint from Discover/PunchRequest, answers Discover with the
 * observed endpoint (STUN-like), tells both sides of a PunchRequest where to punch, relays
 * tunnel frames for pairs that cannot reach each other, and gossips its node list to peer
 * beacons so a Relay can be forwarded to the beacon that serves its destination. Bad input
 * is counted and dropped, never thrown.
 *
 * Hardening (docs/compat.md "Hardening: beacon"): with a registry view, a signed Discover or
 * PunchRequest makes a proven binding that no unsigned claim from another address can move, and
 * a PunchRequest is answered only when the registry lets the requester see the target; unsigned
 * messages from reference daemons keep the reference's behaviour otherwise.
 */
import dgram from "node:dgram";
import { lookup } from "node:dns/promises";
import { Logger } from "../log.ts";
import { formatIP, parseIP, unmapIPv4 } from "../net/ip.ts";
import {
  type BeaconMessage,
  BeaconMessageError,
  type BeaconMessageKind,
  decodeBeaconMessage,
  encodeBeaconMessage,
} from "./messages.ts";
import { type BindingProof, type Endpoint, NodeTable } from "./node_table.ts";
import { UdpSendQueue } from "./send_queue.ts";
import { KeyedRateLimiter } from "../net/token_bucket.ts";
import { parseProof, proofFresh, verifyProof } from "./proof.ts";
import type { NodeAuthority } from "./registry_view.ts";
import { setAlignedInterval } from "../aligned_timer.ts";

/** Default beacon UDP port. */
export const DEFAULT_BEACON_PORT = 9001;
/** Outgoing datagrams allowed to wait (replies, punch commands, relays); the reference's relay queue size. */
export const SEND_QUEUE_LIMIT = 4096;
/** Sustained relayed packets per second allowed per sender node (≈ 11 Mbit/s of 1400-byte frames). */
export const RELAY_RATE_PER_NODE = 1000;
/** Relayed packets a sender node may burst above its sustained rate. */
export const RELAY_BURST_PER_NODE = 2000;
/** Most sender nodes tracked by the relay limiter; past this, unknown senders are refused until a sweep. */
export const RELAY_LIMITER_MAX_NODES = 65536;
/** Sustained PunchRequests per second allowed per source address (a dial sends two, probes one per 2–60 s). */
export const PUNCH_RATE_PER_SOURCE = 20;
/** PunchRequests a source may burst above its sustained rate. */
export const PUNCH_BURST_PER_SOURCE = 40;
/** Most source addresses tracked by the PunchRequest limiter. */
export const PUNCH_LIMITER_MAX_SOURCES = 65536;
/** Signed claims per second per source address that may need a registry look-up (a key not cached). */
export const CHECK_RATE_PER_SOURCE = 10;
/** Such claims a source may burst. */
export const CHECK_BURST_PER_SOURCE = 20;
/** A key that fails to verify is fetched again if the cached one is older than this. */
export const KEY_RECHECK_MS = 30_000;
/** Most messages waiting for the registry (a key or a visibility answer) at once; more are refused. */
export const MAX_PENDING_CHECKS = 256;
/** Most nodes in the endpoint table. */
export const MAX_TABLE_NODES = 1 << 20;
/** A node not heard from for this long is forgotten (daemons re-Discover every 30 s). */
export const NODE_TTL_MS = 5 * 60_000;
/** Gossip interval to peer beacons. */
export const SYNC_INTERVAL_MS = 10_000;
/** Gossip from a peer that has not synced for this long is forgotten. */
export const PEER_TTL_MS = 6 * SYNC_INTERVAL_MS;
/** How often expired nodes, quiet peers and idle rate buckets are swept. */
export const SWEEP_INTERVAL_MS = 30_000;
/** Node IDs per Sync so it fits one UDP datagram: (65507 − 7) / 4. */
export const SYNC_NODES_PER_DATAGRAM = 16375;

/** Why an incoming message produced nothing (or less than asked). */
export type BeaconDropReason =
  | "unknown-type" // first byte not a beacon message type (e.g. a stray tunnel frame)
  | "malformed" // a known type that failed to decode
  | "ignored-type" // DiscoverReply/PunchCommand/RelayDeliver sent to a beacon
  | "punch-unknown-target"
  | "relay-unknown-dest"
  | "relay-rate-limited"
  | "queue-full"
  | "table-full"
  | "sync-from-stranger" // Sync from an address that is not a configured peer beacon
  | "bad-endpoint" // source address we cannot put on the wire
  | "punch-rate-limited" // PunchRequests from one source address beyond its budget
  | "punch-denied" // the registry does not let the requester see the target (or knows neither)
  | "unproven-conflict" // an unsigned claim on a node whose signed binding is at another address
  | "proof-invalid" // a signed message whose signature does not verify (or whose node the registry lacks)
  | "proof-stale" // a proof outside the clock window (then judged as unsigned) or, from another address, no newer than the binding's
  | "proof-malformed" // trailing bytes after a Discover/PunchRequest that are not our proof
  | "registry-error" // the registry could not be asked; nothing is bound or disclosed
  | "registry-busy" // too many messages already waiting for the registry
  | "check-rate-limited" // signed claims needing a registry look-up from one source beyond its budget
  | "send-error"
  | "internal-error";

/** A snapshot of the beacon's counters. */
export interface BeaconMetrics {
  received: Record<BeaconMessageKind, number>;
  sent: Record<BeaconMessageKind, number>;
  /** Frames delivered to a local node as RelayDeliver, and their frame bytes. */
  relayedPackets: number;
  relayedBytes: number;
  /** Relay messages forwarded unchanged to a peer beacon, and their frame bytes. */
  forwardedPackets: number;
  forwardedBytes: number;
  drops: Record<BeaconDropReason, number>;
  /** Discover/PunchRequest bindings accepted: signed and verified, unsigned (reference daemons), or signed but not checkable (no registry). */
  bindings: Record<BindingKind, number>;
  nodes: number;
  remoteNodes: number;
  queueDepth: number;
}

/** How a binding of a node ID to a source address was accepted. */
export type BindingKind = "proven" | "unproven" | "unverifiable";

/** A peer beacon for gossip, by host (name or IP literal) and UDP port. */
export interface BeaconPeer {
  host: string;
  port: number;
}

/** Options for `BeaconServer`; every limit defaults to the constants above. */
export interface BeaconServerOptions {
  /** Address to bind; an IPv6 literal selects a udp6 socket. Default "0.0.0.0". */
  host?: string;
  /** Port to bind; 0 picks an ephemeral port. Default 9001. */
  port?: number;
  /** This beacon's ID in Sync messages. Default: random. */
  beaconId?: number;
  /** Peer beacons to gossip with; Sync is only accepted from these. */
  peers?: BeaconPeer[];
  syncIntervalMs?: number;
  relayRatePerNode?: number;
  relayBurstPerNode?: number;
  nodeTtlMs?: number;
  punchRatePerSource?: number;
  punchBurstPerSource?: number;
  /**
   * The registry's view of nodes: with it, signed messages are verified and PunchRequests obey
   * the registry's privacy rule. Without it the beacon binds and punches as the reference does.
   */
  authority?: NodeAuthority;
  logger?: Logger;
}

const KINDS: BeaconMessageKind[] = [
  "Discover",
  "DiscoverReply",
  "PunchRequest",
  "PunchCommand",
  "Relay",
  "RelayDeliver",
  "Sync",
];
const DROP_REASONS: BeaconDropReason[] = [
  "unknown-type",
  "malformed",
  "ignored-type",
  "punch-unknown-target",
  "relay-unknown-dest",
  "relay-rate-limited",
  "queue-full",
  "table-full",
  "sync-from-stranger",
  "bad-endpoint",
  "punch-rate-limited",
  "punch-denied",
  "unproven-conflict",
  "proof-invalid",
  "proof-stale",
  "proof-malformed",
  "registry-error",
  "registry-busy",
  "check-rate-limited",
  "send-error",
  "internal-error",
];

/**
 * A beacon bound to one UDP socket. `start()` binds and returns the bound address;
 * `close()` stops timers and the socket. `metrics()` returns a counter snapshot and
 * `endpointOf()` exposes the table for diagnostics.
 */
export class BeaconServer {
  readonly beaconId: number;
  private readonly log: Logger;
  private readonly table: NodeTable;
  private readonly limiter: KeyedRateLimiter<number>;
  private readonly punchLimiter: KeyedRateLimiter<string>;
  private readonly checkLimiter: KeyedRateLimiter<string>;
  private readonly counters: BeaconMetrics;
  private authority?: NodeAuthority;
  private pendingChecks = 0;
  private socket?: dgram.Socket;
  private queue?: UdpSendQueue;
  private peers = new Map<string, { address: string; port: number }>();
  /** Gossip; runs only while there are peer beacons, so a lone beacon is not woken for it. */
  private syncTimer?: ReturnType<typeof setInterval>;
  private stopSweeps?: () => void;

  constructor(private readonly options: BeaconServerOptions = {}) {
    this.beaconId = options.beaconId ?? crypto.getRandomValues(new Uint32Array(1))[0];
    this.log = options.logger ?? new Logger("beacon");
    this.table = new NodeTable(MAX_TABLE_NODES, options.nodeTtlMs ?? NODE_TTL_MS, PEER_TTL_MS);
    this.limiter = new KeyedRateLimiter(
      options.relayRatePerNode ?? RELAY_RATE_PER_NODE,
      options.relayBurstPerNode ?? RELAY_BURST_PER_NODE,
      RELAY_LIMITER_MAX_NODES,
    );
    this.punchLimiter = new KeyedRateLimiter(
      options.punchRatePerSource ?? PUNCH_RATE_PER_SOURCE,
      options.punchBurstPerSource ?? PUNCH_BURST_PER_SOURCE,
      PUNCH_LIMITER_MAX_SOURCES,
    );
    this.checkLimiter = new KeyedRateLimiter(
      CHECK_RATE_PER_SOURCE,
      CHECK_BURST_PER_SOURCE,
      PUNCH_LIMITER_MAX_SOURCES,
    );
    this.authority = options.authority;
    this.counters = {
      received: zeroes(KINDS),
      sent: zeroes(KINDS),
      relayedPackets: 0,
      relayedBytes: 0,
      forwardedPackets: 0,
      forwardedBytes: 0,
      drops: zeroes(DROP_REASONS),
      bindings: zeroes<BindingKind>(["proven", "unproven", "unverifiable"]),
      nodes: 0,
      remoteNodes: 0,
      queueDepth: 0,
    };
  }

  /** Binds the socket, resolves peer beacons and starts the gossip and sweep timers. */
  async start(): Promise<{ host: string; port: number }> {
    if (this.socket) throw new Error("beacon already started");
    const host = this.options.host ?? "0.0.0.0";
    // Socket buffers stay at the kernel default on purpose. Under Deno 2.9 node:dgram's
    // recvBufferSize/sendBufferSize never reach the kernel (`ss -uam` shows 212992), and the
    // receive path allocates a buffer of the requested size per datagram: asking for 4 MiB
    // cut loopback receive from ≈20 k to ≈1 k datagrams/s in our measurement.
    const socket = dgram.createSocket({ type: host.includes(":") ? "udp6" : "udp4" });
    this.socket = socket;
    socket.on("error", (err) => this.log.warn("socket error", { err: String(err) }));
    socket.on("message", (msg, rinfo) => this.onMessage(msg, rinfo.address, rinfo.port));
    await new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.bind(this.options.port ?? DEFAULT_BEACON_PORT, host, () => {
        socket.off("error", reject);
        resolve();
      });
    });
    this.queue = new UdpSendQueue(socket, SEND_QUEUE_LIMIT, (err, job) => {
      this.counters.drops["send-error"]++;
      this.log.debug("send failed", { to: `${job.address}:${job.port}`, err: String(err) });
    });
    await this.setPeers(this.options.peers ?? []);
    this.stopSweeps = setAlignedInterval(() => this.sweep(), SWEEP_INTERVAL_MS); // with the process's other 30 s chores
    const bound = socket.address();
    this.log.info("beacon listening", { addr: `${bound.address}:${bound.port}`, id: this.beaconId });
    return { host: bound.address, port: bound.port };
  }

  /**
   * Replaces the set of peer beacons (configuration, or the registry's beacon list). Host
   * names are resolved once here. Gossip previously learnt from dropped peers ages out.
   */
  async setPeers(peers: readonly BeaconPeer[]): Promise<void> {
    const next = new Map<string, { address: string; port: number }>();
    for (const peer of peers) {
      const { address } = await lookup(peer.host);
      next.set(endpointKey(address, peer.port), { address, port: peer.port });
    }
    this.peers = next;
    this.syncWhilePeered();
  }

  /** Starts gossip when there are peer beacons (and a socket), stops it when there are none. */
  private syncWhilePeered(): void {
    if (this.peers.size > 0 && this.socket && !this.syncTimer) {
      this.syncTimer = setInterval(() => this.sendSync(), this.options.syncIntervalMs ?? SYNC_INTERVAL_MS);
    } else if (this.peers.size === 0 && this.syncTimer) {
      clearInterval(this.syncTimer);
      this.syncTimer = undefined;
    }
  }

  /** True while gossip runs (there are peer beacons). */
  get syncing(): boolean {
    return this.syncTimer !== undefined;
  }

  /** Stops timers, drops queued datagrams and closes the socket. Safe to call twice. */
  async close(): Promise<void> {
    clearInterval(this.syncTimer);
    this.syncTimer = undefined;
    this.stopSweeps?.();
    this.stopSweeps = undefined;
    this.queue?.close();
    const socket = this.socket;
    this.socket = undefined;
    if (socket) await new Promise<void>((resolve) => socket.close(() => resolve()));
  }

  /** Sets (or clears) the registry view used to verify signed messages and gate PunchRequests. */
  setAuthority(authority: NodeAuthority | undefined): void {
    this.authority = authority;
  }

  /** True between `start()` and `close()`. */
  get listening(): boolean {
    return this.socket !== undefined;
  }

  /** Number of peer beacons gossiped with. */
  get peerCount(): number {
    return this.peers.size;
  }

  /** A snapshot of the counters. */
  metrics(): BeaconMetrics {
    return {
      ...this.counters,
      received: { ...this.counters.received },
      sent: { ...this.counters.sent },
      drops: { ...this.counters.drops },
      bindings: { ...this.counters.bindings },
      nodes: this.table.size,
      remoteNodes: this.table.remoteSize,
      queueDepth: this.queue?.depth ?? 0,
    };
  }

  /** The endpoint recorded for `node`, if live. */
  endpointOf(node: number): Endpoint | undefined {
    return this.table.lookup(node, Date.now());
  }

  /** Sends this beacon's node list to every peer beacon now (the timer calls this every 10 s). */
  sendSync(): void {
    if (this.peers.size === 0) return;
    const nodes = this.table.localNodes(Date.now(), SYNC_NODES_PER_DATAGRAM);
    const bytes = encodeBeaconMessage({ kind: "Sync", beaconId: this.beaconId, nodes });
    for (const peer of this.peers.values()) this.send({ kind: "Sync" }, bytes, peer.address, peer.port);
  }

  private sweep(): void {
    const now = Date.now();
    this.table.sweep(now);
    this.limiter.sweep(now);
    this.punchLimiter.sweep(now);
    this.checkLimiter.sweep(now);
  }

  private onMessage(msg: Uint8Array, address: string, port: number): void {
    try {
      this.handle(msg, address, port);
    } catch (err) {
      this.counters.drops["internal-error"]++;
      this.log.error("beacon handler failed", { from: `${address}:${port}`, err: String(err) });
    }
  }

  private handle(msg: Uint8Array, address: string, port: number): void {
    let message: BeaconMessage;
    try {
      message = decodeBeaconMessage(msg);
    } catch (err) {
      if (!(err instanceof BeaconMessageError)) throw err;
      this.counters
        .drops[err.reason === "unknown-type" || err.reason === "empty" ? "unknown-type" : "malformed"]++;
      return;
    }
    this.counters.received[message.kind]++;
    const now = Date.now();
    switch (message.kind) {
      case "Discover": {
        const source = observed(address, port);
        if (!source) return this.drop("bad-endpoint");
        // Node 0 is the anonymous STUN probe of docs/protocol/wire.md §8.3: answer it but do not record it.
        // The answer only reflects the source to itself, so it does not wait for the proof.
        if (message.node !== 0) void this.bindClaim(message.node, source, msg, now);
        this.sendMessage({ kind: "DiscoverReply", ip: source.ip, port: source.port }, source);
        return;
      }
      case "PunchRequest": {
        if (!this.punchLimiter.allow(endpointKey(address, port), now)) return this.drop("punch-rate-limited");
        const requester = observed(address, port);
        if (!requester) return this.drop("bad-endpoint");
        void this.punch(message.requester, message.target, requester, msg.slice(), now);
        return;
      }
      case "Relay":
        return this.relay(message, msg, address, port, now);
      case "Sync": {
        const key = endpointKey(address, port);
        if (!this.peers.has(key)) return this.drop("sync-from-stranger");
        this.table.replacePeerNodes(key, message.nodes, now);
        return;
      }
      default:
        this.drop("ignored-type");
    }
  }

  /**
   * A PunchRequest (docs/protocol/wire.md §8.1) with the hardening of docs/compat.md: the requester's claim must
   * not contradict a signed binding, a signed request must verify, and with a registry view the
   * requester must be allowed to see the target; only then is the requester bound and both sides
   * told where to punch. The requester's command echoes the token of its request; the target's
   * carries the target's own token only when the request was signed.
   */
  private async punch(
    requester: number,
    targetNode: number,
    source: Endpoint,
    raw: Uint8Array,
    now: number,
  ): Promise<void> {
    if (!this.table.lookup(targetNode, now)) return this.drop("punch-unknown-target");
    const proof = await this.checkClaim(requester, source, raw, now);
    if (!proof) return;
    if (this.authority) {
      const allowed = await this.ask(() => this.authority!.maySee(requester, targetNode));
      if (allowed === undefined) return;
      if (!allowed) return this.drop("punch-denied");
    }
    const later = Date.now();
    if (requester !== 0 && !this.bind(requester, source, proof, later)) return;
    const target = this.table.lookup(targetNode, later);
    if (!target) return this.drop("punch-unknown-target");
    this.sendMessage({ kind: "PunchCommand", ip: target.ip, port: target.port, token: proof.token }, source);
    // The target's token vouches for the requester's endpoint, so it goes only with a signed
    // request (or, with no registry to check one, as the reference would punch anyway): an
    // unsigned request's source may be forged, and the target must not reflect PILP to it.
    const vouched = proof.kind !== "unproven";
    this.sendMessage({
      kind: "PunchCommand",
      ip: source.ip,
      port: source.port,
      token: vouched ? this.table.tokenOf(targetNode, later) : undefined,
    }, target);
  }

  /** Checks and records a Discover's claim that `node` is at `source`. */
  private async bindClaim(node: number, source: Endpoint, raw: Uint8Array, now: number): Promise<void> {
    const proof = await this.checkClaim(node, source, raw.slice(), now);
    if (proof) this.bind(node, source, proof, Date.now());
  }

  /**
   * Reads a claim's proof: an unsigned claim is unproven (refused when the node has a signed binding
   * elsewhere); a signed one must be fresh and verify against the registry's key (without a
   * registry view it counts as unproven). Undefined when the claim is refused (counted).
   */
  private async checkClaim(
    node: number,
    source: Endpoint,
    raw: Uint8Array,
    now: number,
  ): Promise<(BindingProof & { kind: BindingKind }) | undefined> {
    const parsed = parseProof(raw);
    if (parsed.kind === "malformed") return this.drop("proof-malformed"), undefined;
    const unproven = () => {
      if (
        node !== 0 && this.table.isProven(node, now) && !sameEndpoint(this.table.lookup(node, now), source)
      ) {
        return this.drop("unproven-conflict"), undefined;
      }
      return { kind: "unproven" as const, proven: false };
    };
    if (parsed.kind === "none") return unproven();
    const { proof } = parsed;
    // A clock too far off proves nothing, but the claim is still worth what an unsigned one is:
    // a daemon with a skewed clock keeps working as a reference daemon would.
    if (!proofFresh(proof.timestamp, now)) return this.drop("proof-stale"), unproven();
    if (!this.authority || node === 0) return { kind: "unverifiable", proven: false, token: proof.token };
    const authority = this.authority;
    if (!authority.hasKey(node) && !this.checkLimiter.allow(endpointKey(source.address, source.port), now)) {
      return this.drop("check-rate-limited"), undefined;
    }
    let key = await this.ask(() => authority.publicKey(node));
    if (key === undefined) return undefined;
    if (key !== null && !verifyProof(proof, key)) {
      // Perhaps the node rotated its key: look again, at most once per KEY_RECHECK_MS per node.
      const again = await this.ask(() => authority.publicKey(node, KEY_RECHECK_MS));
      key = again !== undefined && again !== null && !equalBytes(again, key) ? again : null;
    }
    if (key === null || !verifyProof(proof, key)) return this.drop("proof-invalid"), undefined;
    return { kind: "proven", proven: true, timestamp: proof.timestamp, token: proof.token };
  }

  /** Records a checked claim; false (counted) when the table refuses it. */
  private bind(
    node: number,
    source: Endpoint,
    proof: BindingProof & { kind: BindingKind },
    now: number,
  ): boolean {
    const result = this.table.record(node, source, now, proof);
    if (result === "ok") {
      this.counters.bindings[proof.kind]++;
      return true;
    }
    this.drop(result === "full" ? "table-full" : result === "stale" ? "proof-stale" : "unproven-conflict");
    return false;
  }

  /**
   * Asks the registry view, bounded by {@link MAX_PENDING_CHECKS}. Undefined (counted) when busy or
   * the registry could not answer; null when it answered "no such node".
   */
  private async ask<T>(question: () => Promise<T | undefined>): Promise<T | null | undefined> {
    if (this.pendingChecks >= MAX_PENDING_CHECKS) return this.drop("registry-busy"), undefined;
    this.pendingChecks++;
    try {
      const answer = await question();
      return answer === undefined ? null : answer;
    } catch (err) {
      this.drop("registry-error");
      this.log.debug("registry check failed", { err: String(err) });
      return undefined;
    } finally {
      this.pendingChecks--;
    }
  }

  private drop(reason: BeaconDropReason): void {
    this.counters.drops[reason]++;
  }

  private relay(
    message: Extract<BeaconMessage, { kind: "Relay" }>,
    raw: Uint8Array,
    address: string,
    port: number,
    now: number,
  ): void {
    if (!this.limiter.allow(message.sender, now)) return this.drop("relay-rate-limited");
    const dest = this.table.lookup(message.dest, now);
    if (dest) {
      const deliver = encodeBeaconMessage({
        kind: "RelayDeliver",
        sender: message.sender,
        frame: message.frame,
      });
      if (this.send({ kind: "RelayDeliver" }, deliver, dest.address, dest.port)) {
        this.counters.relayedPackets++;
        this.counters.relayedBytes += message.frame.length;
      }
      return;
    }
    // A Relay that came from a peer beacon is only delivered locally, never bounced on:
    // two beacons with stale gossip about each other would otherwise ping-pong it.
    const peerKey = this.peers.has(endpointKey(address, port)) ? undefined : this.table.peerFor(message.dest);
    const peer = peerKey === undefined ? undefined : this.peers.get(peerKey);
    if (!peer) return this.drop("relay-unknown-dest");
    // Copy: the receive buffer is not ours to keep once this handler returns.
    if (this.send({ kind: "Relay" }, raw.slice(), peer.address, peer.port)) {
      this.counters.forwardedPackets++;
      this.counters.forwardedBytes += message.frame.length;
    }
  }

  private sendMessage(message: BeaconMessage, to: Endpoint): void {
    this.send(message, encodeBeaconMessage(message), to.address, to.port);
  }

  private send(
    message: { kind: BeaconMessageKind },
    bytes: Uint8Array,
    address: string,
    port: number,
  ): boolean {
    if (!this.queue?.push(bytes, port, address)) {
      this.counters.drops["queue-full"]++;
      return false;
    }
    this.counters.sent[message.kind]++;
    return true;
  }
}

/** The observed source as an Endpoint, or undefined if it cannot be written as iplen/ip. */
function observed(address: string, port: number): Endpoint | undefined {
  const zone = address.indexOf("%"); // link-local zone IDs mean nothing to the remote side
  try {
    const ip = formatIP(unmapIPv4(parseIP(zone < 0 ? address : address.slice(0, zone))));
    return { address, ip, port };
  } catch {
    return undefined;
  }
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function sameEndpoint(a: Endpoint | undefined, b: Endpoint): boolean {
  return a !== undefined && a.ip === b.ip && a.port === b.port;
}

/** A canonical "ip|port" key so "::ffff:1.2.3.4" and "1.2.3.4" name the same peer. */
function endpointKey(address: string, port: number): string {
  try {
    return `${formatIP(unmapIPv4(parseIP(address)))}|${port}`;
  } catch {
    return `${address}|${port}`;
  }
}

function zeroes<K extends string>(keys: K[]): Record<K, number> {
  return Object.fromEntries(keys.map((k) => [k, 0])) as Record<K, number>;
}
