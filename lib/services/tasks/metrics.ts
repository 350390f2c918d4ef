/**
 * Prometheus families of the task service (port 1003): tasks received, refused, cancelled,
 * expired, status updates and results taken, rewards paid and registry errors, plus the
 * queue of received tasks waiting to run. Read from the service's counters at scrape time.
 */
import { byLabel, type MetricFamily, single } from "../../http/prometheus.ts";
import type { TaskService } from "./service.ts";

/** Families for one scrape; none when the service is not running (disabled with --no-tasksubmit). */
export function taskMetrics(service: TaskService | undefined): MetricFamily[] {
  if (!service) return [];
  const s = service.stats;
  return [
    byLabel("pilot_tasks_total", "Task service events, by kind", "counter", "event", {
      received: s.received,
      rejected: s.rejected,
      cancelled: s.cancelled,
      expired: s.expired,
      status_update: s.statusUpdates,
      results: s.results,
      reward_paid: s.rewardsPaid,
      registry_error: s.registryErrors,
    }),
    single("pilot_tasks_queued", "Received tasks waiting to run", "gauge", service.queued),
  ];
}
