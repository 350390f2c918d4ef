/**
 * The health model shared by the daemon's HTTP endpoint, its IPC Health reply and
 * `pilot health`: named checks, each ok or failing with a reason, folded into one
 * status. A failing check marks the node "degraded"; "down" is what a caller concludes
 * when it cannot reach the daemon at all.
 */

/** Overall status. */
export type HealthStatus = "ok" | "degraded" | "down";

/** One subsystem's state. */
export interface HealthCheck {
  ok: boolean;
  /** Why the check fails (absent when ok). */
  reason?: string;
}

/** The folded report. */
export interface HealthReport {
  status: HealthStatus;
  checks: Record<string, HealthCheck>;
  /** The failing checks' reasons, "name: reason". */
  reasons: string[];
}

/** Folds named checks into a report: ok when every check passes, else degraded. */
export function foldHealth(checks: Record<string, HealthCheck>): HealthReport {
  const reasons = Object.entries(checks)
    .filter(([, c]) => !c.ok)
    .map(([name, c]) => `${name}: ${c.reason ?? "failing"}`);
  return { status: reasons.length === 0 ? "ok" : "degraded", checks, reasons };
}

/** The exit status `pilot health` uses for a status (cron-friendly). */
export function healthExitCode(status: HealthStatus): number {
  return status === "ok" ? 0 : status === "degraded" ? 1 : 2;
}
