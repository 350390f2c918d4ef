/**
 * Per-thread CPU time and context switches of a process, read from /proc (Linux), for the benches
 * that count what work and wake-ups cost (connection_cpu_bench.ts, idle_wakes_bench.ts).
 * @module
 */
import { CLOCK_TICKS_PER_SECOND, procStatFields } from "../lib/daemon/resident_memory.ts";

/** One thread's counters so far. */
export interface ThreadSample {
  /** Times it slept and was woken. */
  voluntary: number;
  /** Times it was preempted. */
  involuntary: number;
  /** utime + stime, in 10 ms ticks' worth of milliseconds. */
  cpuMs: number;
}

/** Per thread of `pid`, keyed "name#tid": its context switches and CPU so far. */
export function threadSamples(pid: number): Map<string, ThreadSample> {
  const out = new Map<string, ThreadSample>();
  for (const entry of Deno.readDirSync(`/proc/${pid}/task`)) {
    try {
      const status = Deno.readTextFileSync(`/proc/${pid}/task/${entry.name}/status`);
      const fields = procStatFields(`${pid}/task/${entry.name}`);
      const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\S+)`, "m").exec(status)?.[1] ?? 0);
      out.set(`${/^Name:\s+(.*)$/m.exec(status)?.[1] ?? "?"}#${entry.name}`, {
        voluntary: field("voluntary_ctxt_switches"),
        involuntary: field("nonvoluntary_ctxt_switches"),
        cpuMs: (Number(fields[11]) + Number(fields[12])) * 1000 / CLOCK_TICKS_PER_SECOND,
      });
    } catch { /* the thread ended meanwhile */ }
  }
  return out;
}

/** Per thread, what changed from `before` to `after` (threads born meanwhile count from zero). */
export function threadDeltas(
  before: Map<string, ThreadSample>,
  after: Map<string, ThreadSample>,
): Map<string, ThreadSample> {
  const out = new Map<string, ThreadSample>();
  for (const [name, now] of after) {
    const was = before.get(name) ?? { voluntary: 0, involuntary: 0, cpuMs: 0 };
    out.set(name, {
      voluntary: now.voluntary - was.voluntary,
      involuntary: now.involuntary - was.involuntary,
      cpuMs: now.cpuMs - was.cpuMs,
    });
  }
  return out;
}
