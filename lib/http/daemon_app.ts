/**
 * The daemon's embedded HTTP endpoint: `/` (the status page), `/healthz` (200 ok, 503 with
 * reasons), `/status` (the IPC Info JSON) and `/metrics` (Prometheus text). On a non-loopback
 * bind the page and `/status` need the token (access_token.ts).
 */
import { Hono } from "hono";
import type { HealthReport } from "./health.ts";
import { hostCheck, type HostPolicy } from "./host_check.ts";
import { requireToken } from "./access_token.ts";
import { type DaemonPageView, renderDaemonPage } from "./daemon_page.ts";
import { HTML_CONTENT_TYPE } from "./page_layout.ts";
import { type MetricFamily, PROMETHEUS_CONTENT_TYPE, renderPrometheus } from "./prometheus.ts";

/** What the app reads from the daemon at request time. */
export interface DaemonStatusSource {
  health(): HealthReport;
  info(): object;
  metrics(): MetricFamily[];
  /** What the status page shows. */
  page(): DaemonPageView;
}

/**
 * Builds the Hono app over `source`, answering only the names `hosts` allows (loopback by
 * default); `token` guards the page and /status when `hosts.bound` is not loopback.
 */
export function daemonHttpApp(source: DaemonStatusSource, hosts?: HostPolicy, token?: string): Hono {
  const app = new Hono();
  app.use("*", hostCheck(hosts));
  const guard = requireToken({ bound: hosts?.bound, token });
  app.use("/", guard);
  app.use("/status", guard);
  app.get("/", (c) => c.body(renderDaemonPage(source.page()), 200, { "content-type": HTML_CONTENT_TYPE }));
  app.get("/healthz", (c) => {
    const report = source.health();
    return c.json(report, report.status === "ok" ? 200 : 503);
  });
  app.get("/status", (c) => c.json(source.info()));
  app.get(
    "/metrics",
    (c) => c.body(renderPrometheus(source.metrics()), 200, { "content-type": PROMETHEUS_CONTENT_TYPE }),
  );
  app.notFound((c) =>
    c.json({ error: "not found", endpoints: ["/", "/healthz", "/status", "/metrics"] }, 404)
  );
  return app;
}
