/**
 * Linux UDP binding over libc through Deno FFI (x86_64 and aarch64, glibc). It exists for two
 * things node:dgram cannot do under Deno: size the kernel buffers (SO_RCVBUF/SO_SNDBUF, so a full
 * transport window fits and bursts are not dropped at the socket) and move datagrams in batches
 * (one sendmmsg per task turn, recvmmsg of up to {@link RECV_BATCH} per wake-up), which measured
 * ≈10 µs of CPU per datagram end to end against ≈58 µs for node:dgram (docs/benchmarks.md).
 *
 * Memory safety: every structure the kernel reads or writes (mmsghdr, iovec, sockaddr, pollfd and
 * the datagram slots) lives in two ArrayBuffers allocated once per socket and kept referenced by
 * the socket object, so their addresses are stable; pointers into them are written once at setup.
 * The blocking wait is a `poll` on an FFI worker thread over the socket and an eventfd; `close`
 * writes the eventfd, waits for that poll to return, and only then closes the descriptors and the
 * library, so no thread ever touches a closed descriptor or freed memory.
 */
import { linuxFfiUnavailable } from "../ffi.ts";
import type { Logger } from "../log.ts";
import { Endpoint } from "./endpoint.ts";
import {
  MAX_DATAGRAM_SIZE,
  SOCKET_BUFFER_BYTES,
  type UdpCounters,
  UdpError,
  type UdpHandlers,
  type UdpOptions,
  type UdpSocket,
} from "./udp.ts";

/** Datagrams taken per recvmmsg call. */
export const RECV_BATCH = 64;
/** Datagrams held for one sendmmsg call; a full batch is sent at once. */
export const SEND_BATCH = 64;
/** recvmmsg rounds per poll wake-up before yielding to the event loop (so decrypts and timers run). */
const MAX_DRAIN_ROUNDS = 4;
/** Bytes per datagram slot: any UDP payload fits. */
const SLOT_SIZE = 65536;
/** Consecutive poll failures tolerated before backing off, so a broken descriptor cannot spin. */
const POLL_FAILURE_BACKOFF_AFTER = 16;
const POLL_BACKOFF_MS = 10;

const LIBC_NAMES = ["libc.so.6"];

// Linux constants shared by x86_64 and aarch64 (asm-generic values).
const AF_INET = 2;
const AF_INET6 = 10;
const SOCK_DGRAM = 2;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SO_SNDBUF = 7;
const SO_RCVBUF = 8;
const IPPROTO_IPV6 = 41;
const IPV6_V6ONLY = 26;
const MSG_DONTWAIT = 0x40;
const MSG_TRUNC = 0x20;
const POLLIN = 0x1;
const EFD_NONBLOCK = 0o4000;
const EFD_CLOEXEC = 0o2000000;
const EINTR = 4;
const EAGAIN = 11;

// LP64 layouts: struct mmsghdr { struct msghdr (56 bytes); unsigned msg_len; } padded to 64.
const MMSGHDR_SIZE = 64;
const MSG_NAME = 0;
const MSG_NAMELEN = 8;
const MSG_IOV = 16;
const MSG_IOVLEN = 24;
const MSG_FLAGS = 48;
const MSG_LEN = 56;
const IOVEC_SIZE = 16;
const IOV_LEN = 8;
/** Room for a sockaddr_in6 (28 bytes), rounded up. */
const NAME_SIZE = 32;
const SOCKADDR_IN_SIZE = 16;
const SOCKADDR_IN6_SIZE = 28;
const POLLFD_SIZE = 8;
const POLL_EVENTS = 4;
const U32_SIZE = 4;
const EVENTFD_WORD = 8;

const SYMBOLS = {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  sendmmsg: { parameters: ["i32", "buffer", "u32", "i32"], result: "i32" },
  recvmmsg: { parameters: ["i32", "buffer", "u32", "i32", "pointer"], result: "i32" },
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32", nonblocking: true },
  eventfd: { parameters: ["u32", "i32"], result: "i32" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  close: { parameters: ["i32"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
} as const;

type Libc = Deno.DynamicLibrary<typeof SYMBOLS>;

/** Why the binding cannot be used here, or undefined when it can. */
export function linuxUdpAvailable(): string | undefined {
  const why = linuxFfiUnavailable();
  if (why) return why;
  if (Deno.build.arch !== "x86_64" && Deno.build.arch !== "aarch64") return `arch ${Deno.build.arch}`;
  return undefined;
}

/** Opens and binds the socket synchronously. Throws {@link UdpError} when any step fails. */
export function openLinuxUdpSocket(options: UdpOptions, handlers: UdpHandlers): UdpSocket {
  const lib = loadLibc();
  try {
    return new LinuxUdpSocket(lib, options, handlers);
  } catch (err) {
    lib.close();
    throw err;
  }
}

function loadLibc(): Libc {
  let last: unknown;
  for (const name of LIBC_NAMES) {
    try {
      return Deno.dlopen(name, SYMBOLS);
    } catch (err) {
      last = err;
    }
  }
  throw new UdpError(`cannot load libc: ${String(last)}`, { cause: last });
}

/** Absolute address of `buffer`'s first byte. */
function addressOf(buffer: Uint8Array): bigint {
  const ptr = Deno.UnsafePointer.of(buffer);
  if (ptr === null) throw new UdpError("cannot take the address of a buffer");
  return BigInt(Deno.UnsafePointer.value(ptr));
}

/** One direction's kernel-visible memory: mmsghdr[n] ‖ iovec[n] ‖ names[n] ‖ slots[n]. */
class MessageArena {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  readonly headers: Uint8Array;
  readonly namesAt: number;
  readonly slotsAt: number;

  constructor(readonly count: number, extra = 0) {
    const iovAt = count * MMSGHDR_SIZE;
    this.namesAt = iovAt + count * IOVEC_SIZE;
    this.slotsAt = this.namesAt + count * NAME_SIZE;
    this.bytes = new Uint8Array(this.slotsAt + count * SLOT_SIZE + extra);
    this.view = new DataView(this.bytes.buffer);
    this.headers = this.bytes.subarray(0, iovAt);
    const base = addressOf(this.bytes);
    for (let i = 0; i < count; i++) {
      const h = i * MMSGHDR_SIZE;
      const iov = iovAt + i * IOVEC_SIZE;
      this.view.setBigUint64(h + MSG_NAME, base + BigInt(this.namesAt + i * NAME_SIZE), true);
      this.view.setUint32(h + MSG_NAMELEN, NAME_SIZE, true);
      this.view.setBigUint64(h + MSG_IOV, base + BigInt(iov), true);
      this.view.setBigUint64(h + MSG_IOVLEN, 1n, true);
      this.view.setBigUint64(iov, base + BigInt(this.slotsAt + i * SLOT_SIZE), true);
      this.view.setBigUint64(iov + IOV_LEN, BigInt(SLOT_SIZE), true);
    }
  }

  /** Byte offset of message `i`'s header / name / data slot. */
  header(i: number): number {
    return i * MMSGHDR_SIZE;
  }
  name(i: number): number {
    return this.namesAt + i * NAME_SIZE;
  }
  slot(i: number): number {
    return this.slotsAt + i * SLOT_SIZE;
  }
  iov(i: number): number {
    return this.count * MMSGHDR_SIZE + i * IOVEC_SIZE;
  }
}

class LinuxUdpSocket implements UdpSocket {
  readonly backend = "linux" as const;
  readonly local: Endpoint;
  readonly bufferBytes: { receive?: number; send?: number };
  readonly counters: UdpCounters = { sendErrors: 0, oversize: 0 };
  readonly #lib: Libc;
  readonly #fns: Libc["symbols"];
  readonly #handlers: UdpHandlers;
  readonly #log?: Logger;
  readonly #fd: number;
  readonly #eventFd: number;
  readonly #ipv6: boolean;
  readonly #rx = new MessageArena(RECV_BATCH, 2 * POLLFD_SIZE);
  readonly #tx = new MessageArena(SEND_BATCH);
  readonly #pollFds: Uint8Array;
  readonly #v4Cache = new Map<number, Endpoint>();
  readonly #v6Cache = new Map<string, Endpoint>();
  #pending = 0;
  #flushScheduled = false;
  #closed = false;
  readonly #loop: Promise<void>;

  constructor(lib: Libc, options: UdpOptions, handlers: UdpHandlers) {
    this.#lib = lib;
    this.#fns = lib.symbols;
    this.#handlers = handlers;
    this.#log = options.log;
    const listen = Endpoint.of(options.listen.host, options.listen.port);
    this.#ipv6 = !listen.isIPv4;
    const fd = this.#fns.socket(
      this.#ipv6 ? AF_INET6 : AF_INET,
      SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
      0,
    );
    if (fd < 0) throw new UdpError(`socket() failed: errno ${this.#errno()}`);
    this.#fd = fd;
    try {
      const want = options.bufferBytes ?? SOCKET_BUFFER_BYTES;
      this.#setInt(SOL_SOCKET, SO_RCVBUF, want);
      this.#setInt(SOL_SOCKET, SO_SNDBUF, want);
      if (this.#ipv6) this.#setInt(IPPROTO_IPV6, IPV6_V6ONLY, 0);
      const name = new Uint8Array(NAME_SIZE);
      const nameLength = writeSockaddr(name, new DataView(name.buffer), 0, listen, this.#ipv6);
      if (this.#fns.bind(fd, name, nameLength) !== 0) {
        throw new UdpError(`cannot bind UDP ${listen.key}: errno ${this.#errno()}`);
      }
      const length = new Uint32Array([NAME_SIZE]);
      if (this.#fns.getsockname(fd, name, new Uint8Array(length.buffer)) !== 0) {
        throw new UdpError(`getsockname() failed: errno ${this.#errno()}`);
      }
      this.local = readSockaddr(name, 0) ?? listen;
      this.bufferBytes = {
        receive: this.#getInt(SOL_SOCKET, SO_RCVBUF),
        send: this.#getInt(SOL_SOCKET, SO_SNDBUF),
      };
      const efd = this.#fns.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
      if (efd < 0) throw new UdpError(`eventfd() failed: errno ${this.#errno()}`);
      this.#eventFd = efd;
    } catch (err) {
      this.#fns.close(fd);
      throw err;
    }
    const pollAt = this.#rx.bytes.length - 2 * POLLFD_SIZE;
    this.#pollFds = this.#rx.bytes.subarray(pollAt);
    const pv = this.#rx.view;
    pv.setInt32(pollAt, this.#fd, true);
    pv.setInt16(pollAt + POLL_EVENTS, POLLIN, true);
    pv.setInt32(pollAt + POLLFD_SIZE, this.#eventFd, true);
    pv.setInt16(pollAt + POLLFD_SIZE + POLL_EVENTS, POLLIN, true);
    this.#loop = this.#receiveLoop();
  }

  send(head: Uint8Array | undefined, body: Uint8Array, to: Endpoint): void {
    if (this.#closed) {
      this.counters.sendErrors++;
      return;
    }
    const headLength = head === undefined ? 0 : head.length;
    const length = headLength + body.length;
    if (length > MAX_DATAGRAM_SIZE) {
      this.counters.oversize++;
      return;
    }
    const tx = this.#tx;
    const i = this.#pending;
    const nameLength = writeSockaddr(tx.bytes, tx.view, tx.name(i), to, this.#ipv6);
    if (nameLength === 0) {
      this.counters.sendErrors++; // IPv6 destination on an IPv4 socket
      return;
    }
    const slot = tx.slot(i);
    if (head !== undefined) tx.bytes.set(head, slot);
    tx.bytes.set(body, slot + headLength);
    tx.view.setUint32(tx.header(i) + MSG_NAMELEN, nameLength, true);
    tx.view.setUint32(tx.iov(i) + IOV_LEN, length, true);
    this.#pending = i + 1;
    if (this.#pending === SEND_BATCH) {
      this.flush();
    } else if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      queueMicrotask(this.#flushTask);
    }
  }

  readonly #flushTask = (): void => {
    this.#flushScheduled = false;
    this.flush();
  };

  flush(): void {
    const count = this.#pending;
    this.#pending = 0;
    if (count === 0 || this.#closed) {
      if (this.#closed) this.counters.sendErrors += count;
      return;
    }
    let next = 0;
    while (next < count) {
      const sent = this.#fns.sendmmsg(
        this.#fd,
        this.#tx.headers.subarray(next * MMSGHDR_SIZE),
        count - next,
        MSG_DONTWAIT,
      );
      if (sent > 0) {
        next += sent;
        continue;
      }
      const errno = this.#errno();
      if (errno === EINTR) continue;
      if (errno === EAGAIN) {
        // Send buffer full: the rest of the batch is lost, as the network would lose it.
        this.counters.sendErrors += count - next;
        return;
      }
      // This datagram was refused (unreachable, bad address...): skip it and send the rest.
      this.counters.sendErrors++;
      next++;
    }
  }

  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#pending = 0;
      const one = new Uint8Array(EVENTFD_WORD);
      one[0] = 1;
      this.#fns.write(this.#eventFd, one, BigInt(EVENTFD_WORD));
    }
    return this.#loop;
  }

  async #receiveLoop(): Promise<void> {
    let failures = 0;
    try {
      while (!this.#closed) {
        const ready = await this.#fns.poll(this.#pollFds, 2n, -1);
        if (this.#closed) break;
        if (ready < 0) {
          // errno lives on the worker thread: only EINTR is expected here; back off if it persists.
          if (++failures >= POLL_FAILURE_BACKOFF_AFTER) {
            await new Promise((resolve) => setTimeout(resolve, POLL_BACKOFF_MS));
          }
          continue;
        }
        failures = 0;
        for (let round = 0; round < MAX_DRAIN_ROUNDS && !this.#closed; round++) {
          if (this.#drain() < RECV_BATCH) break;
        }
        // Replies (ACKs, SYN+ACKs, echoes) queued by the handlers go before the poll is re-armed:
        // handing the poll to the worker thread first delayed them by a thread dispatch.
        this.flush();
      }
    } finally {
      this.#fns.close(this.#fd);
      this.#fns.close(this.#eventFd);
      this.#lib.close();
    }
  }

  /** One recvmmsg; hands each datagram up, then ends the batch. Returns the number received. */
  #drain(): number {
    const rx = this.#rx;
    const received = this.#fns.recvmmsg(this.#fd, rx.headers, RECV_BATCH, MSG_DONTWAIT, null);
    if (received <= 0) {
      if (received < 0) {
        const errno = this.#errno();
        if (errno !== EAGAIN && errno !== EINTR) this.#log?.debug("recvmmsg failed", { errno });
      }
      return 0;
    }
    for (let i = 0; i < received; i++) {
      const h = rx.header(i);
      const length = rx.view.getUint32(h + MSG_LEN, true);
      const truncated = (rx.view.getInt32(h + MSG_FLAGS, true) & MSG_TRUNC) !== 0;
      const from = this.#sourceOf(rx.name(i));
      rx.view.setUint32(h + MSG_NAMELEN, NAME_SIZE, true);
      if (truncated || from === undefined) continue;
      const slot = rx.slot(i);
      try {
        this.#handlers.onDatagram(rx.bytes.subarray(slot, slot + length), from);
      } catch (err) {
        this.#log?.warn("datagram handler threw", { err: String(err) });
      }
    }
    try {
      this.#handlers.onBatchEnd();
    } catch (err) {
      this.#log?.warn("batch handler threw", { err: String(err) });
    }
    return received;
  }

  /** The Endpoint of the sockaddr at `at`, from a per-socket cache (no allocation for known peers). */
  #sourceOf(at: number): Endpoint | undefined {
    const b = this.#rx.bytes;
    const family = b[at] | (b[at + 1] << 8);
    const port = (b[at + 2] << 8) | b[at + 3];
    let v4At = -1;
    if (family === AF_INET) v4At = at + 4;
    else if (family === AF_INET6 && isMapped(b, at + 8)) v4At = at + 20;
    else if (family !== AF_INET6) return undefined;
    if (v4At >= 0) {
      const key = ((b[v4At] << 24) | (b[v4At + 1] << 16) | (b[v4At + 2] << 8) | b[v4At + 3]) >>> 0;
      const cacheKey = key * 65536 + port;
      let endpoint = this.#v4Cache.get(cacheKey);
      if (endpoint === undefined) {
        endpoint = Endpoint.fromBytes(b.subarray(v4At, v4At + 4), port);
        if (this.#v4Cache.size >= ENDPOINT_CACHE_LIMIT) this.#v4Cache.clear();
        this.#v4Cache.set(cacheKey, endpoint);
      }
      return endpoint;
    }
    const ip = b.subarray(at + 8, at + 24);
    const cacheKey = `${ip.join(",")}/${port}`;
    let endpoint = this.#v6Cache.get(cacheKey);
    if (endpoint === undefined) {
      endpoint = Endpoint.fromBytes(ip, port);
      if (this.#v6Cache.size >= ENDPOINT_CACHE_LIMIT) this.#v6Cache.clear();
      this.#v6Cache.set(cacheKey, endpoint);
    }
    return endpoint;
  }

  #setInt(level: number, option: number, value: number): void {
    const v = new Int32Array([value]);
    if (this.#fns.setsockopt(this.#fd, level, option, new Uint8Array(v.buffer), U32_SIZE) !== 0) {
      throw new UdpError(`setsockopt(${level}, ${option}) failed: errno ${this.#errno()}`);
    }
  }

  #getInt(level: number, option: number): number | undefined {
    const v = new Int32Array(1);
    const length = new Uint32Array([U32_SIZE]);
    const ok = this.#fns.getsockopt(
      this.#fd,
      level,
      option,
      new Uint8Array(v.buffer),
      new Uint8Array(length.buffer),
    );
    return ok === 0 ? v[0] : undefined;
  }

  #errno(): number {
    const at = this.#fns.__errno_location();
    return at === null ? 0 : new Deno.UnsafePointerView(at).getInt32();
  }
}

/** Distinct source endpoints remembered per socket before the cache is reset. */
const ENDPOINT_CACHE_LIMIT = 4096;

const MAPPED_PREFIX_LENGTH = 10;

function isMapped(b: Uint8Array, at: number): boolean {
  for (let i = 0; i < MAPPED_PREFIX_LENGTH; i++) if (b[at + i] !== 0) return false;
  return b[at + 10] === 0xff && b[at + 11] === 0xff;
}

/**
 * Writes `to` as a sockaddr for a socket of the given family at `bytes[at..]`; returns its length,
 * or 0 when an IPv4 socket is asked to reach an IPv6 address. IPv4 peers of a dual-stack socket
 * are written IPv4-mapped. `view` must cover the same memory as `bytes`.
 */
function writeSockaddr(
  bytes: Uint8Array,
  view: DataView,
  at: number,
  to: Endpoint,
  ipv6Socket: boolean,
): number {
  if (!ipv6Socket) {
    if (!to.isIPv4) return 0;
    bytes.fill(0, at, at + SOCKADDR_IN_SIZE);
    view.setUint16(at, AF_INET, true);
    view.setUint16(at + 2, to.port, false);
    bytes.set(to.ip, at + 4);
    return SOCKADDR_IN_SIZE;
  }
  bytes.fill(0, at, at + SOCKADDR_IN6_SIZE);
  view.setUint16(at, AF_INET6, true);
  view.setUint16(at + 2, to.port, false);
  if (to.isIPv4) {
    bytes[at + 18] = 0xff;
    bytes[at + 19] = 0xff;
    bytes.set(to.ip, at + 20);
  } else {
    bytes.set(to.ip, at + 8);
  }
  return SOCKADDR_IN6_SIZE;
}

/** Reads a sockaddr_in/in6 at `at` (as getsockname fills it). */
function readSockaddr(b: Uint8Array, at: number): Endpoint | undefined {
  const family = b[at] | (b[at + 1] << 8);
  const port = (b[at + 2] << 8) | b[at + 3];
  if (family === AF_INET) return Endpoint.fromBytes(b.subarray(at + 4, at + 8), port);
  if (family === AF_INET6) return Endpoint.fromBytes(b.subarray(at + 8, at + 24), port);
  return undefined;
}
