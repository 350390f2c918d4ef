/**
 * The accept side every SDK listener shares: arrivals wait in a bounded queue until an
 * `accept()` takes them, an `accept()` waits (with the SDK's timeout and abort options) until
 * one arrives, and a failure (close, daemon gone) rejects every waiter and drops what is queued.
 * Listener queues connections from the daemon's Accept pushes; SecureListener queues channels
 * whose handshake finished.
 * @module
 */
import { IpcError } from "../ipc/errors.ts";
import { type CallOptions, waitWithDeadline } from "./deadline.ts";

interface Waiter<T> {
  resolve(item: T): void;
  reject(err: Error): void;
}

/**
 * A bounded queue of arrivals and a list of waiting `take()` calls, one of which is always empty.
 * `drop` disposes of an arrival that cannot be kept (the queue failed while it waited).
 */
export class AcceptQueue<T> {
  readonly #capacity: number;
  readonly #drop: (item: T) => void;
  #queue: T[] = [];
  #waiters: Waiter<T>[] = [];
  #failure: IpcError | null = null;

  constructor(capacity: number, drop: (item: T) => void) {
    this.#capacity = capacity;
    this.#drop = drop;
  }

  /** True once {@link AcceptQueue.fail} ran. */
  get failed(): boolean {
    return this.#failure !== null;
  }

  /** The next arrival; `what` names the wait in timeout and abort errors. Rejects with the failure after it. */
  take(what: string, options?: CallOptions): Promise<T> {
    const queued = this.#queue.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (this.#failure) return Promise.reject(this.#failure);
    return waitWithDeadline<T>(what, options, undefined, (resolve, reject) => {
      const waiter = { resolve, reject };
      this.#waiters.push(waiter);
      return () => {
        const i = this.#waiters.indexOf(waiter);
        if (i >= 0) this.#waiters.splice(i, 1);
      };
    });
  }

  /** Hands `item` to a waiter or queues it; false when failed or full (the caller disposes of it). */
  offer(item: T): boolean {
    if (this.#failure) return false;
    const waiter = this.#waiters.shift();
    if (waiter) {
      waiter.resolve(item);
      return true;
    }
    if (this.#queue.length >= this.#capacity) return false;
    this.#queue.push(item);
    return true;
  }

  /** Rejects every waiter (and every later take) with `err` and drops the queued arrivals. Idempotent. */
  fail(err: IpcError): void {
    if (this.#failure) return;
    this.#failure = err;
    for (const w of this.#waiters.splice(0)) w.reject(err);
    for (const item of this.#queue.splice(0)) this.#drop(item);
  }
}

/** Yields what `accept` returns until it rejects with IpcError `closed` or `disconnected`. */
export async function* acceptUntilClosed<T>(accept: () => Promise<T>): AsyncGenerator<T> {
  for (;;) {
    try {
      yield await accept();
    } catch (err) {
      if (err instanceof IpcError && (err.reason === "closed" || err.reason === "disconnected")) return;
      throw err;
    }
  }
}
