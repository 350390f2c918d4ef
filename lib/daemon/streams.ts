/**
 * Connects session-layer streams to IPC clients: which client owns which connection
 * and port, moving received bytes to the owner with backpressure (a client that reads
 * slowly stops the pump, the stream's unread bytes grow and its advertised window
 * closes), writing a client's bytes into a stream as its send buffer frees up, and
 * releasing everything a client held when it goes.
 */
import type { IpcClient } from "./ipc/server.ts";
import type { Listener, SessionManager } from "../transport/manager.ts";
import type { CloseReason, Stream } from "../transport/stream.ts";
import { STREAM_FRAME_DATA } from "../ipc/commands.ts";

/**
 * Most bytes handed to a client in one Recv push: the received segments waiting are gathered into
 * one 64 KiB frame rather than a frame (and an await) per segment.
 */
export const RECV_CHUNK_BYTES = STREAM_FRAME_DATA;
/** Ended connection ids remembered with their reason, so a late Send learns why rather than "not found". */
export const ENDED_CONNECTIONS_REMEMBERED = 1024;

/** What a Send on a connection that ended for `reason` fails with: the cause, never the connection id. */
export function endedText(reason: CloseReason | undefined): string {
  switch (reason) {
    case "reset":
      return "connection reset by peer";
    case "refused":
      return "connection refused";
    case "timeout":
    case "dial-timeout":
      return "connection timed out";
    case "idle":
      return "connection timed out (idle)";
    case "remote":
      return "connection closed by peer";
    case undefined:
      return "connection not established";
    default:
      return "connection closed";
  }
}

interface OwnedStream {
  stream: Stream;
  client: IpcClient;
  pumping: boolean;
  closeSent: boolean;
  writableWaiters: (() => void)[];
}

/** Ownership and data movement between streams and IPC clients. */
export class StreamBridge {
  readonly #manager: SessionManager;
  readonly #conns = new Map<number, OwnedStream>();
  readonly #ports = new Map<number, { listener: Listener; client: IpcClient }>();
  /** Recently ended connections by id, oldest first, with why they ended (bounded). */
  readonly #ended = new Map<number, { client: IpcClient; reason: CloseReason | undefined }>();

  constructor(manager: SessionManager) {
    this.#manager = manager;
  }

  /** Binds `port` for `client`; throws with the reference's text when it is taken. */
  bind(client: IpcClient, port: number): number {
    if (this.#ports.has(port)) throw new Error(`port ${port} already bound`);
    let listener: Listener;
    try {
      listener = this.#manager.listen(port);
    } catch {
      throw new Error(`port ${port} already bound`);
    }
    this.#ports.set(port, { listener, client });
    listener.onConnection = () => {
      for (let s = listener.accept(); s; s = listener.accept()) {
        if (client.closed) {
          s.abort();
          continue;
        }
        this.adopt(client, s);
        client.pushAccept(port, s.id, s.remoteAddr, s.remotePort);
        this.#pump(this.#conns.get(s.id)!);
      }
    };
    return port;
  }

  /** Makes `client` the owner of an open `stream` (accepted, or dialed by the dialer) and forwards its data. */
  adopt(client: IpcClient, stream: Stream): void {
    const owned: OwnedStream = { stream, client, pumping: false, closeSent: false, writableWaiters: [] };
    this.#conns.set(stream.id, owned);
    stream.onReadable = () => this.#pump(owned);
    stream.onWritable = () => this.#wakeWriters(owned);
    stream.onClose = () => {
      this.#wakeWriters(owned);
      this.#pump(owned);
    };
  }

  /** Starts forwarding a dialed stream's data (after DialOK went out). */
  start(connId: number): void {
    const owned = this.#conns.get(connId);
    if (owned) this.#pump(owned);
  }

  /** Writes all of `data` to a connection the client owns, waiting for send-buffer room. */
  async send(client: IpcClient, connId: number, data: Uint8Array): Promise<void> {
    const owned = this.#conns.get(connId);
    if (!owned || owned.client !== client) {
      const ended = this.#ended.get(connId);
      if (ended?.client === client) throw new Error(endedText(ended.reason));
      throw new Error(`connection ${connId} not found`);
    }
    let offset = 0;
    while (offset < data.length) {
      if (!owned.stream.writable) throw new Error(endedText(owned.stream.closeReason));
      offset += owned.stream.write(offset === 0 ? data : data.subarray(offset));
      if (offset < data.length) {
        await new Promise<void>((resolve) => owned.writableWaiters.push(resolve));
        if (client.closed) return;
      }
    }
  }

  /** Closes a connection the client owns (unknown ids are fine). */
  close(client: IpcClient, connId: number): void {
    const owned = this.#conns.get(connId);
    if (!owned || owned.client !== client) return this.#closeForeign(connId);
    owned.closeSent = true; // the server answers Close with CloseOK itself
    this.#forget(owned);
    owned.stream.close();
    this.#wakeWriters(owned);
  }

  /**
   * The administrative close (`pilot disconnect`): a connection another client or a built-in
   * service holds is closed as the reference closes any id it knows. Its owner sees the end of
   * the stream (CloseOK) as for a remote close.
   */
  #closeForeign(connId: number): void {
    this.#manager.getConnection(connId)?.close();
  }

  /** Releases every port and connection `client` held. */
  release(client: IpcClient): void {
    for (const [id, owned] of this.#conns) {
      if (owned.client !== client) continue;
      this.#conns.delete(id);
      this.#ended.delete(id);
      owned.stream.close();
      this.#wakeWriters(owned);
    }
    for (const [port, bound] of this.#ports) {
      if (bound.client !== client) continue;
      this.#ports.delete(port);
      this.#manager.unlisten(bound.listener);
    }
  }

  /** Number of ports bound through IPC. */
  get boundPorts(): number {
    return this.#ports.size;
  }

  /** Whether `port` is taken by an IPC client. */
  isBound(port: number): boolean {
    return this.#ports.has(port);
  }

  async #pump(owned: OwnedStream): Promise<void> {
    if (owned.pumping) return;
    owned.pumping = true;
    try {
      const { stream, client } = owned;
      for (;;) {
        const first = stream.read(RECV_CHUNK_BYTES);
        if (!first) break;
        let parts: Uint8Array | Uint8Array[] = first;
        let room = RECV_CHUNK_BYTES - first.length;
        for (
          let more = room > 0 ? stream.read(room) : null;
          more;
          more = room > 0 ? stream.read(room) : null
        ) {
          if (parts instanceof Uint8Array) parts = [parts];
          parts.push(more);
          room -= more.length;
        }
        if (!await client.pushRecv(stream.id, parts)) return;
      }
      const ended = stream.eof || stream.state === "CLOSED" || stream.state === "TIME_WAIT" ||
        stream.closeReason !== undefined;
      if (ended && !owned.closeSent) {
        owned.closeSent = true;
        this.#forget(owned);
        client.pushCloseOK(stream.id);
      }
    } finally {
      owned.pumping = false;
    }
    // Data that arrived while the last push was waiting.
    if (owned.stream.readableLength > 0 && !owned.client.closed) this.#pump(owned);
  }

  /** Drops a connection from the table, remembering why it ended for Sends still on their way. */
  #forget(owned: OwnedStream): void {
    const id = owned.stream.id;
    this.#conns.delete(id);
    this.#ended.delete(id);
    this.#ended.set(id, { client: owned.client, reason: owned.stream.closeReason ?? "local" });
    if (this.#ended.size > ENDED_CONNECTIONS_REMEMBERED) this.#ended.delete(this.#ended.keys().next().value!);
  }

  #wakeWriters(owned: OwnedStream): void {
    const waiters = owned.writableWaiters;
    owned.writableWaiters = [];
    for (const w of waiters) w();
  }
}
