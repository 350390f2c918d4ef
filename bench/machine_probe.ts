/**
 * Machine facts that move every figure of a network daemon from one VM to the next, printed by the
 * benches beside their results (docs/benchmarks.md, "A paravirtualised VM": the same code measured
 * 2× slower where a minor page fault cost 14.5 µs instead of well under 1).
 * @module
 */
import { median } from "./compare/table.ts";

/** Pages touched by {@link minorFaultMicros}: 32 MiB, at glibc's largest mmap threshold, so freshly mapped pages. */
const PROBE_PAGES = 8192;
const PAGE_BYTES = 4096;

/**
 * The cost of a minor page fault in µs: a fresh 32 MiB buffer (mapped, not yet backed) gets one
 * byte written per 4 KiB page, so the loop is almost all faults. Typically 0.1–1 µs; more on VMs
 * that shadow the guest's page tables.
 */
export function minorFaultMicros(): number {
  const buffer = new Uint8Array(PROBE_PAGES * PAGE_BYTES);
  const t0 = performance.now();
  for (let i = 0; i < PROBE_PAGES; i++) buffer[i * PAGE_BYTES] = 1;
  return (performance.now() - t0) * 1000 / PROBE_PAGES;
}

/**
 * The p50 of 50 fdatasyncs of a 512-byte append in a temporary file, in ms: what bounds a durable
 * registry's writes with few clients, and it varies with the disk's other load.
 */
export async function fdatasyncMs(): Promise<number> {
  const path = await Deno.makeTempFile({ prefix: "pilot-bench-sync-" });
  const times: number[] = [];
  try {
    using f = await Deno.open(path, { append: true });
    const block = new Uint8Array(512);
    for (let i = 0; i < 50; i++) {
      const t0 = performance.now();
      await f.write(block);
      await f.syncData();
      times.push(performance.now() - t0);
    }
  } finally {
    await Deno.remove(path);
  }
  return median(times)!;
}
