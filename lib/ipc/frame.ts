/**
 * IPC framing (docs/protocol/ipc.md §2): `u32 length` (big-endian, counting the command byte
 * and the payload) then `u8 cmd` then the payload. Pure code: building frames and
 * cutting a byte stream back into frames; no sockets.
 * @module
 */
import { IpcError } from "./errors.ts";
import { readU32, writeU32 } from "../bytes.ts";

export { IpcError };

/** Bytes of the length prefix. */
export const FRAME_LENGTH_SIZE = 4;
/** Bytes before the payload: length prefix plus command byte. */
export const FRAME_HEADER_SIZE = FRAME_LENGTH_SIZE + 1;
/** Largest legal `length` value (command byte + payload): 1 MiB. */
export const MAX_FRAME_LENGTH = 1 << 20;
/** Largest payload a frame can carry. */
export const MAX_PAYLOAD_LENGTH = MAX_FRAME_LENGTH - 1;
/** Compact the reader's chunk list once this many consumed slots pile up at its head. */
const CHUNK_COMPACT_THRESHOLD = 64;

/** One decoded frame. `payload` may be a view into the bytes the reader was given. */
export interface Frame {
  /** The command byte. */
  cmd: number;
  /** Everything after the command byte. */
  payload: Uint8Array;
}

/**
 * Allocates a frame for `cmd` with room for `payloadLength` payload bytes and
 * fills in the header; the caller writes the payload at offset
 * {@link FRAME_HEADER_SIZE}. Encoders use it to build a frame with one
 * allocation and one copy. Throws {@link IpcError} `frame-too-large`.
 */
export function allocFrame(cmd: number, payloadLength: number): Uint8Array {
  if (!Number.isInteger(cmd) || cmd < 0 || cmd > 0xff) {
    throw new IpcError("invalid-value", `command byte must be 0..255, got ${cmd}`);
  }
  if (payloadLength > MAX_PAYLOAD_LENGTH) {
    throw new IpcError(
      "frame-too-large",
      `payload of ${payloadLength} bytes exceeds the ${MAX_PAYLOAD_LENGTH}-byte frame limit`,
    );
  }
  const frame = new Uint8Array(FRAME_HEADER_SIZE + payloadLength);
  writeU32(frame, 0, payloadLength + 1);
  frame[FRAME_LENGTH_SIZE] = cmd;
  return frame;
}

/** Builds one complete frame (header + a copy of `payload`). Throws {@link IpcError}. */
export function encodeFrame(cmd: number, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  const frame = allocFrame(cmd, payload.length);
  frame.set(payload, FRAME_HEADER_SIZE);
  return frame;
}

/**
 * Decodes exactly one frame occupying all of `bytes` (no length-0 frames, no
 * trailing bytes). For tests and one-shot use; streams go through
 * {@link FrameReader}. Throws {@link IpcError}.
 */
export function decodeFrame(bytes: Uint8Array): Frame {
  if (bytes.length < FRAME_HEADER_SIZE) {
    throw new IpcError(
      "truncated",
      `frame of ${bytes.length} bytes is shorter than its ${FRAME_HEADER_SIZE}-byte header`,
    );
  }
  const length = readU32(bytes, 0);
  if (length > MAX_FRAME_LENGTH) {
    throw new IpcError("frame-too-large", `frame length ${length} exceeds ${MAX_FRAME_LENGTH}`);
  }
  if (length === 0 || FRAME_LENGTH_SIZE + length !== bytes.length) {
    throw new IpcError(
      "truncated",
      `frame length field says ${length} but ${bytes.length - FRAME_LENGTH_SIZE} bytes follow it`,
    );
  }
  return { cmd: bytes[FRAME_LENGTH_SIZE], payload: bytes.subarray(FRAME_HEADER_SIZE) };
}

/**
 * Cuts a byte stream into frames. Feed it chunks of any size with
 * {@link FrameReader.push}; take complete frames with {@link FrameReader.next}.
 * Chunks are kept by reference (the caller must not reuse a pushed buffer) and a
 * payload that lies inside one chunk is returned as a view, so bulk data is
 * copied at most once, when a frame straddles chunks. Length-0 frames are
 * skipped. A length above {@link MAX_FRAME_LENGTH} is reported as soon as its
 * four bytes arrive and leaves the reader failed: the stream cannot be resynced.
 */
export class FrameReader {
  #chunks: Uint8Array[] = [];
  /** Index of the first live chunk in #chunks. */
  #head = 0;
  /** Bytes of #chunks[#head] already consumed. */
  #offset = 0;
  #buffered = 0;
  /** A frame returned earlier is a view of the head chunk, so its buffer is not ours alone. */
  #headLent = false;
  #failure: IpcError | null = null;

  /** Bytes received but not yet returned as frames. */
  get buffered(): number {
    return this.#buffered;
  }

  /** Appends a chunk. The reader keeps a reference to it. */
  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
  }

  /**
   * The next complete frame, or null when more bytes are needed. Throws
   * {@link IpcError} `frame-too-large` (then on every later call) when the
   * stream announces an oversized frame.
   */
  next(): Frame | null {
    if (this.#failure) throw this.#failure;
    while (this.#buffered >= FRAME_LENGTH_SIZE) {
      const length = this.#peekU32();
      if (length > MAX_FRAME_LENGTH) {
        this.#failure = new IpcError("frame-too-large", `frame length ${length} exceeds ${MAX_FRAME_LENGTH}`);
        throw this.#failure;
      }
      if (length === 0) {
        this.#skip(FRAME_LENGTH_SIZE);
        continue;
      }
      if (this.#buffered < FRAME_LENGTH_SIZE + length) return null;
      this.#skip(FRAME_LENGTH_SIZE);
      const cmd = this.#chunks[this.#head][this.#offset];
      this.#skip(1);
      return { cmd, payload: this.#take(length - 1) };
    }
    return null;
  }

  /** Reads the u32 at the read position without consuming it (it may straddle chunks). */
  #peekU32(): number {
    let value = 0;
    let index = this.#head;
    let offset = this.#offset;
    for (let i = 0; i < FRAME_LENGTH_SIZE; i++) {
      while (offset >= this.#chunks[index].length) {
        index++;
        offset = 0;
      }
      value = value * 256 + this.#chunks[index][offset++];
    }
    return value;
  }

  #skip(n: number): void {
    this.#buffered -= n;
    while (n > 0) {
      const count = Math.min(n, this.#chunks[this.#head].length - this.#offset);
      this.#advance(count);
      n -= count;
    }
  }

  /**
   * Drops everything buffered, and frees now, rather than at a later garbage collection, the memory
   * of every chunk no returned frame still views (its ArrayBuffer is detached). Only for a reader
   * whose pushed chunks own their ArrayBuffers outright, as the daemon's socket reads do; the reader
   * is empty afterwards.
   */
  discard(): void {
    for (let i = this.#head; i < this.#chunks.length; i++) {
      if (i === this.#head && this.#headLent) continue;
      const buffer = this.#chunks[i].buffer;
      if (buffer instanceof ArrayBuffer && !buffer.detached) buffer.transfer(0);
    }
    this.#chunks = [];
    this.#head = this.#offset = this.#buffered = 0;
    this.#headLent = false;
  }

  /** Consumes `n` buffered bytes: a view when they sit in one chunk, else one copy. */
  #take(n: number): Uint8Array {
    if (n === 0) return new Uint8Array(0);
    this.#buffered -= n;
    const first = this.#chunks[this.#head];
    if (this.#offset + n <= first.length) {
      const view = first.subarray(this.#offset, this.#offset + n);
      this.#headLent = true;
      this.#advance(n);
      return view;
    }
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      const chunk = this.#chunks[this.#head];
      const count = Math.min(n - filled, chunk.length - this.#offset);
      out.set(chunk.subarray(this.#offset, this.#offset + count), filled);
      filled += count;
      this.#advance(count);
    }
    return out;
  }

  /** Moves the read position `n` bytes forward within the head chunk, dropping it when used up. */
  #advance(n: number): void {
    this.#offset += n;
    if (this.#offset < this.#chunks[this.#head].length) return;
    this.#head++;
    this.#offset = 0;
    this.#headLent = false;
    if (this.#head === this.#chunks.length) {
      this.#chunks = [];
      this.#head = 0;
    } else if (this.#head >= CHUNK_COMPACT_THRESHOLD) {
      this.#chunks = this.#chunks.slice(this.#head);
      this.#head = 0;
    }
  }
}
