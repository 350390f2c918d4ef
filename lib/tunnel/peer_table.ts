/**
 * The tunnel's peer table: peers by node ID, bounded by {@link MAX_PEERS} so that frames naming
 * ever new node IDs cannot grow memory without limit.
 */
import { Peer } from "./peer.ts";
import { TunnelError } from "./errors.ts";

/** Largest peer table; entries beyond it are refused (relay deliveries, plaintext senders). */
export const MAX_PEERS = 65536;
const U32_MAX = 0xffffffff;

/** Peers by node ID, at most {@link MAX_PEERS}. */
export class PeerTable {
  readonly #peers = new Map<number, Peer>();

  /** `full` is called each time an entry is refused because the table is at its limit. */
  constructor(private readonly full: () => void, readonly limit = MAX_PEERS) {}

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
    if (this.#peers.size >= this.limit) {
      this.full();
      return undefined;
    }
    peer = new Peer(node);
    this.#peers.set(node, peer);
    return peer;
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
