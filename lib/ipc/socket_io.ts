/**
 * Byte-stream plumbing shared by the IPC server and the SDK: a chunk reader that
 * hands out buffers the caller may keep (so frames can be views into them) and
 * sizes its buffer to the traffic, and
 * a frame writer that serialises whole frames onto one socket with a bounded,
 * observable queue. Works on any `read`/`write` pair (Deno.Conn in practice).
 * @module
 */
import { IpcError } from "./errors.ts";
import { errorMessage, settleQuietly } from "../errors.ts";

/** Largest read buffer by default; large enough to take many frames in one syscall. */
export const READ_BUFFER_SIZE = 256 * 1024;
/**
 * A read filling at least this share of the buffer hands the buffer itself to the
 * caller (no copy) and allocates a fresh one; smaller reads are copied out so a
 * retained payload never pins a mostly empty buffer.
 */
const HANDOFF_DIVISOR = 2;
/** Frames smaller than this are merged into one socket write with their neighbours. */
const COALESCE_BELOW = 64 * 1024;
/** Upper bound of one merged write. */
const COALESCE_MAX = 256 * 1024;
/** Compact the write queue once this many written slots pile up at its head. */
const QUEUE_COMPACT_THRESHOLD = 1024;

/** The read half of a socket. */
export interface ByteSource {
  read(p: Uint8Array): Promise<number | null>;
}

/** The write half of a socket; may accept fewer bytes than offered. */
export interface ByteSink {
  write(p: Uint8Array): Promise<number>;
}

/**
 * Reads a socket in chunks the caller owns. `read()` returns null at end of
 * stream and lets socket errors propagate. The read buffer starts at
 * `initialSize`, doubles (up to `maxSize`) after each read that fills it, and
 * halves again after reads that use little of it, so an idle socket holds a
 * small buffer and a busy one reads in large slices.
 */
export class ChunkReader {
  #source: ByteSource;
  #min: number;
  #max: number;
  #size: number;
  #spare: Uint8Array | null = null;

  constructor(source: ByteSource, maxSize = READ_BUFFER_SIZE, initialSize = maxSize) {
    this.#source = source;
    this.#max = maxSize;
    this.#min = Math.min(initialSize, maxSize);
    this.#size = this.#min;
  }

  /** The next chunk (never empty, at most `maxBytes` long), or null at end of stream. */
  async read(maxBytes = Infinity): Promise<Uint8Array | null> {
    for (;;) {
      const want = Math.max(1, Math.min(this.#size, maxBytes));
      const buf = this.#spare && this.#spare.length <= want ? this.#spare : new Uint8Array(want);
      this.#spare = null;
      const n = await this.#source.read(buf);
      if (n === null) return null;
      if (n === 0) {
        this.#spare = buf;
        continue;
      }
      if (n === this.#size && this.#size < this.#max) this.#size = Math.min(this.#size * 2, this.#max);
      if (n * HANDOFF_DIVISOR >= buf.length) return buf.subarray(0, n);
      if (this.#size > this.#min) this.#size = Math.max(this.#size / 2, this.#min);
      if (buf.length <= this.#size) this.#spare = buf;
      return buf.slice(0, n);
    }
  }
}

/** Writes all of `bytes`, looping over short writes. */
export async function writeAll(sink: ByteSink, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) {
    const n = await sink.write(bytes.subarray(offset));
    if (n <= 0) throw new IpcError("disconnected", "socket accepted no bytes");
    offset += n;
  }
}

/**
 * Waits for `promise` or `ms` milliseconds, whichever comes first. For last writes to a client
 * that is leaving, so a rejection is ignored.
 */
export async function waitAtMost(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      settleQuietly(promise, "peer gone"),
      new Promise((resolve) => timer = setTimeout(resolve, ms)),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

interface Waiter {
  resolve(): void;
  reject(err: Error): void;
}

/** Takes a frame back once the socket has accepted all of it. */
export interface FrameRecycler {
  give(frame: Uint8Array): void;
}

/**
 * Buffers for frames of up to `size` bytes, reused once the socket has taken them: a stream's
 * data frames are built and written many times a second, and a fresh 64 KiB buffer each time
 * costs an allocation, its zero-filling and later its collection. At most `keep` idle buffers
 * are held. A reused buffer is not cleared: a frame's view covers only the bytes it writes.
 */
export class FramePool implements FrameRecycler {
  readonly #free: ArrayBuffer[] = [];

  constructor(readonly size: number, readonly keep: number) {}

  /** A view of `length` bytes (at most `size`) at the start of an idle buffer, or of a new one. */
  take(length: number): Uint8Array {
    if (length > this.size) return new Uint8Array(length);
    return new Uint8Array(this.#free.pop() ?? new ArrayBuffer(this.size), 0, length);
  }

  give(frame: Uint8Array): void {
    const buffer = frame.buffer;
    if (this.#free.length < this.keep && buffer instanceof ArrayBuffer && buffer.byteLength === this.size) {
      this.#free.push(buffer);
    }
  }
}

interface Queued {
  frame: Uint8Array;
  done: Waiter | null;
  recycle?: FrameRecycler;
}

/**
 * Serialises whole frames onto one socket: frames never interleave, small ones
 * are merged into larger writes, and {@link FrameWriter.queuedBytes} counts every
 * byte not yet accepted by the kernel. Producers keep memory bounded by awaiting
 * {@link FrameWriter.ready} (resolves once the queue is at or below the high-water
 * mark). A socket error fails the writer: pending and later calls reject with
 * {@link IpcError} `disconnected` (or whatever {@link FrameWriter.fail} was given).
 */
export class FrameWriter {
  #sink: ByteSink;
  #highWater: number;
  #queue: Queued[] = [];
  #head = 0;
  #queued = 0;
  #written = 0;
  #pumping = false;
  #failure: IpcError | null = null;
  #readyWaiters: Waiter[] = [];
  #idleWaiters: Waiter[] = [];
  #onFailure: (err: IpcError) => void;

  /** `onFailure` runs once, when a socket write fails or {@link FrameWriter.fail} is called. */
  constructor(sink: ByteSink, highWater: number, onFailure: (err: IpcError) => void = () => {}) {
    this.#sink = sink;
    this.#highWater = highWater;
    this.#onFailure = onFailure;
  }

  /** Bytes queued or being written. */
  get queuedBytes(): number {
    return this.#queued;
  }

  /** Bytes the socket has accepted so far (shows whether a stuck queue moves at all). */
  get writtenBytes(): number {
    return this.#written;
  }

  /** The error that stopped the writer, or null while it works. */
  get failure(): IpcError | null {
    return this.#failure;
  }

  /**
   * Queues a frame without waiting. Throws the writer's failure if it has failed. `recycle` gets
   * the frame back once the socket has accepted it (not when the writer fails).
   */
  enqueue(frame: Uint8Array, recycle?: FrameRecycler): void {
    this.#push(frame, null, recycle);
  }

  /** Queues a frame and resolves once all of it has been written to the socket. */
  write(frame: Uint8Array): Promise<void> {
    return new Promise((resolve, reject) => {
      try {
        this.#push(frame, { resolve, reject });
      } catch (err) {
        reject(err);
      }
    });
  }

  /** True while the writer works and its queue is at or below the high-water mark (`ready()` would not wait). */
  get hasRoom(): boolean {
    return this.#failure === null && this.#queued <= this.#highWater;
  }

  /** Resolves once the queue is at or below the high-water mark; rejects if the writer fails. */
  ready(): Promise<void> {
    if (this.#failure) return Promise.reject(this.#failure);
    if (this.#queued <= this.#highWater) return Promise.resolve();
    return new Promise((resolve, reject) => this.#readyWaiters.push({ resolve, reject }));
  }

  /** Resolves once everything queued so far has been written; rejects if the writer fails. */
  flush(): Promise<void> {
    if (this.#failure) return Promise.reject(this.#failure);
    if (this.#queued === 0) return Promise.resolve();
    return new Promise((resolve, reject) => this.#idleWaiters.push({ resolve, reject }));
  }

  /** Stops the writer: drops the queue and rejects every waiter with `err`. Idempotent. */
  fail(err: IpcError): void {
    if (this.#failure) return;
    this.#failure = err;
    const pending = this.#queue.slice(this.#head);
    this.#queue = [];
    this.#head = 0;
    this.#queued = 0;
    for (const q of pending) q.done?.reject(err);
    for (const w of this.#readyWaiters.splice(0)) w.reject(err);
    for (const w of this.#idleWaiters.splice(0)) w.reject(err);
    this.#onFailure(err);
  }

  #push(frame: Uint8Array, done: Waiter | null, recycle?: FrameRecycler): void {
    if (this.#failure) throw this.#failure;
    this.#queue.push(recycle ? { frame, done, recycle } : { frame, done });
    this.#queued += frame.length;
    if (!this.#pumping) void this.#pump();
  }

  async #pump(): Promise<void> {
    this.#pumping = true;
    try {
      while (this.#head < this.#queue.length && !this.#failure) {
        const first = this.#head;
        let end = first + 1;
        let size = this.#queue[first].frame.length;
        if (size < COALESCE_BELOW) {
          while (
            end < this.#queue.length && this.#queue[end].frame.length < COALESCE_BELOW &&
            size + this.#queue[end].frame.length <= COALESCE_MAX
          ) {
            size += this.#queue[end].frame.length;
            end++;
          }
        }
        await writeAll(
          this.#sink,
          end - first === 1 ? this.#queue[first].frame : this.#merge(first, end, size),
        );
        if (this.#failure) return;
        const written = this.#queue.slice(first, end);
        this.#head = end;
        this.#queued -= size;
        this.#written += size;
        if (this.#head === this.#queue.length) {
          this.#queue = [];
          this.#head = 0;
        } else if (this.#head > QUEUE_COMPACT_THRESHOLD) {
          this.#queue = this.#queue.slice(this.#head);
          this.#head = 0;
        }
        for (const q of written) {
          q.recycle?.give(q.frame);
          q.done?.resolve();
        }
        if (this.#queued <= this.#highWater) { for (const w of this.#readyWaiters.splice(0)) w.resolve(); }
      }
      for (const w of this.#idleWaiters.splice(0)) w.resolve();
    } catch (err) {
      this.fail(
        err instanceof IpcError
          ? err
          : new IpcError("disconnected", `socket write failed: ${errorMessage(err)}`, { cause: err }),
      );
    } finally {
      this.#pumping = false;
    }
  }

  #merge(first: number, end: number, size: number): Uint8Array {
    const out = new Uint8Array(size);
    let offset = 0;
    for (let i = first; i < end; i++) {
      out.set(this.#queue[i].frame, offset);
      offset += this.#queue[i].frame.length;
    }
    return out;
  }
}
