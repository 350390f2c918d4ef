/**
 * The registry's frame codec (docs/protocol/registry.md §1.2), pure and I/O-free: a frame is a
 * u32 big-endian body length followed by that many bytes of UTF-8 JSON, and the
 * JSON must be an object. Requests are capped at 64 KiB as the reference does;
 * replies may be far larger (a big `list_nodes` or `get_audit_log`), so readers
 * take their own cap.
 * @module
 */
import { RegistryWireError } from "./errors.ts";
import { writeU32 } from "../bytes.ts";

export { RegistryWireError };

/** Bytes of the length prefix. */
export const FRAME_HEADER_LENGTH = 4;
/** Largest request body the server accepts (the reference's inbound cap). */
export const MAX_REQUEST_BODY = 65_536;
/** Largest reply body our client accepts; the reference's 64 KiB breaks big listings. */
export const MAX_REPLY_BODY = 16 * 1024 * 1024;

/** A FrameReader buffer larger than this is released by `shrink` when empty. */
export const FRAME_READER_IDLE_BUFFER = 4096;

/** A decoded message: one JSON object. */
export type WireMessage = Record<string, unknown>;

const encoder = new TextEncoder();
/** What an empty reader holds (zero-length, so sharing it is safe). */
const NO_BYTES = new Uint8Array(0);
const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * Encodes `message` as one frame. Throws RegistryWireError when the body exceeds
 * `maxBody` (so a sender finds out before the peer drops the connection).
 */
export function encodeFrame(message: WireMessage, maxBody: number = MAX_REPLY_BODY): Uint8Array {
  const body = encoder.encode(JSON.stringify(message));
  if (body.length > maxBody) {
    throw new RegistryWireError(`frame body of ${body.length} bytes exceeds the ${maxBody}-byte limit`);
  }
  const frame = new Uint8Array(FRAME_HEADER_LENGTH + body.length);
  writeU32(frame, 0, body.length);
  frame.set(body, FRAME_HEADER_LENGTH);
  return frame;
}

/** Parses a frame body: strict UTF-8, JSON, and an object at the top. Throws RegistryWireError. */
export function decodeBody(body: Uint8Array): WireMessage {
  let text: string;
  try {
    text = decoder.decode(body);
  } catch {
    throw new RegistryWireError("frame body is not valid UTF-8");
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new RegistryWireError("frame body is not valid JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new RegistryWireError("frame body must be a JSON object");
  }
  return value as WireMessage;
}

/**
 * Incremental frame splitter for a byte stream: `push` what the socket delivers,
 * then call `next` until it returns null. A length prefix above `maxBody` throws as
 * soon as the four header bytes have arrived, before any body is buffered.
 */
export class FrameReader {
  #buf: Uint8Array = NO_BYTES;
  #start = 0;
  #end = 0;
  /** `#buf` is the caller's chunk (see `lend`), not ours. */
  #borrowed = false;

  constructor(readonly maxBody: number) {}

  /** Bytes received but not yet returned as a frame (non-zero means a frame is half-read). */
  get buffered(): number {
    return this.#end - this.#start;
  }

  /**
   * Like `push`, but an empty reader keeps a view of `chunk` instead of copying it: the frames in it
   * are returned as views of it, and only what is left over is copied, when `next` returns null. The
   * caller must not change `chunk` until then. A connection that sends whole small requests so never
   * gets a buffer of its own (a registry holds thousands of idle connections).
   */
  lend(chunk: Uint8Array): void {
    if (this.#end > this.#start || chunk.length === 0) {
      this.push(chunk);
      return;
    }
    this.#buf = chunk;
    this.#start = 0;
    this.#end = chunk.length;
    this.#borrowed = true;
  }

  /** Copies what is left of a lent chunk into a buffer of our own (or lets go of it when nothing is). */
  #own(): void {
    if (!this.#borrowed) return;
    const rest = this.#buf.subarray(this.#start, this.#end);
    this.#borrowed = false;
    this.#buf = NO_BYTES;
    this.#start = this.#end = 0;
    this.push(rest);
  }

  /** Appends received bytes (copied). */
  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.#own();
    const used = this.#end - this.#start;
    if (this.#end + chunk.length > this.#buf.length) {
      if (used + chunk.length <= this.#buf.length && this.#start > 0) {
        this.#buf.copyWithin(0, this.#start, this.#end);
      } else {
        // Doubling, but never past the frame being received once its length prefix is in: the server's
        // input budget counts the bytes a connection holds, and its buffer should not be twice that.
        let size = Math.max(this.#buf.length * 2, FRAME_READER_IDLE_BUFFER);
        if (used >= FRAME_HEADER_LENGTH) size = Math.min(size, FRAME_HEADER_LENGTH + this.#announced());
        const grown = new Uint8Array(Math.max(used + chunk.length, size));
        grown.set(this.#buf.subarray(this.#start, this.#end));
        this.#buf = grown;
      }
      this.#start = 0;
      this.#end = used;
    }
    this.#buf.set(chunk, this.#end);
    this.#end += chunk.length;
  }

  /**
   * Bytes still to come before the frame being received is whole: the rest of its length prefix
   * while that is incomplete, else the rest of its body (0 between frames or when one is ready).
   */
  get frameRemaining(): number {
    const used = this.#end - this.#start;
    if (used === 0) return 0;
    if (used < FRAME_HEADER_LENGTH) return FRAME_HEADER_LENGTH - used;
    return Math.max(0, FRAME_HEADER_LENGTH + this.#announced() - used);
  }

  /** The body length the pending frame's prefix announces (at least 4 bytes must be buffered). */
  #announced(): number {
    return new DataView(this.#buf.buffer, this.#buf.byteOffset + this.#start, FRAME_HEADER_LENGTH).getUint32(
      0,
    );
  }

  /**
   * Gives back a buffer grown for a big frame once nothing is pending, so a connection
   * that once sent a large request does not keep its memory while idle.
   */
  shrink(): void {
    if (this.#end === this.#start && this.#buf.length > FRAME_READER_IDLE_BUFFER) {
      this.#buf = NO_BYTES;
      this.#start = this.#end = 0;
      this.#borrowed = false;
    }
  }

  /**
   * The next complete frame body, or null if more bytes are needed. The body is a view into the
   * reader's buffer or a lent chunk (no copy): it stays intact only until the next `push` or the
   * next write into that chunk, so decode it first.
   */
  next(): Uint8Array | null {
    const used = this.#end - this.#start;
    if (used < FRAME_HEADER_LENGTH) {
      this.#own();
      return null;
    }
    const length = this.#announced();
    if (length > this.maxBody) {
      throw new RegistryWireError(`frame length ${length} exceeds the ${this.maxBody}-byte limit`);
    }
    if (used < FRAME_HEADER_LENGTH + length) {
      this.#own();
      return null;
    }
    const bodyStart = this.#start + FRAME_HEADER_LENGTH;
    const body = this.#buf.subarray(bodyStart, bodyStart + length);
    this.#start = bodyStart + length;
    if (this.#start === this.#end) this.#start = this.#end = 0;
    return body;
  }
}
