/**
 * A bound port's queue of inbound connections, fed by the daemon's Accept pushes.
 * @module
 */
import { IpcError } from "../daemon/ipc/errors.ts";
import type { Connection } from "./connection.ts";
import { type CallOptions, waitWithDeadline } from "./deadline.ts";

/** Accepted connections waiting for {@link Listener.accept}; more are closed (the Go driver's capacity). */
export const ACCEPT_QUEUE_CAPACITY = 64;

interface AcceptWaiter {
  resolve(conn: Connection): void;
  reject(err: Error): void;
}

/**
 * Accepts connections on a bound virtual port. Closing a listener is local: the
 * protocol has no Unbind, so the daemon keeps the port bound to this client
 * until the client disconnects (a later {@link PilotClient.listen} on the same
 * port reuses it without asking the daemon again).
 */
export class Listener {
  /** The bound port. */
  readonly port: number;
  readonly #release: (listener: Listener) => void;
  readonly #dropConnection: (conn: Connection) => void;
  #queue: Connection[] = [];
  #waiters: AcceptWaiter[] = [];
  #failure: IpcError | null = null;

  /** @internal Built by the client after BindOK. */
  constructor(
    port: number,
    release: (listener: Listener) => void,
    dropConnection: (conn: Connection) => void,
  ) {
    this.port = port;
    this.#release = release;
    this.#dropConnection = dropConnection;
  }

  /**
   * The next inbound connection. Waits without limit unless given a timeout or
   * signal; rejects with {@link IpcError} `closed` after {@link Listener.close}
   * or `disconnected` when the daemon goes away.
   */
  accept(options?: CallOptions): Promise<Connection> {
    const queued = this.#queue.shift();
    if (queued) return Promise.resolve(queued);
    if (this.#failure) return Promise.reject(this.#failure);
    return waitWithDeadline<Connection>(
      `accept on port ${this.port}`,
      options,
      undefined,
      (resolve, reject) => {
        const waiter = { resolve, reject };
        this.#waiters.push(waiter);
        return () => {
          const i = this.#waiters.indexOf(waiter);
          if (i >= 0) this.#waiters.splice(i, 1);
        };
      },
    );
  }

  /** Stops accepting: pending accepts reject, queued connections are closed. Idempotent. */
  close(): void {
    if (this.#failure) return;
    this.fail(new IpcError("closed", `listener on port ${this.port} is closed`));
    this.#release(this);
  }

  /** Yields accepted connections until the listener is closed or the daemon goes away. */
  async *[Symbol.asyncIterator](): AsyncGenerator<Connection> {
    for (;;) {
      try {
        yield await this.accept();
      } catch (err) {
        if (err instanceof IpcError && (err.reason === "closed" || err.reason === "disconnected")) return;
        throw err;
      }
    }
  }

  /** @internal An Accept push for this port; false when the queue is full (the caller closes it). */
  offer(conn: Connection): boolean {
    if (this.#failure) return false;
    const waiter = this.#waiters.shift();
    if (waiter) {
      waiter.resolve(conn);
      return true;
    }
    if (this.#queue.length >= ACCEPT_QUEUE_CAPACITY) return false;
    this.#queue.push(conn);
    return true;
  }

  /** @internal Fails waiters and drops queued connections (local close or client death). */
  fail(err: IpcError): void {
    if (this.#failure) return;
    this.#failure = err;
    for (const w of this.#waiters.splice(0)) w.reject(err);
    for (const c of this.#queue.splice(0)) this.#dropConnection(c);
  }
}
