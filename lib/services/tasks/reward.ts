/**
 * The polo reward a submitter grants a worker for a completed task (docs/protocol/services.md §7.4):
 * a bonus growing with the log of CPU minutes, scaled down by how long the task sat
 * idle before acceptance and staged before execution, and never below one point.
 */

/** Idle (accept) delay at which the idle penalty reaches its cap. */
export const REWARD_IDLE_SPAN_S = 60;
/** Staging delay at which the staging penalty reaches its cap. */
export const REWARD_STAGED_SPAN_S = 600;
/** Largest share each delay penalty can take. */
export const REWARD_MAX_PENALTY = 0.3;
/** Efficiency never drops below this. */
export const REWARD_MIN_EFFICIENCY = 0.4;

/** Time fields of a SEND_RESULTS message, in milliseconds (missing = 0). */
export interface TaskTimes {
  time_idle_ms?: number;
  time_staged_ms?: number;
  time_cpu_ms?: number;
}

/** The reward in polo points (an integer ≥ 1). Negative or non-finite inputs count as 0. */
export function poloReward(times: TaskTimes): number {
  const ms = (v: number | undefined) => (v !== undefined && Number.isFinite(v) && v > 0 ? v : 0);
  const cpuMin = ms(times.time_cpu_ms) / 60_000;
  const cpuBonus = Math.log2(1 + cpuMin);
  const idle = clamp(ms(times.time_idle_ms) / 1000 / REWARD_IDLE_SPAN_S * REWARD_MAX_PENALTY);
  const staged = clamp(ms(times.time_staged_ms) / 1000 / REWARD_STAGED_SPAN_S * REWARD_MAX_PENALTY);
  const eff = Math.max(1 - idle - staged, REWARD_MIN_EFFICIENCY);
  return Math.max(Math.floor((1 + cpuBonus) * eff + 0.5), 1);
}

function clamp(v: number): number {
  return Math.min(Math.max(v, 0), REWARD_MAX_PENALTY);
}
