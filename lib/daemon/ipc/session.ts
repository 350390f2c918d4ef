/**
 * One accepted IPC socket (docs/protocol/ipc.md §1, §3): reads the client's frames within its
 * memory budget, runs its requests one at a time, and queues replies and pushes
 * through one {@link FrameWriter}. The server ({@link IpcServer}) owns accepting,
 * the client cap and datagram routing; this module owns everything per client.
 *
 * Budget (limits.ts):
 * - Input: the socket is read only while fewer than {@link INBOUND_BUFFER_LIMIT}
 *   bytes wait unprocessed and the outbound queue is at or below its high-water
 *   mark, so a client that does not read its replies cannot pile up requests.
 *   Past its own {@link INBOUND_ALLOWANCE}, a client reads only what it reserved,
 *   for the whole rest of its frame at once, from the pool all clients share. Read
 *   buffers start at {@link INITIAL_READ_BUFFER} and grow only while reads fill them.
 * - A frame must be complete within `frameDeadlineMs` of its first byte (the clock
 *   stops while the server itself is not reading); otherwise the client is dropped
 *   and its partial frame freed.
 * - Output: RecvFrom pushes are dropped above the high-water mark, Recv pushes wait
 *   for it; a queue that passes the hard limit, or stays above the high-water mark
 *   for `outboundStallMs` with nothing written, gets the client dropped.
 * @module
 */
import type { Logger } from "../../log.ts";
import type { Address } from "../../protocol/address.ts";
import {
  Cmd,
  decodeRequest,
  encodeErrorFrame,
  encodeRecvFrame,
  encodeRecvFrameOf,
  encodeRecvFromFrame,
  encodeReply,
  type Frame,
  FrameReader,
  IpcError,
  type IpcRequest,
  MAX_SEND_DATA,
  STREAM_FRAME_BYTES,
} from "../../ipc/codec.ts";
import { ChunkReader, FramePool, FrameWriter, READ_BUFFER_SIZE, waitAtMost } from "../../ipc/socket_io.ts";
import { FrameProgress } from "./frame_progress.ts";
import { INBOUND_ALLOWANCE, INBOUND_BUFFER_LIMIT, INITIAL_READ_BUFFER, type IpcLimits } from "./limits.ts";
import type { InboundPool } from "../../net/inbound_pool.ts";
import { type ClientBook, dispatchRequest } from "./dispatch.ts";
import type { IpcClient, IpcHandler } from "./server.ts";
import { errorMessage, settleQuietly } from "../../errors.ts";

/** Idle Recv frame buffers kept per client for reuse (64 KiB each). */
const RECV_FRAMES_KEPT = 4;
/** How long replies may take to leave after a client hangs up before the socket is closed. */
const EOF_FLUSH_MS = 1000;

/** Why the server dropped a client on its own account, as counted in the metrics. */
export type DropReason = "frame_deadline" | "outbound_stall" | "outbound_limit" | "bad_frame";

/** What a session needs from its server. */
export interface SessionContext {
  readonly handler: IpcHandler;
  readonly limits: IpcLimits;
  /** Input budget shared by all clients beyond their own allowance. */
  readonly pool: InboundPool;
  /** The client bound `port` (Bind succeeded). */
  bound(session: Session, port: number): void;
  /** The client sent a datagram. */
  usesDatagrams(session: Session): void;
  /** The client broke a limit and is being dropped (the server counts and logs it). */
  dropped(session: Session, kind: DropReason, reason: string): void;
  /** The client is gone (before `clientGone` runs). */
  gone(session: Session): void;
}

/** One accepted socket connection. */
export class Session implements IpcClient {
  readonly id: number;
  readonly ports = new Set<number>();
  readonly conns = new Set<number>();
  readonly #ctx: SessionContext;
  readonly #conn: Deno.Conn;
  readonly #writer: FrameWriter;
  /** Buffers of Recv frames, reused once written (a few: pushes wait at the high-water mark anyway). */
  readonly #recvFrames = new FramePool(STREAM_FRAME_BYTES, RECV_FRAMES_KEPT);
  readonly #takeRecvFrame = (length: number) => this.#recvFrames.take(length);
  readonly #reader = new FrameReader();
  readonly #progress = new FrameProgress();
  readonly #abort = new AbortController();
  readonly #log: Logger;
  #eof = false;
  #dropped = false;
  #wakeProcessor: (() => void) | null = null;
  #wakeReader: (() => void) | null = null;
  /** What the running request asked to run once its reply is queued (see ClientBook.afterReply). */
  #afterReply: (() => void) | null = null;
  /** Bytes of the shared pool this client's unprocessed input occupies. */
  #poolHeld = 0;
  /** Bytes of the shared pool reserved for the rest of the frame being received, not yet read. */
  #reserved = 0;
  #frameTimer: ReturnType<typeof setTimeout> | undefined;
  #stallTimer: ReturnType<typeof setInterval> | undefined;
  /** Resolves when the session is fully cleaned up (clientGone has run). */
  readonly done: Promise<void>;

  constructor(ctx: SessionContext, conn: Deno.Conn, id: number, log: Logger) {
    this.#ctx = ctx;
    this.#conn = conn;
    this.id = id;
    this.#log = log.child(`client${id}`);
    this.#writer = new FrameWriter(conn, ctx.limits.outboundHighWater, (err) => this.disconnect(err.message));
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

  async pushRecv(connId: number, data: Uint8Array | readonly Uint8Array[]): Promise<boolean> {
    if (this.closed) return false;
    if (data instanceof Uint8Array) {
      let offset = 0;
      do {
        this.#enqueue(encodeRecvFrame(connId, data.subarray(offset, offset + MAX_SEND_DATA)));
        offset += MAX_SEND_DATA;
      } while (offset < data.length && !this.closed);
    } else {
      this.#enqueue(encodeRecvFrameOf(connId, data, this.#takeRecvFrame), this.#recvFrames);
    }
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

  /**
   * Queues a prebuilt datagram frame unless the client's queue is above `limit` bytes (its
   * high-water mark by default; a smaller allowance for datagrams it never asked for).
   */
  pushFrame(frame: Uint8Array, limit?: number): boolean {
    limit ??= this.#ctx.limits.outboundHighWater;
    if (this.closed || this.#writer.queuedBytes > limit) return false;
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
    clearTimeout(this.#frameTimer);
    clearInterval(this.#stallTimer);
    this.#abort.abort(new IpcError("disconnected", reason));
    this.#writer.fail(new IpcError("closed", `client dropped: ${reason}`));
    // Free the partial frame and anything unprocessed now, not at a later collection: a burst of drops
    // would otherwise hand their pool bytes to other clients while the old buffers still hold memory.
    this.#reader.discard();
    this.#ctx.pool.adjust(-(this.#poolHeld + this.#reserved));
    this.#poolHeld = this.#reserved = 0;
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
    this.#wake();
  }

  /** Drops the client for breaking a limit: counted, and logged with the reason (rate-limited). */
  #breach(kind: DropReason, reason: string): void {
    if (this.#dropped) return;
    this.#ctx.dropped(this, kind, reason);
    this.disconnect(reason);
  }

  #enqueue(frame: Uint8Array, recycle?: FramePool): void {
    const { outboundHardLimit, outboundHighWater } = this.#ctx.limits;
    if (this.#writer.queuedBytes + frame.length > outboundHardLimit) {
      this.#breach("outbound_limit", `outbound queue above ${outboundHardLimit} bytes (client not reading)`);
      return;
    }
    try {
      this.#writer.enqueue(frame, recycle);
    } catch {
      // the writer failed; disconnect() has already run via its failure callback
      return;
    }
    if (this.#writer.queuedBytes > outboundHighWater) this.#watchStall();
  }

  /** While the queue is above the high-water mark, drops the client if a whole interval passes with no write. */
  #watchStall(): void {
    if (this.#stallTimer !== undefined) return;
    const { outboundHighWater, outboundStallMs } = this.#ctx.limits;
    let written = this.#writer.writtenBytes;
    this.#stallTimer = setInterval(() => {
      if (this.#writer.queuedBytes <= outboundHighWater) {
        clearInterval(this.#stallTimer);
        this.#stallTimer = undefined;
      } else if (this.#writer.writtenBytes === written) {
        this.#breach(
          "outbound_stall",
          `outbound queue above ${outboundHighWater} bytes with nothing read for ${outboundStallMs} ms`,
        );
      }
      written = this.#writer.writtenBytes;
    }, outboundStallMs);
  }

  #armFrameDeadline(): void {
    clearTimeout(this.#frameTimer);
    const ms = this.#ctx.limits.frameDeadlineMs;
    this.#frameTimer = setTimeout(
      () => this.#breach("frame_deadline", `frame not completed within ${ms} ms of its first byte`),
      ms,
    );
  }

  #stopFrameDeadline(): void {
    clearTimeout(this.#frameTimer);
    this.#frameTimer = undefined;
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
      await waitAtMost(this.#writer.flush(), EOF_FLUSH_MS);
    }
    this.disconnect("session ended");
    await reading;
    this.#ctx.gone(this);
    try {
      await this.#ctx.handler.clientGone?.(this);
    } catch (err) {
      this.#log.error("clientGone failed", { err });
    }
  }

  async #readLoop(): Promise<void> {
    const chunks = new ChunkReader(this.#conn, READ_BUFFER_SIZE, INITIAL_READ_BUFFER);
    while (!this.#dropped) {
      const buffered = this.#reader.buffered;
      // Over budget: stop reading (the kernel then stops the client) and stop the client's clock with it.
      if (buffered >= INBOUND_BUFFER_LIMIT) {
        this.#stopFrameDeadline();
        await new Promise<void>((resolve) => this.#wakeReader = resolve);
        continue;
      }
      if (this.#writer.queuedBytes > this.#ctx.limits.outboundHighWater) {
        this.#stopFrameDeadline();
        await settleQuietly(this.#writer.ready(), "reported elsewhere"); // a failed writer ends the session
        continue;
      }
      if (this.#progress.midFrame && this.#frameTimer === undefined) this.#armFrameDeadline();
      // Read into the client's own allowance, and beyond it only what was reserved from the shared pool to
      // finish the current frame: whole frames waiting for the request loop need no more input yet.
      const own = Math.max(0, INBOUND_ALLOWANCE - buffered);
      const want = Math.min(READ_BUFFER_SIZE, INBOUND_BUFFER_LIMIT - buffered);
      const midFrame = this.#progress.midFrame;
      if (!midFrame && this.#reserved > 0) this.#unreserve(this.#reserved); // the frame ended within the allowance
      // A frame larger than the allowance reserves the whole rest of itself at once: a holder never waits
      // twice for one frame, so holders cannot block one another with partial shares.
      const poolNeed = midFrame && this.#reserved === 0 ? this.#progress.remaining - own : 0;
      if (poolNeed > 0) this.#reserved = this.#ctx.pool.take(poolNeed, poolNeed);
      if (own + this.#reserved === 0) {
        const woken = new Promise<void>((resolve) => this.#wakeReader = resolve);
        if (!midFrame) {
          await woken; // whole frames wait: the request loop wakes the reader when it takes one
          continue;
        }
        // Mid-frame with the pool used up: queue for it with the frame clock running, so holders of stale
        // halves expire. A wake (a frame taken, or a drop) calls the request off.
        const granted = await this.#ctx.pool.queue(poolNeed, poolNeed, woken);
        if (granted === 0) continue;
        if (this.#dropped) {
          this.#ctx.pool.adjust(-granted);
          break;
        }
        this.#reserved = granted;
      }
      let chunk: Uint8Array | null;
      try {
        chunk = await chunks.read(Math.min(want, own + this.#reserved));
      } catch (err) {
        if (!this.#dropped) this.#log.debug("socket read failed", { err });
        chunk = null;
      }
      if (chunk === null || this.#dropped) break;
      this.#reader.push(chunk);
      // Bytes read beyond the allowance are now held (counted first, so the pool never hands them out
      // twice), and leave the reservation.
      this.#settlePool();
      this.#unreserve(Math.min(this.#reserved, Math.max(0, chunk.length - own)));
      if (this.#progress.feed(chunk)) this.#armFrameDeadline();
      else if (!this.#progress.midFrame) this.#stopFrameDeadline();
      this.#wake();
    }
    this.#stopFrameDeadline();
    this.#eof = true;
    // Requests already received still run, but anything long (a dial) is abandoned.
    this.#abort.abort(new IpcError("disconnected", "client disconnected"));
    this.#wake();
  }

  /** Gives back `bytes` of this client's reservation. */
  #unreserve(bytes: number): void {
    this.#reserved -= bytes;
    this.#ctx.pool.adjust(-bytes);
  }

  /** Brings this client's share of the shared pool in line with its unprocessed input. */
  #settlePool(): void {
    const held = Math.max(0, this.#reader.buffered - INBOUND_ALLOWANCE);
    this.#ctx.pool.adjust(held - this.#poolHeld);
    this.#poolHeld = held;
  }

  async #processLoop(): Promise<void> {
    while (!this.#dropped) {
      let frame: Frame | null;
      try {
        frame = this.#reader.next();
      } catch (err) {
        this.#breach("bad_frame", errorMessage(err));
        return;
      }
      if (frame === null) {
        if (this.#eof) return;
        await new Promise<void>((resolve) => this.#wakeProcessor = resolve);
        continue;
      }
      this.#settlePool();
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
    const reply = await dispatchRequest(
      this.#ctx.handler,
      this,
      this.#book,
      req,
      this.#abort.signal,
      this.#log,
    );
    const after = this.#afterReply;
    this.#afterReply = null;
    if (reply) await this.#reply(reply, after);
  }

  readonly #book: ClientBook = {
    bound: (port) => {
      this.ports.add(port);
      this.#ctx.bound(this, port);
    },
    opened: (connId) => this.conns.add(connId),
    afterReply: (then) => this.#afterReply = then,
    closed: (connId) => this.conns.delete(connId),
    sentDatagram: () => this.#ctx.usesDatagrams(this),
  };

  /** Queues a reply, then waits until the client has room again (a client not reading stalls only itself). */
  async #reply(frame: Uint8Array, after: (() => void) | null = null): Promise<void> {
    if (this.#dropped) return;
    this.#enqueue(frame);
    try {
      after?.();
    } catch (err) {
      this.#log.error("after-reply hook failed", { err });
    }
    try {
      await this.#writer.ready();
    } catch {
      // writer failed: the client is being dropped
    }
  }
}
