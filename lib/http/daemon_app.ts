/**
 * The daemon's embedded HTTP endpoint: `/healthz` (200 ok, 503 with reasons),
 * `/status` (the IPC Info JSON) and `/metrics` (Prometheus text).
 */
import { Hono } from "hono";
import type { HealthReport } from "./health.ts";
import { hostCheck, type HostPolicy } from "./host_check.ts";
import { type MetricFamily, PROMETHEUS_CONTENT_TYPE, renderPrometheus } from "./prometheus.ts";

/** What the app reads from the daemon at request time. */
export interface DaemonStatusSource {
  health(): HealthReport;
  info(): object;
  metrics(): MetricFamily[];
}

/** Builds the Hono app over `source`, answering only the names `hosts` allows (loopback by default). */
export function daemonHttpApp(source: DaemonStatusSource, hosts?: HostPolicy): Hono {
  const app = new Hono();
  app.use("*", hostCheck(hosts));
  app.get("/healthz", (c) => {
    const report = source.health();
    return c.json(report, report.status === "ok" ? 200 : 503);
  });
  app.get("/status", (c) => c.json(source.info()));
  app.get(
    "/metrics",
    (c) => c.body(renderPrometheus(source.metrics()), 200, { "content-type": PROMETHEUS_CONTENT_TYPE }),
  );
  app.notFound((c) => c.json({ error: "not found", endpoints: ["/healthz", "/status", "/metrics"] }, 404));
  return app;
}
