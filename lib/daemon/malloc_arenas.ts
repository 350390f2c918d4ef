/**
 * Caps glibc's malloc arenas for a long-running process. glibc gives threads that contend for the
 * allocator arenas of their own (up to 8 per core), and a freed buffer stays resident in the arena
 * that allocated it; the tunnel's FFI threads and V8's helper threads allocate ArrayBuffer backing
 * stores in parallel, so a burst of traffic left a daemon tens of MiB larger. With one arena that
 * memory is reused (docs/benchmarks.md, "Daemon footprint"). A no-op off Linux/glibc or without
 * --allow-ffi; arenas created before the call are kept, so call it first thing.
 */

import { linuxFfiForbidden } from "../ffi.ts";

/** `M_ARENA_MAX` from glibc's <malloc.h>. */
const M_ARENA_MAX = -8;
/** Arenas allowed: one, shared by every thread (measured: no throughput change on loopback). */
export const DAEMON_MALLOC_ARENAS = 1;

/** Sets glibc's arena limit; true when it was applied. */
export function limitMallocArenas(arenas = DAEMON_MALLOC_ARENAS): boolean {
  if (linuxFfiForbidden()) return false;
  try {
    const libc = Deno.dlopen("libc.so.6", { mallopt: { parameters: ["i32", "i32"], result: "i32" } });
    try {
      return libc.symbols.mallopt(M_ARENA_MAX, arenas) === 1;
    } finally {
      libc.close();
    }
  } catch {
    return false; // not glibc (musl has no such knob), or no libc.so.6
  }
}
