/**
 * The daemon side of the IPC socket (docs/protocol/ipc.md §1, §3, §8): a Unix-socket server
 * that accepts drivers up to a cap, runs each one as a {@link Session} (which
 * decodes its requests, hands them to an {@link IpcHandler} one at a time, and
 * writes replies and pushes back within the client's memory budget), and routes
 * datagrams to the clients that want them. It owns sockets, limits and ordering
 * only; what a command means is the handler's job.
 *
 * Per-client model (details and budgets in session.ts and limits.ts):
 * - Requests are handled strictly in arrival order, each to completion before the
 *   next (rule 1), so replies leave in request order. The socket keeps being read
 *   while a request runs (within the client's inbound budget) so that a client
 *   hanging up is noticed at once and aborts the running request.
 * - Pushes (Accept, Recv, RecvFrom, CloseOK) may be written at any time between
 *   replies; all frames go through one writer, so they never interleave.
 * - Outbound backpressure: {@link IpcClient.pushRecv} resolves only once the
 *   client's queue is back under the high-water mark, so a daemon stream that
 *   awaits it stops draining and its receive window closes. RecvFrom pushes are
 *   dropped above that mark; a client whose queue passes the hard limit, or sits
 *   above the mark without reading, is disconnected.
 * - A frame not finished within the frame deadline, an oversized frame length, a
 *   socket error or a write failure drops only that client. Truncated payloads and
 *   unknown commands get an Error reply (docs/protocol/ipc.md §4).
 * - When a client goes, its signal is aborted and {@link IpcHandler.clientGone}
 *   runs with the ports and connections the client owned.
 *
 * Datagram delivery ({@link IpcServer.deliverRecvFrom}): the reference pushes every
 * datagram to every client (docs/protocol/ipc.md §4); here a datagram to a port a client bound
 * goes to that client only. One to a port nobody bound goes to the clients that
 * sent a datagram themselves (SendTo replies), and to clients that bound nothing —
 * the reference's `pilotctl listen` filters the broadcast without binding — but to
 * the latter only while their queue is under {@link UNBOUND_DATAGRAM_QUEUE_LIMIT},
 * so idle clients cannot hold more than that each.
 * @module
 */
import { Logger } from "../../log.ts";
import type { Address } from "../../protocol/address.ts";
import {
  DEFAULT_SOCKET_PATH,
  encodeErrorFrame,
  encodeRecvFromFrame,
  type HandshakeOp,
  IpcError,
  type NetworkOp,
} from "../../ipc/codec.ts";
import type {
  DeregisterReply,
  HandshakeReply,
  HealthReply,
  InfoReply,
  NetworkReply,
  ResolveHostnameReply,
  SetHostnameReply,
  SetTagsReply,
  SetTaskExecReply,
  SetVisibilityReply,
  SetWebhookReply,
} from "../../ipc/replies.ts";
import { waitAtMost, writeAll } from "../../ipc/socket_io.ts";
import { type IpcLimits, REFUSAL_LOG_INTERVAL_MS, resolveLimits } from "./limits.ts";
import { InboundPool } from "../../net/inbound_pool.ts";
import { type DropReason, Session, type SessionContext } from "./session.ts";
import { errorMessage, settleQuietly } from "../../errors.ts";

export {
  DEFAULT_FRAME_DEADLINE_MS,
  DEFAULT_INBOUND_POOL,
  DEFAULT_MAX_CLIENTS,
  DEFAULT_OUTBOUND_HARD_LIMIT,
  DEFAULT_OUTBOUND_HIGH_WATER,
  DEFAULT_OUTBOUND_STALL_MS,
  INBOUND_ALLOWANCE,
  INBOUND_BUFFER_LIMIT,
  type IpcLimits,
} from "./limits.ts";

/** Permission bits the socket file must end up with: owner read/write only. */
export const SOCKET_MODE = 0o600;
/** How long {@link IpcServer.close} waits for running requests to notice the abort. */
const SHUTDOWN_GRACE_MS = 2000;

/**
 * How much a client that bound no port may have queued before datagrams to unbound ports skip it:
 * such clients (the reference's `pilotctl listen`) filter the broadcast themselves, and an idle
 * client must not hold more than this much of it.
 */
export const UNBOUND_DATAGRAM_QUEUE_LIMIT = 64 * 1024;
/** How long the Error frame to a refused client may take before its socket is closed anyway. */
const REFUSAL_WRITE_MS = 1000;

/** A value or a promise of it. */
export type Awaitable<T> = T | Promise<T>;

/**
 * One connected driver, as the handler sees it. Handlers push frames into it and
 * use {@link IpcClient.signal} to abandon work for a client that has gone. The
 * server keeps {@link IpcClient.ports} and {@link IpcClient.conns} up to date from
 * successful Bind/Dial replies, Accept and CloseOK pushes and Close requests.
 */
export interface IpcClient {
  /** Server-unique client number, for logs. */
  readonly id: number;
  /** Aborted when the client disconnects, is dropped, or the server shuts down. */
  readonly signal: AbortSignal;
  /** Ports this client bound (there is no Unbind; they stay until the client goes). */
  readonly ports: ReadonlySet<number>;
  /** Connections this client dialed or was handed by Accept and has not closed. */
  readonly conns: ReadonlySet<number>;
  /** True once the client is gone; pushes are then ignored. */
  readonly closed: boolean;
  /** Announces an inbound connection on one of this client's ports. */
  pushAccept(localPort: number, connId: number, remote: Address, remotePort: number): void;
  /**
   * Delivers stream data: one chunk (split into frames of at most 1 MiB), or several that go out
   * together in one frame (at most 1 MiB in all). Resolves true once
   * the client's outbound queue is at or below the high-water mark, false if the
   * client is gone: await it to propagate backpressure to the stream.
   */
  pushRecv(connId: number, data: Uint8Array | readonly Uint8Array[]): Promise<boolean>;
  /** Delivers a datagram; returns false when dropped (client gone or its queue above the high-water mark). */
  pushRecvFrom(src: Address, srcPort: number, dstPort: number, data: Uint8Array): boolean;
  /** Signals EOF on a connection (remote FIN, RST, timeout, local close). */
  pushCloseOK(connId: number): void;
  /** Drops the client (closes its socket); `reason` goes to the log. */
  disconnect(reason?: string): void;
}

/**
 * What the daemon implements behind the socket. Every method is optional: a
 * command whose method is missing is answered with the Error
 * `<command>: not supported by this daemon`. A method throws to fail the request:
 * the thrown error's message becomes the Error frame's text verbatim, so use the
 * reference texts (docs/protocol/ipc.md §4), e.g. `port 7 already bound`. Send/SendTo failures
 * are sent as unsolicited Errors and get a `send: ` / `sendto: ` prefix when
 * missing, because drivers route them by that text. `signal` aborts when the
 * client goes away, so long operations (dial, registry calls) can stop.
 */
export interface IpcHandler {
  /** Binds `port`; returns the bound port (defaults to `port`). */
  bind?(client: IpcClient, port: number): Awaitable<number | void>;
  /** Opens a stream to `addr:port`, blocking until established; returns the conn id. */
  dial?(client: IpcClient, addr: Address, port: number, signal: AbortSignal): Awaitable<number>;
  /**
   * The DialOK for `connId` is queued to `client`: frames pushed from now on follow it, so the
   * connection's data can start flowing (no timer needed to order it after the reply).
   */
  dialAnnounced?(client: IpcClient, connId: number): void;
  /** Queues data on a connection; a returned promise holds further requests back (backpressure). */
  send?(client: IpcClient, connId: number, data: Uint8Array): Awaitable<void>;
  /** Closes a connection (unknown ids are not an error: CloseOK is sent regardless). */
  close?(client: IpcClient, connId: number): Awaitable<void>;
  /** Sends a datagram (node 0xFFFFFFFF = network broadcast). */
  sendTo?(client: IpcClient, addr: Address, port: number, data: Uint8Array): Awaitable<void>;
  info?(client: IpcClient): Awaitable<InfoReply>;
  health?(client: IpcClient): Awaitable<HealthReply>;
  handshake?(client: IpcClient, op: HandshakeOp, signal: AbortSignal): Awaitable<HandshakeReply>;
  resolveHostname?(client: IpcClient, hostname: string, signal: AbortSignal): Awaitable<ResolveHostnameReply>;
  setHostname?(client: IpcClient, hostname: string, signal: AbortSignal): Awaitable<SetHostnameReply>;
  setVisibility?(client: IpcClient, isPublic: boolean, signal: AbortSignal): Awaitable<SetVisibilityReply>;
  deregister?(client: IpcClient, signal: AbortSignal): Awaitable<DeregisterReply>;
  setTags?(client: IpcClient, tags: string[], signal: AbortSignal): Awaitable<SetTagsReply>;
  setWebhook?(client: IpcClient, url: string): Awaitable<SetWebhookReply>;
  setTaskExec?(client: IpcClient, enabled: boolean, signal: AbortSignal): Awaitable<SetTaskExecReply>;
  network?(client: IpcClient, op: NetworkOp, signal: AbortSignal): Awaitable<NetworkReply>;
  /** The client is gone: release `client.ports` and close `client.conns`. Called once per client. */
  clientGone?(client: IpcClient): Awaitable<void>;
}

/** Options of {@link IpcServer.listen}; unset limits take the defaults in limits.ts. */
export interface IpcServerOptions extends Partial<IpcLimits> {
  /** Socket file path (default {@link DEFAULT_SOCKET_PATH}). */
  path?: string;
  handler: IpcHandler;
  logger?: Logger;
}

/** Counters of an {@link IpcServer}, for the metrics endpoint. */
export interface IpcServerStats {
  /** Clients connected now. */
  clients: number;
  /** Bytes of the shared inbound pool in use. */
  inboundPoolBytes: number;
  /** Connections refused at the client cap, and clients dropped for breaking a limit, by kind. */
  events: Record<"client_refused" | DropReason, number>;
  /** Datagrams by outcome: queued per recipient, dropped at a busy recipient, or wanted by no client. */
  datagrams: { delivered: number; dropped_busy: number; unclaimed: number };
}

/** Removes a stale socket file, refusing when a live server still answers on it. */
async function clearStaleSocket(path: string): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return;
    throw err;
  }
  if (info.isDirectory) throw new IpcError("socket-in-use", `socket path ${path} is a directory`);
  if (info.isSocket) {
    try {
      const probe = await Deno.connect({ transport: "unix", path });
      probe.close();
      throw new IpcError("socket-in-use", `another daemon is listening on ${path}`);
    } catch (err) {
      if (err instanceof IpcError) throw err;
      // nobody answers: the file is stale
    }
  }
  await Deno.remove(path);
}

/**
 * A listening IPC server. Create it with {@link IpcServer.listen}; stop it with
 * {@link IpcServer.close}, which disconnects every client (each gets
 * `clientGone`) and removes the socket file.
 */
export class IpcServer {
  /** Socket file path. */
  readonly path: string;
  /** The handler requests are dispatched to. */
  readonly handler: IpcHandler;
  /** The limits every client is held to. */
  readonly limits: IpcLimits;
  readonly #listener: Deno.Listener;
  readonly #log: Logger;
  readonly #sessions = new Set<Session>();
  /** Which client bound each port (ports are daemon-wide, so at most one). */
  readonly #portOwners = new Map<number, Session>();
  /** Clients that sent a datagram: they get datagrams to ports nobody bound. */
  readonly #datagramUsers = new Set<Session>();
  readonly #events: IpcServerStats["events"] = {
    client_refused: 0,
    frame_deadline: 0,
    outbound_stall: 0,
    outbound_limit: 0,
    bad_frame: 0,
  };
  readonly #datagrams: IpcServerStats["datagrams"] = { delivered: 0, dropped_busy: 0, unclaimed: 0 };
  readonly #context: SessionContext;
  readonly #pool: InboundPool;
  #refusedSinceLog = 0;
  #lastRefusalLog = -Infinity;
  /** Per kind of drop: when it was last logged and how many went unlogged since. */
  readonly #dropLog = new Map<DropReason, { at: number; unlogged: number }>();
  #nextId = 1;
  #closing: Promise<void> | null = null;
  readonly #acceptLoop: Promise<void>;

  private constructor(listener: Deno.Listener, path: string, options: IpcServerOptions, log: Logger) {
    this.#listener = listener;
    this.path = path;
    this.handler = options.handler;
    this.#log = log;
    this.limits = resolveLimits(options);
    this.#pool = new InboundPool(this.limits.inboundPool);
    this.#context = {
      handler: this.handler,
      limits: this.limits,
      pool: this.#pool,
      bound: (session, port) => this.#portOwners.set(port, session),
      usesDatagrams: (session) => this.#datagramUsers.add(session),
      dropped: (session, kind, reason) => this.#dropped(session, kind, reason),
      gone: (session) => this.#forget(session),
    };
    this.#acceptLoop = this.#accept();
  }

  /**
   * Listens on `options.path`: removes a stale socket file (refusing with
   * {@link IpcError} `socket-in-use` if a server still answers there), listens,
   * restricts the file to mode 0600 and verifies it (`permissions` otherwise).
   * Between listen and chmod the file briefly has the process umask's mode, as
   * in the reference; keep the socket in a private directory if that matters.
   * Throws RangeError for a limit that is not a positive integer.
   */
  static async listen(options: IpcServerOptions): Promise<IpcServer> {
    resolveLimits(options);
    const path = options.path ?? DEFAULT_SOCKET_PATH;
    const log = options.logger ?? new Logger("ipc");
    await clearStaleSocket(path);
    const listener = Deno.listen({ transport: "unix", path });
    try {
      await Deno.chmod(path, SOCKET_MODE);
      const mode = (await Deno.stat(path)).mode;
      if (mode === null || (mode & 0o777) !== SOCKET_MODE) {
        throw new IpcError("permissions", `socket ${path} has mode ${mode?.toString(8)} after chmod 0600`);
      }
    } catch (err) {
      listener.close();
      await settleQuietly(Deno.remove(path), "cleanup");
      if (err instanceof IpcError) throw err;
      throw new IpcError("permissions", `cannot restrict socket ${path}: ${errorMessage(err)}`, {
        cause: err,
      });
    }
    log.info("ipc listening", { path });
    return new IpcServer(listener, path, options, log);
  }

  /** Clients currently connected. */
  get clients(): ReadonlySet<IpcClient> {
    return this.#sessions;
  }

  /** Per-client outbound high-water mark in bytes. */
  get outboundHighWater(): number {
    return this.limits.outboundHighWater;
  }

  /** A snapshot of the counters. */
  stats(): IpcServerStats {
    return {
      clients: this.#sessions.size,
      inboundPoolBytes: this.#pool.used,
      events: { ...this.#events },
      datagrams: { ...this.#datagrams },
    };
  }

  /**
   * Delivers a datagram the daemon accepted. To a port a client bound: to that
   * client only. To a port nobody bound: to every client that has sent a
   * datagram (its replies come back to the ephemeral port SendTo used, which it
   * never bound). Other clients get nothing, unlike the reference's push to all
   * (docs/protocol/ipc.md §4). The frame is encoded once; busy recipients are skipped. Returns
   * how many clients it was queued for.
   */
  deliverRecvFrom(src: Address, srcPort: number, dstPort: number, data: Uint8Array): number {
    const frame = encodeRecvFromFrame(src, srcPort, dstPort, data);
    const owner = this.#portOwners.get(dstPort);
    if (owner) return this.#push([[owner, undefined]], frame);
    const recipients: [Session, number | undefined][] = [];
    for (const s of this.#sessions) {
      if (this.#datagramUsers.has(s)) recipients.push([s, undefined]);
      else if (s.ports.size === 0) recipients.push([s, UNBOUND_DATAGRAM_QUEUE_LIMIT]);
    }
    return this.#push(recipients, frame);
  }

  /**
   * Pushes a datagram to every connected client, as the reference does (for test
   * harnesses; the daemon uses {@link IpcServer.deliverRecvFrom}). Returns how
   * many clients it was queued for.
   */
  broadcastRecvFrom(src: Address, srcPort: number, dstPort: number, data: Uint8Array): number {
    const frame = encodeRecvFromFrame(src, srcPort, dstPort, data);
    return this.#push([...this.#sessions].map((s) => [s, undefined]), frame);
  }

  /** Queues `frame` for each recipient under its queue limit (undefined: the client's high-water mark). */
  #push(recipients: Iterable<[Session, number | undefined]>, frame: Uint8Array): number {
    let queued = 0;
    let busy = 0;
    for (const [s, limit] of recipients) {
      if (s.pushFrame(frame, limit)) queued++;
      else busy++;
    }
    this.#datagrams.delivered += queued;
    this.#datagrams.dropped_busy += busy;
    if (queued + busy === 0) this.#datagrams.unclaimed++;
    return queued;
  }

  /** Disconnects every client, waits (bounded) for their cleanup, and unlinks the socket. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    try {
      this.#listener.close();
    } catch {
      // already closed
    }
    await this.#acceptLoop;
    const sessions = [...this.#sessions];
    for (const s of sessions) s.disconnect("daemon shutting down");
    await waitAtMost(Promise.allSettled(sessions.map((s) => s.done)), SHUTDOWN_GRACE_MS);
    await Deno.remove(this.path).catch((err) => {
      if (!(err instanceof Deno.errors.NotFound)) this.#log.warn("cannot remove socket", { err });
    });
  }

  /** Counts a client dropped for breaking a limit; logs each kind at most once a minute, with the count between. */
  #dropped(session: Session, kind: DropReason, reason: string): void {
    this.#events[kind]++;
    const now = performance.now();
    const seen = this.#dropLog.get(kind) ?? { at: -Infinity, unlogged: 0 };
    this.#dropLog.set(kind, seen);
    if (now - seen.at < REFUSAL_LOG_INTERVAL_MS) {
      seen.unlogged++;
      return;
    }
    this.#log.warn("dropping IPC client over its limits", {
      client: session.id,
      reason,
      similar_since_last_log: seen.unlogged,
    });
    seen.at = now;
    seen.unlogged = 0;
  }

  #forget(session: Session): void {
    this.#sessions.delete(session);
    this.#datagramUsers.delete(session);
    for (const port of session.ports) {
      if (this.#portOwners.get(port) === session) this.#portOwners.delete(port);
    }
  }

  async #accept(): Promise<void> {
    for (;;) {
      let conn: Deno.Conn;
      try {
        conn = await this.#listener.accept();
      } catch (err) {
        if (this.#closing) return;
        if (err instanceof Deno.errors.BadResource) return;
        this.#log.warn("accept failed", { err });
        continue;
      }
      if (this.#closing) {
        conn.close();
        continue;
      }
      if (this.#sessions.size >= this.limits.maxClients) {
        this.#refuse(conn);
        continue;
      }
      this.#sessions.add(new Session(this.#context, conn, this.#nextId++, this.#log));
    }
  }

  /** Tells a client over the cap why with an Error frame, closes it, counts it; logs at most once a minute. */
  #refuse(conn: Deno.Conn): void {
    const max = this.limits.maxClients;
    this.#events.client_refused++;
    this.#refusedSinceLog++;
    const now = performance.now();
    if (now - this.#lastRefusalLog >= REFUSAL_LOG_INTERVAL_MS) {
      this.#log.warn("too many IPC clients; refusing connections", { max, refused: this.#refusedSinceLog });
      this.#lastRefusalLog = now;
      this.#refusedSinceLog = 0;
    }
    const frame = encodeErrorFrame(`too many IPC clients (limit ${max}); try again later`);
    void waitAtMost(writeAll(conn, frame), REFUSAL_WRITE_MS).finally(() => {
      try {
        conn.close();
      } catch {
        // already closed
      }
    });
  }
}
