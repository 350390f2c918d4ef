/**
 * The SDK's end of one daemon socket (docs/protocol/ipc.md §3, §7): the request FIFO, the read
 * loop, and the routing of every inbound frame to a request, a connection, a
 * listener or the datagram queue. {@link PilotClient} turns the command set into
 * methods on top of it.
 *
 * Correlation: replies carry no ids, but the daemon answers each client's
 * requests in order (docs/protocol/ipc.md §3 rule 1), so the session keeps one FIFO of
 * outstanding requests and gives each reply to its head. Pushes (Accept, Recv,
 * RecvFrom, CloseOK) are routed by port or connection id. Error frames of
 * fire-and-forget Send/SendTo are recognised by their text and routed to the
 * connection (or to `onAsyncError`), never to the head request. A request whose
 * caller timed out or aborted stays in the FIFO, marked abandoned, so its late
 * reply is still consumed in order; a late DialOK is closed right away.
 * @module
 */
import type { Logger } from "../log.ts";
import type { Address } from "../protocol/address.ts";
import {
  Cmd,
  commandName,
  type DaemonError,
  daemonError,
  decodeReply,
  encodeRequest,
  encodeSendFrame,
  type Frame,
  FrameReader,
  IpcError,
  type IpcReply,
  type IpcRequest,
  STREAM_FRAME_BYTES,
} from "../ipc/codec.ts";
import { ChunkReader, FramePool, FrameWriter } from "../ipc/socket_io.ts";
import { type CallOptions, waitWithDeadline, withDeadline } from "./deadline.ts";
import { Connection, type ConnectionHost, type ConnectionInfo, ConnState } from "./connection.ts";
import { Listener } from "./listener.ts";
import { errorMessage } from "../errors.ts";

/** Outbound bytes queued on the socket before writes wait (keeps memory bounded, lets writes pipeline). */
export const SOCKET_WRITE_HIGH_WATER = 512 * 1024;
/** Datagrams kept for `PilotClient.recvFrom`; more are dropped (the Go driver's capacity). */
export const DATAGRAM_QUEUE_CAPACITY = 256;
/** Bytes of Recv data kept for connection ids not (yet) known, across all such ids. */
export const ORPHAN_RECV_LIMIT = 1 << 20;
/** Locally closed connection ids remembered so their in-flight Recv data is dropped quietly. */
const RECENTLY_CLOSED_CAPACITY = 1024;
/** Unsolicited error texts of Send/SendTo (docs/protocol/ipc.md §3). */
const ASYNC_ERROR_TEXT = /^(send:|sendto:|connection (\d+) not found$)/;

/**
 * A datagram delivered by the daemon. A pilot daemon sends a client the datagrams to ports it
 * bound (`listen`), and those to unbound ports once it has sent one itself (`sendTo`); a
 * reference daemon sends every client every datagram, so filter on `dstPort`.
 *
 * @example
 * ```ts
 * import { Address, type Datagram } from "../../mod.ts";
 * const d: Datagram = { src: Address.parse("0:0000.0000.0002"), srcPort: 49152, dstPort: 9000, data: new Uint8Array([1]) };
 * console.assert(d.dstPort === 9000);
 * ```
 */
export interface Datagram {
  /** The sender's address. */
  src: Address;
  /** The sender's port. */
  srcPort: number;
  /** The port it was sent to on this node. */
  dstPort: number;
  /** The payload. */
  data: Uint8Array;
}

/**
 * Counters of things the client dropped to stay bounded.
 *
 * @example
 * ```ts
 * import type { ClientStats, PilotClient } from "../../mod.ts";
 * function dropped(client: PilotClient): number {
 *   const s: ClientStats = client.stats;
 *   return s.datagramsDropped + s.acceptsDropped;
 * }
 * console.assert(typeof dropped === "function");
 * ```
 */
export interface ClientStats {
  /** Datagrams dropped because {@link DATAGRAM_QUEUE_CAPACITY} were already waiting. */
  datagramsDropped: number;
  /** Incoming connections closed because their listener was gone or full. */
  acceptsDropped: number;
  /** Recv bytes dropped for connections this client never learned about. */
  orphanBytesDropped: number;
}

/** What {@link IpcSession} needs besides the socket. */
export interface SessionOptions {
  requestTimeoutMs: number;
  onAsyncError: (err: DaemonError) => void;
  logger: Logger;
}

interface PendingRequest {
  expect: number;
  /** For Close: the id whose CloseOK answers it. */
  connId?: number;
  abandoned: boolean;
  onReply(reply: IpcReply): void;
  onError(err: Error): void;
}

interface Orphan {
  chunks: Uint8Array[];
  ended: boolean;
}

interface DatagramWaiter {
  resolve(d: Datagram): void;
  reject(err: Error): void;
}

/** One daemon socket: requests, pushes and their routing. Internal to the SDK. */
export class IpcSession {
  readonly #conn: Deno.UnixConn;
  readonly #writer: FrameWriter;
  readonly #log: Logger;
  readonly #requestTimeoutMs: number;
  readonly #onAsyncError: (err: DaemonError) => void;
  #pending: PendingRequest[] = [];
  readonly #conns = new Map<number, ConnState>();
  readonly #listeners = new Map<number, Listener>();
  readonly #boundPorts = new Set<number>();
  readonly #orphans = new Map<number, Orphan>();
  #orphanBytes = 0;
  readonly #recentlyClosed = new Set<number>();
  #datagrams: Datagram[] = [];
  #datagramWaiters: DatagramWaiter[] = [];
  readonly #full = new Set<ConnState>();
  #resumeReading: (() => void) | null = null;
  #failure: IpcError | null = null;
  #resolveClosed!: (reason: IpcError) => void;
  /** Resolves with the reason once the session is unusable (daemon gone or closed locally). */
  readonly closed: Promise<IpcError> = new Promise((resolve) => this.#resolveClosed = resolve);
  /** Counters of data dropped to stay bounded. */
  readonly stats: ClientStats = { datagramsDropped: 0, acceptsDropped: 0, orphanBytesDropped: 0 };
  readonly #host: ConnectionHost;
  /** Buffers of Send frames: as many as the socket queue holds before writes wait. */
  readonly #sendFrames = new FramePool(STREAM_FRAME_BYTES, SOCKET_WRITE_HIGH_WATER / STREAM_FRAME_BYTES + 1);
  readonly #takeSendFrame = (length: number) => this.#sendFrames.take(length);

  constructor(conn: Deno.UnixConn, options: SessionOptions) {
    this.#conn = conn;
    this.#log = options.logger;
    this.#requestTimeoutMs = options.requestTimeoutMs;
    this.#onAsyncError = options.onAsyncError;
    this.#writer = new FrameWriter(conn, SOCKET_WRITE_HIGH_WATER, (err) => this.fail(err));
    this.#host = {
      writeSend: (connId, data, opts) => this.writeSend(connId, data, opts),
      releaseConnection: (state) => this.#releaseConnection(state),
      setFull: (state, full) => this.#setFull(state, full),
    };
    void this.#readLoop();
  }

  /** Why the session stopped, or null while it works. */
  get failure(): IpcError | null {
    return this.#failure;
  }

  /** True when `port` has an open listener in this session. */
  hasListener(port: number): boolean {
    return this.#listeners.has(port);
  }

  /** Remembers that the daemon bound `port` for this session (a Bind reply that came after its caller gave up). */
  markBound(port: number): void {
    this.#boundPorts.add(port);
  }

  /** True when this session bound `port` before (the daemon keeps it bound after its listener closes). */
  isBound(port: number): boolean {
    return this.#boundPorts.has(port);
  }

  /**
   * The next datagram pushed by the daemon (up to {@link DATAGRAM_QUEUE_CAPACITY}
   * are kept). Waits without limit unless given a timeout or signal.
   */
  nextDatagram(options?: CallOptions): Promise<Datagram> {
    const queued = this.#datagrams.shift();
    if (queued) return Promise.resolve(queued);
    if (this.#failure) return Promise.reject(this.#failure);
    return waitWithDeadline<Datagram>("recvFrom", options, undefined, (resolve, reject) => {
      const waiter = { resolve, reject };
      this.#datagramWaiters.push(waiter);
      return () => {
        const i = this.#datagramWaiters.indexOf(waiter);
        if (i >= 0) this.#datagramWaiters.splice(i, 1);
      };
    });
  }

  /** Sends a request whose reply is a JSON body and resolves with the body. */
  json<T>(req: IpcRequest, expect: IpcReply["cmd"], what: string, options?: CallOptions): Promise<T> {
    return this.request(req, expect, what, options, (reply) => (reply as { body: unknown }).body as T);
  }

  /**
   * Sends a request and waits for its reply. `build` runs synchronously when the
   * reply is dispatched (so listeners/connections exist before the next frame is
   * read); `lateReply` runs instead when the caller already gave up.
   */
  request<C extends IpcReply["cmd"], T, R = Extract<IpcReply, { cmd: C }>>(
    req: IpcRequest,
    expect: C,
    what: string,
    options: CallOptions | undefined,
    build: (reply: R) => T,
    lateReply?: (reply: R) => void,
    connId?: number,
  ): Promise<T> {
    if (this.#failure) return Promise.reject(this.#failure);
    let frame: Uint8Array;
    try {
      frame = encodeRequest(req);
    } catch (err) {
      return Promise.reject(err);
    }
    return waitWithDeadline<T>(what, options, this.#requestTimeoutMs, (resolve, reject) => {
      const entry: PendingRequest = {
        expect,
        connId,
        abandoned: false,
        onReply: (reply) => {
          if (entry.abandoned) {
            lateReply?.(reply as R);
            return;
          }
          try {
            resolve(build(reply as R));
          } catch (err) {
            reject(err as Error);
          }
        },
        onError: (err) => {
          if (!entry.abandoned) reject(err);
        },
      };
      this.#pending.push(entry);
      this.#enqueue(frame);
      return () => entry.abandoned = true;
    });
  }

  /** Queues a frame; a failed writer has already failed the client, which rejects the waiters. */
  #enqueue(frame: Uint8Array): void {
    try {
      this.#writer.enqueue(frame);
    } catch {
      // #fail has run (writer failure callback) and rejected every pending request
    }
  }

  /** Queues a frame and waits until the socket's queue is below its high-water mark. */
  async writeFrame(frame: Uint8Array, options?: CallOptions): Promise<void> {
    if (this.#failure) throw this.#failure;
    this.#writer.enqueue(frame);
    // The common case needs no wait, and so no deadline timer armed and cleared per write.
    if (this.#writer.hasRoom) return;
    await withDeadline("socket write", this.#writer.ready(), options);
  }

  /**
   * Queues a Send frame of `data`, built in a buffer of the session's pool (given back once the
   * socket took it), and waits like {@link writeFrame}.
   */
  async writeSend(connId: number, data: Uint8Array, options?: CallOptions): Promise<void> {
    if (this.#failure) throw this.#failure;
    this.#writer.enqueue(encodeSendFrame(connId, data, this.#takeSendFrame), this.#sendFrames);
    if (this.#writer.hasRoom) return;
    await withDeadline("socket write", this.#writer.ready(), options);
  }

  /** Registers the listener of a port the daemon has bound for this session. */
  newListener(port: number): Listener {
    this.#boundPorts.add(port);
    const listener = new Listener(
      port,
      (l) => {
        if (this.#listeners.get(l.port) === l) this.#listeners.delete(l.port);
      },
      (conn) => void conn.close(),
    );
    this.#listeners.set(port, listener);
    return listener;
  }

  /** Registers a connection the daemon opened, handing it any data that arrived first. */
  newConnection(info: ConnectionInfo): Connection {
    const state = new ConnState(this.#host, info);
    this.#conns.set(info.id, state);
    this.#recentlyClosed.delete(info.id);
    const orphan = this.#orphans.get(info.id);
    if (orphan) {
      this.#orphans.delete(info.id);
      for (const chunk of orphan.chunks) {
        this.#orphanBytes -= chunk.length;
        state.deliver(chunk);
      }
      if (orphan.ended) state.end();
    }
    if (this.#failure) state.fail(this.#failure);
    return new Connection(state);
  }

  async #releaseConnection(state: ConnState): Promise<void> {
    const id = state.info.id;
    if (this.#conns.get(id) === state) this.#conns.delete(id);
    this.#rememberClosed(id);
    await this.sendDetachedClose(id);
  }

  /** Sends Close without anyone waiting for the reply; resolves once the frame left (or the client is dead). */
  async sendDetachedClose(connId: number): Promise<void> {
    if (this.#failure) return;
    this.#rememberClosed(connId);
    this.#pending.push({
      expect: Cmd.CloseOK,
      connId,
      abandoned: true,
      onReply: () => {},
      onError: () => {},
    });
    try {
      await this.#writer.write(encodeRequest({ cmd: Cmd.Close, connId }));
    } catch {
      // the daemon is gone, and with it the connection
    }
  }

  #rememberClosed(id: number): void {
    this.#recentlyClosed.delete(id);
    this.#recentlyClosed.add(id);
    if (this.#recentlyClosed.size > RECENTLY_CLOSED_CAPACITY) {
      this.#recentlyClosed.delete(this.#recentlyClosed.values().next().value!);
    }
    const orphan = this.#orphans.get(id);
    if (orphan) {
      for (const c of orphan.chunks) this.#orphanBytes -= c.length;
      this.#orphans.delete(id);
    }
  }

  #setFull(state: ConnState, full: boolean): void {
    if (full) this.#full.add(state);
    else this.#full.delete(state);
    if (this.#full.size === 0) {
      const resume = this.#resumeReading;
      this.#resumeReading = null;
      resume?.();
    }
  }

  // -------------------------------------------------------------------------
  // Inbound frames

  async #readLoop(): Promise<void> {
    const chunks = new ChunkReader(this.#conn);
    const reader = new FrameReader();
    try {
      for (;;) {
        while (this.#full.size > 0 && !this.#failure) {
          await new Promise<void>((resolve) => this.#resumeReading = resolve);
        }
        if (this.#failure) return;
        const chunk = await chunks.read();
        if (chunk === null) {
          this.fail(new IpcError("disconnected", "daemon disconnected"));
          return;
        }
        reader.push(chunk);
        for (let frame = reader.next(); frame && !this.#failure; frame = reader.next()) this.#dispatch(frame);
      }
    } catch (err) {
      this.fail(
        err instanceof IpcError
          ? new IpcError("protocol", `daemon sent a bad frame: ${err.message}`, { cause: err })
          : new IpcError("disconnected", `daemon disconnected: ${errorMessage(err)}`, { cause: err }),
      );
    }
  }

  #dispatch(frame: Frame): void {
    let msg: IpcReply;
    try {
      msg = decodeReply(frame);
    } catch (err) {
      const head = this.#pending[0];
      if (err instanceof IpcError && err.reason === "invalid-json" && head?.expect === frame.cmd) {
        // A well-framed reply with a body we cannot use: fail that request only.
        this.#pending.shift();
        head.onError(err);
        return;
      }
      throw err;
    }
    switch (msg.cmd) {
      case Cmd.Recv:
        return this.#onRecv(msg.connId, msg.data);
      case Cmd.Accept:
        return this.#onAccept(msg);
      case Cmd.RecvFrom:
        return this.#onDatagram({ src: msg.src, srcPort: msg.srcPort, dstPort: msg.dstPort, data: msg.data });
      case Cmd.CloseOK:
        return this.#onCloseOK(msg.connId);
      case Cmd.Error:
        return this.#onError(msg);
      default: {
        const head = this.#pending[0];
        if (!head || head.expect !== msg.cmd) {
          const expected = head ? `expecting ${commandName(head.expect)}` : "no request was outstanding";
          throw new IpcError("protocol", `unexpected ${commandName(frame.cmd)} reply: ${expected}`);
        }
        this.#pending.shift();
        head.onReply(msg);
      }
    }
  }

  #onRecv(connId: number, data: Uint8Array): void {
    const state = this.#conns.get(connId);
    if (state) return state.deliver(data);
    if (this.#recentlyClosed.has(connId)) return;
    if (this.#orphanBytes + data.length > ORPHAN_RECV_LIMIT) {
      this.stats.orphanBytesDropped += data.length;
      this.#log.debug("dropping Recv data for an unknown connection", { connId, bytes: data.length });
      return;
    }
    let orphan = this.#orphans.get(connId);
    if (!orphan) this.#orphans.set(connId, orphan = { chunks: [], ended: false });
    orphan.chunks.push(data);
    this.#orphanBytes += data.length;
  }

  #onAccept(msg: { localPort: number; connId: number; remote: Address; remotePort: number }): void {
    const conn = this.newConnection({
      id: msg.connId,
      localPort: msg.localPort,
      remoteAddr: msg.remote,
      remotePort: msg.remotePort,
    });
    const listener = this.#listeners.get(msg.localPort);
    if (!listener?.offer(conn)) {
      this.stats.acceptsDropped++;
      void conn.close();
    }
  }

  #onDatagram(d: Datagram): void {
    const waiter = this.#datagramWaiters.shift();
    if (waiter) return waiter.resolve(d);
    if (this.#datagrams.length >= DATAGRAM_QUEUE_CAPACITY) {
      this.stats.datagramsDropped++;
      return;
    }
    this.#datagrams.push(d);
  }

  #onCloseOK(connId: number): void {
    const state = this.#conns.get(connId);
    if (state) state.end();
    else if (!this.#recentlyClosed.has(connId)) {
      let orphan = this.#orphans.get(connId);
      if (!orphan) this.#orphans.set(connId, orphan = { chunks: [], ended: true });
      orphan.ended = true;
    }
    // CloseOK is also the reply to Close: the first one for the head's id answers it.
    const head = this.#pending[0];
    if (head && head.expect === Cmd.CloseOK && head.connId === connId) {
      this.#pending.shift();
      head.onReply({ cmd: Cmd.CloseOK, connId });
    }
  }

  #onError(msg: { code: number; message: string }): void {
    const err = daemonError(msg);
    const match = ASYNC_ERROR_TEXT.exec(msg.message);
    if (match) {
      const state = match[2] !== undefined ? this.#conns.get(Number(match[2])) : undefined;
      if (state) state.sendFailed(err);
      else this.#onAsyncError(err);
      return;
    }
    const head = this.#pending.shift();
    if (head) head.onError(err);
    else this.#onAsyncError(err);
  }

  // -------------------------------------------------------------------------
  // Failure

  /** Stops the session: closes the socket and rejects every waiter with `err`. Idempotent. */
  fail(err: IpcError): void {
    if (this.#failure) return;
    this.#failure = err;
    this.#writer.fail(err);
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
    for (const p of this.#pending.splice(0)) p.onError(err);
    for (const s of this.#conns.values()) s.fail(err);
    for (const l of this.#listeners.values()) l.fail(err);
    for (const w of this.#datagramWaiters.splice(0)) w.reject(err);
    this.#full.clear();
    const resume = this.#resumeReading;
    this.#resumeReading = null;
    resume?.();
    this.#resolveClosed(err);
  }
}
