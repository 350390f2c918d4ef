/**
 * Daemon ⇄ driver IPC messages (ipc.md §4–§6): command numbers, the typed
 * request (driver → daemon) and reply/push (daemon → driver) unions, and their
 * encoders/decoders. Encoders return complete frames (one allocation, one copy of
 * any bulk data); decoders take a {@link Frame} and return views into its payload
 * for bulk data. Request decode failures carry the reference daemon's Error text
 * as their message so the server can send it back verbatim. Pure code, no I/O.
 * @module
 */
import { Address, ADDRESS_LENGTH } from "../../protocol/address.ts";
import { fromUtf8, utf8 } from "../../bytes.ts";
import { DaemonError, IpcError } from "./errors.ts";
import { allocFrame, type Frame, FRAME_HEADER_SIZE, MAX_PAYLOAD_LENGTH } from "./frame.ts";
import {
  decodeJsonReply,
  type DeregisterReply,
  encodeJson,
  type HandshakeReply,
  type HealthReply,
  type InfoReply,
  type NetworkReply,
  parseJson,
  type ResolveHostnameReply,
  type SetHostnameReply,
  type SetTagsReply,
  type SetTaskExecReply,
  type SetVisibilityReply,
  type SetWebhookReply,
} from "./replies.ts";

export * from "./errors.ts";
export * from "./frame.ts";
export * from "./replies.ts";

/** Command bytes (ipc.md §4). */
export const Cmd = {
  Bind: 0x01,
  BindOK: 0x02,
  Dial: 0x03,
  DialOK: 0x04,
  Accept: 0x05,
  Send: 0x06,
  Recv: 0x07,
  Close: 0x08,
  CloseOK: 0x09,
  Error: 0x0a,
  SendTo: 0x0b,
  RecvFrom: 0x0c,
  Info: 0x0d,
  InfoOK: 0x0e,
  Handshake: 0x0f,
  HandshakeOK: 0x10,
  ResolveHostname: 0x11,
  ResolveHostnameOK: 0x12,
  SetHostname: 0x13,
  SetHostnameOK: 0x14,
  SetVisibility: 0x15,
  SetVisibilityOK: 0x16,
  Deregister: 0x17,
  DeregisterOK: 0x18,
  SetTags: 0x19,
  SetTagsOK: 0x1a,
  SetWebhook: 0x1b,
  SetWebhookOK: 0x1c,
  SetTaskExec: 0x1d,
  SetTaskExecOK: 0x1e,
  Network: 0x1f,
  NetworkOK: 0x20,
  Health: 0x21,
  HealthOK: 0x22,
} as const;

/** Name of a command in {@link Cmd}. */
export type CmdName = keyof typeof Cmd;

const NAME_BY_CODE = new Map<number, CmdName>(
  (Object.entries(Cmd) as [CmdName, number][]).map(([name, code]) => [code, name]),
);

/** Two upper-case hex digits, as the reference prints command and sub-command bytes. */
export function hexByte(n: number): string {
  return `0x${n.toString(16).toUpperCase().padStart(2, "0")}`;
}

/** The {@link Cmd} name of a command byte, or its hex form when unknown. */
export function commandName(cmd: number): string {
  return NAME_BY_CODE.get(cmd) ?? hexByte(cmd);
}

/** Handshake (0x0F) sub-command bytes (ipc.md §5.1). */
export const HandshakeSub = { Request: 1, Approve: 2, Reject: 3, Pending: 4, Trusted: 5, Revoke: 6 } as const;
/** Network (0x1F) sub-command bytes (ipc.md §5.2). */
export const NetworkSub = {
  List: 1,
  Join: 2,
  Leave: 3,
  Members: 4,
  Invite: 5,
  PollInvites: 6,
  RespondInvite: 7,
} as const;

/** The reference daemon's and driver's default socket path. */
export const DEFAULT_SOCKET_PATH = "/tmp/pilot.sock";
/** The code the reference puts in every Error frame ("generic"). */
export const ERROR_CODE_GENERIC = 1;
/** Most tags one SetTags request may carry (the daemon's own limit). */
export const MAX_TAGS = 3;
/** Bytes of a connection id. */
const CONN_ID_SIZE = 4;
/** Bytes of a port. */
const PORT_SIZE = 2;
/** Largest data one Send frame can carry after its conn id. */
export const MAX_SEND_DATA = MAX_PAYLOAD_LENGTH - CONN_ID_SIZE;
/** Largest data one SendTo frame can carry after address and port. */
export const MAX_SENDTO_DATA = MAX_PAYLOAD_LENGTH - ADDRESS_LENGTH - PORT_SIZE;
/** Largest data one RecvFrom frame can carry after address and two ports. */
export const MAX_RECVFROM_DATA = MAX_PAYLOAD_LENGTH - ADDRESS_LENGTH - 2 * PORT_SIZE;
/** Value byte of SetVisibility / SetTaskExec meaning "on". */
const FLAG_ON = 1;
/** Accept payload size: local port, conn id, remote address, remote port. */
const ACCEPT_SIZE = PORT_SIZE + CONN_ID_SIZE + ADDRESS_LENGTH + PORT_SIZE;
/** RecvFrom fixed part: source address, source port, destination port. */
const RECVFROM_FIXED = ADDRESS_LENGTH + 2 * PORT_SIZE;
/** The empty payload. */
const EMPTY = new Uint8Array(0);

/** A Handshake request's sub-command and arguments. */
export type HandshakeOp =
  | { sub: "request"; nodeId: number; justification: string }
  | { sub: "approve"; nodeId: number }
  | { sub: "reject"; nodeId: number; reason: string }
  | { sub: "pending" }
  | { sub: "trusted" }
  | { sub: "revoke"; nodeId: number };

/** A Network request's sub-command and arguments. */
export type NetworkOp =
  | { sub: "list" }
  | { sub: "join"; networkId: number; token: string }
  | { sub: "leave"; networkId: number }
  | { sub: "members"; networkId: number }
  | { sub: "invite"; networkId: number; targetNodeId: number }
  | { sub: "poll-invites" }
  | { sub: "respond-invite"; networkId: number; accept: boolean };

/** Every driver → daemon message, discriminated by its command byte. */
export type IpcRequest =
  | { cmd: typeof Cmd.Bind; port: number }
  | { cmd: typeof Cmd.Dial; addr: Address; port: number }
  | { cmd: typeof Cmd.Send; connId: number; data: Uint8Array }
  | { cmd: typeof Cmd.Close; connId: number }
  | { cmd: typeof Cmd.SendTo; addr: Address; port: number; data: Uint8Array }
  | { cmd: typeof Cmd.Info }
  | { cmd: typeof Cmd.Handshake; op: HandshakeOp }
  | { cmd: typeof Cmd.ResolveHostname; hostname: string }
  | { cmd: typeof Cmd.SetHostname; hostname: string }
  | { cmd: typeof Cmd.SetVisibility; public: boolean }
  | { cmd: typeof Cmd.Deregister }
  | { cmd: typeof Cmd.SetTags; tags: string[] }
  | { cmd: typeof Cmd.SetWebhook; url: string }
  | { cmd: typeof Cmd.SetTaskExec; enabled: boolean }
  | { cmd: typeof Cmd.Network; op: NetworkOp }
  | { cmd: typeof Cmd.Health };

/** Every daemon → driver message (replies and pushes), discriminated by its command byte. */
export type IpcReply =
  | { cmd: typeof Cmd.BindOK; port: number }
  | { cmd: typeof Cmd.DialOK; connId: number }
  | { cmd: typeof Cmd.Accept; localPort: number; connId: number; remote: Address; remotePort: number }
  | { cmd: typeof Cmd.Recv; connId: number; data: Uint8Array }
  | { cmd: typeof Cmd.CloseOK; connId: number }
  | { cmd: typeof Cmd.Error; code: number; message: string }
  | { cmd: typeof Cmd.RecvFrom; src: Address; srcPort: number; dstPort: number; data: Uint8Array }
  | { cmd: typeof Cmd.InfoOK; body: InfoReply }
  | { cmd: typeof Cmd.HandshakeOK; body: HandshakeReply }
  | { cmd: typeof Cmd.ResolveHostnameOK; body: ResolveHostnameReply }
  | { cmd: typeof Cmd.SetHostnameOK; body: SetHostnameReply }
  | { cmd: typeof Cmd.SetVisibilityOK; body: SetVisibilityReply }
  | { cmd: typeof Cmd.DeregisterOK; body: DeregisterReply }
  | { cmd: typeof Cmd.SetTagsOK; body: SetTagsReply }
  | { cmd: typeof Cmd.SetWebhookOK; body: SetWebhookReply }
  | { cmd: typeof Cmd.SetTaskExecOK; body: SetTaskExecReply }
  | { cmd: typeof Cmd.NetworkOK; body: NetworkReply }
  | { cmd: typeof Cmd.HealthOK; body: HealthReply };

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
// Field validation for encoders

function checkUint(value: number, max: number, what: string): number {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new IpcError("invalid-value", `${what} must be an integer in 0..${max}, got ${value}`);
  }
  return value;
}

const u16 = (v: number, what: string) => checkUint(v, 0xffff, what);
const u32 = (v: number, what: string) => checkUint(v, 0xffffffff, what);

function checkBytes(data: Uint8Array, max: number, what: string): Uint8Array {
  if (!(data instanceof Uint8Array)) throw new IpcError("invalid-value", `${what} must be a Uint8Array`);
  if (data.length > max) {
    throw new IpcError(
      "frame-too-large",
      `${what} of ${data.length} bytes exceeds the ${max}-byte limit of one frame`,
    );
  }
  return data;
}

function checkAddress(addr: Address, what: string): Address {
  if (!(addr instanceof Address)) throw new IpcError("invalid-value", `${what} must be an Address`);
  return addr;
}

/** A frame of `cmd` with a payload of `size` bytes, and a view positioned on its payload. */
function frameOf(cmd: number, size: number): { frame: Uint8Array; view: DataView } {
  const frame = allocFrame(cmd, size);
  return { frame, view: new DataView(frame.buffer, FRAME_HEADER_SIZE, size) };
}

/** A frame whose payload is `prefix` fixed bytes (filled by `fill`) followed by `tail`. */
function frameWithTail(
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

function textFrame(cmd: number, text: string): Uint8Array {
  return frameWithTail(cmd, 0, utf8(text), () => {});
}

function jsonFrame(cmd: number, body: unknown): Uint8Array {
  return frameWithTail(cmd, 0, encodeJson(body), () => {});
}

// ---------------------------------------------------------------------------
// Hot-path encoders (bulk data)

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

/** An Error (0x0A) frame: `u16 code` + UTF-8 message. */
export function encodeErrorFrame(message: string, code = ERROR_CODE_GENERIC): Uint8Array {
  u16(code, "error code");
  return frameWithTail(Cmd.Error, PORT_SIZE, utf8(message), (v) => v.setUint16(0, code));
}

// ---------------------------------------------------------------------------
// Requests (driver → daemon)

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
        EMPTY,
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
      return subFrame(Cmd.Handshake, HandshakeSub.Pending, 0, EMPTY, () => {});
    case "trusted":
      return subFrame(Cmd.Handshake, HandshakeSub.Trusted, 0, EMPTY, () => {});
    case "revoke":
      return subFrame(
        Cmd.Handshake,
        HandshakeSub.Revoke,
        4,
        EMPTY,
        (v) => v.setUint32(1, u32(op.nodeId, "node_id")),
      );
  }
}

function encodeNetwork(op: NetworkOp): Uint8Array {
  const net = (v: DataView) => v.setUint16(1, u16((op as { networkId: number }).networkId, "network_id"));
  switch (op.sub) {
    case "list":
      return subFrame(Cmd.Network, NetworkSub.List, 0, EMPTY, () => {});
    case "join":
      return subFrame(Cmd.Network, NetworkSub.Join, 2, utf8(op.token), net);
    case "leave":
      return subFrame(Cmd.Network, NetworkSub.Leave, 2, EMPTY, net);
    case "members":
      return subFrame(Cmd.Network, NetworkSub.Members, 2, EMPTY, net);
    case "invite":
      return subFrame(Cmd.Network, NetworkSub.Invite, 6, EMPTY, (v) => {
        net(v);
        v.setUint32(3, u32(op.targetNodeId, "target_node_id"));
      });
    case "poll-invites":
      return subFrame(Cmd.Network, NetworkSub.PollInvites, 0, EMPTY, () => {});
    case "respond-invite":
      return subFrame(Cmd.Network, NetworkSub.RespondInvite, 3, EMPTY, (v) => {
        net(v);
        v.setUint8(3, op.accept ? FLAG_ON : 0);
      });
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
      return frameWithTail(Cmd.Bind, PORT_SIZE, EMPTY, (v) => v.setUint16(0, port));
    }
    case Cmd.Dial: {
      const addr = checkAddress(req.addr, "dial address");
      const port = u16(req.port, "port");
      return frameWithTail(Cmd.Dial, ADDRESS_LENGTH + PORT_SIZE, EMPTY, (v) => {
        addr.writeTo(v, 0);
        v.setUint16(ADDRESS_LENGTH, port);
      });
    }
    case Cmd.Send:
      return encodeSendFrame(req.connId, req.data);
    case Cmd.Close: {
      const connId = u32(req.connId, "conn_id");
      return frameWithTail(Cmd.Close, CONN_ID_SIZE, EMPTY, (v) => v.setUint32(0, connId));
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
      return frameWithTail(req.cmd, 1, EMPTY, (v) => v.setUint8(0, req.public ? FLAG_ON : 0));
    case Cmd.SetTaskExec:
      return frameWithTail(req.cmd, 1, EMPTY, (v) => v.setUint8(0, req.enabled ? FLAG_ON : 0));
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
    default:
      throw new IpcError("unknown-sub-command", `network: unknown sub-command ${hexByte(sub)}`);
  }
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
 * message is the text the daemon sends back in its Error frame (ipc.md §4–§5):
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
      return frameWithTail(reply.cmd, PORT_SIZE, EMPTY, (v) => v.setUint16(0, port));
    }
    case Cmd.DialOK:
    case Cmd.CloseOK: {
      const connId = u32(reply.connId, "conn_id");
      return frameWithTail(reply.cmd, CONN_ID_SIZE, EMPTY, (v) => v.setUint32(0, connId));
    }
    case Cmd.Accept: {
      const localPort = u16(reply.localPort, "local_port");
      const connId = u32(reply.connId, "conn_id");
      const remote = checkAddress(reply.remote, "remote address");
      const remotePort = u16(reply.remotePort, "remote_port");
      return frameWithTail(reply.cmd, ACCEPT_SIZE, EMPTY, (v) => {
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
