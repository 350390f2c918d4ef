/**
 * The driver: a Deno program's handle on a local pilot daemon over its Unix
 * socket (ipc.md §3, §7). {@link connect} opens the socket; {@link PilotClient}
 * turns the command set into promise-returning methods.
 *
 * Correlation: replies carry no ids, but the daemon answers each client's
 * requests in order (ipc.md §3 rule 1), so the client keeps one FIFO of
 * outstanding requests and gives each reply to its head. Pushes (Accept, Recv,
 * RecvFrom, CloseOK) are routed by port or connection id. Error frames of
 * fire-and-forget Send/SendTo are recognised by their text and routed to the
 * connection (or to `onAsyncError`), never to the head request. A request whose
 * caller timed out or aborted stays in the FIFO, marked abandoned, so its late
 * reply is still consumed in order; a late DialOK is closed right away.
 * @module
 */
import { Logger } from "../log.ts";
import { Address, BACKBONE_NETWORK } from "../protocol/address.ts";
import {
  Cmd,
  commandName,
  type DaemonError,
  daemonError,
  decodeReply,
  DEFAULT_SOCKET_PATH,
  encodeRequest,
  type Frame,
  FrameReader,
  type HandshakeOp,
  IpcError,
  type IpcReply,
  type IpcRequest,
  MAX_SENDTO_DATA,
  type NetworkOp,
} from "../ipc/codec.ts";
import type {
  DeregisterReply,
  HandshakeReply,
  HealthReply,
  InfoReply,
  NetworkReply,
  PendingHandshake,
  ResolveHostnameReply,
  SetHostnameReply,
  SetTagsReply,
  SetTaskExecReply,
  SetVisibilityReply,
  SetWebhookReply,
  TrustedPeer,
} from "../ipc/replies.ts";
import { ChunkReader, FrameWriter } from "../ipc/socket_io.ts";
import { type CallOptions, waitWithDeadline, withDeadline } from "./deadline.ts";
import { Connection, type ConnectionHost, type ConnectionInfo, ConnState } from "./connection.ts";
import { Listener } from "./listener.ts";

/** Default bound on request/reply calls made without their own timeout or signal (dials can take ~40 s). */
export const DEFAULT_REQUEST_TIMEOUT_MS = 60_000;
/** Default bound on opening the socket. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
/** Outbound bytes queued on the socket before writes wait (keeps memory bounded, lets writes pipeline). */
export const SOCKET_WRITE_HIGH_WATER = 512 * 1024;
/** Datagrams kept for {@link PilotClient.recvFrom}; more are dropped (the Go driver's capacity). */
export const DATAGRAM_QUEUE_CAPACITY = 256;
/** Bytes of Recv data kept for connection ids not (yet) known, across all such ids. */
export const ORPHAN_RECV_LIMIT = 1 << 20;
/** Locally closed connection ids remembered so their in-flight Recv data is dropped quietly. */
const RECENTLY_CLOSED_CAPACITY = 1024;
/** Unsolicited error texts of Send/SendTo (ipc.md §3). */
const ASYNC_ERROR_TEXT = /^(send:|sendto:|connection (\d+) not found$)/;

/** Options of {@link connect}. */
export interface ConnectOptions extends CallOptions {
  /** Bound for request/reply calls given neither timeout nor signal (default {@link DEFAULT_REQUEST_TIMEOUT_MS}). */
  requestTimeoutMs?: number;
  /** Receives Send/SendTo errors that cannot be tied to a connection. Default: logged at debug level. */
  onAsyncError?: (err: DaemonError) => void;
  logger?: Logger;
}

/** A datagram delivered by the daemon (every client gets every datagram; filter on `dstPort`). */
export interface Datagram {
  src: Address;
  srcPort: number;
  dstPort: number;
  data: Uint8Array;
}

/** Counters of things the client dropped to stay bounded. */
export interface ClientStats {
  datagramsDropped: number;
  acceptsDropped: number;
  orphanBytesDropped: number;
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

/**
 * Opens the daemon's socket (default `/tmp/pilot.sock`). Rejects with
 * {@link IpcError} `disconnected` when nothing listens there, `timeout` or
 * `aborted` per the options.
 */
export async function connect(
  socketPath: string = DEFAULT_SOCKET_PATH,
  options: ConnectOptions = {},
): Promise<PilotClient> {
  const conn = await waitWithDeadline<Deno.UnixConn>(
    `connect to ${socketPath}`,
    options,
    DEFAULT_CONNECT_TIMEOUT_MS,
    (resolve, reject) => {
      let cancelled = false;
      Deno.connect({ transport: "unix", path: socketPath }).then(
        (c) => cancelled ? c.close() : resolve(c),
        (err) =>
          reject(
            new IpcError("disconnected", `cannot connect to the daemon at ${socketPath}: ${err.message}`, {
              cause: err,
            }),
          ),
      );
      return () => cancelled = true;
    },
  );
  return new PilotClient(conn, options);
}

/**
 * A connection to the local daemon. Every method that waits takes
 * {@link CallOptions}; request/reply methods default to
 * {@link DEFAULT_REQUEST_TIMEOUT_MS}, while `accept`, `read` and `recvFrom` wait
 * for traffic without limit unless told otherwise. Nothing waits forever on a
 * dead daemon: when the socket closes every waiter rejects with
 * {@link IpcError} `disconnected`, and after {@link PilotClient.close} with
 * `closed`.
 *
 * Receive backpressure: when a connection holds more than 4 MiB of unread data
 * the client stops reading the socket until it drains, which holds back the
 * daemon (and the remote sender) but also delays this client's other replies and
 * pushes. Read every connection you open, or close it.
 */
export class PilotClient {
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
  /** Resolves with the reason once the client is unusable (daemon gone or closed locally). */
  readonly closed: Promise<IpcError> = new Promise((resolve) => this.#resolveClosed = resolve);
  /** Counters of data dropped to stay bounded. */
  readonly stats: ClientStats = { datagramsDropped: 0, acceptsDropped: 0, orphanBytesDropped: 0 };
  readonly #host: ConnectionHost;

  /** @internal Use {@link connect}. */
  constructor(conn: Deno.UnixConn, options: ConnectOptions = {}) {
    this.#conn = conn;
    this.#log = options.logger ?? new Logger("sdk");
    this.#requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.#onAsyncError = options.onAsyncError ??
      ((err) => this.#log.debug("unrouted asynchronous daemon error", { err: err.message }));
    this.#writer = new FrameWriter(conn, SOCKET_WRITE_HIGH_WATER, (err) => this.#fail(err));
    this.#host = {
      writeFrame: (frame, opts) => this.#writeFrame(frame, opts),
      releaseConnection: (state) => this.#releaseConnection(state),
      setFull: (state, full) => this.#setFull(state, full),
    };
    void this.#readLoop();
  }

  // -------------------------------------------------------------------------
  // Streams

  /**
   * Binds `port` (Bind → BindOK) and returns its {@link Listener}. A port this
   * client bound before and whose listener was closed is reused locally, since
   * the daemon keeps it bound. Daemon refusals (e.g. `port 7 already bound`)
   * reject with {@link DaemonError}.
   */
  listen(port: number, options?: CallOptions): Promise<Listener> {
    if (this.#listeners.has(port)) {
      return Promise.reject(
        new IpcError("invalid-value", `port ${port} already has a listener in this client`),
      );
    }
    if (this.#boundPorts.has(port) && !this.#failure) return Promise.resolve(this.#newListener(port));
    return this.#request(
      { cmd: Cmd.Bind, port },
      Cmd.BindOK,
      `bind port ${port}`,
      options,
      (reply) => this.#newListener(reply.port),
      (reply) => this.#boundPorts.add(reply.port),
    );
  }

  /**
   * Opens a stream to `addr:port` (Dial → DialOK). `addr` is an {@link Address}
   * or its text form. The daemon blocks until the connection is established or
   * fails (`dial timeout`, `connection refused`, …, as {@link DaemonError}).
   */
  dial(addr: Address | string, port: number, options?: CallOptions): Promise<Connection> {
    let target: Address;
    try {
      target = typeof addr === "string" ? Address.parse(addr) : addr;
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#request(
      { cmd: Cmd.Dial, addr: target, port },
      Cmd.DialOK,
      `dial ${target}:${port}`,
      options,
      (reply) =>
        this.#newConnection({ id: reply.connId, localPort: 0, remoteAddr: target, remotePort: port }),
      (reply) => this.#sendDetachedClose(reply.connId),
    );
  }

  /**
   * Closes connection `connId` of this daemon and waits for its CloseOK (the
   * administrative disconnect of `pilotctl disconnect`).
   */
  disconnect(connId: number, options?: CallOptions): Promise<void> {
    return this.#request(
      { cmd: Cmd.Close, connId },
      Cmd.CloseOK,
      `close connection ${connId}`,
      options,
      () => {},
      undefined,
      connId,
    );
  }

  // -------------------------------------------------------------------------
  // Datagrams

  /**
   * Sends one datagram (fire-and-forget; node 0xFFFFFFFF broadcasts on the
   * address's network). Resolves once queued on the socket. Failures the
   * daemon reports later go to `onAsyncError`. Broadcast on network 0 and data
   * above one frame are refused locally with {@link IpcError}.
   */
  async sendTo(addr: Address | string, port: number, data: Uint8Array, options?: CallOptions): Promise<void> {
    const target = typeof addr === "string" ? Address.parse(addr) : addr;
    if (target.isBroadcast() && target.network === BACKBONE_NETWORK) {
      throw new IpcError("invalid-value", "broadcast on backbone network is not permitted");
    }
    if (data.length > MAX_SENDTO_DATA) {
      throw new IpcError("frame-too-large", `datagram of ${data.length} bytes exceeds ${MAX_SENDTO_DATA}`);
    }
    await this.#writeFrame(encodeRequest({ cmd: Cmd.SendTo, addr: target, port, data }), options);
  }

  /**
   * The next datagram pushed by the daemon (up to {@link DATAGRAM_QUEUE_CAPACITY}
   * are kept). Waits without limit unless given a timeout or signal.
   */
  recvFrom(options?: CallOptions): Promise<Datagram> {
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

  // -------------------------------------------------------------------------
  // Status and administration

  /** The daemon's status (InfoOK, ipc.md §6.1). */
  info(options?: CallOptions): Promise<InfoReply> {
    return this.#json({ cmd: Cmd.Info }, Cmd.InfoOK, "info", options);
  }

  /** A short health summary (HealthOK, ipc.md §6.2). */
  health(options?: CallOptions): Promise<HealthReply> {
    return this.#json({ cmd: Cmd.Health }, Cmd.HealthOK, "health", options);
  }

  /** Resolves a hostname through the daemon's registry (public nodes only, as in the reference). */
  resolveHostname(hostname: string, options?: CallOptions): Promise<ResolveHostnameReply> {
    return this.#json(
      { cmd: Cmd.ResolveHostname, hostname },
      Cmd.ResolveHostnameOK,
      "resolve_hostname",
      options,
    );
  }

  /** Sets (or with "" clears) this node's hostname. */
  setHostname(hostname: string, options?: CallOptions): Promise<SetHostnameReply> {
    return this.#json({ cmd: Cmd.SetHostname, hostname }, Cmd.SetHostnameOK, "set_hostname", options);
  }

  /** Makes this node public or private. */
  setVisibility(isPublic: boolean, options?: CallOptions): Promise<SetVisibilityReply> {
    return this.#json(
      { cmd: Cmd.SetVisibility, public: isPublic },
      Cmd.SetVisibilityOK,
      "set_visibility",
      options,
    );
  }

  /** Removes this node from the registry. */
  deregister(options?: CallOptions): Promise<DeregisterReply> {
    return this.#json({ cmd: Cmd.Deregister }, Cmd.DeregisterOK, "deregister", options);
  }

  /** Replaces this node's tags (the daemon allows at most 3). */
  setTags(tags: string[], options?: CallOptions): Promise<SetTagsReply> {
    return this.#json({ cmd: Cmd.SetTags, tags }, Cmd.SetTagsOK, "set_tags", options);
  }

  /** Points the daemon's webhook at `url` ("" disables it). */
  setWebhook(url: string, options?: CallOptions): Promise<SetWebhookReply> {
    return this.#json({ cmd: Cmd.SetWebhook, url }, Cmd.SetWebhookOK, "set_webhook", options);
  }

  /** Enables or disables task execution on this node. */
  setTaskExec(enabled: boolean, options?: CallOptions): Promise<SetTaskExecReply> {
    return this.#json({ cmd: Cmd.SetTaskExec, enabled }, Cmd.SetTaskExecOK, "set_task_exec", options);
  }

  // -------------------------------------------------------------------------
  // Trust handshakes (ipc.md §5.1)

  /** Asks `nodeId` to trust this node; may block while the daemon dials the peer. */
  handshake(nodeId: number, justification = "", options?: CallOptions): Promise<HandshakeReply> {
    return this.#handshake({ sub: "request", nodeId, justification }, options);
  }

  /** Approves a pending trust request. */
  approveHandshake(nodeId: number, options?: CallOptions): Promise<HandshakeReply> {
    return this.#handshake({ sub: "approve", nodeId }, options);
  }

  /** Rejects a pending trust request. */
  rejectHandshake(nodeId: number, reason = "", options?: CallOptions): Promise<HandshakeReply> {
    return this.#handshake({ sub: "reject", nodeId, reason }, options);
  }

  /** Pending inbound trust requests. */
  async pendingHandshakes(options?: CallOptions): Promise<PendingHandshake[]> {
    const reply = await this.#handshake({ sub: "pending" }, options);
    return "pending" in reply && Array.isArray(reply.pending) ? reply.pending : [];
  }

  /** Peers this node trusts. */
  async trustedPeers(options?: CallOptions): Promise<TrustedPeer[]> {
    const reply = await this.#handshake({ sub: "trusted" }, options);
    return "trusted" in reply && Array.isArray(reply.trusted) ? reply.trusted : [];
  }

  /** Withdraws trust from `nodeId`. */
  revokeTrust(nodeId: number, options?: CallOptions): Promise<HandshakeReply> {
    return this.#handshake({ sub: "revoke", nodeId }, options);
  }

  // -------------------------------------------------------------------------
  // Networks (ipc.md §5.2); replies are the registry's objects, verbatim

  /** Networks known to the registry. */
  networkList(options?: CallOptions): Promise<NetworkReply> {
    return this.#network({ sub: "list" }, options);
  }

  /** Joins a network, with an optional token. */
  networkJoin(networkId: number, token = "", options?: CallOptions): Promise<NetworkReply> {
    return this.#network({ sub: "join", networkId, token }, options);
  }

  /** Leaves a network. */
  networkLeave(networkId: number, options?: CallOptions): Promise<NetworkReply> {
    return this.#network({ sub: "leave", networkId }, options);
  }

  /** Lists a network's members. */
  networkMembers(networkId: number, options?: CallOptions): Promise<NetworkReply> {
    return this.#network({ sub: "members", networkId }, options);
  }

  /** Invites a node into a network. */
  networkInvite(networkId: number, targetNodeId: number, options?: CallOptions): Promise<NetworkReply> {
    return this.#network({ sub: "invite", networkId, targetNodeId }, options);
  }

  /** Fetches pending network invitations. */
  networkPollInvites(options?: CallOptions): Promise<NetworkReply> {
    return this.#network({ sub: "poll-invites" }, options);
  }

  /** Accepts or declines an invitation. */
  networkRespondInvite(networkId: number, accept: boolean, options?: CallOptions): Promise<NetworkReply> {
    return this.#network({ sub: "respond-invite", networkId, accept }, options);
  }

  // -------------------------------------------------------------------------
  // Lifecycle

  /**
   * Closes the socket; the daemon then releases every port and connection this
   * client owned. Pending calls reject with {@link IpcError} `closed`. Idempotent.
   */
  async close(): Promise<void> {
    this.#fail(new IpcError("closed", "client closed"));
    await this.closed;
  }

  /** `await using` support. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  // -------------------------------------------------------------------------
  // Requests

  #json<T>(req: IpcRequest, expect: IpcReply["cmd"], what: string, options?: CallOptions): Promise<T> {
    return this.#request(req, expect, what, options, (reply) => (reply as { body: unknown }).body as T);
  }

  #handshake(op: HandshakeOp, options?: CallOptions): Promise<HandshakeReply> {
    return this.#json({ cmd: Cmd.Handshake, op }, Cmd.HandshakeOK, `handshake ${op.sub}`, options);
  }

  #network(op: NetworkOp, options?: CallOptions): Promise<NetworkReply> {
    return this.#json({ cmd: Cmd.Network, op }, Cmd.NetworkOK, `network ${op.sub}`, options);
  }

  /**
   * Sends a request and waits for its reply. `build` runs synchronously when the
   * reply is dispatched (so listeners/connections exist before the next frame is
   * read); `lateReply` runs instead when the caller already gave up.
   */
  #request<C extends IpcReply["cmd"], T, R = Extract<IpcReply, { cmd: C }>>(
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

  async #writeFrame(frame: Uint8Array, options?: CallOptions): Promise<void> {
    if (this.#failure) throw this.#failure;
    this.#writer.enqueue(frame);
    await withDeadline("socket write", this.#writer.ready(), options);
  }

  #newListener(port: number): Listener {
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

  #newConnection(info: ConnectionInfo): Connection {
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
    await this.#sendDetachedClose(id);
  }

  /** Sends Close without anyone waiting for the reply; resolves once the frame left (or the client is dead). */
  async #sendDetachedClose(connId: number): Promise<void> {
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
          this.#fail(new IpcError("disconnected", "daemon disconnected"));
          return;
        }
        reader.push(chunk);
        for (let frame = reader.next(); frame && !this.#failure; frame = reader.next()) this.#dispatch(frame);
      }
    } catch (err) {
      this.#fail(
        err instanceof IpcError
          ? new IpcError("protocol", `daemon sent a bad frame: ${err.message}`, { cause: err })
          : new IpcError("disconnected", `daemon disconnected: ${(err as Error).message}`, { cause: err }),
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
    const conn = this.#newConnection({
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

  #fail(err: IpcError): void {
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
