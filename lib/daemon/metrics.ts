/**
 * The daemon's Prometheus families: tunnel traffic, crypto and drops by reason, peers by
 * state, connections by state, stream retransmits and RTT, session-layer refusals, the
 * registry session and the process's memory. Read at scrape time from the owners' counters.
 */
import { byLabel, type MetricFamily, single } from "../http/prometheus.ts";
import type { Tunnel } from "../tunnel/tunnel.ts";
import type { SessionManager } from "../transport/manager.ts";
import { trustMetrics } from "../services/trust/metrics.ts";
import type { TrustService } from "../services/trust/service.ts";
import { taskMetrics } from "../services/tasks/metrics.ts";
import type { IpcServer } from "./ipc/server.ts";
import type { TaskService } from "../services/tasks/service.ts";
import type { WebhookEmitter } from "./webhooks.ts";
import type { TrustGate } from "./trust_gate.ts";
import type { NatTraversal } from "./nat.ts";

/** What a scrape reads of the daemon (the daemon itself satisfies it). */
export interface MetricsSource {
  readonly startedAt: number;
  readonly tunnel: Pick<Tunnel, "stats">;
  readonly manager: Pick<SessionManager, "connections" | "counters" | "listenerPorts">;
  readonly webhooks: Pick<WebhookEmitter, "stats">;
  readonly gate: Pick<TrustGate, "refused">;
  readonly nat: Pick<NatTraversal, "metrics">;
  readonly unroutable: number;
  readonly heartbeatFailures: number;
  readonly trust?: TrustService;
  readonly tasks?: TaskService;
  readonly ipc?: Pick<IpcServer, "stats">;
}

/** Builds the families for one scrape. */
export function daemonMetrics(d: MetricsSource): MetricFamily[] {
  const t = d.tunnel.stats();
  const conns = [...d.manager.connections()].map((s) => s.stats());
  const byState: Record<string, number> = {
    SYN_SENT: 0,
    ESTABLISHED: 0,
    FIN_WAIT: 0,
    TIME_WAIT: 0,
    CLOSED: 0,
  };
  let retransmits = 0;
  let fastRetx = 0;
  const recovery = { rack_lost: 0, tlp_probes: 0, timeouts: 0, spurious_retx: 0, undos: 0 };
  const rtts: number[] = [];
  for (const c of conns) {
    byState[c.state] = (byState[c.state] ?? 0) + 1;
    retransmits += c.retransmits;
    fastRetx += c.fastRetx;
    recovery.rack_lost += c.rackLost;
    recovery.tlp_probes += c.tlpProbes;
    recovery.timeouts += c.timeouts;
    recovery.spurious_retx += c.spuriousRetx;
    recovery.undos += c.undos;
    if (c.state === "ESTABLISHED" && c.srttMs > 0) rtts.push(c.srttMs);
  }
  rtts.sort((a, b) => a - b);
  const s = d.manager.counters as unknown as Record<string, number>;
  const wh = d.webhooks.stats();
  const memory = Deno.memoryUsage();
  return [
    single("pilot_up", "1 while the daemon runs", "gauge", 1),
    single(
      "pilot_uptime_seconds",
      "Seconds since the daemon started",
      "gauge",
      (Date.now() - d.startedAt) / 1000,
    ),
    // What a health check on a small machine watches; lib/daemon/resident_memory.ts says why it falls.
    single("pilot_resident_bytes", "Resident set size of the daemon's process", "gauge", memory.rss),
    single("pilot_heap_used_bytes", "V8 heap in use", "gauge", memory.heapUsed),
    single("pilot_udp_datagrams_sent_total", "UDP datagrams sent by the tunnel", "counter", t.datagramsSent),
    single(
      "pilot_udp_datagrams_received_total",
      "UDP datagrams received by the tunnel",
      "counter",
      t.datagramsReceived,
    ),
    single("pilot_udp_bytes_sent_total", "UDP payload bytes sent", "counter", t.bytesSent),
    single("pilot_udp_bytes_received_total", "UDP payload bytes received", "counter", t.bytesReceived),
    single("pilot_packets_sent_total", "Overlay packets sent", "counter", t.packetsSent),
    single(
      "pilot_packets_delivered_total",
      "Overlay packets delivered to the session layer",
      "counter",
      t.packetsDelivered,
    ),
    single("pilot_frames_encrypted_total", "PILS frames sealed", "counter", t.framesEncrypted),
    single("pilot_frames_decrypted_total", "PILS frames opened", "counter", t.framesDecrypted),
    single("pilot_key_exchanges_sent_total", "PILA/PILK frames sent", "counter", t.keyExchangesSent),
    single(
      "pilot_key_exchanges_accepted_total",
      "PILA/PILK frames accepted",
      "counter",
      t.keyExchangesAccepted,
    ),
    single(
      "pilot_rekeys_total",
      "Tunnel keys re-derived (peer restart or counter rotation)",
      "counter",
      t.rekeys,
    ),
    byLabel(
      "pilot_tunnel_drops_total",
      "Tunnel frames and packets dropped, by reason",
      "counter",
      "reason",
      t.drops,
    ),
    byLabel(
      "pilot_tunnel_peer_events_total",
      "Peer endpoint changes (on an authenticated, fresh frame), path probes and expired unauthenticated peers",
      "counter",
      "event",
      { endpoint_changed: t.endpointChanges, path_probe: t.pathProbes, peer_expired: t.peersExpired },
    ),
    single(
      "pilot_unroutable_packets_total",
      "Packets to nodes that could not be resolved",
      "counter",
      d.unroutable,
    ),
    byLabel("pilot_session_events_total", "Session-layer refusals and drops, by kind", "counter", "kind", s),
    byLabel("pilot_peers", "Tunnel peers, by state", "gauge", "state", {
      known: t.peers,
      encrypted: t.encryptedPeers,
      authenticated: t.authenticatedPeers,
      relay: t.relayPeers,
    }),
    byLabel("pilot_connections", "Stream connections, by state", "gauge", "state", byState),
    single("pilot_listening_ports", "Ports with a listener", "gauge", d.manager.listenerPorts.length),
    single("pilot_stream_retransmits", "Retransmitted segments on current connections", "gauge", retransmits),
    single("pilot_stream_fast_retransmits", "Fast retransmits on current connections", "gauge", fastRetx),
    byLabel(
      "pilot_stream_loss_recovery",
      "Loss-recovery events on current connections, by kind",
      "gauge",
      "kind",
      recovery,
    ),
    byLabel("pilot_stream_rtt_ms", "Smoothed RTT over established connections", "gauge", "quantile", {
      "0.5": rtts.length ? rtts[Math.floor(rtts.length / 2)] : 0,
      "1": rtts.length ? rtts[rtts.length - 1] : 0,
    }),
    single(
      "pilot_registry_heartbeat_failures",
      "Consecutive failed registry heartbeats",
      "gauge",
      d.heartbeatFailures,
    ),
    byLabel("pilot_webhook_events_total", "Webhook events, by outcome", "counter", "outcome", {
      delivered: wh.delivered,
      failed: wh.failed,
      dropped: wh.dropped,
    }),
    single("pilot_webhook_retries_total", "Webhook POSTs repeated after a failure", "counter", wh.retries),
    single("pilot_webhook_queue_depth", "Webhook events waiting for delivery", "gauge", wh.queued),
    ...ipcMetrics(d.ipc),
    ...trustMetrics(d.trust, d.gate.refused),
    ...taskMetrics(d.tasks),
    ...d.nat.metrics(),
  ];
}

/** IPC clients, refusals at the cap, drops for broken limits, and datagram delivery outcomes. */
function ipcMetrics(ipc: Pick<IpcServer, "stats"> | undefined): MetricFamily[] {
  if (!ipc) return [];
  const s = ipc.stats();
  return [
    single("pilot_ipc_clients", "IPC clients connected", "gauge", s.clients),
    single(
      "pilot_ipc_inbound_pool_bytes",
      "Unprocessed IPC input held beyond the clients' own allowances",
      "gauge",
      s.inboundPoolBytes,
    ),
    byLabel(
      "pilot_ipc_events_total",
      "IPC clients refused at the cap or dropped for breaking a limit, by event",
      "counter",
      "event",
      s.events,
    ),
    byLabel(
      "pilot_ipc_datagrams_total",
      "Datagram pushes to IPC clients, by outcome",
      "counter",
      "outcome",
      s.datagrams,
    ),
  ];
}
