/**
 * A stream connection seen through the daemon: bytes arrive as Recv pushes and
 * leave as Send frames. {@link Connection} is the public face; {@link ConnState}
 * is the side the client's frame dispatcher feeds.
 * @module
 */
import type { Address } from "../protocol/address.ts";
import { IpcError, STREAM_FRAME_DATA } from "../ipc/codec.ts";
import { type CallOptions, waitWithDeadline } from "./deadline.ts";
import { settleQuietly } from "../errors.ts";

/**
 * Received bytes buffered per connection before the client stops reading the
 * daemon socket (so backpressure reaches the daemon and the remote sender).
 */
export const CONN_RECV_HIGH_WATER = 4 << 20;
/** Reading resumes once the fullest connection has drained below this. */
export const CONN_RECV_LOW_WATER = CONN_RECV_HIGH_WATER / 2;

/** What a connection needs from the client that owns it. */
export interface ConnectionHost {
  /** Queues a Send frame of `data` on the socket; resolves once the socket has room again. */
  writeSend(connId: number, data: Uint8Array, options?: CallOptions): Promise<void>;
  /** Sends Close for the connection (not waiting for CloseOK) and forgets it. */
  releaseConnection(state: ConnState): Promise<void>;
  /** The connection crossed the receive high-water mark (`full`) or drained below the low mark. */
  setFull(state: ConnState, full: boolean): void;
}

interface ReadWaiter {
  resolve(chunk: Uint8Array | null): void;
  reject(err: Error): void;
}

/** Addressing facts of a connection. */
export interface ConnectionInfo {
  id: number;
  /** Local virtual port; 0 for dialed connections (the daemon does not report it). */
  localPort: number;
  remoteAddr: Address;
  remotePort: number;
}

/** @internal The dispatcher-facing state of one connection. */
export class ConnState {
  readonly info: ConnectionInfo;
  readonly #host: ConnectionHost;
  #chunks: Uint8Array[] = [];
  #head = 0;
  #buffered = 0;
  #full = false;
  #readers: ReadWaiter[] = [];
  /** The peer ended the stream (CloseOK): reads drain then return null; writes fail. */
  #eof = false;
  /** Local close. */
  #closed = false;
  /** The client died; reads drain then throw this. */
  #failure: IpcError | null = null;
  /** A Send failed asynchronously (routed by text); later writes throw it. */
  #sendError: IpcError | null = null;
  #writeChain: Promise<void> = Promise.resolve();

  constructor(host: ConnectionHost, info: ConnectionInfo) {
    this.#host = host;
    this.info = info;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Recv push. */
  deliver(data: Uint8Array): void {
    if (this.#closed || this.#eof || data.length === 0) return;
    const reader = this.#readers.shift();
    if (reader) {
      reader.resolve(data);
      return;
    }
    this.#chunks.push(data);
    this.#buffered += data.length;
    if (!this.#full && this.#buffered > CONN_RECV_HIGH_WATER) {
      this.#full = true;
      this.#host.setFull(this, true);
    }
  }

  /** CloseOK push: end of stream (duplicates are harmless). */
  end(): void {
    if (this.#eof) return;
    this.#eof = true;
    for (const r of this.#readers.splice(0)) r.resolve(null);
  }

  /** The whole client failed. */
  fail(err: IpcError): void {
    if (this.#failure) return;
    this.#failure = err;
    for (const r of this.#readers.splice(0)) r.reject(err);
    this.#unfull();
  }

  /** The daemon reported a failed Send on this connection. */
  sendFailed(err: IpcError): void {
    this.#sendError ??= err;
  }

  read(options?: CallOptions): Promise<Uint8Array | null> {
    if (this.#head < this.#chunks.length) return Promise.resolve(this.#take());
    if (this.#closed) return Promise.reject(new IpcError("closed", `connection ${this.info.id} is closed`));
    if (this.#eof) return Promise.resolve(null);
    if (this.#failure) return Promise.reject(this.#failure);
    return waitWithDeadline<Uint8Array | null>(
      `read on connection ${this.info.id}`,
      options,
      undefined,
      (resolve, reject) => {
        const waiter = { resolve, reject };
        this.#readers.push(waiter);
        return () => {
          const i = this.#readers.indexOf(waiter);
          if (i >= 0) this.#readers.splice(i, 1);
        };
      },
    );
  }

  write(data: Uint8Array, options?: CallOptions): Promise<void> {
    if (!(data instanceof Uint8Array)) {
      return Promise.reject(new IpcError("invalid-value", "Connection.write takes a Uint8Array"));
    }
    // Chained so that concurrent writes never interleave their frames.
    const result = this.#writeChain.then(() => this.#writeNow(data, options));
    this.#writeChain = settleQuietly(result, "reported elsewhere");
    return result;
  }

  /** Resolves once every write issued so far has been queued on the socket. */
  flush(): Promise<void> {
    return this.#writeChain;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const err = new IpcError("closed", `connection ${this.info.id} is closed`);
    for (const r of this.#readers.splice(0)) r.reject(err);
    this.#chunks = [];
    this.#head = 0;
    this.#buffered = 0;
    this.#unfull();
    await this.#host.releaseConnection(this);
  }

  #writableError(): IpcError | null {
    if (this.#closed) return new IpcError("closed", `connection ${this.info.id} is closed`);
    if (this.#failure) return this.#failure;
    if (this.#sendError) return this.#sendError;
    if (this.#eof) return new IpcError("closed", `connection ${this.info.id} was closed by the peer`);
    return null;
  }

  async #writeNow(data: Uint8Array, options?: CallOptions): Promise<void> {
    const err = this.#writableError();
    if (err) throw err;
    for (let offset = 0; offset < data.length; offset += STREAM_FRAME_DATA) {
      const late = this.#writableError();
      if (late) throw late;
      const piece = data.subarray(offset, offset + STREAM_FRAME_DATA);
      await this.#host.writeSend(this.info.id, piece, options);
    }
  }

  #take(): Uint8Array {
    const chunk = this.#chunks[this.#head++];
    if (this.#head === this.#chunks.length) {
      this.#chunks = [];
      this.#head = 0;
    }
    this.#buffered -= chunk.length;
    if (this.#full && this.#buffered < CONN_RECV_LOW_WATER) this.#unfull();
    return chunk;
  }

  #unfull(): void {
    if (!this.#full) return;
    this.#full = false;
    this.#host.setFull(this, false);
  }
}

/**
 * A stream connection to a remote port. Read with {@link Connection.read} or the
 * {@link Connection.readable} stream (not both); write with
 * {@link Connection.write} or {@link Connection.writable}. Writes resolve once
 * the frames are queued on the daemon socket and the socket queue is back under
 * its high-water mark, so a fast writer is held to the socket's pace. The
 * protocol has no half-close: closing {@link Connection.writable} only flushes,
 * {@link Connection.close} ends both directions.
 *
 * @example
 * ```ts
 * import type { Connection, PilotClient } from "../../mod.ts";
 * // Sends a request and collects the whole answer, until the peer closes.
 * async function request(client: PilotClient, peer: string, body: Uint8Array): Promise<Uint8Array> {
 *   const conn: Connection = await client.dial(peer, 8080, { timeoutMs: 30_000 });
 *   await conn.write(body);
 *   let answer = new Uint8Array(0);
 *   for (let c = await conn.read({ timeoutMs: 10_000 }); c; c = await conn.read({ timeoutMs: 10_000 })) {
 *     const joined = new Uint8Array(answer.length + c.length);
 *     joined.set(answer);
 *     joined.set(c, answer.length);
 *     answer = joined;
 *   }
 *   await conn.close();
 *   return answer;
 * }
 * console.assert(typeof request === "function");
 * ```
 */
export class Connection {
  readonly #state: ConnState;
  #readable: ReadableStream<Uint8Array> | undefined;
  #writable: WritableStream<Uint8Array> | undefined;

  /** @internal Built by the client from a DialOK or Accept. */
  constructor(state: ConnState) {
    this.#state = state;
  }

  /**
   * Received bytes; ends when the peer closes; cancelling it closes the connection. Built on first
   * use: most connections use read/write, and a connection set-up should not pay for the streams.
   */
  get readable(): ReadableStream<Uint8Array> {
    const state = this.#state;
    return this.#readable ??= new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        const chunk = await state.read();
        if (chunk === null) controller.close();
        else controller.enqueue(chunk);
      },
      cancel: () => state.close(),
    }, { highWaterMark: 0 });
  }

  /** Bytes to send; aborting it closes the connection, closing it only flushes. Built on first use. */
  get writable(): WritableStream<Uint8Array> {
    const state = this.#state;
    return this.#writable ??= new WritableStream<Uint8Array>({
      write: (chunk) => state.write(chunk),
      close: () => state.flush(),
      abort: () => state.close(),
    });
  }

  /** Daemon-assigned connection id. */
  get id(): number {
    return this.#state.info.id;
  }

  /** Local virtual port; 0 for dialed connections (the daemon does not report it). */
  get localPort(): number {
    return this.#state.info.localPort;
  }

  /** The peer's virtual address. */
  get remoteAddr(): Address {
    return this.#state.info.remoteAddr;
  }

  /** The peer's port. */
  get remotePort(): number {
    return this.#state.info.remotePort;
  }

  /** True once {@link Connection.close} was called. */
  get closed(): boolean {
    return this.#state.closed;
  }

  /**
   * The next received chunk, or null at end of stream. Waits without limit
   * unless given a timeout or signal; rejects with {@link IpcError} when the
   * connection was closed locally or the daemon went away.
   */
  read(options?: CallOptions): Promise<Uint8Array | null> {
    return this.#state.read(options);
  }

  /**
   * Sends `data`, split into frames of 64 KiB (an empty array sends nothing). Rejects with
   * {@link IpcError} if the connection is closed (locally or by the peer), a
   * previous Send failed at the daemon, or the timeout/signal fires (bytes
   * already queued may still be delivered).
   */
  write(data: Uint8Array, options?: CallOptions): Promise<void> {
    return this.#state.write(data, options);
  }

  /** Sends Close to the daemon (without waiting for CloseOK) and ends local reads. Idempotent. */
  close(): Promise<void> {
    return this.#state.close();
  }

  /** `await using` support: closes the connection. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
