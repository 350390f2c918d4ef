/**
 * The two kinds of bound port a {@link SessionManager} hands out: a stream {@link Listener} with
 * its accept queue, and a {@link DatagramSocket} with its receive queue. Both are bounded.
 * @module
 */
import type { Address } from "../protocol/address.ts";
import type { SessionManager } from "./manager.ts";
import { Ring } from "./ring.ts";
import { ACCEPT_QUEUE_CAPACITY, type Datagram, SessionError } from "./session_types.ts";
import type { Stream } from "./stream.ts";

/**
 * A stream listener: connections accepted on its port wait in a queue of
 * {@link ACCEPT_QUEUE_CAPACITY} until taken with {@link accept}.
 */
export class Listener {
  /** Called when a connection was queued. */
  onConnection?: () => void;
  /** @internal */
  readonly queue: Ring<Stream> = new Ring<Stream>(ACCEPT_QUEUE_CAPACITY);
  private closed = false;

  /** @internal */
  constructor(readonly port: number, private readonly owner: SessionManager) {}

  /** Connections waiting to be accepted. */
  get pending(): number {
    return this.queue.length;
  }

  /** Whether close() was called. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** The next queued connection (already ESTABLISHED; it may have closed while waiting), or null. */
  accept(): Stream | null {
    return this.queue.shift() ?? null;
  }

  /** Unbinds the port; queued, unaccepted connections are reset. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.owner.unlisten(this);
    for (let s = this.queue.shift(); s; s = this.queue.shift()) s.abort();
  }
}

/**
 * A datagram endpoint bound to a local port: receives datagrams addressed to
 * it (bounded queue; overflow is dropped and counted) and sends from it.
 */
export class DatagramSocket {
  /** Called when a datagram was queued. */
  onMessage?: () => void;
  /** Datagrams dropped because the queue was full. */
  dropped = 0;
  private readonly queue = new Ring<Datagram>();
  private closed = false;

  /** @internal */
  constructor(readonly port: number, private readonly owner: SessionManager, readonly capacity: number) {}

  /** Datagrams waiting. */
  get pending(): number {
    return this.queue.length;
  }

  /** The next datagram, or null. */
  recvFrom(): Datagram | null {
    return this.queue.shift() ?? null;
  }

  /** Sends a datagram from this socket's port. */
  sendTo(dst: Address, dstPort: number, data: Uint8Array): void {
    if (this.closed) throw new SessionError(`datagram socket on port ${this.port} is closed`);
    this.owner.sendTo(dst, dstPort, data, this.port);
  }

  /** Unbinds the port and drops queued datagrams. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.queue.clear();
    this.owner.unbindDatagram(this);
  }

  /** @internal */
  enqueue(dg: Datagram): void {
    if (this.queue.length >= this.capacity) {
      this.dropped++;
      return;
    }
    this.queue.push(dg);
    const cb = this.onMessage;
    if (cb) cb();
  }
}
