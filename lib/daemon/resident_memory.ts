/**
 * Giving a long-running server's unused memory back to the kernel, at two moments:
 *
 * - **After start-up.** Under `deno run` (and a compiled binary alike) starting reads through much of
 *   the deno executable: module loading, transpiling, npm resolution, the FFI and node-compatibility
 *   set-up. Those file-backed pages stay mapped, so they count in the process's RSS (~38 of a
 *   daemon's ~59 MiB) and the kernel keeps them as mapped executable pages, the last it reclaims,
 *   although the server never runs them again.
 * - **When quiet after work.** A burst of traffic leaves freed malloc memory resident (one arena,
 *   lib/daemon/malloc_arenas.ts) and maps the code of the paths it ran. Once the process has been
 *   quiet for a while and grew since the last release, both are given back.
 *
 * A release advises the kernel (`madvise(MADV_DONTNEED)`) that the pages of read-only file mappings
 * are not needed, then asks glibc to return free heap pages (`malloc_trim`). File pages needed again
 * come back from the page cache on first touch (a minor fault, no disk read while they are cached).
 * Only mappings whose pages are byte for byte the file's are released: private, not writable, and
 * with no anonymous (copied-on-write) pages, such as relocated data; dropping any other kind would
 * lose memory contents. Linux only, and only with --allow-ffi (the calls are libc's); otherwise a
 * no-op. The pure parts (parsing /proc, choosing mappings, deciding when) are separate from the I/O
 * (docs/benchmarks.md, "Daemon footprint").
 * @module
 */
import type { Logger } from "../log.ts";
import { errorMessage } from "../errors.ts";
import { linuxFfiForbidden } from "../ffi.ts";
import { setAlignedInterval } from "../aligned_timer.ts";

/** `MADV_DONTNEED` from <sys/mman.h> (the same on every Linux architecture Deno runs on). */
const MADV_DONTNEED = 4;
/**
 * How long after a server's ready line its start-up pages are released: after the registration,
 * first handshakes and timers that follow start-up, while nothing is yet waiting on the server.
 */
export const STARTUP_PAGE_RELEASE_DELAY_MS = 3_000;

/** One mapping of /proc/<pid>/smaps, with the fields the release decision needs. */
export interface Mapping {
  start: bigint;
  end: bigint;
  /** Permissions as the kernel prints them, e.g. `r-xp`. */
  perms: string;
  inode: string;
  /** The mapped file's path; empty or a `[name]` for anonymous mappings. */
  path: string;
  /** Resident KiB; -1 when the block had no such line. */
  rssKiB: number;
  /** KiB of copied-on-write (anonymous) pages; -1 when the block had no such line. */
  anonymousKiB: number;
}

const HEADER = /^([0-9a-f]+)-([0-9a-f]+) ([-rwxps]{4}) \S+ \S+ (\d+)\s*(.*)$/;
const FIELD = /^(\w+):\s+(\d+) kB$/;

/**
 * The mappings of smaps text, in order. Lines that fit neither a mapping header nor a `Name: N kB`
 * field are ignored (the kernel adds fields over time); a field before any header is ignored too.
 */
export function parseSmaps(text: string): Mapping[] {
  const maps: Mapping[] = [];
  let current: Mapping | undefined;
  for (const line of text.split("\n")) {
    const header = HEADER.exec(line);
    if (header) {
      current = {
        start: BigInt(`0x${header[1]}`),
        end: BigInt(`0x${header[2]}`),
        perms: header[3],
        inode: header[4],
        path: header[5],
        rssKiB: -1,
        anonymousKiB: -1,
      };
      maps.push(current);
      continue;
    }
    const field = current && FIELD.exec(line);
    if (!field) continue;
    if (field[1] === "Rss") current!.rssKiB = Number(field[2]);
    else if (field[1] === "Anonymous") current!.anonymousKiB = Number(field[2]);
  }
  return maps;
}

/**
 * The mappings whose resident pages may be dropped without losing anything: a private mapping of a
 * regular file (an inode, a path, not a device or a memfd), not writable, with resident pages and
 * none of them copied on write. Everything else, including a block whose fields were missing, is kept.
 */
export function releasableMappings(maps: readonly Mapping[]): Mapping[] {
  return maps.filter((m) =>
    m.perms[1] !== "w" && m.perms[3] === "p" && m.inode !== "0" && m.path.startsWith("/") &&
    !m.path.startsWith("/dev/") && !m.path.startsWith("/memfd:") && m.end > m.start &&
    m.rssKiB > 0 && m.anonymousKiB === 0
  );
}

/** What a release did. */
export interface MemoryRelease {
  /** File mappings advised. */
  mappings: number;
  /** Their resident KiB just before. */
  kib: number;
  /** Whether glibc returned free heap pages (false where there is no `malloc_trim`, e.g. musl). */
  heapTrimmed: boolean;
}

const LIBC_CALLS = {
  madvise: { parameters: ["pointer", "usize", "i32"], result: "i32" },
  malloc_trim: { parameters: ["usize"], result: "i32", optional: true },
} as const;

/**
 * Advises the kernel that this process's releasable file mappings (see {@link releasableMappings})
 * are not needed and returns glibc's free heap pages; says what was released, or why nothing was.
 * Synchronous, so no other JavaScript maps or unmaps a library between reading smaps and the advice.
 * Never throws.
 */
export function releaseMemory(): MemoryRelease | { skipped: string } {
  const why = linuxFfiForbidden();
  if (why) return { skipped: why };
  let libc: Deno.DynamicLibrary<typeof LIBC_CALLS>;
  try {
    libc = Deno.dlopen("libc.so.6", LIBC_CALLS);
  } catch (err) {
    return { skipped: `cannot load libc: ${errorMessage(err)}` };
  }
  try {
    const maps = releasableMappings(parseSmaps(Deno.readTextFileSync("/proc/self/smaps")));
    const done: MemoryRelease = { mappings: 0, kib: 0, heapTrimmed: false };
    for (const m of maps) {
      if (libc.symbols.madvise(Deno.UnsafePointer.create(m.start), m.end - m.start, MADV_DONTNEED) !== 0) {
        continue;
      }
      done.mappings++;
      done.kib += m.rssKiB;
    }
    if (libc.symbols.malloc_trim) {
      libc.symbols.malloc_trim(0n);
      done.heapTrimmed = true;
    }
    return done;
  } catch (err) {
    return { skipped: `release failed: ${errorMessage(err)}` };
  } finally {
    libc.close();
  }
}

/** How often a server looks whether it is quiet enough to release memory again. */
export const QUIET_CHECK_INTERVAL_MS = 30_000;
/**
 * Quiet enough: less CPU than this share of the last interval (6 s of 30 s). Not idle: a registry
 * whose 10,000 nodes heartbeat uses 5–9% of a core here (more on a slower machine) and would
 * otherwise never give back what a burst left behind; a release costs milliseconds, once per
 * interval at most.
 */
export const QUIET_CPU_SHARE = 0.2;
/** Released again only when resident memory grew at least this much since the last release. */
export const REGROWTH_TO_RELEASE_KIB = 4 * 1024;

/** CPU time and resident memory of this process, as the release schedule reads them. */
export interface ProcessSample {
  cpuMs: number;
  rssKiB: number;
}

/**
 * Whether to release again: the process spent under {@link QUIET_CPU_SHARE} of the interval's time on
 * CPU (so a burst of work has ended, and little waits on a page fault) and its RSS is at
 * least {@link REGROWTH_TO_RELEASE_KIB} above what it was right after the last release.
 */
export function shouldRelease(
  previous: ProcessSample,
  now: ProcessSample,
  intervalMs: number,
  afterLastReleaseKiB: number,
): boolean {
  return now.cpuMs - previous.cpuMs < intervalMs * QUIET_CPU_SHARE &&
    now.rssKiB - afterLastReleaseKiB >= REGROWTH_TO_RELEASE_KIB;
}

/** Linux's USER_HZ: /proc reports CPU times in these ticks on every architecture. */
export const CLOCK_TICKS_PER_SECOND = 100;

/**
 * The fields of /proc/PID/stat after the command name (which is in parentheses and may hold spaces):
 * index 0 is the state, so field N of proc(5) is at index N - 3. `pid` may also name one thread as
 * `PID/task/TID`.
 */
export function procStatFields(pid: number | "self" | `${number}/task/${string}` = "self"): string[] {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
}

/**
 * CPU time (utime + stime) and VmRSS of process `pid` (this one by default) from /proc/PID/stat and status.
 * Exported for the tests and the benches.
 */
export function sampleProcess(pid: number | "self" = "self"): ProcessSample {
  const fields = procStatFields(pid);
  const ticks = Number(fields[11]) + Number(fields[12]);
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const rss = /VmRSS:\s+(\d+) kB/.exec(status);
  if (!Number.isFinite(ticks) || !rss) throw new Error(`unexpected /proc/${pid}/stat or status`);
  return { cpuMs: ticks * 1000 / CLOCK_TICKS_PER_SECOND, rssKiB: Number(rss[1]) };
}

/** When a server releases memory: defaults are the constants above. */
export interface ReleaseSchedule {
  startupDelayMs?: number;
  quietCheckMs?: number;
}

/**
 * Releases memory {@link STARTUP_PAGE_RELEASE_DELAY_MS} after now, then every
 * {@link QUIET_CHECK_INTERVAL_MS} when {@link shouldRelease} says so, logging each at debug level.
 * The timers do not keep the process alive. Returns a function that stops them. Where the first
 * release is skipped (not Linux, no FFI), no checks follow.
 */
export function scheduleMemoryRelease(log: Logger, schedule: ReleaseSchedule = {}): () => void {
  const quietCheckMs = schedule.quietCheckMs ?? QUIET_CHECK_INTERVAL_MS;
  let stopChecks: (() => void) | undefined;
  let previous: ProcessSample | undefined;
  /** When `previous` was read (performance.now()): the first aligned check may come early. */
  let previousAt = 0;
  let afterRelease = 0;
  /** Releases now; false (logged) when nothing could be, so the caller stops scheduling. Never throws. */
  const release = (why: string): boolean => {
    const result = releaseMemory();
    if ("skipped" in result) {
      log.debug("memory kept", { reason: result.skipped });
      return false;
    }
    try {
      previous = sampleProcess();
      previousAt = performance.now();
    } catch (err) {
      log.debug("memory released, but /proc cannot be read to schedule more", { reason: errorMessage(err) });
      return false;
    }
    afterRelease = previous.rssKiB;
    log.debug("memory released", {
      when: why,
      mappings: result.mappings,
      file_mib: (result.kib / 1024).toFixed(1),
      heap_trimmed: result.heapTrimmed,
      rss_mib: (afterRelease / 1024).toFixed(1),
    });
    return true;
  };
  const check = () => {
    try {
      const now = sampleProcess();
      const at = performance.now();
      if (previous && shouldRelease(previous, now, at - previousAt, afterRelease)) release("quiet");
      else [previous, previousAt] = [now, at];
    } catch (err) {
      log.debug("memory check failed", { reason: errorMessage(err) });
    }
  };
  const timer = setTimeout(() => {
    // Checks fall on the process clock's multiples of their period, with the heartbeat and the
    // other chores of that period (lib/aligned_timer.ts).
    if (release("after start-up")) stopChecks = setAlignedInterval(check, quietCheckMs, { unref: true });
  }, schedule.startupDelayMs ?? STARTUP_PAGE_RELEASE_DELAY_MS);
  Deno.unrefTimer(timer);
  return () => {
    clearTimeout(timer);
    stopChecks?.();
  };
}
