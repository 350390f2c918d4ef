/**
 * Exact-length reads over a {@link ByteStream}. Streams deliver chunks of whatever size the
 * transport produced, while every service framing (data exchange, event stream, the port-443
 * channel) needs "exactly n bytes, or a clean end between units". {@link StreamReader} keeps the
 * surplus of each chunk for the next read and copies straight into the result, so a 16 MiB
 * frame is assembled in one allocation.
 * @module
 */
import { PilotError } from "../errors.ts";
import type { ByteStream, IoOptions } from "./byte_stream_shape.ts";

/** The stream ended in the middle of a unit (a frame header, payload or key). */
export class StreamEndedError extends PilotError {}

/**
 * Buffered exact reads from one {@link ByteStream}. Not safe for concurrent reads: each
 * service reads a stream from one loop. `options` apply to every underlying chunk read, so a
 * `timeoutMs` bounds the wait for the *next* bytes (an idle timeout); pass a `signal` for an
 * overall deadline.
 */
export class StreamReader {
  readonly #stream: ByteStream;
  /** The unconsumed tail of the last chunk read, if any. */
  #pending: Uint8Array | null = null;
  #ended = false;

  constructor(stream: ByteStream) {
    this.#stream = stream;
  }

  /** Bytes already received and not yet consumed. */
  get buffered(): number {
    return this.#pending?.length ?? 0;
  }

  /** True once the stream reported its end and nothing is buffered. */
  get ended(): boolean {
    return this.#ended && this.buffered === 0;
  }

  /**
   * Exactly `n` bytes, or null when the stream ends cleanly before the first of them (the
   * boundary between two units). Throws {@link StreamEndedError} when it ends part-way.
   */
  async readExactOrEnd(n: number, options?: IoOptions): Promise<Uint8Array | null> {
    if (n === 0) return new Uint8Array(0);
    if (this.buffered === 0) {
      const first = await this.#next(options);
      if (first === null) return null;
      this.#pending = first;
    }
    return await this.readExact(n, options);
  }

  /** Exactly `n` bytes; throws {@link StreamEndedError} if the stream ends first. */
  async readExact(n: number, options?: IoOptions): Promise<Uint8Array> {
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`read length must be a whole number, got ${n}`);
    const head = this.#pending;
    if (head && head.length >= n) {
      this.#pending = head.length === n ? null : head.subarray(n);
      return head.subarray(0, n);
    }
    const out = new Uint8Array(n);
    let filled = 0;
    if (head) {
      out.set(head);
      filled = head.length;
      this.#pending = null;
    }
    while (filled < n) {
      const chunk = await this.#next(options);
      if (chunk === null) throw new StreamEndedError(`stream ended after ${filled} of ${n} bytes`);
      const take = Math.min(chunk.length, n - filled);
      out.set(take === chunk.length ? chunk : chunk.subarray(0, take), filled);
      filled += take;
      if (take < chunk.length) this.#pending = chunk.subarray(take);
    }
    return out;
  }

  /** Reads and drops `n` bytes without holding them; throws {@link StreamEndedError} if the stream ends first. */
  async skip(n: number, options?: IoOptions): Promise<void> {
    let left = n;
    while (left > 0) {
      const chunk = this.#pending ?? await this.#next(options);
      this.#pending = null;
      if (chunk === null) throw new StreamEndedError(`stream ended with ${left} of ${n} bytes left to skip`);
      if (chunk.length > left) this.#pending = chunk.subarray(left);
      left -= Math.min(left, chunk.length);
    }
  }

  /** Whatever is buffered, else the next chunk; null at the end of the stream. */
  async readSome(options?: IoOptions): Promise<Uint8Array | null> {
    const head = this.#pending;
    if (head) {
      this.#pending = null;
      return head;
    }
    return await this.#next(options);
  }

  async #next(options?: IoOptions): Promise<Uint8Array | null> {
    if (this.#ended) return null;
    for (;;) {
      const chunk = await this.#stream.read(options);
      if (chunk === null) {
        this.#ended = true;
        return null;
      }
      if (chunk.length > 0) return chunk;
    }
  }
}
