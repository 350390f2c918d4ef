/**
 * The task file (docs/protocol/services.md §7.3): one indented JSON object per task under
 * `tasks/received/` (worker side) or `tasks/submitted/` (submitter side). Pure:
 * statuses, the record shape, its parser (junk → {@link TaskCodecError}) and its
 * serialisation in the reference's key order.
 */
import { TaskCodecError } from "./codec.ts";
import { isTaskId } from "./codec.ts";
import { errorMessage } from "../../errors.ts";

/** A NEW task not accepted within this long after creation can no longer be accepted (and is cancelled). */
export const ACCEPT_WINDOW_MS = 60_000;

/** Every task status the reference uses. */
export const TASK_STATUSES = [
  "NEW",
  "ACCEPTED",
  "DECLINED",
  "EXECUTING",
  "COMPLETED",
  "SUCCEEDED",
  "CANCELLED",
  "EXPIRED",
] as const;

/** A task's status. */
export type TaskStatus = typeof TASK_STATUSES[number];

/** Whether `s` is a known status. */
export function isTaskStatus(s: unknown): s is TaskStatus {
  return typeof s === "string" && (TASK_STATUSES as readonly string[]).includes(s);
}

/** Statuses in which a received task waits in the worker's queue. */
export const QUEUED_STATUSES: readonly TaskStatus[] = ["NEW", "ACCEPTED"];

/** Status texts the reference writes. */
export const JUSTIFICATION = {
  created: "A new task was created",
  accepted: "Task accepted",
  executing: "Task execution started",
  completed: "Task completed with results",
  succeeded: "Task completed successfully",
  cancelled: "Task cancelled: no response within 1 minute",
  expired: "Task expired: waited at the head of the queue for more than 1 hour",
} as const;

/** One task file. Times are RFC 3339 UTC; durations whole milliseconds. */
export interface TaskRecord {
  task_id: string;
  task_description: string;
  created_at: string;
  status: TaskStatus;
  status_justification: string;
  from: string;
  to: string;
  accepted_at?: string;
  staged_at?: string;
  execute_started_at?: string;
  completed_at?: string;
  time_idle_ms?: number;
  time_staged_ms?: number;
  time_cpu_ms?: number;
}

const REQUIRED_STRINGS = ["task_description", "created_at", "status_justification", "from", "to"] as const;
const TIMES = ["accepted_at", "staged_at", "execute_started_at", "completed_at"] as const;
const DURATIONS = ["time_idle_ms", "time_staged_ms", "time_cpu_ms"] as const;

/** RFC 3339 UTC text of `ms` since the epoch (millisecond precision). */
export function rfc3339(ms: number): string {
  return new Date(ms).toISOString();
}

/** Milliseconds since the epoch of RFC 3339 text; TaskCodecError if unparsable. */
export function parseTime(text: string): number {
  const ms = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(text) ? Date.parse(text) : NaN;
  if (Number.isNaN(ms)) throw new TaskCodecError(`"${text}" is not an RFC 3339 time`);
  return ms;
}

/** Parses and validates a task file's text. */
export function parseTaskRecord(text: string): TaskRecord {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new TaskCodecError(`task file is not JSON: ${errorMessage(err)}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TaskCodecError("task file is not a JSON object");
  }
  const o = value as Record<string, unknown>;
  if (!isTaskId(o.task_id)) throw new TaskCodecError("task file: bad task_id");
  if (!isTaskStatus(o.status)) {
    throw new TaskCodecError(`task file: unknown status ${JSON.stringify(o.status)}`);
  }
  const rec: Record<string, unknown> = { task_id: o.task_id, status: o.status };
  for (const key of REQUIRED_STRINGS) {
    const v = o[key] ?? "";
    if (typeof v !== "string") throw new TaskCodecError(`task file: ${key} must be a string`);
    rec[key] = v;
  }
  parseTime(rec.created_at as string);
  for (const key of TIMES) {
    const v = o[key];
    if (v === undefined || v === null || v === "") continue;
    if (typeof v !== "string") throw new TaskCodecError(`task file: ${key} must be a string`);
    parseTime(v);
    rec[key] = v;
  }
  for (const key of DURATIONS) {
    const v = o[key];
    if (v === undefined || v === null || v === 0) continue;
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) {
      throw new TaskCodecError(`task file: ${key} must be a non-negative integer`);
    }
    rec[key] = v;
  }
  return rec as unknown as TaskRecord;
}

/** Serialises a record: 2-space indented JSON in the reference's key order, unset keys left out. */
export function formatTaskRecord(r: TaskRecord): string {
  const out: Record<string, unknown> = {
    task_id: r.task_id,
    task_description: r.task_description,
    created_at: r.created_at,
    status: r.status,
    status_justification: r.status_justification,
    from: r.from,
    to: r.to,
  };
  for (const key of TIMES) if (r[key]) out[key] = r[key];
  for (const key of DURATIONS) if (r[key]) out[key] = r[key];
  return JSON.stringify(out, null, 2) + "\n";
}

/** Whole milliseconds from RFC 3339 `from` to `toMs`, never negative (0 when `from` is unset). */
export function elapsedMs(from: string | undefined, toMs: number): number {
  if (!from) return 0;
  return Math.max(0, Math.round(toMs - parseTime(from)));
}
