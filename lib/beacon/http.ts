/**
 * The beacon's HTTP endpoint (Hono): `/healthz` (JSON, 503 once the socket is closed) and
 * `/metrics` (Prometheus text: messages by kind, relayed and forwarded traffic, drops by reason,
 * table sizes, queue depth). Nothing here exposes node endpoints.
 */
import { Hono } from "hono";
import {
  byLabel,
  type MetricFamily,
  PROMETHEUS_CONTENT_TYPE,
  renderPrometheus,
  single,
} from "../http/prometheus.ts";
import { hostCheck, type HostPolicy } from "../http/host_check.ts";
import { PROGRAM_VERSION } from "../version.ts";
import type { BeaconServer } from "./server.ts";

/** The beacon's metric families, read at scrape time. */
export function beaconMetrics(beacon: BeaconServer, startedAt: number): MetricFamily[] {
  const m = beacon.metrics();
  return [
    byLabel(
      "pilot_beacon_received_total",
      "Beacon messages received, by kind",
      "counter",
      "kind",
      m.received,
    ),
    byLabel("pilot_beacon_sent_total", "Beacon messages sent, by kind", "counter", "kind", m.sent),
    single(
      "pilot_beacon_relayed_packets_total",
      "Frames relayed to a local node",
      "counter",
      m.relayedPackets,
    ),
    single(
      "pilot_beacon_relayed_bytes_total",
      "Frame bytes relayed to a local node",
      "counter",
      m.relayedBytes,
    ),
    single(
      "pilot_beacon_forwarded_packets_total",
      "Relay messages forwarded to a peer beacon",
      "counter",
      m.forwardedPackets,
    ),
    single(
      "pilot_beacon_forwarded_bytes_total",
      "Frame bytes forwarded to a peer beacon",
      "counter",
      m.forwardedBytes,
    ),
    byLabel("pilot_beacon_drops_total", "Messages dropped, by reason", "counter", "reason", m.drops),
    byLabel("pilot_beacon_bindings_total", "Node bindings accepted, by proof", "counter", "kind", m.bindings),
    single("pilot_beacon_nodes", "Nodes in the endpoint table", "gauge", m.nodes),
    single("pilot_beacon_remote_nodes", "Nodes advertised by peer beacons", "gauge", m.remoteNodes),
    single("pilot_beacon_peers", "Peer beacons gossiped with", "gauge", beacon.peerCount),
    single("pilot_beacon_queue_depth", "Datagrams waiting to be sent", "gauge", m.queueDepth),
    single("pilot_beacon_uptime_seconds", "Seconds since start", "gauge", (Date.now() - startedAt) / 1000),
  ];
}

/** The Hono app serving /healthz and /metrics for `beacon`, to the names `hosts` allows (loopback by default). */
export function beaconHttpApp(
  beacon: BeaconServer,
  startedAt: number = Date.now(),
  hosts?: HostPolicy,
): Hono {
  const app = new Hono();
  app.use("*", hostCheck(hosts));
  app.get("/healthz", (c) => {
    const m = beacon.metrics();
    const ok = beacon.listening;
    return c.json({
      status: ok ? "ok" : "down",
      version: PROGRAM_VERSION,
      id: beacon.beaconId,
      nodes: m.nodes,
      remote_nodes: m.remoteNodes,
      peers: beacon.peerCount,
      queue_depth: m.queueDepth,
      uptime_secs: Math.floor((Date.now() - startedAt) / 1000),
    }, ok ? 200 : 503);
  });
  app.get(
    "/metrics",
    (c) =>
      c.body(renderPrometheus(beaconMetrics(beacon, startedAt)), 200, {
        "content-type": PROMETHEUS_CONTENT_TYPE,
      }),
  );
  app.notFound((c) => c.json({ error: "not found", endpoints: ["/healthz", "/metrics"] }, 404));
  return app;
}
