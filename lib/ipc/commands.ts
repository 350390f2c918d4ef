/**
 * The IPC's vocabulary (docs/protocol/ipc.md §4–§5): command and sub-command bytes, size limits
 * of the fixed payload parts, and the typed request (driver → daemon) and
 * reply/push (daemon → driver) unions the codec encodes and decodes. Types and
 * constants only.
 * @module
 */
import { type Address, ADDRESS_LENGTH } from "../protocol/address.ts";
import { FRAME_HEADER_SIZE, MAX_PAYLOAD_LENGTH } from "./frame.ts";
import type {
  DeregisterReply,
  HandshakeReply,
  HealthReply,
  InfoReply,
  NetworkReply,
  ResolveHostnameReply,
  SetHostnameReply,
  SetTagsReply,
  SetTaskExecReply,
  SetVisibilityReply,
  SetWebhookReply,
} from "./replies.ts";

/** Command bytes (docs/protocol/ipc.md §4). */
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

/** Handshake (0x0F) sub-command bytes (docs/protocol/ipc.md §5.1). */
export const HandshakeSub = { Request: 1, Approve: 2, Reject: 3, Pending: 4, Trusted: 5, Revoke: 6 } as const;
/** Network (0x1F) sub-command bytes (docs/protocol/ipc.md §5.2). */
export const NetworkSub = {
  List: 1,
  Join: 2,
  Leave: 3,
  Members: 4,
  Invite: 5,
  PollInvites: 6,
  RespondInvite: 7,
  /**
   * Ours, not the reference's: a registry request the daemon makes for the client, signed as
   * the node (payload: a JSON object whose `type` names the operation). Carries what the
   * reference pilotctl sends to the registry itself (network admin, role, policy, audit,
   * lookup, register), so it is signed in the dialect the daemon detected. A reference
   * daemon answers `network: unknown sub-command 0x10`.
   */
  Registry: 0x10,
} as const;

/**
 * The reference daemon's and driver's default socket path.
 *
 * @example
 * ```ts
 * import { connect, DEFAULT_SOCKET_PATH } from "../../mod.ts";
 * const socketPath = Deno.env.get("PILOT_SOCKET") ?? DEFAULT_SOCKET_PATH;
 * const open = () => connect(socketPath);
 * console.assert(DEFAULT_SOCKET_PATH === "/tmp/pilot.sock" && typeof open === "function");
 * ```
 */
export const DEFAULT_SOCKET_PATH = "/tmp/pilot.sock";
/** The code the reference puts in every Error frame ("generic"). */
export const ERROR_CODE_GENERIC = 1;
/** Most tags one SetTags request may carry (the daemon's own limit). */
export const MAX_TAGS = 3;
/** Bytes of a connection id. */
export const CONN_ID_SIZE = 4;
/** Bytes of a port. */
export const PORT_SIZE = 2;
/** Largest data one Send frame can carry after its conn id. */
export const MAX_SEND_DATA = MAX_PAYLOAD_LENGTH - CONN_ID_SIZE;
/**
 * Data per Send or Recv frame that this implementation writes, so that each whole frame is 64 KiB.
 * The protocol allows up to {@link MAX_SEND_DATA}, but a frame larger than the reader's buffer
 * arrives in pieces that must be copied together, and each one costs a large allocation at both
 * ends; 64 KiB frames moved bulk data with less CPU (docs/benchmarks.md, "Bulk throughput").
 */
export const STREAM_FRAME_DATA = (64 << 10) - FRAME_HEADER_SIZE - CONN_ID_SIZE;
/** Bytes of a whole Send or Recv frame carrying {@link STREAM_FRAME_DATA}. */
export const STREAM_FRAME_BYTES = 64 << 10;
/** Largest data one SendTo frame can carry after address and port. */
export const MAX_SENDTO_DATA = MAX_PAYLOAD_LENGTH - ADDRESS_LENGTH - PORT_SIZE;
/** Largest data one RecvFrom frame can carry after address and two ports. */
export const MAX_RECVFROM_DATA = MAX_PAYLOAD_LENGTH - ADDRESS_LENGTH - 2 * PORT_SIZE;
/** Value byte of SetVisibility / SetTaskExec meaning "on". */
export const FLAG_ON = 1;
/** Accept payload size: local port, conn id, remote address, remote port. */
export const ACCEPT_SIZE = PORT_SIZE + CONN_ID_SIZE + ADDRESS_LENGTH + PORT_SIZE;
/** RecvFrom fixed part: source address, source port, destination port. */
export const RECVFROM_FIXED = ADDRESS_LENGTH + 2 * PORT_SIZE;
/** The empty payload. */
export const EMPTY_PAYLOAD: Uint8Array = new Uint8Array(0);

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
  | { sub: "respond-invite"; networkId: number; accept: boolean }
  | { sub: "registry"; request: RegistryRequest };

/** The body of a Network {@link NetworkSub.Registry} request: a registry message type and its fields. */
export type RegistryRequest = { type: string; [field: string]: unknown };

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
