/**
 * Recently closed connection tuples (local port, remote node, remote port), so the ephemeral
 * allocator does not hand a tuple out again while the peer may still send for its old connection:
 * a peer that kept retransmitting after we forgot the connection ends with an RST from that
 * 4-tuple, and on a recycled tuple that RST would kill the new connection. Pure bookkeeping, the
 * clock is the caller's.
 * @module
 */

/**
 * How long a peer may still send for a connection we forgot, MSL-like: the reference retransmits
 * a segment 8 times with the RTO capped at 10 s (about 80 s of sending) and keeps TIME_WAIT up to
 * 25 s.
 */
export const PEER_QUIET_MS = 60_000;
/** A closed tuple is not reused for twice {@link PEER_QUIET_MS}, as TCP's 2×MSL. */
export const CLOSED_TUPLE_HOLD_MS = 2 * PEER_QUIET_MS;
/** Most tuples remembered (the size of the ephemeral range); beyond it the oldest is forgotten. */
export const MAX_CLOSED_TUPLES = 16_384;

/** Tuples closed within the last {@link CLOSED_TUPLE_HOLD_MS}, oldest first. */
export class RecentlyClosedTuples {
  /** key → when it closed; Map order is insertion order, and re-inserting moves a key to the end. */
  readonly #closedAt = new Map<string, number>();

  constructor(
    private readonly holdMs: number = CLOSED_TUPLE_HOLD_MS,
    private readonly max: number = MAX_CLOSED_TUPLES,
  ) {}

  /** Remembers that the connection on this tuple ended at `now`. */
  remember(localPort: number, remoteNode: number, remotePort: number, now: number): void {
    this.#expire(now);
    const key = tupleKey(localPort, remoteNode, remotePort);
    this.#closedAt.delete(key);
    this.#closedAt.set(key, now);
    if (this.#closedAt.size > this.max) this.#closedAt.delete(this.#closedAt.keys().next().value!);
  }

  /** True while the tuple closed less than the hold time ago. */
  has(localPort: number, remoteNode: number, remotePort: number, now: number): boolean {
    this.#expire(now);
    return this.#closedAt.has(tupleKey(localPort, remoteNode, remotePort));
  }

  /** Tuples remembered now. */
  get size(): number {
    return this.#closedAt.size;
  }

  #expire(now: number): void {
    for (const [key, at] of this.#closedAt) {
      if (now - at < this.holdMs) return;
      this.#closedAt.delete(key);
    }
  }
}

function tupleKey(localPort: number, remoteNode: number, remotePort: number): string {
  return `${localPort}/${remoteNode}/${remotePort}`;
}
