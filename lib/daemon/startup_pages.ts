/**
 * Releasing the pages a long-running server touched only while starting. Under `deno run` (and a
 * compiled binary alike) start-up reads through much of the deno executable: module loading,
 * transpiling, npm resolution, the FFI and node compatibility set-up. Those file-backed pages stay
 * mapped, so they count in the process's RSS (~38 of a daemon's ~59 MiB) and the kernel keeps them
 * as mapped executable pages, the last it reclaims, although an idle server never runs them again.
 * A few seconds after start-up the server advises the kernel (`madvise(MADV_DONTNEED)`) that it no
 * longer needs the pages of its read-only file mappings; any it does need again come back from the
 * page cache on first touch (a minor fault, no disk read while they are cached). What remains is the
 * working set (docs/benchmarks.md, "Daemon footprint").
 *
 * Only mappings whose pages are byte for byte the file's are released: private, not writable, and
 * with no anonymous (copied-on-write) pages, such as relocated data; dropping any other kind would
 * lose memory contents. Linux only, and only with --allow-ffi (the call is libc's); otherwise a
 * no-op. The pure parts (parsing /proc/self/smaps, choosing mappings) are separate from the I/O.
 * @module
 */
import type { Logger } from "../log.ts";

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
export interface PageRelease {
  /** Mappings advised. */
  mappings: number;
  /** Their resident KiB just before. */
  kib: number;
}

/** Why this process cannot release pages, or undefined when it can. */
function unavailable(): string | undefined {
  if (Deno.build.os !== "linux") return `OS is ${Deno.build.os}`;
  if (typeof Deno.dlopen !== "function") return "Deno.dlopen is missing";
  try {
    if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") return "no --allow-ffi";
  } catch {
    return "cannot query the ffi permission";
  }
  return undefined;
}

/**
 * Advises the kernel that this process's releasable mappings (see {@link releasableMappings}) are
 * not needed; returns what was released, or why nothing was. Synchronous, so no other JavaScript
 * maps or unmaps a library between reading smaps and the advice. Never throws.
 */
export function releaseStartupPages(): PageRelease | { skipped: string } {
  const why = unavailable();
  if (why) return { skipped: why };
  let libc;
  try {
    libc = Deno.dlopen("libc.so.6", { madvise: { parameters: ["pointer", "usize", "i32"], result: "i32" } });
  } catch (err) {
    return { skipped: `cannot load libc: ${err instanceof Error ? err.message : String(err)}` };
  }
  try {
    const maps = releasableMappings(parseSmaps(Deno.readTextFileSync("/proc/self/smaps")));
    const done: PageRelease = { mappings: 0, kib: 0 };
    for (const m of maps) {
      if (libc.symbols.madvise(Deno.UnsafePointer.create(m.start), m.end - m.start, MADV_DONTNEED) !== 0) {
        continue;
      }
      done.mappings++;
      done.kib += m.rssKiB;
    }
    return done;
  } catch (err) {
    return { skipped: `cannot read /proc/self/smaps: ${err instanceof Error ? err.message : String(err)}` };
  } finally {
    libc.close();
  }
}

/**
 * Releases the start-up pages {@link STARTUP_PAGE_RELEASE_DELAY_MS} from now, logging the result at
 * debug level; the timer does not keep the process alive. Returns a function that cancels it.
 */
export function scheduleStartupPageRelease(log: Logger, delayMs = STARTUP_PAGE_RELEASE_DELAY_MS): () => void {
  const timer = setTimeout(() => {
    const result = releaseStartupPages();
    if ("skipped" in result) log.debug("start-up pages kept", { reason: result.skipped });
    else {log.debug("start-up pages released", {
        mappings: result.mappings,
        mib: (result.kib / 1024).toFixed(1),
      });}
  }, delayMs);
  Deno.unrefTimer(timer);
  return () => clearTimeout(timer);
}
