/**
 * Driver → daemon requests (docs/protocol/ipc.md §4–§5): the encoder the SDK uses and the
 * decoder the daemon's server uses. Decode failures carry the reference
 * daemon's Error text as their message so the server can send it back verbatim.
 * Pure code, no I/O.
 * @module
 */
import { Address, ADDRESS_LENGTH } from "../protocol/address.ts";
import { fromUtf8, utf8 } from "../bytes.ts";
import { IpcError } from "./errors.ts";
import { allocFrame, type Frame } from "./frame.ts";
import { parseJson } from "./replies.ts";
import {
  Cmd,
  CONN_ID_SIZE,
  EMPTY_PAYLOAD,
  FLAG_ON,
  type HandshakeOp,
  HandshakeSub,
  hexByte,
  type IpcRequest,
  MAX_SENDTO_DATA,
  MAX_TAGS,
  type NetworkOp,
  NetworkSub,
  PORT_SIZE,
  type RegistryRequest,
} from "./commands.ts";
import { checkAddress, checkBytes, frameWithTail, textFrame, u16, u32 } from "./encoding.ts";
import { encodeSendFrame } from "./data_frames.ts";

function encodeHandshake(op: HandshakeOp): Uint8Array {
  switch (op.sub) {
    case "request":
      return subFrame(
        Cmd.Handshake,
        HandshakeSub.Request,
        4,
        utf8(op.justification),
        (v) => v.setUint32(1, u32(op.nodeId, "node_id")),
      );
    case "approve":
      return subFrame(
        Cmd.Handshake,
        HandshakeSub.Approve,
        4,
        EMPTY_PAYLOAD,
        (v) => v.setUint32(1, u32(op.nodeId, "node_id")),
      );
    case "reject":
      return subFrame(
        Cmd.Handshake,
        HandshakeSub.Reject,
        4,
        utf8(op.reason),
        (v) => v.setUint32(1, u32(op.nodeId, "node_id")),
      );
    case "pending":
      return subFrame(Cmd.Handshake, HandshakeSub.Pending, 0, EMPTY_PAYLOAD, () => {});
    case "trusted":
      return subFrame(Cmd.Handshake, HandshakeSub.Trusted, 0, EMPTY_PAYLOAD, () => {});
    case "revoke":
      return subFrame(
        Cmd.Handshake,
        HandshakeSub.Revoke,
        4,
        EMPTY_PAYLOAD,
        (v) => v.setUint32(1, u32(op.nodeId, "node_id")),
      );
  }
}

function encodeNetwork(op: NetworkOp): Uint8Array {
  const net = (v: DataView) => v.setUint16(1, u16((op as { networkId: number }).networkId, "network_id"));
  switch (op.sub) {
    case "list":
      return subFrame(Cmd.Network, NetworkSub.List, 0, EMPTY_PAYLOAD, () => {});
    case "join":
      return subFrame(Cmd.Network, NetworkSub.Join, 2, utf8(op.token), net);
    case "leave":
      return subFrame(Cmd.Network, NetworkSub.Leave, 2, EMPTY_PAYLOAD, net);
    case "members":
      return subFrame(Cmd.Network, NetworkSub.Members, 2, EMPTY_PAYLOAD, net);
    case "invite":
      return subFrame(Cmd.Network, NetworkSub.Invite, 6, EMPTY_PAYLOAD, (v) => {
        net(v);
        v.setUint32(3, u32(op.targetNodeId, "target_node_id"));
      });
    case "poll-invites":
      return subFrame(Cmd.Network, NetworkSub.PollInvites, 0, EMPTY_PAYLOAD, () => {});
    case "respond-invite":
      return subFrame(Cmd.Network, NetworkSub.RespondInvite, 3, EMPTY_PAYLOAD, (v) => {
        net(v);
        v.setUint8(3, op.accept ? FLAG_ON : 0);
      });
    case "registry":
      return subFrame(Cmd.Network, NetworkSub.Registry, 0, utf8(JSON.stringify(op.request)), () => {});
  }
}

/** A frame whose payload starts with a sub-command byte, then `fixed` bytes filled by `fill` (offsets count the sub byte), then `tail`. */
function subFrame(
  cmd: number,
  sub: number,
  fixed: number,
  tail: Uint8Array,
  fill: (v: DataView) => void,
): Uint8Array {
  return frameWithTail(cmd, 1 + fixed, tail, (v) => {
    v.setUint8(0, sub);
    fill(v);
  });
}

/**
 * Encodes a driver → daemon request as one complete frame. Throws
 * {@link IpcError} `invalid-value` for out-of-range fields and
 * `frame-too-large` for data that does not fit one frame (split Send data with
 * {@link MAX_SEND_DATA}).
 */
export function encodeRequest(req: IpcRequest): Uint8Array {
  switch (req.cmd) {
    case Cmd.Bind: {
      const port = u16(req.port, "port");
      return frameWithTail(Cmd.Bind, PORT_SIZE, EMPTY_PAYLOAD, (v) => v.setUint16(0, port));
    }
    case Cmd.Dial: {
      const addr = checkAddress(req.addr, "dial address");
      const port = u16(req.port, "port");
      return frameWithTail(Cmd.Dial, ADDRESS_LENGTH + PORT_SIZE, EMPTY_PAYLOAD, (v) => {
        addr.writeTo(v, 0);
        v.setUint16(ADDRESS_LENGTH, port);
      });
    }
    case Cmd.Send:
      return encodeSendFrame(req.connId, req.data);
    case Cmd.Close: {
      const connId = u32(req.connId, "conn_id");
      return frameWithTail(Cmd.Close, CONN_ID_SIZE, EMPTY_PAYLOAD, (v) => v.setUint32(0, connId));
    }
    case Cmd.SendTo: {
      const addr = checkAddress(req.addr, "sendto address");
      const port = u16(req.port, "port");
      const data = checkBytes(req.data, MAX_SENDTO_DATA, "datagram");
      return frameWithTail(Cmd.SendTo, ADDRESS_LENGTH + PORT_SIZE, data, (v) => {
        addr.writeTo(v, 0);
        v.setUint16(ADDRESS_LENGTH, port);
      });
    }
    case Cmd.Info:
    case Cmd.Deregister:
    case Cmd.Health:
      return allocFrame(req.cmd, 0);
    case Cmd.Handshake:
      return encodeHandshake(req.op);
    case Cmd.ResolveHostname:
      return textFrame(req.cmd, req.hostname);
    case Cmd.SetHostname:
      return textFrame(req.cmd, req.hostname);
    case Cmd.SetWebhook:
      return textFrame(req.cmd, req.url);
    case Cmd.SetVisibility:
      return frameWithTail(req.cmd, 1, EMPTY_PAYLOAD, (v) => v.setUint8(0, req.public ? FLAG_ON : 0));
    case Cmd.SetTaskExec:
      return frameWithTail(req.cmd, 1, EMPTY_PAYLOAD, (v) => v.setUint8(0, req.enabled ? FLAG_ON : 0));
    case Cmd.SetTags: {
      if (!Array.isArray(req.tags) || !req.tags.every((t) => typeof t === "string")) {
        throw new IpcError("invalid-value", "tags must be an array of strings");
      }
      return frameWithTail(req.cmd, 0, utf8(JSON.stringify(req.tags)), () => {});
    }
    case Cmd.Network:
      return encodeNetwork(req.op);
  }
}

/** Throws the reference's truncation error text unless `payload` has `need` bytes. */
function need(payload: Uint8Array, n: number, text: string): DataView {
  if (payload.length < n) throw new IpcError("truncated", text);
  return new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
}

function decodeHandshakeOp(p: Uint8Array): HandshakeOp {
  if (p.length < 1) throw new IpcError("truncated", "handshake: missing sub-command");
  const sub = p[0];
  const nodeId = (what: string) => need(p, 5, `handshake ${what}: missing node_id`).getUint32(1);
  switch (sub) {
    case HandshakeSub.Request:
      return { sub: "request", nodeId: nodeId("request"), justification: fromUtf8(p.subarray(5)) };
    case HandshakeSub.Approve:
      return { sub: "approve", nodeId: nodeId("approve") };
    case HandshakeSub.Reject:
      return { sub: "reject", nodeId: nodeId("reject"), reason: fromUtf8(p.subarray(5)) };
    case HandshakeSub.Pending:
      return { sub: "pending" };
    case HandshakeSub.Trusted:
      return { sub: "trusted" };
    case HandshakeSub.Revoke:
      return { sub: "revoke", nodeId: nodeId("revoke") };
    default:
      throw new IpcError("unknown-sub-command", `handshake: unknown sub-command ${hexByte(sub)}`);
  }
}

function decodeNetworkOp(p: Uint8Array): NetworkOp {
  if (p.length < 1) throw new IpcError("truncated", "network: missing sub-command");
  const sub = p[0];
  const networkId = (op: string) => need(p, 3, `network ${op}: missing network_id`).getUint16(1);
  switch (sub) {
    case NetworkSub.List:
      return { sub: "list" };
    case NetworkSub.Join:
      return { sub: "join", networkId: networkId("join"), token: fromUtf8(p.subarray(3)) };
    case NetworkSub.Leave:
      return { sub: "leave", networkId: networkId("leave") };
    case NetworkSub.Members:
      return { sub: "members", networkId: networkId("members") };
    case NetworkSub.Invite: {
      const v = need(p, 7, "network invite: missing network_id or target_node_id");
      return { sub: "invite", networkId: v.getUint16(1), targetNodeId: v.getUint32(3) };
    }
    case NetworkSub.PollInvites:
      return { sub: "poll-invites" };
    case NetworkSub.RespondInvite: {
      const v = need(p, 4, "network respond-invite: missing network_id or accept flag");
      return { sub: "respond-invite", networkId: v.getUint16(1), accept: v.getUint8(3) === FLAG_ON };
    }
    case NetworkSub.Registry:
      return { sub: "registry", request: decodeRegistryRequest(p.subarray(1)) };
    default:
      throw new IpcError("unknown-sub-command", `network: unknown sub-command ${hexByte(sub)}`);
  }
}

/** Most bytes of a Network Registry request's JSON (the registry's own request cap is larger). */
export const MAX_REGISTRY_REQUEST_JSON = 64 * 1024;

function decodeRegistryRequest(p: Uint8Array): RegistryRequest {
  if (p.length > MAX_REGISTRY_REQUEST_JSON) {
    throw new IpcError(
      "invalid-value",
      `network registry: request larger than ${MAX_REGISTRY_REQUEST_JSON} bytes`,
    );
  }
  const value = parseJson(p, "network registry");
  if (
    value === null || typeof value !== "object" || Array.isArray(value) ||
    typeof (value as { type?: unknown }).type !== "string"
  ) {
    throw new IpcError("invalid-json", "network registry: expected a JSON object with a string `type`");
  }
  return value as RegistryRequest;
}

function decodeTags(p: Uint8Array): string[] {
  const value = parseJson(p, "set_tags");
  // The reference decodes into a string slice, where JSON null means "no tags".
  if (value === null) return [];
  if (!Array.isArray(value) || !value.every((t) => typeof t === "string")) {
    throw new IpcError("invalid-json", "set_tags: invalid JSON: expected an array of strings");
  }
  if (value.length > MAX_TAGS) {
    throw new IpcError("invalid-value", `set_tags: maximum ${MAX_TAGS} tags allowed`);
  }
  return value;
}

/**
 * Decodes a driver → daemon request. Failures throw {@link IpcError} whose
 * message is the text the daemon sends back in its Error frame (docs/protocol/ipc.md §4–§5):
 * `bind: missing port`, `unknown command: 0xNN`, and so on. Extra bytes after a
 * fixed-size payload are ignored, as in the reference.
 */
export function decodeRequest(frame: Frame): IpcRequest {
  const p = frame.payload;
  switch (frame.cmd) {
    case Cmd.Bind:
      return { cmd: Cmd.Bind, port: need(p, 2, "bind: missing port").getUint16(0) };
    case Cmd.Dial: {
      const v = need(p, 8, "dial: missing address/port");
      return { cmd: Cmd.Dial, addr: Address.readFrom(v, 0), port: v.getUint16(ADDRESS_LENGTH) };
    }
    case Cmd.Send: {
      const v = need(p, 4, "send: missing conn_id");
      return { cmd: Cmd.Send, connId: v.getUint32(0), data: p.subarray(CONN_ID_SIZE) };
    }
    case Cmd.Close:
      return { cmd: Cmd.Close, connId: need(p, 4, "close: missing conn_id").getUint32(0) };
    case Cmd.SendTo: {
      const v = need(p, 8, "sendto: missing address/port");
      return {
        cmd: Cmd.SendTo,
        addr: Address.readFrom(v, 0),
        port: v.getUint16(ADDRESS_LENGTH),
        data: p.subarray(ADDRESS_LENGTH + PORT_SIZE),
      };
    }
    case Cmd.Info:
      return { cmd: Cmd.Info };
    case Cmd.Deregister:
      return { cmd: Cmd.Deregister };
    case Cmd.Health:
      return { cmd: Cmd.Health };
    case Cmd.Handshake:
      return { cmd: Cmd.Handshake, op: decodeHandshakeOp(p) };
    case Cmd.ResolveHostname:
      if (p.length === 0) throw new IpcError("truncated", "resolve_hostname: missing hostname");
      return { cmd: Cmd.ResolveHostname, hostname: fromUtf8(p) };
    case Cmd.SetHostname:
      return { cmd: Cmd.SetHostname, hostname: fromUtf8(p) };
    case Cmd.SetWebhook:
      return { cmd: Cmd.SetWebhook, url: fromUtf8(p) };
    case Cmd.SetVisibility:
      if (p.length === 0) throw new IpcError("truncated", "set_visibility: missing value");
      return { cmd: Cmd.SetVisibility, public: p[0] === FLAG_ON };
    case Cmd.SetTaskExec:
      if (p.length === 0) throw new IpcError("truncated", "set_task_exec: missing value");
      return { cmd: Cmd.SetTaskExec, enabled: p[0] === FLAG_ON };
    case Cmd.SetTags:
      return { cmd: Cmd.SetTags, tags: decodeTags(p) };
    case Cmd.Network:
      return { cmd: Cmd.Network, op: decodeNetworkOp(p) };
    default:
      throw new IpcError("unknown-command", `unknown command: ${hexByte(frame.cmd)}`);
  }
}
