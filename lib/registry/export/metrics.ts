/**
 * The /metrics families of audit export and the registry webhook: per sink, entries
 * exported, retries, entries dropped on a full queue and entries given up; the webhook's
 * deliveries and its dead-letter queue.
 * @module
 */
import { byLabel, type MetricFamily, single } from "../../http/prometheus.ts";
import type { AuditExporter } from "./exporter.ts";

/** Families read at scrape time. */
export function auditExportMetrics(ex: AuditExporter): MetricFamily[] {
  const sinks = ex.sinkStatus();
  const perSink = (
    name: string,
    help: string,
    pick: (s: (typeof sinks)[number]) => number,
  ): MetricFamily => ({
    name,
    help,
    type: "counter",
    samples: sinks.map((s) => ({ labels: { sink: s.name }, value: pick(s) })),
  });
  const hook = ex.webhook.stats;
  return [
    perSink(
      "pilot_registry_audit_exported_total",
      "Audit entries delivered, by export sink.",
      (s) => s.delivered,
    ),
    perSink(
      "pilot_registry_audit_export_retries_total",
      "Export deliveries retried, by sink.",
      (s) => s.retried,
    ),
    perSink(
      "pilot_registry_audit_export_dropped_total",
      "Audit entries not queued for export because the sink's queue was full, by sink.",
      (s) => s.dropped,
    ),
    perSink(
      "pilot_registry_audit_export_failed_total",
      "Audit entries given up after the last retry or a permanent refusal, by sink.",
      (s) => s.failed,
    ),
    byLabel(
      "pilot_registry_webhook_events_total",
      "Registry webhook events by outcome (failed = moved to the dead-letter queue).",
      "counter",
      "result",
      { delivered: hook.delivered, retried: hook.retried, dropped: hook.dropped, failed: hook.failed },
    ),
    single(
      "pilot_registry_webhook_dlq_size",
      "Events in the webhook dead-letter queue.",
      "gauge",
      hook.dlq_size,
    ),
  ];
}
