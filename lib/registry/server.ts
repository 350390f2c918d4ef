/**
 * The registry's socket layer: a TCP or TLS listener that splits each connection
 * into frames (wire.ts), hands every request to a `RequestHandler` and writes its
 * reply, strictly one request at a time per connection. It enforces the
 * connection-level limits (connection count, request size, idle and half-frame
 * deadlines, slow readers) and never lets one connection's failure reach another.
 * @module
 */
import {
  decodeBody,
  encodeFrame,
  FrameReader,
  MAX_REPLY_BODY,
  MAX_REQUEST_BODY,
  type WireMessage,
} from "./wire.ts";
import type { RegistryWireError } from "./errors.ts";
import { assertJsonDepth, JsonNestingError, MAX_JSON_DEPTH } from "./canonical_json.ts";
import { Logger } from "../log.ts";
import { formatIPv4, formatIPv6, parseIP, unmapIPv4 } from "../net/ip.ts";
import { settleQuietly } from "../errors.ts";
import { InboundPool } from "../net/inbound_pool.ts";

/** Default cap on open connections (the reference allows 100 000; ours is sized for one process). */
export const DEFAULT_MAX_CONNECTIONS = 10_000;
/**
 * Default cap on open connections from one IP address, loopback included: each daemon holds
 * one, so this is the number of nodes one NAT address can carry (a fifth of the global cap).
 */
export const DEFAULT_MAX_CONNECTIONS_PER_SOURCE = 2_048;
/** A connection with no request for this long is closed (the reference's idle deadline). */
export const DEFAULT_IDLE_TIMEOUT_MS = 5 * 60_000;
/**
 * A frame must be complete within this time of its first byte, however the bytes trickle in
 * (defeats slow-drip clients; docs/compat.md).
 */
export const DEFAULT_FRAME_TIMEOUT_MS = 30_000;
/** A reply must be written within this time, else the peer is treated as gone. */
export const DEFAULT_WRITE_TIMEOUT_MS = 30_000;
/**
 * Bytes of an unfinished request a connection may hold on its own. Every common request fits (a
 * registration or a signed write is 0.3–2 KB); a larger one draws the rest from the pool all
 * connections share, so that thousands of connections each holding most of a 64 KiB request
 * cannot take hundreds of MiB (measured: 2,000 such connections from one address, +161 MiB).
 */
export const REQUEST_ALLOWANCE = 4 * 1024;
/** Default bytes of unfinished requests all connections together may hold beyond their allowance. */
export const DEFAULT_INPUT_POOL = 16 << 20;
/**
 * First size of a connection's read buffer: an idle connection holds no more than this. Every
 * common request (0.1–1 KB) arrives in one read and is parsed in place.
 */
const READ_CHUNK_MIN = 1024;
/** A read buffer that a read fills completely is doubled, up to this size. */
const READ_CHUNK_MAX = 64 * 1024;
/**
 * Deadlines are checked on a grid of at most this step: a connection is closed within one step
 * after its deadline, and deadlines in the same step are checked in one wake-up.
 */
const MAX_SWEEP_STEP_MS = 1_000;

/** Who sent a request. */
export interface Peer {
  /** Remote IP as text. */
  ip: string;
  port: number;
  /** Unique per connection, for per-connection rate limiting. */
  connId: number;
  tls: boolean;
}

/** Processes one decoded request and produces the reply frame's object. Must not throw for bad input. */
export type RequestHandler = (request: WireMessage, peer: Peer) => Promise<WireMessage>;

/** Listener settings. */
export interface ServerOptions {
  hostname: string;
  port: number;
  /** PEM certificate chain and key: when set, the listener speaks TLS. */
  tls?: { cert: string; key: string };
  maxConnections?: number;
  maxConnectionsPerSource?: number;
  idleTimeoutMs?: number;
  frameTimeoutMs?: number;
  writeTimeoutMs?: number;
  /** Bytes of unfinished requests shared beyond each connection's allowance (default {@link DEFAULT_INPUT_POOL}). */
  inputPool?: number;
  logger?: Logger;
}

/** Connection-level counters, for /metrics. */
export interface ServerStats {
  accepted: number;
  /** Refused at once: the global connection cap was reached. */
  rejectedOverLimit: number;
  /** Refused at once: the source address already held its share of connections. */
  rejectedPerSource: number;
  open: number;
  requests: number;
  badFrames: number;
  /** Requests refused for nesting deeper than MAX_JSON_DEPTH (the connection stays open). */
  tooDeep: number;
  /** Closed for exceeding a deadline (the sum of the three below). */
  timeouts: number;
  /** Closed: no request within the idle limit. */
  idleTimeouts: number;
  /** Closed: a frame not complete within the frame deadline of its first byte. */
  frameTimeouts: number;
  /** Closed: a reply not taken within the write deadline. */
  writeTimeouts: number;
  /** Times a connection receiving a large request waited for room in the shared input pool. */
  inputPoolWaits: number;
  /** Bytes of the shared input pool held now by unfinished large requests. */
  readonly inputPoolBytes: number;
}

/** What a connection is waiting for, which decides the deadline that applies to it. */
type ConnPhase = "idle" | "frame" | "write";

interface ConnState {
  id: number;
  conn: Deno.Conn;
  /** Remote IP (IPv6: its /64), the key of the per-source cap. */
  source: string;
  /** Time after which the connection is closed; set when a phase starts, never moved by bytes. */
  deadline: number;
  phase: ConnPhase;
  closed: boolean;
  reason: string;
  /** Bytes of the shared input pool this connection's unfinished request holds. */
  held: number;
  /** Ends a wait for pool room when the connection is dropped. */
  wake: (() => void) | null;
}

/**
 * The key the per-source cap counts under: an IPv4 address (IPv4-mapped IPv6 unmapped), or
 * an IPv6 /64, since one host is usually handed a whole /64 and could spread over it.
 */
export function connectionSource(ip: string): string {
  try {
    const bytes = unmapIPv4(parseIP(ip.split("%")[0]));
    if (bytes.length === 4) return formatIPv4(bytes);
    const prefix = new Uint8Array(16);
    prefix.set(bytes.subarray(0, 8));
    return `${formatIPv6(prefix)}/64`;
  } catch {
    return ip;
  }
}

/** An error reply in the reference's shape plus our `code`. */
export function errorReply(message: string, code: string, extra?: Record<string, unknown>): WireMessage {
  return { type: "error", error: message, code, ...extra };
}

/** A running framed-JSON listener. */
export class FrameServer {
  /** Counters, and the shared input pool's use read live. */
  readonly stats: ServerStats;
  readonly #listener: Deno.Listener;
  readonly #conns = new Map<number, ConnState>();
  /** Open connections per source (see connectionSource). */
  readonly #perSource = new Map<string, number>();
  /** Input budget shared by all connections beyond their own allowance. */
  readonly #pool: InboundPool;
  readonly #opts: Required<Omit<ServerOptions, "tls" | "logger" | "inputPool">>;
  readonly #log: Logger;
  /** The grid step of deadline checks (see MAX_SWEEP_STEP_MS). */
  readonly #sweepStep: number;
  /**
   * One timer, at the earliest deadline's grid point: an idle server is woken only when a deadline
   * may have passed, not every step.
   */
  #sweepTimer: ReturnType<typeof setTimeout> | undefined;
  #sweepAt = Infinity;
  readonly #tls: boolean;
  #nextId = 1;
  #closing = false;
  #acceptLoop: Promise<void>;
  #handlers = new Set<Promise<void>>();

  constructor(options: ServerOptions, readonly handler: RequestHandler) {
    this.#opts = {
      hostname: options.hostname,
      port: options.port,
      maxConnections: options.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
      maxConnectionsPerSource: options.maxConnectionsPerSource ?? DEFAULT_MAX_CONNECTIONS_PER_SOURCE,
      idleTimeoutMs: options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
      frameTimeoutMs: options.frameTimeoutMs ?? DEFAULT_FRAME_TIMEOUT_MS,
      writeTimeoutMs: options.writeTimeoutMs ?? DEFAULT_WRITE_TIMEOUT_MS,
    };
    this.#pool = new InboundPool(options.inputPool ?? DEFAULT_INPUT_POOL);
    const pool = this.#pool;
    this.stats = {
      accepted: 0,
      rejectedOverLimit: 0,
      rejectedPerSource: 0,
      open: 0,
      requests: 0,
      badFrames: 0,
      tooDeep: 0,
      timeouts: 0,
      idleTimeouts: 0,
      frameTimeouts: 0,
      writeTimeouts: 0,
      inputPoolWaits: 0,
      get inputPoolBytes() {
        return pool.used;
      },
    };
    this.#log = options.logger ?? new Logger("registry.server");
    this.#tls = options.tls !== undefined;
    this.#listener = options.tls
      ? Deno.listenTls({
        hostname: options.hostname,
        port: options.port,
        cert: options.tls.cert,
        key: options.tls.key,
      })
      : Deno.listen({ hostname: options.hostname, port: options.port });
    this.#sweepStep = Math.max(
      50,
      Math.min(MAX_SWEEP_STEP_MS, this.#opts.idleTimeoutMs / 4, this.#opts.frameTimeoutMs / 4),
    );
    this.#acceptLoop = this.#accept();
  }

  /** When deadlines are next checked (epoch ms); Infinity while no connection has one. */
  get nextDeadlineCheck(): number {
    return this.#sweepAt;
  }

  /** The bound address (useful with port 0). */
  get addr(): Deno.NetAddr {
    return this.#listener.addr as Deno.NetAddr;
  }

  /** Stops accepting, closes every connection and waits for their handlers to finish. */
  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    clearTimeout(this.#sweepTimer);
    try {
      this.#listener.close();
    } catch { /* already closed */ }
    for (const c of this.#conns.values()) this.#drop(c, "server closing");
    await this.#acceptLoop;
    await Promise.allSettled([...this.#handlers]);
  }

  async #accept(): Promise<void> {
    while (!this.#closing) {
      let conn: Deno.Conn;
      try {
        conn = await this.#listener.accept();
      } catch (err) {
        if (this.#closing || err instanceof Deno.errors.BadResource) return;
        this.#log.warn("accept failed", { err });
        await new Promise((r) => setTimeout(r, 100)); // e.g. out of file descriptors: back off
        continue;
      }
      this.stats.accepted++;
      if (this.#conns.size >= this.#opts.maxConnections) {
        this.stats.rejectedOverLimit++;
        this.#refuse(conn, "too many connections");
        continue;
      }
      const source = connectionSource((conn.remoteAddr as Deno.NetAddr).hostname);
      const fromSource = this.#perSource.get(source) ?? 0;
      if (fromSource >= this.#opts.maxConnectionsPerSource) {
        this.stats.rejectedPerSource++;
        this.#refuse(conn, `too many connections from ${source}`);
        continue;
      }
      this.#perSource.set(source, fromSource + 1);
      const state: ConnState = {
        id: this.#nextId++,
        conn,
        source,
        // A TLS handshake is held to the frame deadline: it is bytes the client must send promptly.
        deadline: Date.now() + (this.#tls ? this.#opts.frameTimeoutMs : this.#opts.idleTimeoutMs),
        phase: this.#tls ? "frame" : "idle",
        closed: false,
        reason: "",
        held: 0,
        wake: null,
      };
      this.#conns.set(state.id, state);
      this.#sweepBy(state.deadline);
      this.stats.open = this.#conns.size;
      const task = this.#serve(state).catch((err) => this.#log.warn("connection failed", { err }));
      this.#handlers.add(task);
      task.finally(() => this.#handlers.delete(task));
    }
  }

  #refuse(conn: Deno.Conn, why: string): void {
    const frame = encodeFrame(errorReply(why, "limit"));
    // Best effort: a plain listener can say why before closing; never wait on it.
    settleQuietly(conn.write(frame), "peer gone").finally(() => {
      try {
        conn.close();
      } catch { /* gone */ }
    });
  }

  /** Makes sure a check runs at the first grid point after `deadline`. */
  #sweepBy(deadline: number): void {
    const at = (Math.floor(deadline / this.#sweepStep) + 1) * this.#sweepStep;
    if (at >= this.#sweepAt || this.#closing) return;
    clearTimeout(this.#sweepTimer);
    this.#sweepAt = at;
    this.#sweepTimer = setTimeout(() => this.#sweep(), Math.max(0, at - Date.now()));
  }

  /** Closes the connections past their deadline and waits for the earliest deadline left. */
  #sweep(): void {
    this.#sweepTimer = undefined;
    this.#sweepAt = Infinity;
    const now = Date.now();
    let next = Infinity;
    for (const c of this.#conns.values()) {
      if (c.closed) continue;
      if (now > c.deadline) {
        this.stats.timeouts++;
        if (c.phase === "idle") this.stats.idleTimeouts++;
        else if (c.phase === "frame") this.stats.frameTimeouts++;
        else this.stats.writeTimeouts++;
        this.#drop(c, `${c.phase} deadline exceeded`);
      } else if (c.deadline < next) {
        next = c.deadline;
      }
    }
    if (next !== Infinity) this.#sweepBy(next);
  }

  #drop(c: ConnState, reason: string): void {
    if (c.closed) return;
    c.closed = true;
    c.reason = reason;
    try {
      c.conn.close();
    } catch { /* already closed */ }
    c.wake?.();
  }

  /**
   * Grants `c` the `want` bytes of the shared pool that the rest of its frame needs, all at once
   * (so it never waits twice for one frame), waiting in line until they are free; the frame's
   * deadline keeps running meanwhile. False once `c` is closed.
   */
  async #grow(c: ConnState, want: number): Promise<boolean> {
    let got = this.#pool.take(want, want);
    if (got === 0 && !c.closed) {
      this.stats.inputPoolWaits++;
      got = await this.#pool.queue(want, want, new Promise<void>((resolve) => c.wake = resolve));
      c.wake = null;
    }
    c.held += got; // given back when the connection ends, should it be closed by now
    return got > 0 && !c.closed;
  }

  /** Gives back the pool bytes `c` holds beyond what its reader still buffers. */
  #settle(c: ConnState, reader: FrameReader): void {
    const keep = Math.max(0, reader.buffered - REQUEST_ALLOWANCE);
    if (keep === c.held) return;
    this.#pool.adjust(keep - c.held);
    c.held = keep;
  }

  async #serve(c: ConnState): Promise<void> {
    const remote = c.conn.remoteAddr as Deno.NetAddr;
    const peer: Peer = { ip: remote.hostname, port: remote.port, connId: c.id, tls: this.#tls };
    const reader = new FrameReader(MAX_REQUEST_BODY);
    let chunk = new Uint8Array(READ_CHUNK_MIN);
    try {
      if (this.#tls) {
        try {
          await (c.conn as Deno.TlsConn).handshake();
        } catch {
          return; // a failed or abandoned handshake
        }
      }
      this.#enter(c, "idle");
      while (!c.closed) {
        let body: Uint8Array | null;
        try {
          body = reader.next();
        } catch (err) {
          await this.#fatal(c, err as RegistryWireError);
          return;
        }
        if (body === null) {
          // The frame clock starts with a frame's first byte and is not moved by later ones.
          if (reader.buffered > 0) {
            if (c.phase !== "frame") this.#enter(c, "frame");
          } else if (c.phase !== "idle") {
            this.#enter(c, "idle");
          }
          // Read only what this connection may hold: its allowance, plus pool bytes for a large frame.
          let room = REQUEST_ALLOWANCE + c.held - reader.buffered;
          if (room <= 0) {
            if (!(await this.#grow(c, reader.frameRemaining))) return;
            room = REQUEST_ALLOWANCE + c.held - reader.buffered;
          }
          let n: number | null;
          try {
            n = await c.conn.read(room < chunk.length ? chunk.subarray(0, room) : chunk);
          } catch {
            return; // reset, or closed by the sweeper
          }
          if (n === null) return;
          reader.lend(chunk.subarray(0, n)); // whole requests are parsed in place; only a partial one is copied
          if (n === chunk.length && chunk.length < READ_CHUNK_MAX) chunk = new Uint8Array(chunk.length * 2);
          continue;
        }
        // A whole frame: the buffers go back to their idle size, the next frame gets a fresh clock.
        if (chunk.length > READ_CHUNK_MIN) chunk = new Uint8Array(READ_CHUNK_MIN);
        reader.shrink();
        this.#settle(c, reader);
        this.#enter(c, "idle"); // handling the request is bounded by the idle limit
        let request: WireMessage;
        try {
          request = decodeBody(body);
        } catch (err) {
          await this.#fatal(c, err as RegistryWireError);
          return;
        }
        this.stats.requests++;
        let reply: WireMessage;
        try {
          // Refused before any handler walks it: signature checks, validation and the log
          // all recurse into the body, and well-formed JSON can nest 32,000 levels in 64 KiB.
          assertJsonDepth(request, MAX_JSON_DEPTH);
          reply = await this.handler(request, peer);
        } catch (err) {
          if (err instanceof JsonNestingError) {
            this.stats.tooDeep++;
            reply = errorReply(`request refused: ${err.message}`, "invalid_request");
          } else {
            this.#log.error("request handler failed", { err, type: String(request.type) });
            reply = errorReply("internal error", "internal");
          }
        }
        let frame: Uint8Array;
        try {
          frame = encodeFrame(reply, MAX_REPLY_BODY);
        } catch {
          frame = encodeFrame(errorReply("reply too large", "limit"));
        }
        if (!(await this.#write(c, frame))) return;
      }
    } finally {
      this.#drop(c, c.reason || "closed");
      this.#pool.adjust(-c.held);
      c.held = 0;
      this.#conns.delete(c.id);
      const left = (this.#perSource.get(c.source) ?? 1) - 1;
      if (left > 0) this.#perSource.set(c.source, left);
      else this.#perSource.delete(c.source);
      this.stats.open = this.#conns.size;
    }
  }

  /** Writes a whole frame under the write deadline; false if the connection is gone. */
  async #write(c: ConnState, frame: Uint8Array): Promise<boolean> {
    this.#enter(c, "write");
    try {
      let off = 0;
      while (off < frame.length) off += await c.conn.write(frame.subarray(off));
      return true;
    } catch {
      return false;
    }
  }

  /** Starts a phase and its deadline. */
  #enter(c: ConnState, phase: ConnPhase): void {
    c.phase = phase;
    const limit = phase === "idle"
      ? this.#opts.idleTimeoutMs
      : phase === "frame"
      ? this.#opts.frameTimeoutMs
      : this.#opts.writeTimeoutMs;
    c.deadline = Date.now() + limit;
    this.#sweepBy(c.deadline);
  }

  /** Reports an undecodable frame to the peer and closes the connection. */
  async #fatal(c: ConnState, err: Error): Promise<void> {
    this.stats.badFrames++;
    this.#log.info("closing connection after bad frame", { peer: c.id, err });
    await this.#write(c, encodeFrame(errorReply(err.message, "bad_frame")));
    this.#drop(c, "bad frame");
  }
}
