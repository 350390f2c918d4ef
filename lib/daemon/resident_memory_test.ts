import fc from "fast-check";
import { assert, assertEquals } from "../../tests/assert.ts";
import {
  type Mapping,
  parseSmaps,
  QUIET_CPU_SHARE,
  REGROWTH_TO_RELEASE_KIB,
  releasableMappings,
  sampleProcess,
  shouldRelease,
} from "./resident_memory.ts";

/** Blocks shaped like a deno process's /proc/self/smaps (fields trimmed to a few). */
const SMAPS = [
  "55d0a0000000-55d0a1000000 r--p 00000000 08:01 1234 /usr/bin/deno",
  "Size:              16384 kB",
  "Rss:                9000 kB",
  "Anonymous:            0 kB",
  "55d0a1000000-55d0a8000000 r-xp 01000000 08:01 1234 /usr/bin/deno",
  "Size:             114688 kB",
  "Rss:               20480 kB",
  "Pss:               10240 kB",
  "Anonymous:            0 kB",
  "VmFlags: rd ex mr mw me sd",
  "55d0a8000000-55d0a8400000 r--p 08000000 08:01 1234 /usr/bin/deno",
  "Rss:                4096 kB",
  "Anonymous:         4000 kB",
  "55d0a8400000-55d0a8500000 rw-p 08400000 08:01 1234 /usr/bin/deno",
  "Rss:                1024 kB",
  "Anonymous:         1024 kB",
  "55d0a8500000-55d0a9000000 rw-p 00000000 00:00 0 [heap]",
  "Rss:                2048 kB",
  "Anonymous:         2048 kB",
  "7f0000000000-7f0000100000 r--p 00000000 00:00 0 ",
  "Rss:                 128 kB",
  "Anonymous:            0 kB",
  "7f0000100000-7f0000200000 r-xp 00000000 08:01 99 /usr/lib/x86_64-linux-gnu/libc.so.6",
  "Rss:                 900 kB",
  "Anonymous:            0 kB",
  "7f0000200000-7f0000300000 r--s 00000000 08:01 77 /var/cache/shared.db",
  "Rss:                  64 kB",
  "Anonymous:            0 kB",
  "7f0000300000-7f0000400000 r--p 00000000 00:05 3 /dev/zero (deleted)",
  "Rss:                  64 kB",
  "Anonymous:            0 kB",
  "7f0000400000-7f0000500000 r--p 00000000 00:01 4 /memfd:code (deleted)",
  "Rss:                  64 kB",
  "Anonymous:            0 kB",
  "7f0000500000-7f0000600000 r--p 00000000 08:01 55 /usr/lib/x86_64-linux-gnu/libz.so.1",
  "Rss:                   0 kB",
  "Anonymous:            0 kB",
  "7f0000600000-7f0000700000 r--p 00000000 08:01 56 /usr/lib/x86_64-linux-gnu/libm.so.6",
  "Size:                 1024 kB",
  "ffffff600000-ffffff601000 --xp 00000000 00:00 0 [vsyscall]",
  "Rss:                   0 kB",
  "",
].join("\n");

Deno.test("parseSmaps reads each mapping's range, permissions, file and page counts", () => {
  const maps = parseSmaps(SMAPS);
  assertEquals(maps.length, 13);
  assertEquals(maps[1], {
    start: 0x55d0a1000000n,
    end: 0x55d0a8000000n,
    perms: "r-xp",
    inode: "1234",
    path: "/usr/bin/deno",
    rssKiB: 20480,
    anonymousKiB: 0,
  });
  assertEquals(maps[5].path, "");
  assertEquals(maps[11].rssKiB, -1); // no Rss line: unknown, not zero
  assertEquals(maps[12].path, "[vsyscall]");
});

Deno.test("releasableMappings keeps everything that is not byte for byte its file", () => {
  const chosen = releasableMappings(parseSmaps(SMAPS)).map((m) =>
    `${m.start.toString(16)} ${m.perms} ${m.path}`
  );
  assertEquals(chosen, [
    "55d0a0000000 r--p /usr/bin/deno", // read-only data
    "55d0a1000000 r-xp /usr/bin/deno", // code
    "7f0000100000 r-xp /usr/lib/x86_64-linux-gnu/libc.so.6",
  ]);
  // Left alone: relocated read-only data (copied-on-write pages), writable data, the heap, an
  // anonymous mapping, a shared mapping, a device, a memfd, nothing resident, unknown counts, [vsyscall].
});

Deno.test("parseSmaps never throws and ignores what is not a mapping or a kB field", () => {
  fc.assert(fc.property(fc.string({ maxLength: 400 }), (text) => {
    for (const m of parseSmaps(text)) assert(m.perms.length === 4);
  }));
  assertEquals(parseSmaps("Rss: 5 kB\nnot a header\n\n"), []);
});

const mappingArb: fc.Arbitrary<Mapping> = fc.record({
  start: fc.bigInt({ min: 0n, max: (1n << 47n) - 1n }),
  size: fc.bigInt({ min: 1n, max: 1n << 30n }),
  perms: fc.tuple(
    fc.constantFrom("r", "-"),
    fc.constantFrom("w", "-"),
    fc.constantFrom("x", "-"),
    fc.constantFrom("p", "s"),
  ).map((p) => p.join("")),
  inode: fc.nat().map(String),
  path: fc.constantFrom("", "[heap]", "/usr/bin/deno", "/lib/libc.so.6", "/dev/zero", "/a b (deleted)"),
  rssKiB: fc.nat(1 << 20),
  anonymousKiB: fc.nat(1 << 20),
}).map(({ start, size, ...rest }) => ({ start, end: start + size, ...rest }));

Deno.test("parseSmaps reads back any mapping in the kernel's format", () => {
  fc.assert(fc.property(fc.array(mappingArb, { maxLength: 8 }), (maps) => {
    const text = maps.map((m) =>
      `${m.start.toString(16)}-${m.end.toString(16)} ${m.perms} 00000000 08:01 ${m.inode}${
        m.path ? ` ${m.path}` : " "
      }\nRss: ${m.rssKiB} kB\nAnonymous: ${m.anonymousKiB} kB\nVmFlags: rd mr\n`
    ).join("");
    assertEquals(parseSmaps(text), maps);
    for (const m of releasableMappings(maps)) {
      assert(m.perms[1] === "-" && m.perms[3] === "p" && m.anonymousKiB === 0 && m.path.startsWith("/"));
    }
  }));
});

/** Runs in a fresh `deno run`: releases, then checks the process still computes what it did before. */
const CHILD = `
import { releaseMemory } from ${JSON.stringify(new URL("./resident_memory.ts", import.meta.url).href)};
const fileKiB = () => Number(/RssFile:\\s+(\\d+)/.exec(Deno.readTextFileSync("/proc/self/status"))[1]);
const work = async () => {
  const data = new TextEncoder().encode("pilot ".repeat(10000));
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", data));
  return JSON.stringify({ digest: Array.from(digest.slice(0, 8)), sum: data.reduce((a, b) => a + b, 0) });
};
const expected = await work();
const before = fileKiB();
const result = releaseMemory();
const after = fileKiB();
const again = await work();
console.log(JSON.stringify({ result, before, after, same: again === expected }));
`;

/** Runs `source` as a fresh `deno run -A` with `env` added; its stdout parsed as JSON. */
async function runChild(source: string, env: Record<string, string> = {}) {
  const script = await Deno.makeTempFile({ suffix: ".ts" });
  try {
    await Deno.writeTextFile(script, source);
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", script],
      env: { DENO_NO_UPDATE_CHECK: "1", ...env },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert(out.success, `child failed: ${new TextDecoder().decode(out.stderr)}`);
    return JSON.parse(new TextDecoder().decode(out.stdout));
  } finally {
    await Deno.remove(script);
  }
}

Deno.test({
  name: "releaseMemory drops a real process's start-up pages and the process runs on unchanged",
  ignore: Deno.build.os !== "linux",
  async fn() {
    const r = await runChild(CHILD);
    assert(r.result.mappings > 0 && r.result.kib > 0, `nothing released: ${JSON.stringify(r.result)}`);
    assert(r.after < r.before, `RssFile ${r.before} → ${r.after} KiB`);
    assert(r.result.heapTrimmed, "glibc's malloc_trim was not called");
    assert(r.same, "the process computed something else after the release");
  },
});

Deno.test("shouldRelease: only when quiet over the interval and grown since the last release", () => {
  const interval = 30_000;
  const quietCpu = interval * QUIET_CPU_SHARE;
  const at = (cpuMs: number, rssKiB: number) => ({ cpuMs, rssKiB });
  const base = 40_000;
  // Grown and quiet: release.
  assert(shouldRelease(at(1000, 0), at(1000 + quietCpu - 1, base + REGROWTH_TO_RELEASE_KIB), interval, base));
  // Still working (CPU at the threshold): wait.
  assert(!shouldRelease(at(1000, 0), at(1000 + quietCpu, base + 50_000), interval, base));
  // Quiet but not grown enough: nothing to give back.
  assert(!shouldRelease(at(1000, 0), at(1000, base + REGROWTH_TO_RELEASE_KIB - 1), interval, base));
});

Deno.test("sampleProcess reads this process's CPU time and resident memory", () => {
  const a = sampleProcess();
  const until = performance.now() + 60;
  while (performance.now() < until) { /* 60 ms of CPU: at least a few 10 ms ticks */ }
  const b = sampleProcess();
  assert(a.rssKiB > 1024 && b.rssKiB > 1024, `rss ${a.rssKiB} KiB`);
  assert(b.cpuMs > a.cpuMs, `cpu ${a.cpuMs} → ${b.cpuMs} ms`);
});

/**
 * Runs in a fresh `deno run`: after the start-up release it fragments glibc's heap (1,000 blocks of
 * 64 KiB, under its mmap threshold, written, then every other one freed: the holes stay resident, and below the blocks still
 * held, so free() cannot give them back), goes quiet, and reports what the schedule logged.
 */
const QUIET_CHILD = `
import { scheduleMemoryRelease } from ${
  JSON.stringify(new URL("./resident_memory.ts", import.meta.url).href)
};
import { Logger } from ${JSON.stringify(new URL("../log.ts", import.meta.url).href)};
const lines = [];
const log = new Logger("test", "debug", (l) => lines.push(l));
const stop = scheduleMemoryRelease(log, { startupDelayMs: 100, quietCheckMs: 2000 });
const rss = () => Number(/RssAnon:\\s+(\\d+)/.exec(Deno.readTextFileSync("/proc/self/status"))[1]);
await new Promise((r) => setTimeout(r, 500));
const libc = Deno.dlopen("libc.so.6", {
  malloc: { parameters: ["usize"], result: "pointer" },
  free: { parameters: ["pointer"], result: "void" },
  memset: { parameters: ["pointer", "i32", "usize"], result: "pointer" },
});
const blocks = [];
for (let i = 0; i < 1000; i++) {
  const p = libc.symbols.malloc(65536n);
  libc.symbols.memset(p, 1, 65536n);
  blocks.push(p);
}
for (let i = 0; i < blocks.length; i += 2) libc.symbols.free(blocks[i]);
const fragmented = rss();
const deadline = Date.now() + 15000;
while (!lines.some((l) => l.includes("when=quiet")) && Date.now() < deadline) {
  await new Promise((r) => setTimeout(r, 100));
}
const after = rss();
stop();
console.log(JSON.stringify({ lines, fragmented, after }));
`;

Deno.test({
  name: "scheduleMemoryRelease gives back heap a quiet process no longer uses",
  ignore: Deno.build.os !== "linux",
  async fn() {
    const r = await runChild(QUIET_CHILD, { MALLOC_ARENA_MAX: "1" });
    const lines = r.lines as string[];
    assert(lines.some((l) => l.includes(`when="after start-up"`)), lines.join("\n"));
    assert(lines.some((l) => l.includes("when=quiet")), `no release when quiet:\n${lines.join("\n")}`);
    // The 500 freed 64 KiB holes (31 MiB of anonymous memory) come back, but for their chunk headers' pages.
    assert(r.after < r.fragmented - 16 * 1024, `RssAnon ${r.fragmented} → ${r.after} KiB`);
  },
});
