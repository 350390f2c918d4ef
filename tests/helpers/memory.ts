/**
 * A server process's memory from /proc/<pid>/status (Linux). Tests that bound growth read RssAnon,
 * the heap, buffers and stacks that grow with load: the file-backed rest of RSS is pages of the deno
 * executable, which a server releases a few seconds after start-up (lib/daemon/resident_memory.ts),
 * so a growth measured over all of RSS could shrink by that much and hide a leak.
 * @module
 */
import { procStatFields } from "../../lib/daemon/resident_memory.ts";

/** A resident-memory line of /proc/<pid>/status. */
export type ResidentPart = "VmRSS" | "RssAnon" | "RssFile";

/** That part of process `pid`'s resident memory, in bytes. */
export function residentBytes(pid: number, part: ResidentPart): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const m = new RegExp(`${part}:\\s+(\\d+) kB`).exec(status);
  if (!m) throw new Error(`no ${part} in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}

/** Anonymous resident memory of process `pid` in bytes: what growth bounds read. */
export function anonymousBytes(pid: number): number {
  return residentBytes(pid, "RssAnon");
}

/** Minor page faults process `pid` has taken so far (minflt, field 10 of /proc/<pid>/stat). */
export function minorFaults(pid: number): number {
  return Number(procStatFields(pid)[7]);
}
