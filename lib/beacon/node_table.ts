/**
 * The beacon's routing state (docs/protocol/wire.md §8.1): node ID → observed UDP endpoint for nodes that
 * talk to this beacon, plus node IDs other beacons advertised by gossip. Pure, clock passed
 * in. Departures from the reference, both for bounded memory: entries expire after a TTL
 * (daemons re-Discover every 30 s) and the table has a size cap.
 */

/** Where a node was last seen. `address` is what the socket reported (may carry a zone), `ip` is wire-ready text. */
export interface Endpoint {
  address: string;
  ip: string;
  port: number;
}

/**
 * How a binding was made: `proven` when the node signed the message (docs/compat.md "Hardening:
 * beacon"), with the proof's timestamp (a later proof must be newer); `token` is the echo token the
 * node's latest message carried, copied into the PunchCommands sent to it.
 */
export interface BindingProof {
  proven: boolean;
  timestamp?: number;
  token?: Uint8Array;
}

/** What {@link NodeTable.record} did: stored, refused because the table is full, or refused
 * because an unproven claim would move a live proven binding ("conflict"), or a proof no newer
 * than the one already held ("stale"). */
export type RecordResult = "ok" | "full" | "conflict" | "stale";

interface LocalEntry {
  endpoint: Endpoint;
  seen: number;
  proven: boolean;
  proofTimestamp: number;
  token?: Uint8Array;
}

interface PeerEntry {
  nodes: Set<number>;
  seen: number;
}

/**
 * Node table with TTL expiry and a cap, and per-peer-beacon gossip attribution: each Sync
 * from a peer replaces everything previously attributed to it, and nodes known locally
 * always win over gossip.
 */
export class NodeTable {
  private readonly local = new Map<number, LocalEntry>();
  private readonly remote = new Map<number, string>(); // node → peer key
  private readonly peers = new Map<string, PeerEntry>();

  constructor(readonly maxNodes: number, readonly nodeTtlMs: number, readonly peerTtlMs: number) {}

  /** Number of locally attached nodes (including expired ones not yet swept). */
  get size(): number {
    return this.local.size;
  }

  /** Number of node IDs currently attributed to peer beacons. */
  get remoteSize(): number {
    return this.remote.size;
  }

  /**
   * Records (or refreshes) a node's endpoint. A live proven binding is moved only by a newer proof;
   * an unproven claim from its own endpoint refreshes it (and keeps it proven), one from elsewhere
   * is refused. Unproven bindings behave as the reference's: the last claim wins.
   */
  record(
    node: number,
    endpoint: Endpoint,
    now: number,
    proof: BindingProof = { proven: false },
  ): RecordResult {
    const entry = this.local.get(node);
    if (entry) {
      const live = now - entry.seen <= this.nodeTtlMs;
      if (live && entry.proven) {
        if (proof.proven) {
          if ((proof.timestamp ?? 0) <= entry.proofTimestamp) {
            if (!sameEndpoint(entry.endpoint, endpoint)) return "stale"; // a replay from elsewhere
            entry.seen = now; // reordered, or replayed to where the node is anyway
            return "ok";
          }
        } else {
          if (!sameEndpoint(entry.endpoint, endpoint)) return "conflict";
          entry.seen = now;
          return "ok";
        }
      }
      entry.endpoint = endpoint;
      entry.seen = now;
      entry.proven = proof.proven;
      entry.proofTimestamp = proof.proven ? proof.timestamp ?? 0 : 0;
      entry.token = proof.token;
      return "ok";
    }
    if (this.local.size >= this.maxNodes) return "full";
    this.local.set(node, {
      endpoint,
      seen: now,
      proven: proof.proven,
      proofTimestamp: proof.proven ? proof.timestamp ?? 0 : 0,
      token: proof.token,
    });
    return "ok";
  }

  /** True when `node` has a live binding proven by a signature. */
  isProven(node: number, now: number): boolean {
    const entry = this.local.get(node);
    return entry !== undefined && entry.proven && now - entry.seen <= this.nodeTtlMs;
  }

  /** The echo token of a live node's binding, if it sent one. */
  tokenOf(node: number, now: number): Uint8Array | undefined {
    const entry = this.local.get(node);
    return entry && now - entry.seen <= this.nodeTtlMs ? entry.token : undefined;
  }

  /** The endpoint of a locally attached node, or undefined if unknown or expired. */
  lookup(node: number, now: number): Endpoint | undefined {
    const entry = this.local.get(node);
    if (!entry || now - entry.seen > this.nodeTtlMs) return undefined;
    return entry.endpoint;
  }

  /** Up to `limit` live local node IDs, for gossip. */
  localNodes(now: number, limit: number): number[] {
    const out: number[] = [];
    for (const [node, entry] of this.local) {
      if (out.length >= limit) break;
      if (now - entry.seen <= this.nodeTtlMs) out.push(node);
    }
    return out;
  }

  /**
   * Applies a Sync from peer `peerKey`: drops everything previously attributed to it, then
   * attributes each listed node that is not live locally (and not already claimed by another
   * peer, first claim wins).
   */
  replacePeerNodes(peerKey: string, nodes: readonly number[], now: number): void {
    this.dropPeer(peerKey);
    const claimed = new Set<number>();
    for (const node of nodes) {
      if (this.lookup(node, now) || this.remote.has(node)) continue;
      this.remote.set(node, peerKey);
      claimed.add(node);
    }
    this.peers.set(peerKey, { nodes: claimed, seen: now });
  }

  /** The key of the peer beacon that advertised `node`, if any. */
  peerFor(node: number): string | undefined {
    return this.remote.get(node);
  }

  /** Removes expired local entries and gossip from peers that have gone quiet. */
  sweep(now: number): void {
    for (const [node, entry] of this.local) if (now - entry.seen > this.nodeTtlMs) this.local.delete(node);
    for (const [key, peer] of this.peers) if (now - peer.seen > this.peerTtlMs) this.dropPeer(key);
  }

  private dropPeer(peerKey: string): void {
    const peer = this.peers.get(peerKey);
    if (!peer) return;
    for (const node of peer.nodes) if (this.remote.get(node) === peerKey) this.remote.delete(node);
    this.peers.delete(peerKey);
  }
}

function sameEndpoint(a: Endpoint, b: Endpoint): boolean {
  return a.ip === b.ip && a.port === b.port;
}
