/**
 * The IPC Info reply (docs/protocol/ipc.md §6.1), also served as /status: a snapshot of the node's identity,
 * tunnel counters, peers, connections and NAT state, bounded so it fits one IPC frame.
 */
import { toBase64 } from "../bytes.ts";
import type { Address } from "../protocol/address.ts";
import type { InfoReply } from "../ipc/replies.ts";
import type { RegistryClient } from "../registry/client.ts";
import type { SessionManager } from "../transport/manager.ts";
import { MAX_PEER_ROWS, type Tunnel } from "../tunnel/tunnel.ts";
import type { DaemonConfig } from "./config.ts";
import type { NatTraversal } from "./nat.ts";

/**
 * Rows of `conn_list` in an Info reply: with every row about 600 bytes of JSON, 512 rows and
 * MAX_PEER_ROWS peers keep the reply well inside one IPC frame (1 MiB); `conns_omitted` says how
 * many were left out (`connections` still counts them all).
 */
const MAX_CONN_ROWS = 512;

/** What an Info reply reads of the node (the daemon itself satisfies it). */
export interface InfoSource {
  readonly nodeId: number;
  readonly address: Address;
  readonly hostname: string;
  readonly startedAt: number;
  readonly config: Pick<DaemonConfig, "encrypt" | "email" | "registry">;
  readonly identity: { readonly publicKey: Uint8Array };
  readonly tunnel: Pick<Tunnel, "stats" | "peers">;
  readonly manager: Pick<SessionManager, "connections" | "listenerPorts">;
  readonly trust?: { readonly pendingCount: number };
  readonly nat: Pick<NatTraversal, "info">;
  readonly registry: Pick<RegistryClient, "signing">;
}

/** The counts a health check reports, without the rows of an Info reply. */
export interface NodeCounts {
  uptime_secs: number;
  /** Connections being opened or open (SYN_SENT, ESTABLISHED). */
  connections: number;
  peers: number;
  bytes_sent: number;
  bytes_recv: number;
}

/** What {@link nodeCounts} reads of the node. */
export type CountsSource = Pick<InfoSource, "startedAt" | "tunnel" | "manager">;

/** Counts only: a health check costs the same with 1 connection as with 10,000 (no per-connection rows). */
export function nodeCounts(node: CountsSource): NodeCounts {
  const stats = node.tunnel.stats();
  return {
    uptime_secs: Math.floor((Date.now() - node.startedAt) / 1000),
    connections: liveConnections(node.manager.connections()),
    peers: stats.peers,
    bytes_sent: stats.bytesSent,
    bytes_recv: stats.bytesReceived,
  };
}

function liveConnections(conns: Iterable<{ readonly state: string }>): number {
  let n = 0;
  for (const c of conns) if (c.state === "SYN_SENT" || c.state === "ESTABLISHED") n++;
  return n;
}

/** Builds the Info body; `gateway` (exposed ports, the gateway) is appended when the node runs one. */
export function infoReply(node: InfoSource, gateway?: Record<string, unknown>): InfoReply {
  const stats = node.tunnel.stats();
  const allConns = [...node.manager.connections()];
  const conns = allConns.slice(0, MAX_CONN_ROWS).map((s) => s.stats());
  const peerList = node.tunnel.peers(MAX_PEER_ROWS);
  return {
    node_id: node.nodeId,
    address: node.address.toString(),
    hostname: node.hostname,
    uptime_secs: Math.floor((Date.now() - node.startedAt) / 1000),
    connections: liveConnections(allConns),
    ports: node.manager.listenerPorts.length,
    peers: stats.peers,
    encrypted_peers: stats.encryptedPeers,
    authenticated_peers: stats.authenticatedPeers,
    encrypt: node.config.encrypt,
    identity: true,
    public_key: toBase64(node.identity.publicKey),
    email: node.config.email ?? "",
    bytes_sent: stats.bytesSent,
    bytes_recv: stats.bytesReceived,
    pkts_sent: stats.datagramsSent,
    pkts_recv: stats.datagramsReceived,
    tunnel_encryption_success: stats.framesEncrypted,
    tunnel_encryption_failure: stats.decryptFailures,
    handshake_pending_count: node.trust?.pendingCount ?? 0,
    peer_list: peerList, // `peers` counts them all
    ...(stats.peers > peerList.length ? { peers_omitted: stats.peers - peerList.length } : {}),
    ...(allConns.length > conns.length ? { conns_omitted: allConns.length - conns.length } : {}),
    nat: node.nat.info(),
    registry: node.config.registry,
    registry_dialect: node.registry.signing,
    conn_list: conns.map((c) => ({
      id: c.id,
      local_port: c.localPort,
      remote_addr: c.remoteAddr,
      remote_port: c.remotePort,
      state: c.state,
      cong_win: c.congWin,
      ssthresh: c.ssthresh,
      in_flight: c.inFlight,
      srtt_ms: c.srttMs,
      rttvar_ms: c.rttvarMs,
      unacked: c.unacked,
      ooo_buf: c.oooBuf,
      peer_recv_win: c.peerRecvWin,
      recv_win: c.recvWin,
      in_recovery: c.inRecovery,
      bytes_sent: c.bytesSent,
      bytes_recv: c.bytesRecv,
      segs_sent: c.segsSent,
      segs_recv: c.segsRecv,
      retransmits: c.retransmits,
      fast_retx: c.fastRetx,
      sack_recv: c.sackRecv,
      sack_sent: c.sackSent,
      dup_acks: c.dupAcks,
      // Ours beyond the reference's keys: loss recovery (RACK, tail loss probes, undo).
      rack_lost: c.rackLost,
      tlp_probes: c.tlpProbes,
      timeouts: c.timeouts,
      spurious_retx: c.spuriousRetx,
      undos: c.undos,
    })),
    ...gateway,
  };
}
