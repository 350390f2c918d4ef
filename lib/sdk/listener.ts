/**
 * A bound port's queue of inbound connections, fed by the daemon's Accept pushes.
 * @module
 */
import { IpcError } from "../ipc/errors.ts";
import type { Connection } from "./connection.ts";
import type { CallOptions } from "./deadline.ts";
import { AcceptQueue, acceptUntilClosed } from "./accept_queue.ts";

/** Accepted connections waiting for {@link Listener.accept}; more are closed (the Go driver's capacity). */
export const ACCEPT_QUEUE_CAPACITY = 64;

/**
 * Accepts connections on a bound virtual port. Closing a listener is local: the
 * protocol has no Unbind, so the daemon keeps the port bound to this client
 * until the client disconnects (a later {@link PilotClient.listen} on the same
 * port reuses it without asking the daemon again).
 *
 * @example
 * ```ts
 * import type { Listener, PilotClient } from "../../mod.ts";
 * // Accepts one connection within a minute and returns its peer's address.
 * async function firstCaller(client: PilotClient, port: number): Promise<string> {
 *   const listener: Listener = await client.listen(port);
 *   try {
 *     const conn = await listener.accept({ timeoutMs: 60_000 });
 *     await conn.close();
 *     return conn.remoteAddr.toString();
 *   } finally {
 *     listener.close();
 *   }
 * }
 * console.assert(typeof firstCaller === "function");
 * ```
 */
export class Listener {
  /** The bound port. */
  readonly port: number;
  readonly #release: (listener: Listener) => void;
  readonly #arrivals: AcceptQueue<Connection>;

  /** @internal Built by the client after BindOK. */
  constructor(
    port: number,
    release: (listener: Listener) => void,
    dropConnection: (conn: Connection) => void,
  ) {
    this.port = port;
    this.#release = release;
    this.#arrivals = new AcceptQueue(ACCEPT_QUEUE_CAPACITY, dropConnection);
  }

  /**
   * The next inbound connection. Waits without limit unless given a timeout or
   * signal; rejects with {@link IpcError} `closed` after {@link Listener.close}
   * or `disconnected` when the daemon goes away.
   */
  accept(options?: CallOptions): Promise<Connection> {
    return this.#arrivals.take(`accept on port ${this.port}`, options);
  }

  /** Stops accepting: pending accepts reject, queued connections are closed. Idempotent. */
  close(): void {
    if (this.#arrivals.failed) return;
    this.fail(new IpcError("closed", `listener on port ${this.port} is closed`));
    this.#release(this);
  }

  /** Yields accepted connections until the listener is closed or the daemon goes away. */
  [Symbol.asyncIterator](): AsyncGenerator<Connection> {
    return acceptUntilClosed(() => this.accept());
  }

  /** @internal An Accept push for this port; false when the queue is full (the caller closes it). */
  offer(conn: Connection): boolean {
    return this.#arrivals.offer(conn);
  }

  /** @internal Fails waiters and drops queued connections (local close or client death). */
  fail(err: IpcError): void {
    this.#arrivals.fail(err);
  }
}
