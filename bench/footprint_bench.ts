/**
 * Daemon memory footprint: a registry and two encrypted `pilot daemon` subprocesses on loopback;
 * each daemon's VmRSS and VmHWM (from /proc/<pid>/status) right after start, after an idle
 * period, during a `pilot bench` between them (peak of samples every 50 ms), 2 s after it and after
 * `--quiet` seconds more (default: long enough for the daemons to give memory back when quiet,
 * lib/daemon/resident_memory.ts; 0 leaves that phase out). Every repeat starts a fresh network; the
 * summary gives the median and range over the repeats.
 *
 *   deno run -A bench/footprint_bench.ts [--mib 64] [--idle 10] [--quiet 65] [--repeat 3]
 *     [--v8-flags FLAGS] [--deno-flags "FLAG …"] [--main PATH]
 *
 * --v8-flags: V8 flags for the daemons (default: the ones `pilot daemon start` and the deno.json
 * tasks use, cli/daemon_process.ts; "" = none), passed as DENO_V8_FLAGS; the daemons also get
 * that module's environment (MALLOC_ARENA_MAX). --deno-flags: extra `deno run` flags for the daemons
 * only (space-separated, e.g. "--no-code-cache"). --main: the daemons run that entry point instead of
 * this checkout's main.ts (e.g. a `deno bundle` output, to see what the module graph costs).
 * Memory is what this measures; the MiB/s printed alongside is only a sanity check.
 */
import { parseArgs } from "node:util";
import { type TestDaemon, TestNetwork } from "../tests/helpers/network.ts";
import { runPilot, setPilotLaunch } from "../tests/helpers/pilot.ts";
import { DAEMON_ENV, DAEMON_V8_FLAGS } from "../cli/daemon_process.ts";
import { QUIET_CHECK_INTERVAL_MS } from "../lib/daemon/resident_memory.ts";

/** Long enough for two quiet checks after the bench: the daemons give memory back on the second. */
const DEFAULT_QUIET_S = Math.ceil((2 * QUIET_CHECK_INTERVAL_MS) / 1000) + 5;

const { values } = parseArgs({
  args: Deno.args,
  options: {
    mib: { type: "string", default: "64" },
    idle: { type: "string", default: "10" },
    repeat: { type: "string", default: "3" },
    "v8-flags": { type: "string" },
    "deno-flags": { type: "string", default: "" },
    main: { type: "string" },
    quiet: { type: "string", default: String(DEFAULT_QUIET_S) },
  },
});
const mib = Number(values.mib);
const idleSeconds = Number(values.idle);
const repeats = Number(values.repeat);
const v8Flags = values["v8-flags"] ?? DAEMON_V8_FLAGS.join(",");
const denoFlags = values["deno-flags"].split(" ").filter((f) => f !== "");
const quietSeconds = Number(values.quiet);
const SAMPLE_MS = 50;

/** One reading of a process's memory, in MiB. */
interface Memory {
  rss: number;
  hwm: number;
  anon: number;
  file: number;
}

/** The phases measured, in order. */
const PHASES = ["start", "idle", "bench peak", "after bench", "quiet after bench"] as const;
type Phase = typeof PHASES[number];
type Readings = Record<Phase, Memory>;

function memory(pid: number): Memory {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kib = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN) / 1024;
  return { rss: kib("VmRSS"), hwm: kib("VmHWM"), anon: kib("RssAnon"), file: kib("RssFile") };
}

function progress(text: string): void {
  console.error(`[footprint] ${text}`);
}

/** Env for the daemons: their V8 flags and the daemon environment. */
function daemonEnv(): Record<string, string> {
  return { ...DAEMON_ENV, ...(v8Flags ? { DENO_V8_FLAGS: v8Flags } : {}) };
}

async function oneRun(run: number): Promise<Readings[]> {
  const net = await TestNetwork.start(["--memory"]);
  try {
    const daemons: TestDaemon[] = [];
    setPilotLaunch(values.main, denoFlags);
    try {
      for (const name of ["a", "b"]) daemons.push(await net.addDaemon(name, ["--public"], daemonEnv()));
    } finally {
      setPilotLaunch();
    }
    const pids = daemons.map((d) => d.process.child.pid);
    const readings = pids.map(() => ({}) as Readings);
    const record = (phase: Phase) => pids.forEach((pid, i) => readings[i][phase] = memory(pid));
    record("start");
    progress(`run ${run}: daemons up (pids ${pids.join(", ")}), idle for ${idleSeconds} s`);
    await new Promise((r) => setTimeout(r, idleSeconds * 1000));
    record("idle");

    progress(`run ${run}: pilot bench ${mib} MiB a → b`);
    const peak = pids.map(() => memory(pids[0]));
    const sample = () =>
      pids.forEach((pid, i) => {
        const m = memory(pid);
        if (m.rss > peak[i].rss) peak[i] = m;
      });
    pids.forEach((pid, i) => peak[i] = memory(pid));
    const sampler = setInterval(sample, SAMPLE_MS);
    const [a, b] = daemons;
    const bench = await runPilot(["bench", b.address, String(mib), "--socket", a.socket, "--json"], {
      timeoutMs: 600_000,
    });
    clearInterval(sampler);
    sample();
    if (bench.code !== 0) {
      throw new Error(`pilot bench failed (${bench.code}): ${bench.stdout}${bench.stderr}`);
    }
    const data = JSON.parse(bench.stdout).data;
    progress(`run ${run}: bench done, ${data.total_mbps} MiB/s round trip`);
    pids.forEach((_, i) => readings[i]["bench peak"] = { ...peak[i], hwm: memory(pids[i]).hwm });
    await new Promise((r) => setTimeout(r, 2000));
    record("after bench");
    if (quietSeconds > 0) {
      progress(`run ${run}: quiet for ${quietSeconds} s`);
      await new Promise((r) => setTimeout(r, quietSeconds * 1000));
      record("quiet after bench");
    }
    return readings;
  } finally {
    await net.close();
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

const f1 = (x: number) => x.toFixed(1);

function table(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  const line = (r: string[]) =>
    `| ${r.map((cell, c) => c ? cell.padStart(widths[c]) : cell.padEnd(widths[c])).join(" | ")} |`;
  const rule = `| ${widths.map((w, c) => (c ? "-".repeat(w - 1) + ":" : "-".repeat(w))).join(" | ")} |`;
  return [line(rows[0]), rule, ...rows.slice(1).map(line)].join("\n");
}

progress(
  `${repeats} run(s), ${mib} MiB bench, ${idleSeconds} s idle, daemon V8 flags: ${v8Flags || "(none)"}${
    denoFlags.length ? `, deno flags: ${denoFlags.join(" ")}` : ""
  }`,
);
const all: Readings[][] = [];
for (let run = 1; run <= repeats; run++) all.push(await oneRun(run));

const header = [
  "daemon / phase",
  ...all.map((_, r) => `run ${r + 1} RSS (HWM)`),
  "median RSS",
  "anon + file",
];
const rows: string[][] = [header];
for (const [i, name] of ["a (sender)", "b (echoer)"].entries()) {
  for (const phase of PHASES) {
    const ms = all.map((run) => run[i][phase]);
    if (ms.some((m) => m === undefined)) continue; // --quiet 0
    rows.push([
      `${name} ${phase}`,
      ...ms.map((m) => `${f1(m.rss)} (${f1(m.hwm)})`),
      f1(median(ms.map((m) => m.rss))),
      `${f1(median(ms.map((m) => m.anon)))} + ${f1(median(ms.map((m) => m.file)))}`,
    ]);
  }
}
console.log(`Daemon memory in MiB (VmRSS, VmHWM in brackets; anon + file = median RssAnon + RssFile)`);
console.log(table(rows));
