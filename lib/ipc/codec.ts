/**
 * Daemon ⇄ driver IPC messages (docs/protocol/ipc.md §4–§6): daemon → driver replies and pushes,
 * and one import for the whole codec (commands, frames, requests, bulk-data frames,
 * replies, errors). Encoders return complete frames (one allocation, one copy of any
 * bulk data); decoders take a {@link Frame} and return views into its payload for
 * bulk data. Pure code, no I/O.
 * @module
 */
import { Address, ADDRESS_LENGTH } from "../protocol/address.ts";
import { fromUtf8 } from "../bytes.ts";
import { DaemonError, IpcError } from "./errors.ts";
import type { Frame } from "./frame.ts";
import { decodeJsonReply } from "./replies.ts";
import {
  ACCEPT_SIZE,
  Cmd,
  commandName,
  CONN_ID_SIZE,
  EMPTY_PAYLOAD,
  hexByte,
  type IpcReply,
  PORT_SIZE,
  RECVFROM_FIXED,
} from "./commands.ts";
import { checkAddress, frameWithTail, jsonFrame, u16, u32 } from "./encoding.ts";
import { encodeErrorFrame, encodeRecvFrame, encodeRecvFromFrame } from "./data_frames.ts";

export * from "./errors.ts";
export * from "./frame.ts";
export * from "./replies.ts";
export * from "./commands.ts";
export { decodeRequest, encodeRequest } from "./requests.ts";
export {
  DATA_FRAME_OVERHEAD,
  encodeErrorFrame,
  encodeRecvFrame,
  encodeRecvFrameOf,
  encodeRecvFromFrame,
  encodeSendFrame,
  type FrameAlloc,
} from "./data_frames.ts";

/** Reply commands whose payload is a JSON object. */
const JSON_REPLIES = new Set<number>([
  Cmd.InfoOK,
  Cmd.HandshakeOK,
  Cmd.ResolveHostnameOK,
  Cmd.SetHostnameOK,
  Cmd.SetVisibilityOK,
  Cmd.DeregisterOK,
  Cmd.SetTagsOK,
  Cmd.SetWebhookOK,
  Cmd.SetTaskExecOK,
  Cmd.NetworkOK,
  Cmd.HealthOK,
]);

// ---------------------------------------------------------------------------
// Replies and pushes (daemon → driver)

/**
 * Encodes a daemon → driver reply or push as one complete frame. JSON bodies are
 * written with sorted keys like the reference. Throws {@link IpcError}.
 */
export function encodeReply(reply: IpcReply): Uint8Array {
  switch (reply.cmd) {
    case Cmd.BindOK: {
      const port = u16(reply.port, "port");
      return frameWithTail(reply.cmd, PORT_SIZE, EMPTY_PAYLOAD, (v) => v.setUint16(0, port));
    }
    case Cmd.DialOK:
    case Cmd.CloseOK: {
      const connId = u32(reply.connId, "conn_id");
      return frameWithTail(reply.cmd, CONN_ID_SIZE, EMPTY_PAYLOAD, (v) => v.setUint32(0, connId));
    }
    case Cmd.Accept: {
      const localPort = u16(reply.localPort, "local_port");
      const connId = u32(reply.connId, "conn_id");
      const remote = checkAddress(reply.remote, "remote address");
      const remotePort = u16(reply.remotePort, "remote_port");
      return frameWithTail(reply.cmd, ACCEPT_SIZE, EMPTY_PAYLOAD, (v) => {
        v.setUint16(0, localPort);
        v.setUint32(2, connId);
        remote.writeTo(v, 6);
        v.setUint16(6 + ADDRESS_LENGTH, remotePort);
      });
    }
    case Cmd.Recv:
      return encodeRecvFrame(reply.connId, reply.data);
    case Cmd.Error:
      return encodeErrorFrame(reply.message, reply.code);
    case Cmd.RecvFrom:
      return encodeRecvFromFrame(reply.src, reply.srcPort, reply.dstPort, reply.data);
    default:
      return jsonFrame(reply.cmd, reply.body);
  }
}

function replyNeed(p: Uint8Array, n: number, name: string): DataView {
  if (p.length < n) throw new IpcError("truncated", `${name} payload has ${p.length} bytes, needs ${n}`);
  return new DataView(p.buffer, p.byteOffset, p.byteLength);
}

/**
 * Decodes a daemon → driver reply or push. Throws {@link IpcError}: `truncated`
 * for short fixed parts, `invalid-json` for bad JSON bodies, `unknown-command`
 * for a command byte that the daemon never sends.
 */
export function decodeReply(frame: Frame): IpcReply {
  const p = frame.payload;
  const cmd = frame.cmd;
  switch (cmd) {
    case Cmd.BindOK:
      return { cmd, port: replyNeed(p, PORT_SIZE, "BindOK").getUint16(0) };
    case Cmd.DialOK:
      return { cmd, connId: replyNeed(p, CONN_ID_SIZE, "DialOK").getUint32(0) };
    case Cmd.CloseOK:
      return { cmd, connId: replyNeed(p, CONN_ID_SIZE, "CloseOK").getUint32(0) };
    case Cmd.Accept: {
      const v = replyNeed(p, ACCEPT_SIZE, "Accept");
      return {
        cmd,
        localPort: v.getUint16(0),
        connId: v.getUint32(2),
        remote: Address.readFrom(v, 6),
        remotePort: v.getUint16(6 + ADDRESS_LENGTH),
      };
    }
    case Cmd.Recv: {
      const v = replyNeed(p, CONN_ID_SIZE, "Recv");
      return { cmd, connId: v.getUint32(0), data: p.subarray(CONN_ID_SIZE) };
    }
    case Cmd.Error: {
      const v = replyNeed(p, PORT_SIZE, "Error");
      return { cmd, code: v.getUint16(0), message: fromUtf8(p.subarray(PORT_SIZE)) };
    }
    case Cmd.RecvFrom: {
      const v = replyNeed(p, RECVFROM_FIXED, "RecvFrom");
      return {
        cmd,
        src: Address.readFrom(v, 0),
        srcPort: v.getUint16(ADDRESS_LENGTH),
        dstPort: v.getUint16(ADDRESS_LENGTH + PORT_SIZE),
        data: p.subarray(RECVFROM_FIXED),
      };
    }
    default:
      if (!JSON_REPLIES.has(cmd)) {
        throw new IpcError("unknown-command", `unexpected command from daemon: ${hexByte(cmd)}`);
      }
      // The cast pairs each JSON reply command with its body type; decodeJsonReply checked the shape.
      return { cmd, body: decodeJsonReply(commandName(cmd), p) } as IpcReply;
  }
}

/** The {@link DaemonError} an Error reply stands for. */
export function daemonError(reply: { code: number; message: string }): DaemonError {
  return new DaemonError(reply.code, reply.message);
}
