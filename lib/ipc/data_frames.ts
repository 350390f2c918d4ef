/**
 * The bulk-data frames (docs/protocol/ipc.md §4): Send, Recv, RecvFrom and Error, encoded in one
 * allocation with one copy of the data. The hot path of both the SDK and the
 * daemon's server. Pure code, no I/O.
 * @module
 */
import { type Address, ADDRESS_LENGTH } from "../protocol/address.ts";
import {
  Cmd,
  CONN_ID_SIZE,
  ERROR_CODE_GENERIC,
  MAX_RECVFROM_DATA,
  MAX_SEND_DATA,
  PORT_SIZE,
  RECVFROM_FIXED,
} from "./commands.ts";
import { checkAddress, checkBytes, frameWithTail, u16, u32 } from "./encoding.ts";
import { IpcError } from "./errors.ts";
import { FRAME_HEADER_SIZE, FRAME_LENGTH_SIZE } from "./frame.ts";
import { utf8, writeU32 } from "../bytes.ts";

/** Bytes a Send or Recv frame adds to its data: length prefix, command byte, conn id. */
export const DATA_FRAME_OVERHEAD = FRAME_HEADER_SIZE + CONN_ID_SIZE;

/** Allocates frames; given a pool's `take`, frames reuse its buffers. */
export type FrameAlloc = (frameLength: number) => Uint8Array;
const newFrame: FrameAlloc = (n) => new Uint8Array(n);

/** Writes the header of a `cmd` frame carrying `connId` and `dataLength` bytes into `frame`. */
function dataFrameHeader(frame: Uint8Array, cmd: number, connId: number, dataLength: number): void {
  writeU32(frame, 0, 1 + CONN_ID_SIZE + dataLength);
  frame[FRAME_LENGTH_SIZE] = cmd;
  writeU32(frame, FRAME_HEADER_SIZE, connId);
}

/**
 * A Send (0x06) frame: `u32 conn_id` + data. Split data above {@link MAX_SEND_DATA} first. With
 * `alloc`, the frame is built in the buffer it returns (a pool's).
 */
export function encodeSendFrame(connId: number, data: Uint8Array, alloc: FrameAlloc = newFrame): Uint8Array {
  u32(connId, "conn_id");
  checkBytes(data, MAX_SEND_DATA, "send data");
  const frame = alloc(DATA_FRAME_OVERHEAD + data.length);
  dataFrameHeader(frame, Cmd.Send, connId, data.length);
  frame.set(data, DATA_FRAME_OVERHEAD);
  return frame;
}

/** A Recv (0x07) push frame: `u32 conn_id` + data (at most {@link MAX_SEND_DATA} bytes). */
export function encodeRecvFrame(connId: number, data: Uint8Array): Uint8Array {
  u32(connId, "conn_id");
  checkBytes(data, MAX_SEND_DATA, "recv data");
  return frameWithTail(Cmd.Recv, CONN_ID_SIZE, data, (v) => v.setUint32(0, connId));
}

/**
 * One Recv frame carrying `parts` back to back (at most {@link MAX_SEND_DATA} bytes together), so
 * a stream's received segments go to the client in one frame with one copy each. With `alloc`, the
 * frame is built in the buffer it returns (a pool's).
 */
export function encodeRecvFrameOf(
  connId: number,
  parts: readonly Uint8Array[],
  alloc: FrameAlloc = newFrame,
): Uint8Array {
  u32(connId, "conn_id");
  let length = 0;
  for (const part of parts) length += checkBytes(part, MAX_SEND_DATA, "recv data").length;
  if (length > MAX_SEND_DATA) {
    throw new IpcError(
      "frame-too-large",
      `recv data of ${length} bytes exceeds the ${MAX_SEND_DATA}-byte limit`,
    );
  }
  const frame = alloc(DATA_FRAME_OVERHEAD + length);
  dataFrameHeader(frame, Cmd.Recv, connId, length);
  let at = DATA_FRAME_OVERHEAD;
  for (const part of parts) {
    frame.set(part, at);
    at += part.length;
  }
  return frame;
}

/** An Error (0x0A) frame: `u16 code` + UTF-8 message. */
export function encodeErrorFrame(message: string, code = ERROR_CODE_GENERIC): Uint8Array {
  u16(code, "error code");
  return frameWithTail(Cmd.Error, PORT_SIZE, utf8(message), (v) => v.setUint16(0, code));
}
/** A RecvFrom (0x0C) push frame, built once and shared by every client it goes to. */
export function encodeRecvFromFrame(
  src: Address,
  srcPort: number,
  dstPort: number,
  data: Uint8Array,
): Uint8Array {
  checkAddress(src, "source address");
  u16(srcPort, "src_port");
  u16(dstPort, "dst_port");
  checkBytes(data, MAX_RECVFROM_DATA, "datagram");
  return frameWithTail(Cmd.RecvFrom, RECVFROM_FIXED, data, (v) => {
    src.writeTo(v, 0);
    v.setUint16(ADDRESS_LENGTH, srcPort);
    v.setUint16(ADDRESS_LENGTH + PORT_SIZE, dstPort);
  });
}
