/**
 * JSON bodies of the daemon's `…OK` replies (ipc.md §6), as types plus the
 * shallow checks the codec applies when decoding them. Keys keep the wire's
 * snake_case spelling so a body can be printed or forwarded unchanged. Pure code.
 * @module
 */
import { IpcError } from "./errors.ts";
import { fromUtf8, utf8 } from "../../bytes.ts";

/** Any JSON object. Registry replies are passed through as this. */
export type JsonObject = { [key: string]: unknown };

/** One tunnel peer in {@link InfoReply.peer_list}. */
export interface PeerInfo {
  node_id: number;
  /** `ip:port` of the peer's UDP endpoint. */
  endpoint: string;
  encrypted: boolean;
  authenticated: boolean;
}

/** One connection in {@link InfoReply.conn_list}; sizes in bytes, times in whole ms. */
export interface ConnInfo {
  id: number;
  local_port: number;
  remote_addr: string;
  remote_port: number;
  state: string;
  cong_win: number;
  ssthresh: number;
  in_flight: number;
  srtt_ms: number;
  rttvar_ms: number;
  unacked: number;
  ooo_buf: number;
  peer_recv_win: number;
  recv_win: number;
  in_recovery: boolean;
  bytes_sent: number;
  bytes_recv: number;
  segs_sent: number;
  segs_recv: number;
  retransmits: number;
  fast_retx: number;
  sack_recv: number;
  sack_sent: number;
  dup_acks: number;
}

/** InfoOK (0x0E) body, ipc.md §6.1. */
export interface InfoReply {
  node_id: number;
  address: string;
  hostname: string;
  uptime_secs: number;
  connections: number;
  ports: number;
  peers: number;
  encrypted_peers: number;
  authenticated_peers: number;
  encrypt: boolean;
  identity: boolean;
  public_key: string;
  email: string;
  bytes_sent: number;
  bytes_recv: number;
  pkts_sent: number;
  pkts_recv: number;
  tunnel_encryption_success: number;
  tunnel_encryption_failure: number;
  handshake_pending_count: number;
  peer_list: PeerInfo[];
  conn_list: ConnInfo[];
  /** Ours: request signatures the registry gets, `strict` (ours) or `reference` (static challenges). */
  registry_dialect?: "strict" | "reference" | "both";
}

/** HealthOK (0x22) body, ipc.md §6.2. */
export interface HealthReply {
  status: string;
  uptime_seconds: number;
  connections: number;
  peers: number;
  bytes_sent: number;
  bytes_recv: number;
}

/** A pending trust request in a HandshakeOK `pending` list. Times are unix seconds. */
export interface PendingHandshake {
  node_id: number;
  public_key: string;
  justification: string;
  received_at: number;
}

/** A trusted peer in a HandshakeOK `trusted` list (`network` 0 = not network-derived). */
export interface TrustedPeer {
  node_id: number;
  public_key: string;
  approved_at: number;
  mutual: boolean;
  network: number;
}

/** HandshakeOK (0x10) body, ipc.md §6.3: a status, a pending list or a trusted list. */
export type HandshakeReply =
  | { status: "sent" | "approved" | "rejected" | "revoked"; node_id: number }
  | { pending: PendingHandshake[] }
  | { trusted: TrustedPeer[] };

/** ResolveHostnameOK (0x12) body; `address` is always on network 0. */
export interface ResolveHostnameReply {
  type: string;
  node_id: number;
  address: string;
  public: boolean;
  hostname: string;
}

/** SetHostnameOK (0x14) body (the registry's reply, verbatim). */
export interface SetHostnameReply extends JsonObject {
  type?: string;
  node_id?: number;
  hostname?: string;
}

/** SetVisibilityOK (0x16) body (the registry's reply, verbatim). */
export interface SetVisibilityReply extends JsonObject {
  type?: string;
  node_id?: number;
  visibility?: string;
}

/** DeregisterOK (0x18) body (the registry's reply, verbatim). */
export interface DeregisterReply extends JsonObject {
  type?: string;
}

/** SetTagsOK (0x1A) body (the registry's reply, verbatim). */
export interface SetTagsReply extends JsonObject {
  type?: string;
  node_id?: number;
  tags?: string[];
}

/** SetWebhookOK (0x1C) body. */
export interface SetWebhookReply {
  webhook: string;
}

/** SetTaskExecOK (0x1E) body (the registry's reply, verbatim). */
export interface SetTaskExecReply extends JsonObject {
  type?: string;
  node_id?: number;
  task_exec?: boolean;
}

/** NetworkOK (0x20) body: the registry's reply object, unchanged (ipc.md §5.2). */
export type NetworkReply = JsonObject;

/** JSON types a required field may be checked against. */
type FieldKind = "number" | "string" | "boolean" | "array";

/** Required fields per reply kind; bodies are otherwise passed through unchecked. */
const REQUIRED: Record<string, Record<string, FieldKind>> = {
  InfoOK: { node_id: "number", address: "string" },
  HealthOK: { status: "string" },
  ResolveHostnameOK: { node_id: "number", address: "string" },
  SetWebhookOK: { webhook: "string" },
};

/** Sorts object keys recursively, as the reference's JSON encoder emits them. */
function sortKeys(_key: string, value: unknown): unknown {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return value;
  // A null-prototype object, so a "__proto__" key stays an ordinary key.
  const sorted: JsonObject = Object.create(null);
  for (const k of Object.keys(value).sort()) sorted[k] = (value as JsonObject)[k];
  return sorted;
}

/**
 * Encodes a JSON reply body as UTF-8 with keys sorted alphabetically and no
 * trailing newline (the reference daemon's output). Throws {@link IpcError}
 * `invalid-value` when the value cannot be serialised.
 */
export function encodeJson(value: unknown): Uint8Array {
  let text: string | undefined;
  try {
    text = JSON.stringify(value, sortKeys);
  } catch (err) {
    throw new IpcError("invalid-value", `reply is not serialisable as JSON: ${(err as Error).message}`);
  }
  if (text === undefined) throw new IpcError("invalid-value", "reply is not serialisable as JSON");
  return utf8(text);
}

/** Parses a UTF-8 JSON payload; `what` names it in the {@link IpcError} `invalid-json`. */
export function parseJson(payload: Uint8Array, what: string): unknown {
  try {
    return JSON.parse(fromUtf8(payload));
  } catch (err) {
    throw new IpcError("invalid-json", `${what}: invalid JSON: ${(err as Error).message}`);
  }
}

function kindOf(value: unknown): string {
  if (Array.isArray(value)) return "array";
  if (value === null) return "null";
  return typeof value;
}

/**
 * Parses the JSON body of reply `name` (e.g. `InfoOK`): it must be an object and
 * carry the few fields the SDK relies on. Deeper shapes are trusted, because
 * registry replies are forwarded verbatim. Throws {@link IpcError} `invalid-json`.
 */
export function decodeJsonReply(name: string, payload: Uint8Array): JsonObject {
  const body = parseJson(payload, name);
  if (kindOf(body) !== "object") {
    throw new IpcError("invalid-json", `${name}: expected a JSON object, got ${kindOf(body)}`);
  }
  const obj = body as JsonObject;
  for (const [field, kind] of Object.entries(REQUIRED[name] ?? {})) {
    if (kindOf(obj[field]) !== kind) {
      throw new IpcError(
        "invalid-json",
        `${name}: field ${field} must be a ${kind}, got ${kindOf(obj[field])}`,
      );
    }
  }
  if (
    name === "HandshakeOK" && !("status" in obj || Array.isArray(obj.pending) || Array.isArray(obj.trusted))
  ) {
    throw new IpcError("invalid-json", "HandshakeOK: expected a status, pending or trusted field");
  }
  return obj;
}
