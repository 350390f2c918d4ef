/**
 * The registry's optional HTTP endpoint (Hono): `/` (the status page; on a non-loopback
 * bind it needs the token), `/healthz` (JSON status, 503 once storage has failed) and
 * `/metrics` (Prometheus text). Nothing here exposes node endpoints, keys or tokens.
 * @module
 */
import { Hono } from "hono";
import { requireToken } from "../http/access_token.ts";
import { HTML_CONTENT_TYPE } from "../http/page_layout.ts";
import { renderRegistryPage } from "./status_page.ts";
import { RegistryStatusView } from "./status_view.ts";
import {
  byLabel,
  type MetricFamily,
  PROMETHEUS_CONTENT_TYPE,
  renderPrometheus,
  single,
} from "../http/prometheus.ts";
import { hostCheck, type HostPolicy } from "../http/host_check.ts";
import { PROGRAM_VERSION } from "../version.ts";
import type { Registry } from "./registry.ts";
import type { ServerStats } from "./server.ts";
import { auditExportMetrics } from "./export/metrics.ts";

/** The registry's metric families, read at scrape time. */
export function registryMetrics(registry: Registry, server?: ServerStats): MetricFamily[] {
  const s = registry.state;
  const store = registry.store;
  const requests: MetricFamily = {
    name: "pilot_registry_requests_total",
    help: "Requests handled, by message type and result.",
    type: "counter",
    samples: [],
  };
  const seconds: MetricFamily = {
    name: "pilot_registry_request_seconds_total",
    help: "Time spent handling requests (including waiting for durability), by message type.",
    type: "counter",
    samples: [],
  };
  for (const [type, c] of registry.counters) {
    requests.samples.push({ labels: { type, result: "ok" }, value: c.ok });
    requests.samples.push({ labels: { type, result: "error" }, value: c.error });
    seconds.samples.push({ labels: { type }, value: c.seconds });
  }
  const families: MetricFamily[] = [
    requests,
    seconds,
    single("pilot_registry_nodes_online", "Nodes currently online.", "gauge", s.onlineCount),
    single("pilot_registry_nodes_registered", "Node records, online or dormant.", "gauge", s.nodes.size),
    single("pilot_registry_networks", "Networks besides the backbone.", "gauge", s.networks.size),
    single("pilot_registry_trust_edges", "Directed trust declarations.", "gauge", s.trust.size),
    single("pilot_registry_event_seq", "Sequence number of the last logged event.", "counter", s.seq),
    single("pilot_registry_wal_fsyncs_total", "fsync calls on the write-ahead log.", "counter", store.syncs),
    single(
      "pilot_registry_snapshots_total",
      "Snapshots written since start.",
      "counter",
      store.stats.snapshots,
    ),
    single(
      "pilot_registry_last_snapshot_seconds",
      "Time the last snapshot took (serialise, write, fsync, rename).",
      "gauge",
      store.stats.lastSnapshotMs / 1000,
    ),
    single("pilot_registry_load_seconds", "Time recovery took at start.", "gauge", store.stats.loadMs / 1000),
    single(
      "pilot_registry_auth_refused_total",
      "Writes refused for missing or bad credentials.",
      "counter",
      registry.authRefused,
    ),
    single(
      "pilot_registry_replay_cache_entries",
      "Nonces remembered against replay.",
      "gauge",
      registry.nonces.size,
    ),
    single(
      "pilot_registry_storage_failed",
      "1 once storage has failed (writes refused).",
      "gauge",
      store.failed ? 1 : 0,
    ),
    byLabel(
      "pilot_registry_rate_limited_total",
      "Requests throttled, by category.",
      "counter",
      "category",
      registry.limiter.denied,
    ),
    {
      name: "pilot_registry_refused_total",
      help: "Requests refused before their handler ran, by category (register, heartbeat, poll, lookup, " +
        "write) and reason (address_budget, node_budget, global_rate, in_flight, memory).",
      type: "counter",
      samples: [...registry.refusals].map(([key, value]) => {
        const [category, reason] = key.split("|");
        return { labels: { category, reason }, value };
      }),
    },
    single(
      "pilot_registry_requests_in_flight",
      "Requests being handled now (the global budget's in-flight count).",
      "gauge",
      registry.shedder.inFlight,
    ),
    single(
      "pilot_registry_uptime_seconds",
      "Seconds since start.",
      "gauge",
      Math.floor((Date.now() - registry.startedAt) / 1000),
    ),
    single("pilot_registry_heap_used_bytes", "V8 heap in use.", "gauge", Deno.memoryUsage().heapUsed),
    single(
      "pilot_registry_resident_bytes",
      "Resident set size of the process.",
      "gauge",
      Deno.memoryUsage().rss,
    ),
    ...auditExportMetrics(registry.auditExport),
  ];
  const repl = registry.replicator?.status();
  if (repl) {
    const lag = repl.standbys.reduce((max, sb) => Math.max(max, sb.lag), 0);
    families.push(
      single(
        "pilot_registry_replication_primary",
        "1 while this registry takes writes.",
        "gauge",
        repl.role === "primary" ? 1 : 0,
      ),
      single("pilot_registry_replication_epoch", "Highest replication epoch known.", "gauge", repl.epoch),
      single(
        "pilot_registry_replication_standbys",
        "Standbys that have fetched from this primary.",
        "gauge",
        repl.standbys.length,
      ),
      single("pilot_registry_replication_lag_events", "Largest standby lag, in events.", "gauge", lag),
      single(
        "pilot_registry_replication_unreplicated_total",
        "Sync-mode writes no standby confirmed in time.",
        "counter",
        repl.unreplicated_writes,
      ),
    );
  }
  if (server) {
    families.push(
      single("pilot_registry_connections_open", "Open client connections.", "gauge", server.open),
      single(
        "pilot_registry_connections_accepted_total",
        "Connections accepted.",
        "counter",
        server.accepted,
      ),
      byLabel(
        "pilot_registry_connections_rejected_total",
        "Connections closed at once, by the cap that was reached (global or per source address).",
        "counter",
        "reason",
        new Map([["global", server.rejectedOverLimit], ["per_source", server.rejectedPerSource]]),
      ),
      byLabel(
        "pilot_registry_timeouts_total",
        "Connections closed for a deadline: idle (no request), frame (not whole in time), write.",
        "counter",
        "reason",
        new Map([["idle", server.idleTimeouts], ["frame", server.frameTimeouts], [
          "write",
          server.writeTimeouts,
        ]]),
      ),
      single(
        "pilot_registry_bad_frames_total",
        "Connections closed for an undecodable frame.",
        "counter",
        server.badFrames,
      ),
      single(
        "pilot_registry_input_pool_bytes",
        "Bytes of the shared input budget held now by unfinished requests over 4 KiB.",
        "gauge",
        server.inputPoolBytes,
      ),
      single(
        "pilot_registry_input_pool_waits_total",
        "Times a connection sending a request over 4 KiB waited for room in the input budget all connections share.",
        "counter",
        server.inputPoolWaits,
      ),
      single(
        "pilot_registry_requests_too_deep_total",
        "Requests refused for nesting arrays or objects too deeply.",
        "counter",
        server.tooDeep,
      ),
    );
  }
  return families;
}

/**
 * The Hono app serving the status page, /healthz and /metrics for `registry`, to the names
 * `hosts` allows (loopback by default); `token` guards the page when `hosts.bound` is not loopback.
 */
export function createRegistryHttpApp(
  registry: Registry,
  server?: ServerStats,
  hosts?: HostPolicy,
  token?: string,
): Hono {
  const app = new Hono();
  app.use("*", hostCheck(hosts));
  const status = new RegistryStatusView(registry, server);
  app.use("/", requireToken({ bound: hosts?.bound, token }));
  app.get("/", (c) => c.body(renderRegistryPage(status.view()), 200, { "content-type": HTML_CONTENT_TYPE }));
  app.get("/healthz", (c) => {
    const failed = registry.store.failed;
    const body = {
      status: failed ? "degraded" : "ok",
      version: PROGRAM_VERSION,
      uptime_seconds: Math.floor((Date.now() - registry.startedAt) / 1000),
      nodes_online: registry.state.onlineCount,
      durable: registry.store.durable,
      compat: registry.compat,
      ...(failed ? { reason: failed.message } : {}),
    };
    return c.json(body, failed ? 503 : 200);
  });
  app.get("/metrics", (c) => {
    c.header("Content-Type", PROMETHEUS_CONTENT_TYPE);
    return c.body(renderPrometheus(registryMetrics(registry, server)));
  });
  return app;
}
