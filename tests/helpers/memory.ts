/**
 * A server process's memory as the tests that bound its growth read it: RssAnon from /proc (Linux),
 * the heap, buffers and stacks that grow with load. The file-backed rest of RSS is pages of the deno
 * executable, which a server releases a few seconds after start-up (lib/daemon/resident_memory.ts), so
 * a growth measured over all of RSS could shrink by that much and hide a leak.
 * @module
 */

/** Anonymous resident memory of process `pid` in bytes. */
export function anonymousBytes(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const m = /RssAnon:\s+(\d+) kB/.exec(status);
  if (!m) throw new Error(`no RssAnon in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}
