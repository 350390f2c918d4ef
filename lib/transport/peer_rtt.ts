/**
 * The last round-trip time measured to each peer node (an answered ping, a connection that has
 * closed), for status views that show a peer's RTT when no connection is open. Bounded: the
 * node measured longest ago is forgotten first.
 * @module
 */

/** Nodes whose last measured RTT is remembered. */
export const PEER_RTT_MEMORY = 1024;

/** Last RTT per node, oldest-measured first. */
export class PeerRttMemory {
  readonly #rtts = new Map<number, number>();

  constructor(readonly capacity: number = PEER_RTT_MEMORY) {}

  /** Records `rttMs` as the latest measurement to `node`. */
  remember(node: number, rttMs: number): void {
    this.#rtts.delete(node); // re-inserted last: Map order is then oldest-measured first
    this.#rtts.set(node, rttMs);
    if (this.#rtts.size > this.capacity) this.#rtts.delete(this.#rtts.keys().next().value!);
  }

  /** The last RTT measured to `node`, or undefined. */
  get(node: number): number | undefined {
    return this.#rtts.get(node);
  }
}
