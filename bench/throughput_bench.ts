/**
 * Bulk throughput and its CPU cost: a registry and two encrypted `pilot daemon` subprocesses on
 * loopback, then `pilot bench <b> <mib>` from a's socket `--runs` times. Prints each run's
 * round-trip MiB/s and the median, and the CPU each process spent per MiB sent (utime + stime
 * from /proc/<pid>/stat: each daemon across the run, the client over its whole life, start-up
 * included).
 *
 *   deno run -A bench/throughput_bench.ts [--mib 64] [--runs 5] [--contend] [--cpu-prof DIR]
 *     [--main PATH] [--v8-flags FLAGS] [--main-v8-flags FLAGS]
 *
 * --contend: a busy-loop process pinned to CPU 0 runs during the benches (the "another process
 *   uses one core" condition).
 * --cpu-prof DIR: the daemons run with `deno run --cpu-prof` and write their .cpuprofile files to
 *   DIR when stopped; summarise them with bench/cpu_profile_summary.ts.
 * --main PATH: also measures another checkout's main.ts (e.g. a clean main worktree), on its own
 *   network, alternating runs with this checkout so both see the same machine load.
 * --v8-flags / --main-v8-flags: V8 flags (DENO_V8_FLAGS) for this checkout's / the --main side's
 *   daemons (default: none). With --main pointing at this checkout's main.ts, this compares two
 *   flag sets in one run.
 */
import { parseArgs } from "node:util";
import { TestNetwork } from "../tests/helpers/network.ts";
import { setPilotLaunch } from "../tests/helpers/pilot.ts";
import { minorFaultMicros } from "./machine_probe.ts";

const { values } = parseArgs({
  // `deno task bench:throughput -- --runs 5` passes the "--" through.
  args: Deno.args[0] === "--" ? Deno.args.slice(1) : Deno.args,
  options: {
    mib: { type: "string", default: "64" },
    runs: { type: "string", default: "5" },
    contend: { type: "boolean", default: false },
    "cpu-prof": { type: "string" },
    main: { type: "string" },
    "v8-flags": { type: "string" },
    "main-v8-flags": { type: "string" },
  },
});
const mib = Number(values.mib);
const runs = Number(values.runs);
const profDir = values["cpu-prof"];
const CLK_TCK = 100; // Linux USER_HZ on x86_64 and aarch64
const OURS = new URL("../main.ts", import.meta.url).pathname;

interface Variant {
  label: string;
  main: string;
  net: TestNetwork;
  mbps: number[];
  /** CPU ms per MiB of daemon a, daemon b and the client, one entry per run. */
  cpu: [number, number, number][];
}

function progress(text: string): void {
  console.error(`[throughput] ${text}`);
}

/** utime + stime of `pid` (or, with children=true, of its waited-for children) in ms. */
function cpuMs(stat: string, children = false): number {
  // Fields after the ")" that ends the command name: state is field 3, utime 14, stime 15, cutime 16, cstime 17.
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const at = children ? 13 : 11;
  return (Number(f[at]) + Number(f[at + 1])) * 1000 / CLK_TCK;
}

function procCpuMs(pid: number): number {
  return cpuMs(Deno.readTextFileSync(`/proc/${pid}/stat`));
}

async function startVariant(label: string, main: string, v8Flags?: string): Promise<Variant> {
  const flags = profDir ? ["--cpu-prof", `--cpu-prof-dir=${profDir}/${label}`] : [];
  setPilotLaunch(main, flags);
  try {
    const net = await TestNetwork.start();
    const env = v8Flags ? { DENO_V8_FLAGS: v8Flags } : undefined;
    for (const name of ["a", "b"]) await net.addDaemon(name, ["--public"], env);
    return { label, main, net, mbps: [], cpu: [] };
  } finally {
    setPilotLaunch();
  }
}

/** One `pilot bench`; the client runs under sh so its CPU is sh's cutime + cstime afterwards. */
async function oneRun(v: Variant): Promise<void> {
  const [a, b] = v.net.daemons;
  const pids = [a.process.child.pid, b.process.child.pid];
  const before = pids.map(procCpuMs);
  const script = `"$@"; rc=$?; cat /proc/$$/stat >&2; exit $rc`;
  const out = await new Deno.Command("sh", {
    args: ["-c", script, "sh", Deno.execPath(), "run", "-A", v.main, "bench", b.address, String(mib)].concat(
      ["--socket", a.socket, "--json"],
    ),
    stdout: "piped",
    stderr: "piped",
  }).output();
  const after = pids.map(procCpuMs);
  const stderr = new TextDecoder().decode(out.stderr).trim().split("\n");
  if (out.code !== 0) throw new Error(`pilot bench failed (${out.code}): ${stderr.join("\n")}`);
  const data = JSON.parse(new TextDecoder().decode(out.stdout)).data;
  const client = cpuMs(stderr[stderr.length - 1], true);
  v.mbps.push(data.total_mbps);
  v.cpu.push([(after[0] - before[0]) / mib, (after[1] - before[1]) / mib, client / mib]);
  progress(`${v.label}: ${data.total_mbps} MiB/s`);
}

function median(xs: number[]): number {
  const s = [...xs].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

const f1 = (x: number) => x.toFixed(1);

let contender: Deno.ChildProcess | undefined;
if (values.contend) {
  contender = new Deno.Command("taskset", { args: ["-c", "0", "sh", "-c", "while :; do :; done"] }).spawn();
}
const variants: Variant[] = [];
try {
  variants.push(await startVariant("this", OURS, values["v8-flags"]));
  if (values.main) variants.push(await startVariant("other", values.main, values["main-v8-flags"]));
  progress(
    `${runs} run(s) of ${mib} MiB${values.contend ? ", busy loop on CPU 0" : ""}: ${
      variants.map((v, i) => {
        const flags = i === 0 ? values["v8-flags"] : values["main-v8-flags"];
        return `${v.label} = ${v.main}${flags ? ` (V8 flags ${flags})` : ""}`;
      }).join(", ")
    }`,
  );
  for (let run = 0; run < runs; run++) {
    for (const v of variants) await oneRun(v);
  }
} finally {
  for (const v of variants) {
    // SIGTERM first: a profiled daemon writes its profile only on a clean exit.
    await Promise.all(v.net.daemons.map((d) => d.process.stop("SIGTERM")));
    await v.net.close();
  }
  if (contender) {
    contender.kill("SIGKILL");
    await contender.status;
  }
}

for (const v of variants) {
  const col = (i: number) => f1(median(v.cpu.map((c) => c[i])));
  const total = f1(median(v.cpu.map((c) => c[0] + c[1] + c[2])));
  console.log(
    `${v.label} (${v.main}): ${mib} MiB round trip, MiB/s ${v.mbps.map(f1).join(" ")}; median ${
      f1(median(v.mbps))
    }; CPU ms/MiB (median) a ${col(0)}, b ${col(1)}, client ${col(2)}, total ${total}`,
  );
}
if (profDir) console.log(`profiles: ${profDir}/<this|other>/*.cpuprofile (bench/cpu_profile_summary.ts)`);
console.log(`machine: a minor page fault ${minorFaultMicros().toFixed(2)} µs (bench/machine_probe.ts)`);
