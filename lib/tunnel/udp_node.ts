/**
 * Portable UDP binding over node:dgram, used where the linux binding cannot load. Known limits
 * under Deno 2.9 (measured, see udp.ts): the kernel buffers stay at the system default, and sends
 * cost ≈40 µs of CPU each. The buffer-size options are deliberately not passed: Deno's polyfill
 * would not forward them to the kernel but would allocate a receive buffer of that size for every
 * datagram.
 */
import dgram from "node:dgram";
import type { Logger } from "../log.ts";
import { Endpoint } from "./endpoint.ts";
import {
  MAX_DATAGRAM_SIZE,
  type UdpCounters,
  UdpError,
  type UdpHandlers,
  type UdpOptions,
  type UdpSocket,
} from "./udp.ts";

/** Distinct source endpoints remembered before the cache is reset. */
const ENDPOINT_CACHE_LIMIT = 4096;

/** Opens and binds a node:dgram socket. Throws {@link UdpError} when binding fails. */
export async function openNodeUdpSocket(options: UdpOptions, handlers: UdpHandlers): Promise<UdpSocket> {
  const listen = Endpoint.of(options.listen.host, options.listen.port);
  const socket = dgram.createSocket({ type: listen.isIPv4 ? "udp4" : "udp6", ipv6Only: false });
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.bind(listen.port, listen.host, () => {
        socket.off("error", reject);
        resolve();
      });
    });
  } catch (err) {
    socket.close();
    throw new UdpError(`cannot bind UDP ${listen.key}: ${String(err)}`, { cause: err });
  }
  return new NodeUdpSocket(socket, listen, handlers, options.log);
}

class NodeUdpSocket implements UdpSocket {
  readonly backend = "node" as const;
  readonly local: Endpoint;
  readonly bufferBytes = {};
  readonly counters: UdpCounters = { sendErrors: 0, oversize: 0 };
  readonly #socket: dgram.Socket;
  readonly #ipv6: boolean;
  readonly #cache = new Map<string, Endpoint>();
  readonly #handlers: UdpHandlers;
  readonly #log?: Logger;
  #batchScheduled = false;
  #closed = false;
  #closing?: Promise<void>;

  constructor(socket: dgram.Socket, listen: Endpoint, handlers: UdpHandlers, log?: Logger) {
    this.#socket = socket;
    this.#handlers = handlers;
    this.#log = log;
    this.#ipv6 = !listen.isIPv4;
    const bound = socket.address();
    this.local = Endpoint.of(bound.address, bound.port);
    socket.on("error", (err) => log?.warn("UDP socket error", { err: String(err) }));
    socket.on("message", (msg: Uint8Array, rinfo: dgram.RemoteInfo) => this.#onMessage(msg, rinfo));
  }

  #onMessage(msg: Uint8Array, rinfo: dgram.RemoteInfo): void {
    const key = `${rinfo.address}/${rinfo.port}`;
    let from = this.#cache.get(key);
    if (from === undefined) {
      try {
        from = Endpoint.of(rinfo.address, rinfo.port);
      } catch {
        return; // e.g. a scoped IPv6 source: not an address we can answer through the tunnel
      }
      if (this.#cache.size >= ENDPOINT_CACHE_LIMIT) this.#cache.clear();
      this.#cache.set(key, from);
    }
    try {
      this.#handlers.onDatagram(new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength), from);
    } catch (err) {
      this.#log?.warn("datagram handler threw", { err: String(err) });
    }
    if (!this.#batchScheduled) {
      this.#batchScheduled = true;
      queueMicrotask(this.#endBatch);
    }
  }

  readonly #endBatch = (): void => {
    this.#batchScheduled = false;
    try {
      this.#handlers.onBatchEnd();
    } catch (err) {
      this.#log?.warn("batch handler threw", { err: String(err) });
    }
  };

  send(head: Uint8Array | undefined, body: Uint8Array, to: Endpoint): void {
    const headLength = head === undefined ? 0 : head.length;
    const length = headLength + body.length;
    if (length > MAX_DATAGRAM_SIZE) {
      this.counters.oversize++;
      return;
    }
    if (this.#closed || (!this.#ipv6 && !to.isIPv4)) {
      this.counters.sendErrors++;
      return;
    }
    // node:dgram reads the buffer after an asynchronous address lookup, so it gets its own copy.
    const datagram = new Uint8Array(length);
    if (head !== undefined) datagram.set(head);
    datagram.set(body, headLength);
    const host = this.#ipv6 && to.isIPv4 ? `::ffff:${to.host}` : to.host;
    try {
      this.#socket.send(datagram, to.port, host, (err) => {
        if (err) this.counters.sendErrors++;
      });
    } catch {
      this.counters.sendErrors++;
    }
  }

  flush(): void {
    // Every send is already handed to the runtime.
  }

  close(): Promise<void> {
    if (!this.#closing) {
      this.#closed = true;
      this.#closing = new Promise<void>((resolve) => this.#socket.close(() => resolve()));
    }
    return this.#closing;
  }
}
