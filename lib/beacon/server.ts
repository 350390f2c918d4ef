/**
 * The beacon: a UDP rendezvous and relay server for daemons behind NAT (wire.md §8.1). It
 * learns each node's public endpoint from Discover/PunchRequest, answers Discover with the
 * observed endpoint (STUN-like), tells both sides of a PunchRequest where to punch, relays
 * tunnel frames for pairs that cannot reach each other, and gossips its node list to peer
 * beacons so a Relay can be forwarded to the beacon that serves its destination. Bad input
 * is counted and dropped, never thrown.
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
import { type Endpoint, NodeTable } from "./node_table.ts";
import { UdpSendQueue } from "./send_queue.ts";
import { KeyedRateLimiter } from "../net/token_bucket.ts";

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
  nodes: number;
  remoteNodes: number;
  queueDepth: number;
}

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
  private readonly counters: BeaconMetrics;
  private socket?: dgram.Socket;
  private queue?: UdpSendQueue;
  private peers = new Map<string, { address: string; port: number }>();
  private timers: ReturnType<typeof setInterval>[] = [];

  constructor(private readonly options: BeaconServerOptions = {}) {
    this.beaconId = options.beaconId ?? crypto.getRandomValues(new Uint32Array(1))[0];
    this.log = options.logger ?? new Logger("beacon");
    this.table = new NodeTable(MAX_TABLE_NODES, options.nodeTtlMs ?? NODE_TTL_MS, PEER_TTL_MS);
    this.limiter = new KeyedRateLimiter(
      options.relayRatePerNode ?? RELAY_RATE_PER_NODE,
      options.relayBurstPerNode ?? RELAY_BURST_PER_NODE,
      RELAY_LIMITER_MAX_NODES,
    );
    this.counters = {
      received: zeroes(KINDS),
      sent: zeroes(KINDS),
      relayedPackets: 0,
      relayedBytes: 0,
      forwardedPackets: 0,
      forwardedBytes: 0,
      drops: zeroes(DROP_REASONS),
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
    this.timers.push(setInterval(() => this.sendSync(), this.options.syncIntervalMs ?? SYNC_INTERVAL_MS));
    this.timers.push(setInterval(() => this.sweep(), SWEEP_INTERVAL_MS));
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
  }

  /** Stops timers, drops queued datagrams and closes the socket. Safe to call twice. */
  async close(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    this.queue?.close();
    const socket = this.socket;
    this.socket = undefined;
    if (socket) await new Promise<void>((resolve) => socket.close(() => resolve()));
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
    const nodes = this.table.localNodes(Date.now(), SYNC_NODES_PER_DATAGRAM);
    const bytes = encodeBeaconMessage({ kind: "Sync", beaconId: this.beaconId, nodes });
    if (this.peers.size === 0) return;
    for (const peer of this.peers.values()) this.send({ kind: "Sync" }, bytes, peer.address, peer.port);
  }

  private sweep(): void {
    const now = Date.now();
    this.table.sweep(now);
    this.limiter.sweep(now);
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
        // Node 0 is the anonymous STUN probe of wire.md §8.3: answer it but do not record it.
        if (message.node !== 0) this.record(message.node, source, now);
        this.sendMessage({ kind: "DiscoverReply", ip: source.ip, port: source.port }, source);
        return;
      }
      case "PunchRequest": {
        const requester = observed(address, port);
        if (!requester) return this.drop("bad-endpoint");
        if (message.requester !== 0) this.record(message.requester, requester, now);
        const target = this.table.lookup(message.target, now);
        if (!target) return this.drop("punch-unknown-target");
        this.sendMessage({ kind: "PunchCommand", ip: target.ip, port: target.port }, requester);
        this.sendMessage({ kind: "PunchCommand", ip: requester.ip, port: requester.port }, target);
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

  private record(node: number, endpoint: Endpoint, now: number): void {
    if (!this.table.record(node, endpoint, now)) this.counters.drops["table-full"]++;
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
