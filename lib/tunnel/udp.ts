/**
 * The tunnel's UDP socket, behind one small interface with two bindings (one file each, like
 * wireguard-go's conn/): `linux` (libc through Deno FFI: kernel buffers sized with SO_RCVBUF /
 * SO_SNDBUF, sendmmsg/recvmmsg batches) and `node` (node:dgram, portable). "auto" picks linux
 * when it can load and falls back to node.
 *
 * Why not node:dgram alone: under Deno 2.9 its recvBufferSize/sendBufferSize options never reach
 * the kernel (`ss -uam` still shows the 212992-byte default; only the JS getter reports the
 * doubled value), and the receive path allocates a fresh buffer of the requested size for every
 * datagram, so asking for 4 MiB makes each receive allocate 8 MiB. Sends cost ≈40 µs of CPU each.
 * Deno.listenDatagram needs --unstable-net and cannot size buffers either.
 */
import { PilotError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { Endpoint, HostPort } from "./endpoint.ts";

/** Kernel send/receive buffer the tunnel asks for: room for a full transport window and then some. */
export const SOCKET_BUFFER_BYTES = 4 * 1024 * 1024;
/** Largest UDP payload over IPv4 (65535 − 20 IP − 8 UDP); bigger datagrams are refused locally. */
export const MAX_DATAGRAM_SIZE = 65507;

/** The socket could not be opened (bad listen address, bind failure, binding unavailable). */
export class UdpError extends PilotError {}

/** Which binding carries the socket. */
export type UdpBackend = "linux" | "node";

/** What the socket reports upwards. Handlers must not throw (exceptions are caught and logged). */
export interface UdpHandlers {
  /** One received datagram. `bytes` is valid only during the call (the buffer is reused). */
  onDatagram(bytes: Uint8Array, from: Endpoint): void;
  /** Called after each burst of `onDatagram` calls, so the receiver can process a batch at once. */
  onBatchEnd(): void;
}

/** Send-side counters of a binding. */
export interface UdpCounters {
  /** Datagrams the kernel refused (buffer full, unreachable, wrong family...). */
  sendErrors: number;
  /** Datagrams refused before the kernel: larger than {@link MAX_DATAGRAM_SIZE}. */
  oversize: number;
}

/**
 * An open tunnel socket. `send` copies `head ‖ body` before returning (callers reuse their
 * buffers) and never throws for network trouble: failures land in `counters`. Datagrams may be
 * held until the end of the current task (a microtask flushes them in one system call).
 */
export interface UdpSocket {
  readonly backend: UdpBackend;
  /** The bound address (port resolved when 0 was asked). */
  readonly local: Endpoint;
  /** Kernel buffer sizes as the kernel reports them, when the binding can read them. */
  readonly bufferBytes: { receive?: number; send?: number };
  readonly counters: UdpCounters;
  send(head: Uint8Array | undefined, body: Uint8Array, to: Endpoint): void;
  /** Pushes held datagrams to the kernel now. */
  flush(): void;
  /** Stops receiving and closes the socket; resolves once nothing is left running. */
  close(): Promise<void>;
}

/** Options for {@link openUdpSocket}. */
export interface UdpOptions {
  listen: HostPort;
  /** "auto" (default): linux when available, else node. */
  backend?: UdpBackend | "auto";
  /** Kernel buffer size to ask for (default {@link SOCKET_BUFFER_BYTES}). */
  bufferBytes?: number;
  log?: Logger;
}

/**
 * Opens the tunnel socket on `listen` (an IP literal; "::" binds dual-stack). With backend "auto"
 * the linux binding is tried first and any failure to load it (other OS, no FFI permission, no
 * glibc) falls back to node:dgram; an explicit backend that cannot load throws.
 */
export async function openUdpSocket(options: UdpOptions, handlers: UdpHandlers): Promise<UdpSocket> {
  const backend = options.backend ?? "auto";
  if (backend === "linux" || backend === "auto") {
    const { openLinuxUdpSocket, linuxUdpAvailable } = await import("./udp_linux.ts");
    const why = linuxUdpAvailable();
    if (why === undefined) {
      try {
        return openLinuxUdpSocket(options, handlers);
      } catch (err) {
        if (backend === "linux") throw err;
        options.log?.info("linux UDP binding failed, using node:dgram", { err: String(err) });
      }
    } else if (backend === "linux") {
      throw new UdpError(`linux UDP binding unavailable: ${why}`);
    } else {
      options.log?.debug("linux UDP binding unavailable, using node:dgram", { why });
    }
  }
  const { openNodeUdpSocket } = await import("./udp_node.ts");
  return await openNodeUdpSocket(options, handlers);
}
