/**
 * The session manager's connection table (docs/protocol/transport.md §1): streams by their demux key
 * (local port, remote node, remote port) and by connection id, the connections using each local
 * port (those ports are not handed out as ephemeral), and the live counts the connection limits
 * of §3.3 are checked against. Kept apart from the manager so the bookkeeping that must stay
 * consistent across the three maps lives in one place, away from packet handling.
 * @module
 */
import type { Stream, StreamState } from "./stream.ts";

/** Connection ids are u32, start at 1 and skip 0 on wrap. */
const MAX_CONN_ID = 0xffffffff;

/** Every stream of one node, indexed for demux, by id and by local port. */
export class ConnectionTable {
  /** remote node → (localPort * 65536 + remotePort) → stream */
  private readonly table = new Map<number, Map<number, Stream>>();
  private readonly byId = new Map<number, Stream>();
  /** Connections (any state) per local port. */
  private readonly portUse = new Map<number, number>();
  private readonly livePerPort = new Map<number, number>();
  private liveTotal = 0;
  private nextConnId = 1;

  /** `onRemoved` is told each stream that leaves the table. */
  constructor(private readonly onRemoved: (stream: Stream) => void = () => {}) {}

  /** Demux lookup on (local port, remote node, remote port); the remote network is ignored (§1 caveat). */
  lookup(localPort: number, remoteNode: number, remotePort: number): Stream | undefined {
    return this.table.get(remoteNode)?.get(localPort * 0x10000 + remotePort);
  }

  /** The connection with this id, if it is still in the table. */
  get(id: number): Stream | undefined {
    return this.byId.get(id);
  }

  /** Every connection in the table (any state). */
  values(): IterableIterator<Stream> {
    return this.byId.values();
  }

  /** The connections to one remote node (any state). */
  ofNode(remoteNode: number): IterableIterator<Stream> {
    return (this.table.get(remoteNode) ?? new Map<number, Stream>()).values();
  }

  /** Connections that are not CLOSED or TIME_WAIT. */
  get live(): number {
    return this.liveTotal;
  }

  /** Live connections on `localPort`. */
  liveOn(localPort: number): number {
    return this.livePerPort.get(localPort) ?? 0;
  }

  /** True while any connection (TIME_WAIT included) uses `localPort`. */
  usesPort(localPort: number): boolean {
    return this.portUse.has(localPort);
  }

  /** A connection id not in use, for a stream about to be {@link add}ed. */
  allocateId(): number {
    for (;;) {
      const id = this.nextConnId;
      this.nextConnId = id >= MAX_CONN_ID ? 1 : id + 1;
      if (!this.byId.has(id)) return id;
    }
  }

  add(stream: Stream): void {
    let inner = this.table.get(stream.remoteAddr.node);
    if (!inner) this.table.set(stream.remoteAddr.node, inner = new Map());
    inner.set(stream.localPort * 0x10000 + stream.remotePort, stream);
    this.byId.set(stream.id, stream);
    this.portUse.set(stream.localPort, (this.portUse.get(stream.localPort) ?? 0) + 1);
  }

  remove(stream: Stream): void {
    if (this.byId.get(stream.id) !== stream) return;
    this.byId.delete(stream.id);
    const inner = this.table.get(stream.remoteAddr.node);
    const key = stream.localPort * 0x10000 + stream.remotePort;
    if (inner?.get(key) === stream) {
      inner.delete(key);
      if (inner.size === 0) this.table.delete(stream.remoteAddr.node);
    }
    const n = (this.portUse.get(stream.localPort) ?? 1) - 1;
    if (n > 0) this.portUse.set(stream.localPort, n);
    else this.portUse.delete(stream.localPort);
    this.onRemoved(stream);
  }

  /** Keeps the live counts after `stream` left `previous`; true when it stopped being live. */
  stateChanged(stream: Stream, previous: StreamState): boolean {
    const was = isLive(previous), is = isLive(stream.state);
    if (was !== is) {
      const d = is ? 1 : -1;
      const port = stream.localPort;
      this.liveTotal += d;
      this.livePerPort.set(port, (this.livePerPort.get(port) ?? 0) + d);
      if (this.livePerPort.get(port) === 0) this.livePerPort.delete(port);
    }
    if (stream.state === "CLOSED") this.remove(stream);
    return was && !is;
  }
}

function isLive(state: StreamState): boolean {
  return state !== "CLOSED" && state !== "TIME_WAIT";
}
