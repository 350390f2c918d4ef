/**
 * Field checks and frame builders shared by the IPC request and reply encoders:
 * range-checked integers, bounded byte arrays, and frames allocated once with a
 * fixed part and a bulk tail. Pure code, no I/O.
 * @module
 */
import { Address } from "../protocol/address.ts";
import { utf8 } from "../bytes.ts";
import { IpcError } from "./errors.ts";
import { allocFrame, FRAME_HEADER_SIZE } from "./frame.ts";
import { encodeJson } from "./replies.ts";

/** `value` if it is an integer in 0..`max`; otherwise throws {@link IpcError} `invalid-value` naming `what`. */
export function checkUint(value: number, max: number, what: string): number {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new IpcError("invalid-value", `${what} must be an integer in 0..${max}, got ${value}`);
  }
  return value;
}

/** `v` if it fits a u16 (see {@link checkUint}). */
export const u16 = (v: number, what: string): number => checkUint(v, 0xffff, what);
/** `v` if it fits a u32 (see {@link checkUint}). */
export const u32 = (v: number, what: string): number => checkUint(v, 0xffffffff, what);

/** `data` if it is a Uint8Array of at most `max` bytes; otherwise throws {@link IpcError}. */
export function checkBytes(data: Uint8Array, max: number, what: string): Uint8Array {
  if (!(data instanceof Uint8Array)) throw new IpcError("invalid-value", `${what} must be a Uint8Array`);
  if (data.length > max) {
    throw new IpcError(
      "frame-too-large",
      `${what} of ${data.length} bytes exceeds the ${max}-byte limit of one frame`,
    );
  }
  return data;
}

/** `addr` if it is an {@link Address}; otherwise throws {@link IpcError} `invalid-value`. */
export function checkAddress(addr: Address, what: string): Address {
  if (!(addr instanceof Address)) throw new IpcError("invalid-value", `${what} must be an Address`);
  return addr;
}

/** A frame of `cmd` with a payload of `size` bytes, and a view positioned on its payload. */
export function frameOf(cmd: number, size: number): { frame: Uint8Array; view: DataView } {
  const frame = allocFrame(cmd, size);
  return { frame, view: new DataView(frame.buffer, FRAME_HEADER_SIZE, size) };
}

/** A frame whose payload is `prefix` fixed bytes (filled by `fill`) followed by `tail`. */
export function frameWithTail(
  cmd: number,
  prefix: number,
  tail: Uint8Array,
  fill: (view: DataView) => void,
): Uint8Array {
  const { frame, view } = frameOf(cmd, prefix + tail.length);
  fill(view);
  frame.set(tail, FRAME_HEADER_SIZE + prefix);
  return frame;
}

/** A frame whose payload is `text` in UTF-8. */
export function textFrame(cmd: number, text: string): Uint8Array {
  return frameWithTail(cmd, 0, utf8(text), () => {});
}

/** A frame whose payload is `body` as JSON with sorted keys. */
export function jsonFrame(cmd: number, body: unknown): Uint8Array {
  return frameWithTail(cmd, 0, encodeJson(body), () => {});
}
