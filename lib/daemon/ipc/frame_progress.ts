/**
 * Tracks where frame boundaries fall in an IPC byte stream (docs/protocol/ipc.md §2) as chunks
 * arrive, without keeping any bytes, so the server can tell whether a client is in
 * the middle of a frame (and for how long) independently of how far the request
 * loop has got. Pure code: no sockets, no timers.
 * @module
 */
import { FRAME_LENGTH_SIZE } from "../../ipc/frame.ts";

/** Follows the length prefixes of a frame stream. */
export class FrameProgress {
  /** Length-prefix bytes of the current frame seen so far (0..3). */
  #headerSeen = 0;
  /** The length prefix being assembled. */
  #length = 0;
  /** Body bytes (command byte + payload) of the current frame still to come. */
  #bodyLeft = 0;

  /** True while a frame has started but not ended. */
  get midFrame(): boolean {
    return this.#headerSeen > 0 || this.#bodyLeft > 0;
  }

  /**
   * Bytes still to come before the current frame, or at least its length prefix,
   * is complete (0 between frames).
   */
  get remaining(): number {
    return this.#headerSeen > 0 ? FRAME_LENGTH_SIZE - this.#headerSeen : this.#bodyLeft;
  }

  /**
   * Accounts for `chunk`. Returns true when a new frame started in it and is
   * still unfinished at its end (the moment a frame deadline should start).
   * Lengths are not checked here: the frame reader rejects oversized ones.
   */
  feed(chunk: Uint8Array): boolean {
    let started = false;
    let i = 0;
    while (i < chunk.length) {
      if (this.#bodyLeft > 0) {
        const take = Math.min(this.#bodyLeft, chunk.length - i);
        this.#bodyLeft -= take;
        i += take;
        if (this.#bodyLeft === 0) started = false;
        continue;
      }
      if (this.#headerSeen === 0) started = true;
      this.#length = this.#length * 256 + chunk[i++];
      if (++this.#headerSeen === FRAME_LENGTH_SIZE) {
        this.#bodyLeft = this.#length;
        this.#headerSeen = 0;
        this.#length = 0;
        if (this.#bodyLeft === 0) started = false;
      }
    }
    return started && this.midFrame;
  }
}
