/**
 * The daemon side of the IPC socket (ipc.md §1, §3, §8): a Unix-socket server
 * that decodes each client's requests, hands them to an {@link IpcHandler} one at
 * a time, and writes replies and pushes back through a bounded per-client queue.
 * It owns sockets and ordering only; what a command means is the handler's job.
 *
 * Per-client model:
 * - Requests are handled strictly in arrival order, each to completion before the
 *   next (rule 1), so replies leave in request order. The socket keeps being read
 *   while a request runs (up to {@link INBOUND_BUFFER_LIMIT} bytes) so that a
 *   client hanging up is noticed at once and aborts the running request.
 * - Pushes (Accept, Recv, RecvFrom, CloseOK) may be written at any time between
 *   replies; all frames go through one {@link FrameWriter}, so they never interleave.
 * - Outbound backpressure: {@link IpcClient.pushRecv} resolves only once the
 *   client's queue is back under `outboundHighWater`, so a daemon stream that
 *   awaits it stops draining and its receive window closes. RecvFrom pushes are
 *   dropped while the queue is above that mark (datagrams are unreliable anyway).
 *   A queue that still grows past `outboundHardLimit` (a producer ignoring the
 *   backpressure, or a client that stopped reading) gets the client disconnected
 *   instead of buffering without bound.
 * - An oversized frame length, a socket error or a write failure drops only that
 *   client. Truncated payloads and unknown commands get an Error reply (ipc.md §4).
 * - When a client goes, its signal is aborted and {@link IpcHandler.clientGone}
 *   runs with the ports and connections the client owned.
 * @module
 */
import { Logger } from "../../log.ts";
import { PilotError } from "../../errors.ts";
import type { Address } from "../../protocol/address.ts";
import {
  Cmd,
  decodeRequest,
  DEFAULT_SOCKET_PATH,
  encodeErrorFrame,
  encodeRecvFrame,
  encodeRecvFromFrame,
  encodeReply,
  type Frame,
  FrameReader,
  type HandshakeOp,
  IpcError,
  type IpcRequest,
  MAX_FRAME_LENGTH,
  MAX_SEND_DATA,
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
import { ChunkReader, FrameWriter, waitAtMost } from "../../ipc/socket_io.ts";

/** Permission bits the socket file must end up with: owner read/write only. */
export const SOCKET_MODE = 0o600;
/** Unread inbound bytes per client before the server stops reading its socket (two full frames). */
export const INBOUND_BUFFER_LIMIT = 2 * (MAX_FRAME_LENGTH + 4);
/** Default outbound bytes per client above which pushRecv waits and RecvFrom pushes are dropped. */
export const DEFAULT_OUTBOUND_HIGH_WATER = 1 << 20;
/** Default outbound bytes per client above which the client is disconnected. */
export const DEFAULT_OUTBOUND_HARD_LIMIT = 16 << 20;
/** Default most simultaneous clients; further connections are closed on accept. */
export const DEFAULT_MAX_CLIENTS = 1024;
/** How long {@link IpcServer.close} waits for running requests to notice the abort. */
const SHUTDOWN_GRACE_MS = 2000;
/** How long replies may take to leave after a client hangs up before the socket is closed. */
const EOF_FLUSH_MS = 1000;

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
   * Delivers stream data (split into frames of at most 1 MiB). Resolves true once
   * the client's outbound queue is at or below the high-water mark, false if the
   * client is gone: await it to propagate backpressure to the stream.
   */
  pushRecv(connId: number, data: Uint8Array): Promise<boolean>;
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
 * reference texts (ipc.md §4), e.g. `port 7 already bound`. Send/SendTo failures
 * are sent as unsolicited Errors and get a `send: ` / `sendto: ` prefix when
 * missing, because drivers route them by that text. `signal` aborts when the
 * client goes away, so long operations (dial, registry calls) can stop.
 */
export interface IpcHandler {
  /** Binds `port`; returns the bound port (defaults to `port`). */
  bind?(client: IpcClient, port: number): Awaitable<number | void>;
  /** Opens a stream to `addr:port`, blocking until established; returns the conn id. */
  dial?(client: IpcClient, addr: Address, port: number, signal: AbortSignal): Awaitable<number>;
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

/** Options of {@link IpcServer.listen}. */
export interface IpcServerOptions {
  /** Socket file path (default {@link DEFAULT_SOCKET_PATH}). */
  path?: string;
  handler: IpcHandler;
  logger?: Logger;
  /** Most simultaneous clients (default {@link DEFAULT_MAX_CLIENTS}). */
  maxClients?: number;
  /** Per-client outbound bytes where backpressure starts (default {@link DEFAULT_OUTBOUND_HIGH_WATER}). */
  outboundHighWater?: number;
  /** Per-client outbound bytes that get the client dropped (default {@link DEFAULT_OUTBOUND_HARD_LIMIT}). */
  outboundHardLimit?: number;
}

/** The Error-text prefix the reference uses for each request. */
const LABEL: Record<IpcRequest["cmd"], string> = {
  [Cmd.Bind]: "bind",
  [Cmd.Dial]: "dial",
  [Cmd.Send]: "send",
  [Cmd.Close]: "close",
  [Cmd.SendTo]: "sendto",
  [Cmd.Info]: "info",
  [Cmd.Handshake]: "handshake",
  [Cmd.ResolveHostname]: "resolve_hostname",
  [Cmd.SetHostname]: "set_hostname",
  [Cmd.SetVisibility]: "set_visibility",
  [Cmd.Deregister]: "deregister",
  [Cmd.SetTags]: "set_tags",
  [Cmd.SetWebhook]: "set_webhook",
  [Cmd.SetTaskExec]: "set_task_exec",
  [Cmd.Network]: "network",
  [Cmd.Health]: "health",
};

/** Send errors drivers recognise as unsolicited (ipc.md §3). */
const SEND_ERROR_TEXT = /^(send:|connection \d+ not found$)/;

function unsupported(label: string): IpcError {
  return new IpcError("unknown-command", `${label}: not supported by this daemon`);
}

/** One accepted socket connection. */
class Session implements IpcClient {
  readonly id: number;
  readonly ports = new Set<number>();
  readonly conns = new Set<number>();
  readonly #server: IpcServer;
  readonly #onGone: (session: Session) => void;
  readonly #conn: Deno.Conn;
  readonly #writer: FrameWriter;
  readonly #reader = new FrameReader();
  readonly #abort = new AbortController();
  readonly #log: Logger;
  readonly #hardLimit: number;
  #eof = false;
  #dropped = false;
  #wakeProcessor: (() => void) | null = null;
  #wakeReader: (() => void) | null = null;
  /** Resolves when the session is fully cleaned up (clientGone has run). */
  readonly done: Promise<void>;

  constructor(
    server: IpcServer,
    conn: Deno.Conn,
    id: number,
    limits: { highWater: number; hardLimit: number },
    log: Logger,
    onGone: (session: Session) => void,
  ) {
    this.#server = server;
    this.#onGone = onGone;
    this.#conn = conn;
    this.id = id;
    this.#log = log.child(`client${id}`);
    this.#hardLimit = limits.hardLimit;
    this.#writer = new FrameWriter(conn, limits.highWater, (err) => this.disconnect(err.message));
    this.done = this.#run();
  }

  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  get closed(): boolean {
    return this.#abort.signal.aborted;
  }

  pushAccept(localPort: number, connId: number, remote: Address, remotePort: number): void {
    if (this.closed) return;
    this.conns.add(connId);
    this.#enqueue(encodeReply({ cmd: Cmd.Accept, localPort, connId, remote, remotePort }));
  }

  async pushRecv(connId: number, data: Uint8Array): Promise<boolean> {
    if (this.closed) return false;
    let offset = 0;
    do {
      this.#enqueue(encodeRecvFrame(connId, data.subarray(offset, offset + MAX_SEND_DATA)));
      offset += MAX_SEND_DATA;
    } while (offset < data.length && !this.closed);
    try {
      await this.#writer.ready();
    } catch {
      return false;
    }
    return !this.closed;
  }

  pushRecvFrom(src: Address, srcPort: number, dstPort: number, data: Uint8Array): boolean {
    return this.pushFrame(encodeRecvFromFrame(src, srcPort, dstPort, data));
  }

  /** Queues a prebuilt datagram frame unless the queue is above its high-water mark. */
  pushFrame(frame: Uint8Array): boolean {
    if (this.closed || this.#writer.queuedBytes > this.#server.outboundHighWater) return false;
    this.#enqueue(frame);
    return !this.closed;
  }

  pushCloseOK(connId: number): void {
    if (this.closed) return;
    this.conns.delete(connId);
    this.#enqueue(encodeReply({ cmd: Cmd.CloseOK, connId }));
  }

  disconnect(reason = "disconnected by the daemon"): void {
    if (this.#dropped) return;
    this.#dropped = true;
    this.#log.debug("dropping client", { reason });
    this.#abort.abort(new IpcError("disconnected", reason));
    this.#writer.fail(new IpcError("closed", `client dropped: ${reason}`));
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
    this.#wake();
  }

  #enqueue(frame: Uint8Array): void {
    if (this.#writer.queuedBytes + frame.length > this.#hardLimit) {
      this.disconnect(`outbound queue above ${this.#hardLimit} bytes (client not reading)`);
      return;
    }
    try {
      this.#writer.enqueue(frame);
    } catch {
      // the writer failed; disconnect() has already run via its failure callback
    }
  }

  #wake(): void {
    const p = this.#wakeProcessor;
    const r = this.#wakeReader;
    this.#wakeProcessor = this.#wakeReader = null;
    p?.();
    r?.();
  }

  async #run(): Promise<void> {
    const reading = this.#readLoop();
    try {
      await this.#processLoop();
    } catch (err) {
      this.#log.error("request loop failed", { err });
    }
    if (!this.#dropped) {
      // The client hung up after its last request: give the replies a moment to leave.
      await waitAtMost(this.#writer.flush().catch(() => {}), EOF_FLUSH_MS);
    }
    this.disconnect("session ended");
    await reading;
    this.#onGone(this);
    try {
      await this.#server.handler.clientGone?.(this);
    } catch (err) {
      this.#log.error("clientGone failed", { err });
    }
  }

  async #readLoop(): Promise<void> {
    const chunks = new ChunkReader(this.#conn);
    while (!this.#dropped) {
      if (this.#reader.buffered >= INBOUND_BUFFER_LIMIT) {
        await new Promise<void>((resolve) => this.#wakeReader = resolve);
        continue;
      }
      let chunk: Uint8Array | null;
      try {
        chunk = await chunks.read();
      } catch (err) {
        if (!this.#dropped) this.#log.debug("socket read failed", { err });
        chunk = null;
      }
      if (chunk === null) break;
      this.#reader.push(chunk);
      this.#wake();
    }
    this.#eof = true;
    // Requests already received still run, but anything long (a dial) is abandoned.
    this.#abort.abort(new IpcError("disconnected", "client disconnected"));
    this.#wake();
  }

  async #processLoop(): Promise<void> {
    while (!this.#dropped) {
      let frame: Frame | null;
      try {
        frame = this.#reader.next();
      } catch (err) {
        this.disconnect((err as Error).message);
        return;
      }
      if (frame === null) {
        if (this.#eof) return;
        await new Promise<void>((resolve) => this.#wakeProcessor = resolve);
        continue;
      }
      this.#wakeReader?.();
      await this.#process(frame);
    }
  }

  async #process(frame: Frame): Promise<void> {
    let req: IpcRequest;
    try {
      req = decodeRequest(frame);
    } catch (err) {
      if (!(err instanceof IpcError)) throw err;
      await this.#reply(encodeErrorFrame(err.message));
      return;
    }
    let reply: Uint8Array | null;
    try {
      reply = await this.#dispatch(req);
    } catch (err) {
      reply = encodeErrorFrame(this.#errorText(req, err));
    }
    if (reply) await this.#reply(reply);
  }

  /** Queues a reply, then waits until the client has room again (a client not reading stalls only itself). */
  async #reply(frame: Uint8Array): Promise<void> {
    if (this.#dropped) return;
    this.#enqueue(frame);
    try {
      await this.#writer.ready();
    } catch {
      // writer failed: the client is being dropped
    }
  }

  #errorText(req: IpcRequest, err: unknown): string {
    let text = err instanceof Error ? err.message : String(err);
    if (!(err instanceof PilotError)) {
      this.#log.warn("handler threw a non-pilot error", { cmd: LABEL[req.cmd], err });
    }
    if (req.cmd === Cmd.Send && !SEND_ERROR_TEXT.test(text)) text = `send: ${text}`;
    if (req.cmd === Cmd.SendTo && !text.startsWith("sendto:")) text = `sendto: ${text}`;
    return text;
  }

  /** Runs one request through the handler; returns the reply frame, or null for Send/SendTo. */
  async #dispatch(req: IpcRequest): Promise<Uint8Array | null> {
    const h = this.#server.handler;
    const signal = this.#abort.signal;
    const label = LABEL[req.cmd];
    switch (req.cmd) {
      case Cmd.Bind: {
        if (!h.bind) throw unsupported(label);
        const port = (await h.bind(this, req.port)) ?? req.port;
        this.ports.add(port);
        return encodeReply({ cmd: Cmd.BindOK, port });
      }
      case Cmd.Dial: {
        if (!h.dial) throw unsupported(label);
        const connId = await h.dial(this, req.addr, req.port, signal);
        this.conns.add(connId);
        return encodeReply({ cmd: Cmd.DialOK, connId });
      }
      case Cmd.Send:
        if (!h.send) throw unsupported(label);
        await h.send(this, req.connId, req.data);
        return null;
      case Cmd.Close:
        if (!h.close) throw unsupported(label);
        await h.close(this, req.connId);
        this.conns.delete(req.connId);
        return encodeReply({ cmd: Cmd.CloseOK, connId: req.connId });
      case Cmd.SendTo:
        if (!h.sendTo) throw unsupported(label);
        await h.sendTo(this, req.addr, req.port, req.data);
        return null;
      case Cmd.Info:
        if (!h.info) throw unsupported(label);
        return encodeReply({ cmd: Cmd.InfoOK, body: await h.info(this) });
      case Cmd.Health:
        if (!h.health) throw unsupported(label);
        return encodeReply({ cmd: Cmd.HealthOK, body: await h.health(this) });
      case Cmd.Handshake:
        if (!h.handshake) throw unsupported(label);
        return encodeReply({ cmd: Cmd.HandshakeOK, body: await h.handshake(this, req.op, signal) });
      case Cmd.ResolveHostname:
        if (!h.resolveHostname) throw unsupported(label);
        return encodeReply({
          cmd: Cmd.ResolveHostnameOK,
          body: await h.resolveHostname(this, req.hostname, signal),
        });
      case Cmd.SetHostname:
        if (!h.setHostname) throw unsupported(label);
        return encodeReply({ cmd: Cmd.SetHostnameOK, body: await h.setHostname(this, req.hostname, signal) });
      case Cmd.SetVisibility:
        if (!h.setVisibility) throw unsupported(label);
        return encodeReply({
          cmd: Cmd.SetVisibilityOK,
          body: await h.setVisibility(this, req.public, signal),
        });
      case Cmd.Deregister:
        if (!h.deregister) throw unsupported(label);
        return encodeReply({ cmd: Cmd.DeregisterOK, body: await h.deregister(this, signal) });
      case Cmd.SetTags:
        if (!h.setTags) throw unsupported(label);
        return encodeReply({ cmd: Cmd.SetTagsOK, body: await h.setTags(this, req.tags, signal) });
      case Cmd.SetWebhook:
        if (!h.setWebhook) throw unsupported(label);
        return encodeReply({ cmd: Cmd.SetWebhookOK, body: await h.setWebhook(this, req.url) });
      case Cmd.SetTaskExec:
        if (!h.setTaskExec) throw unsupported(label);
        return encodeReply({ cmd: Cmd.SetTaskExecOK, body: await h.setTaskExec(this, req.enabled, signal) });
      case Cmd.Network:
        if (!h.network) throw unsupported(label);
        return encodeReply({ cmd: Cmd.NetworkOK, body: await h.network(this, req.op, signal) });
    }
  }
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
  /** Per-client outbound high-water mark in bytes. */
  readonly outboundHighWater: number;
  readonly #hardLimit: number;
  readonly #maxClients: number;
  readonly #listener: Deno.Listener;
  readonly #log: Logger;
  readonly #sessions = new Set<Session>();
  #nextId = 1;
  #closing: Promise<void> | null = null;
  readonly #acceptLoop: Promise<void>;

  private constructor(listener: Deno.Listener, path: string, options: IpcServerOptions, log: Logger) {
    this.#listener = listener;
    this.path = path;
    this.handler = options.handler;
    this.#log = log;
    this.#maxClients = options.maxClients ?? DEFAULT_MAX_CLIENTS;
    this.outboundHighWater = options.outboundHighWater ?? DEFAULT_OUTBOUND_HIGH_WATER;
    this.#hardLimit = options.outboundHardLimit ?? DEFAULT_OUTBOUND_HARD_LIMIT;
    this.#acceptLoop = this.#accept();
  }

  /**
   * Listens on `options.path`: removes a stale socket file (refusing with
   * {@link IpcError} `socket-in-use` if a server still answers there), listens,
   * restricts the file to mode 0600 and verifies it (`permissions` otherwise).
   * Between listen and chmod the file briefly has the process umask's mode, as
   * in the reference; keep the socket in a private directory if that matters.
   */
  static async listen(options: IpcServerOptions): Promise<IpcServer> {
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
      await Deno.remove(path).catch(() => {});
      if (err instanceof IpcError) throw err;
      throw new IpcError("permissions", `cannot restrict socket ${path}: ${(err as Error).message}`, {
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

  /**
   * Pushes a datagram to every connected client (ipc.md §4: all clients get every
   * datagram and filter on dst_port themselves). The frame is encoded once.
   * Returns how many clients it was queued for; busy clients are skipped.
   */
  broadcastRecvFrom(src: Address, srcPort: number, dstPort: number, data: Uint8Array): number {
    const frame = encodeRecvFromFrame(src, srcPort, dstPort, data);
    let queued = 0;
    for (const s of this.#sessions) if (s.pushFrame(frame)) queued++;
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
      if (this.#closing || this.#sessions.size >= this.#maxClients) {
        if (!this.#closing) this.#log.warn("too many IPC clients; refusing one", { max: this.#maxClients });
        conn.close();
        continue;
      }
      const limits = { highWater: this.outboundHighWater, hardLimit: this.#hardLimit };
      const session = new Session(
        this,
        conn,
        this.#nextId++,
        limits,
        this.#log,
        (s) => this.#sessions.delete(s),
      );
      this.#sessions.add(session);
    }
  }
}
