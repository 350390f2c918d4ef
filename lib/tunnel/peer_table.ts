/**
 * The tunnel's peer table: peers by node ID, bounded by {@link MAX_PEERS} so that frames naming
 * ever new node IDs cannot grow memory without limit.
 */
import { Peer } from "./peer.ts";
import { TunnelError } from "./errors.ts";

/** Largest peer table; entries beyond it are refused (plaintext senders, key exchanges). */
export const MAX_PEERS = 65536;
/**
 * An entry nothing authenticated and nobody vouched for (a plaintext sender, an anonymous PILK
 * never followed by a PILS) is forgotten after this long without news.
 */
export const UNPROVEN_PEER_TTL_MS = 30_000;
/** Stale entries are looked for at most this often, when entries are created. */
export const PEER_SWEEP_INTERVAL_MS = 1_000;
const U32_MAX = 0xffffffff;

/** Peers by node ID, at most {@link MAX_PEERS}. */
export class PeerTable {
  readonly #peers = new Map<number, Peer>();
  #sweptAt = -Infinity;

  /**
   * `full` is called each time an entry is refused because the table is at its limit; `evict`
   * with each stale entry removed (see {@link UNPROVEN_PEER_TTL_MS}).
   */
  constructor(
    private readonly full: () => void,
    private readonly evict: (peer: Peer) => void,
    readonly limit = MAX_PEERS,
  ) {}

  get size(): number {
    return this.#peers.size;
  }

  get(node: number): Peer | undefined {
    return this.#peers.get(node);
  }

  has(node: number): boolean {
    return this.#peers.has(node);
  }

  values(): IterableIterator<Peer> {
    return this.#peers.values();
  }

  /**
   * The entry of `node`, created when `create` and absent; undefined when absent and not created,
   * or when the table is full. Throws {@link TunnelError} for a node ID that is not a u32.
   */
  lookup(node: number, create: boolean): Peer | undefined {
    let peer = this.#peers.get(node);
    if (peer || !create) return peer;
    checkNodeId(node);
    const now = performance.now();
    if (now - this.#sweptAt >= PEER_SWEEP_INTERVAL_MS) this.sweep(now);
    if (this.#peers.size >= this.limit) {
      this.full();
      return undefined;
    }
    peer = new Peer(node, now);
    this.#peers.set(node, peer);
    return peer;
  }

  /** Removes entries nothing authenticated and nobody vouched for, idle beyond the TTL. */
  sweep(now: number): void {
    this.#sweptAt = now;
    for (const [node, peer] of this.#peers) {
      if (!peer.isStale(now, UNPROVEN_PEER_TTL_MS)) continue;
      this.#peers.delete(node);
      this.evict(peer);
    }
  }

  delete(node: number): void {
    this.#peers.delete(node);
  }
}

/** Throws {@link TunnelError} unless `node` is a u32. */
export function checkNodeId(node: number): void {
  if (!Number.isInteger(node) || node < 0 || node > U32_MAX) {
    throw new TunnelError(`node ID must be a u32, got ${node}`);
  }
}
