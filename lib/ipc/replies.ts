/**
 * JSON bodies of the daemon's `…OK` replies (docs/protocol/ipc.md §6), as types plus the
 * shallow checks the codec applies when decoding them. Keys keep the wire's
 * snake_case spelling so a body can be printed or forwarded unchanged. Pure code.
 * @module
 */
import { IpcError } from "./errors.ts";
import { fromUtf8, utf8 } from "../bytes.ts";
import { errorMessage } from "../errors.ts";

/** Any JSON object. Registry replies are passed through as this. */
export type JsonObject = { [key: string]: unknown };

/** How packets reach a peer: its own endpoint, an endpoint opened by hole punching, or the beacon's relay. */
export type PeerPathName = "direct" | "punched" | "relay";

/**
 * One tunnel peer in {@link InfoReply.peer_list}.
 *
 * @example
 * ```ts
 * import type { PeerInfo, PilotClient } from "../../mod.ts";
 * async function relayedPeers(client: PilotClient): Promise<number[]> {
 *   const peers: PeerInfo[] = (await client.info()).peer_list;
 *   return peers.filter((p) => p.path === "relay").map((p) => p.node_id);
 * }
 * console.assert(typeof relayedPeers === "function");
 * ```
 */
export interface PeerInfo {
  node_id: number;
  /** `ip:port` of the peer's UDP endpoint (`[v6]:port` for IPv6), or "" when only reachable through the relay. */
  endpoint: string;
  encrypted: boolean;
  authenticated: boolean;
  /** Ours beyond the reference's keys: the path packets take. */
  path: PeerPathName;
  /** Ours: packets queued for the key exchange. */
  pending: number;
}

/** Where the node's advertised endpoint came from: `--public-endpoint`, the beacon's discovery, or the bound address. */
export type EndpointSourceName = "override" | "discovered" | "local";

/**
 * The `nat` object of {@link InfoReply} (ours beyond the reference's keys): NAT traversal state and counters.
 *
 * @example
 * ```ts
 * import type { NatInfo, PilotClient } from "../../mod.ts";
 * async function behindNat(client: PilotClient): Promise<boolean> {
 *   const nat: NatInfo = (await client.info()).nat;
 *   return nat.endpoint_source === "discovered" || nat.paths.relay > 0;
 * }
 * console.assert(typeof behindNat === "function");
 * ```
 */
export interface NatInfo {
  /** The beacon's `host:port`, or "" without one. */
  beacon: string;
  /** The endpoint registered for this node, or "" when it is the local address. */
  public_endpoint: string;
  endpoint_source: EndpointSourceName;
  /** True when every peer is reached through the relay (`--force-relay`). */
  force_relay: boolean;
  /** Peers per path. */
  paths: Record<PeerPathName, number>;
  /** Punch requests sent. */
  punch_requests: number;
  /** Dials moved to the relay. */
  relay_fallbacks: number;
  /** Probes sent to relayed peers. */
  probes: number;
  /** Relayed peers back on a direct path. */
  direct_recoveries: number;
}

/**
 * One connection in {@link InfoReply.conn_list}; sizes in bytes, times in whole ms.
 *
 * @example
 * ```ts
 * import type { ConnInfo, PilotClient } from "../../mod.ts";
 * async function retransmissions(client: PilotClient): Promise<number> {
 *   const conns: ConnInfo[] = (await client.info()).conn_list;
 *   return conns.reduce((n, c) => n + c.retransmits, 0);
 * }
 * console.assert(typeof retransmissions === "function");
 * ```
 */
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
  /** Ours beyond the reference's keys, loss recovery: segments RACK declared lost. */
  rack_lost: number;
  /** Tail loss probes sent. */
  tlp_probes: number;
  /** Retransmission timeouts. */
  timeouts: number;
  /** Retransmissions found to be spurious. */
  spurious_retx: number;
  /** Congestion-window reductions undone after a spurious retransmission. */
  undos: number;
}

/**
 * InfoOK (0x0E) body, docs/protocol/ipc.md §6.1. pilot's daemon also reports `nat`, the
 * `path`/`pending` of each peer and the loss-recovery counters of each
 * connection; a reference daemon omits them.
 *
 * @example
 * ```ts
 * import type { InfoReply, PilotClient } from "../../mod.ts";
 * async function summary(client: PilotClient): Promise<string> {
 *   const info: InfoReply = await client.info({ timeoutMs: 5_000 });
 *   return `${info.address} up ${info.uptime_secs}s, ${info.peers} peers, ${info.connections} connections`;
 * }
 * console.assert(typeof summary === "function");
 * ```
 */
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
  /** Ours: peers left out of `peer_list` to keep the reply inside one frame (absent when none). */
  peers_omitted?: number;
  /** Ours: connections left out of `conn_list`, likewise. */
  conns_omitted?: number;
  /** Ours: overlay ports this node bridges to local TCP services (`pilot expose`). */
  exposed?: ExposedPortInfo[];
  /** Ours: the gateway running inside this daemon (`pilot daemon --gateway`), when enabled. */
  gateway?: GatewayInfo;
  nat: NatInfo;
  /** Ours (IPC only, absent from a reference daemon): the daemon's state directory. */
  state_dir?: string;
  /** Ours: the registry's `host:port` this daemon registered with. */
  registry?: string;
  /** Ours: request signatures the registry gets, `strict` (ours) or `reference` (static challenges). */
  registry_dialect?: "strict" | "reference" | "both";
}

/**
 * HealthOK (0x22) body, docs/protocol/ipc.md §6.2.
 *
 * @example
 * ```ts
 * import type { HealthReply, PilotClient } from "../../mod.ts";
 * async function healthy(client: PilotClient): Promise<boolean> {
 *   const health: HealthReply = await client.health({ timeoutMs: 5_000 });
 *   return health.status === "ok";
 * }
 * console.assert(typeof healthy === "function");
 * ```
 */
export interface HealthReply {
  status: string;
  uptime_seconds: number;
  connections: number;
  peers: number;
  bytes_sent: number;
  bytes_recv: number;
}

/**
 * A pending trust request in a HandshakeOK `pending` list. Times are unix seconds.
 *
 * @example
 * ```ts
 * import type { PendingHandshake, PilotClient } from "../../mod.ts";
 * // Approves every pending request that gives a reason.
 * async function approveExplained(client: PilotClient): Promise<void> {
 *   const pending: PendingHandshake[] = await client.pendingHandshakes();
 *   for (const p of pending) if (p.justification) await client.approveHandshake(p.node_id);
 * }
 * console.assert(typeof approveExplained === "function");
 * ```
 */
export interface PendingHandshake {
  node_id: number;
  public_key: string;
  justification: string;
  received_at: number;
}

/**
 * A trusted peer in a HandshakeOK `trusted` list (`network` 0 = not network-derived).
 *
 * @example
 * ```ts
 * import type { PilotClient, TrustedPeer } from "../../mod.ts";
 * async function mutualPeers(client: PilotClient): Promise<number[]> {
 *   const trusted: TrustedPeer[] = await client.trustedPeers();
 *   return trusted.filter((t) => t.mutual).map((t) => t.node_id);
 * }
 * console.assert(typeof mutualPeers === "function");
 * ```
 */
export interface TrustedPeer {
  node_id: number;
  public_key: string;
  approved_at: number;
  mutual: boolean;
  network: number;
}

/**
 * HandshakeOK (0x10) body, docs/protocol/ipc.md §6.3: a status, a pending list or a trusted list.
 *
 * @example
 * ```ts
 * import type { HandshakeReply, PilotClient } from "../../mod.ts";
 * async function askTrust(client: PilotClient, nodeId: number): Promise<string> {
 *   const reply: HandshakeReply = await client.handshake(nodeId, "agent for the build farm");
 *   return "status" in reply ? reply.status : "unexpected reply";
 * }
 * console.assert(typeof askTrust === "function");
 * ```
 */
export type HandshakeReply =
  | {
    status: "sent" | "approved" | "rejected" | "revoked";
    node_id: number;
    /** Ours, on `sent`: "direct", "relay" (the peer sees it at its next registry poll), "mutual", "trusted". */
    via?: "direct" | "relay" | "mutual" | "trusted";
  }
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

/** NetworkOK (0x20) body: the registry's reply object, unchanged (docs/protocol/ipc.md §5.2). */
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
    throw new IpcError("invalid-value", `reply is not serialisable as JSON: ${errorMessage(err)}`);
  }
  if (text === undefined) throw new IpcError("invalid-value", "reply is not serialisable as JSON");
  return utf8(text);
}

/** Parses a UTF-8 JSON payload; `what` names it in the {@link IpcError} `invalid-json`. */
export function parseJson(payload: Uint8Array, what: string): unknown {
  try {
    return JSON.parse(fromUtf8(payload));
  } catch (err) {
    throw new IpcError("invalid-json", `${what}: invalid JSON: ${errorMessage(err)}`);
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

/** One exposed port in {@link InfoReply.exposed}: overlay port → local TCP service. */
export interface ExposedPortInfo {
  port: number;
  /** `host:port` of the local service. */
  target: string;
  /** Bridged connections now. */
  active: number;
}

/** The in-daemon gateway in {@link InfoReply.gateway}. */
export interface GatewayInfo {
  subnet: string;
  ports: number[];
  mappings: { local_ip: string; pilot_addr: string; ports: number[]; active: number }[];
}
