/**
 * A stream's options checked and resolved against their defaults, once, when the stream is
 * created: a bad value makes creating the stream (a dial) throw a clear RangeError instead of
 * surfacing later as a stalled or malformed connection. Apart from the stream so its constructor
 * reads as wiring, not validation.
 * @module
 */
import { DEFAULT_MSS, RECV_BUFFER_BYTES, SEND_BUFFER_BYTES, WINDOW_UNIT_BYTES } from "./stream_constants.ts";
import type { StreamOptions } from "./stream_types.ts";

/** Every option of a stream, with its value in force. */
export interface ResolvedStreamOptions {
  /** Payload bytes per segment, 1..65535. */
  mss: number;
  /** Bytes per unit of the Window field: never more than our segment size, so a small MSS reads the window conservatively. */
  windowUnit: number;
  sendBufferBytes: number;
  recvBufferBytes: number;
  /** Nagle coalescing on (`noDelay` unset or false). */
  nagle: boolean;
}

/** Checks `o` and fills in the defaults; throws RangeError on a value a stream cannot use. */
export function resolveStreamOptions(o: StreamOptions = {}): ResolvedStreamOptions {
  const mss = positiveInt(o.mss ?? DEFAULT_MSS, "mss");
  if (mss > 0xffff) throw new RangeError(`mss must be at most 65535, got ${mss}`);
  return {
    mss,
    windowUnit: Math.min(mss, WINDOW_UNIT_BYTES),
    sendBufferBytes: positiveInt(o.sendBufferBytes ?? SEND_BUFFER_BYTES, "sendBufferBytes"),
    recvBufferBytes: positiveInt(o.recvBufferBytes ?? RECV_BUFFER_BYTES, "recvBufferBytes"),
    nagle: !o.noDelay,
  };
}

function positiveInt(v: number, name: string): number {
  if (!Number.isInteger(v) || v <= 0) throw new RangeError(`${name} must be a positive integer, got ${v}`);
  return v;
}
