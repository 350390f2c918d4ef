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
import { allocFrame, FRAME_HEADER_SIZE } from "./frame.ts";
import { utf8, writeU32 } from "../bytes.ts";

/** A Send (0x06) frame: `u32 conn_id` + data. Split data above {@link MAX_SEND_DATA} first. */
export function encodeSendFrame(connId: number, data: Uint8Array): Uint8Array {
  u32(connId, "conn_id");
  checkBytes(data, MAX_SEND_DATA, "send data");
  return frameWithTail(Cmd.Send, CONN_ID_SIZE, data, (v) => v.setUint32(0, connId));
}

/** A Recv (0x07) push frame: `u32 conn_id` + data (at most {@link MAX_SEND_DATA} bytes). */
export function encodeRecvFrame(connId: number, data: Uint8Array): Uint8Array {
  u32(connId, "conn_id");
  checkBytes(data, MAX_SEND_DATA, "recv data");
  return frameWithTail(Cmd.Recv, CONN_ID_SIZE, data, (v) => v.setUint32(0, connId));
}

/**
 * One Recv frame carrying `parts` back to back (at most {@link MAX_SEND_DATA} bytes together), so
 * a stream's received segments go to the client in one frame with one copy each.
 */
export function encodeRecvFrameOf(connId: number, parts: readonly Uint8Array[]): Uint8Array {
  u32(connId, "conn_id");
  let length = 0;
  for (const part of parts) length += checkBytes(part, MAX_SEND_DATA, "recv data").length;
  if (length > MAX_SEND_DATA) {
    throw new IpcError(
      "frame-too-large",
      `recv data of ${length} bytes exceeds the ${MAX_SEND_DATA}-byte limit`,
    );
  }
  const frame = allocFrame(Cmd.Recv, CONN_ID_SIZE + length);
  writeU32(frame, FRAME_HEADER_SIZE, connId);
  let at = FRAME_HEADER_SIZE + CONN_ID_SIZE;
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
