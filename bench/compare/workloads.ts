/**
 * The workloads bench/compare_bench.ts runs against each implementation, the same way for both: daemon
 * memory idle and during a bench, ping rtt (a dial per probe), bench MiB/s, registry signed writes and
 * lookups with a few clients and the registry's memory under that load.
 * @module
 */
import type { Implementation, RegistryUnderTest } from "./implementations.ts";
import { type Figures, median, type Metric } from "./table.ts";

export const METRICS: readonly Metric[] = [
  { key: "idle_a", label: "daemon A RSS, idle", unit: "MiB", better: "lower", digits: 1 },
  { key: "idle_b", label: "daemon B RSS, idle", unit: "MiB", better: "lower", digits: 1 },
  { key: "peak_a", label: "daemon A RSS, peak during bench", unit: "MiB", better: "lower", digits: 1 },
  { key: "peak_b", label: "daemon B RSS, peak during bench", unit: "MiB", better: "lower", digits: 1 },
  { key: "after_a", label: "daemon A RSS, after the benches", unit: "MiB", better: "lower", digits: 1 },
  { key: "after_b", label: "daemon B RSS, after the benches", unit: "MiB", better: "lower", digits: 1 },
  { key: "ping_p50", label: "ping rtt p50, dial per probe", unit: "ms", better: "lower", digits: 3 },
  { key: "bench", label: "bench throughput, median of runs", unit: "MiB/s", better: "higher", digits: 1 },
  {
    key: "bench_stock",
    label: "bench throughput, stock kernel UDP buffers, --stock-mib run",
    unit: "MiB/s",
    better: "higher",
    digits: 1,
  },
  { key: "writes", label: "registry signed writes/s", unit: "ops/s", better: "higher", digits: 0 },
  { key: "writes_cpu", label: "registry CPU per signed write", unit: "µs", better: "lower", digits: 0 },
  { key: "lookups", label: "registry lookups/s (answered)", unit: "ops/s", better: "higher", digits: 0 },
  { key: "key_info", label: "registry get_key_info reads/s", unit: "ops/s", better: "higher", digits: 0 },
  { key: "key_info_cpu", label: "registry CPU per get_key_info", unit: "µs", better: "lower", digits: 1 },
  { key: "registry_rss", label: "registry RSS, peak under load", unit: "MiB", better: "lower", digits: 1 },
];

export interface Options {
  mib: number;
  /** The transfer of the stock-buffers bench (0: not run); smaller, as a daemon with unsized buffers crawls. */
  stockMib: number;
  benchRuns: number;
  pings: number;
  idleSeconds: number;
  clients: number;
  seconds: number;
  progress(text: string): void;
}

/** VmRSS of a live process, in MiB. */
export function rssMiB(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN) / 1024;
}

/** Samples the peak RSS of `pids` every 50 ms until stopped. */
function peakSampler(pids: number[]): { stop(): number[] } {
  const peaks = pids.map(rssMiB);
  const sample = () => pids.forEach((pid, i) => peaks[i] = Math.max(peaks[i], rssMiB(pid)));
  const timer = setInterval(sample, 50);
  return {
    stop() {
      clearInterval(timer);
      sample();
      return peaks;
    },
  };
}

/**
 * One bench run's MiB/s, or undefined when it failed (the reference's bench can stall at stock UDP
 * buffers until its timeout): the run is left out of the median and the comparison goes on.
 */
async function benchOrMissing(
  impl: Implementation,
  pair: { bench(mib: number): Promise<number> },
  mib: number,
  opts: Options,
): Promise<number | undefined> {
  try {
    const rate = await pair.bench(mib);
    opts.progress(`${impl.name}: ${rate.toFixed(1)} MiB/s`);
    return rate;
  } catch (err) {
    opts.progress(
      `${impl.name}: bench failed, left out: ${err instanceof Error ? err.message : String(err)}`,
    );
    return undefined;
  }
}

/** The daemon workloads: idle RSS, ping, then bench runs with the peak RSS over all of them. */
export async function daemonFigures(impl: Implementation, opts: Options): Promise<Figures> {
  const pair = await impl.startDaemons();
  try {
    opts.progress(`${impl.name}: daemons up (pids ${pair.pids.join(", ")}), idle ${opts.idleSeconds} s`);
    await new Promise((r) => setTimeout(r, opts.idleSeconds * 1000));
    const [idleA, idleB] = pair.pids.map(rssMiB);
    opts.progress(`${impl.name}: ${opts.pings} pings (1 s apart)`);
    const rtts = await pair.ping(opts.pings);
    const sampler = peakSampler(pair.pids);
    const rates: number[] = [];
    let peaks: number[];
    try {
      for (let run = 1; run <= opts.benchRuns; run++) {
        opts.progress(`${impl.name}: bench ${opts.mib} MiB, run ${run}/${opts.benchRuns}`);
        const rate = await benchOrMissing(impl, pair, opts.mib, opts);
        if (rate !== undefined) rates.push(rate);
      }
    } finally {
      peaks = sampler.stop();
    }
    const [afterA, afterB] = pair.pids.map(rssMiB);
    return {
      idle_a: idleA,
      idle_b: idleB,
      peak_a: peaks[0],
      peak_b: peaks[1],
      after_a: afterA,
      after_b: afterB,
      ping_p50: median(rtts),
      bench: median(rates),
    };
  } finally {
    await pair.close();
  }
}

/**
 * One bench of `opts.stockMib` on a fresh pair of daemons, run while the kernel's UDP buffer defaults
 * are stock (the caller sees to that): the figure a daemon that leaves its socket buffers unsized gets.
 */
export async function stockBenchFigures(impl: Implementation, opts: Options): Promise<Figures> {
  if (!opts.stockMib) return {};
  const pair = await impl.startDaemons();
  try {
    opts.progress(`${impl.name}: bench ${opts.stockMib} MiB, stock kernel UDP buffers`);
    return { bench_stock: await benchOrMissing(impl, pair, opts.stockMib, opts) };
  } finally {
    await pair.close();
  }
}

interface LoadResult {
  ok: number;
  seconds: number;
  errors: number;
  firstError: string;
  cpuUs: number;
}

/**
 * Runs bench/registry_load.ts in its own process (frames built and signed before its clock starts,
 * so the figures are the registry's rather than the load generator's) with `opts.clients` clients,
 * each on a node of its own registered in the registry's signing dialect.
 */
async function load(reg: RegistryUnderTest, op: string, opts: Options): Promise<LoadResult> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("../registry_load.ts", import.meta.url).pathname,
      "--address",
      reg.address,
      "--pid",
      String(reg.pid),
      "--op",
      op,
      "--own",
      "--signing",
      reg.signing,
      "--clients",
      String(opts.clients),
      "--seconds",
      String(opts.seconds),
    ],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error(`registry_load.ts failed (${op})`);
  return JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").pop()!);
}

/**
 * The registry workloads: signed `set_tags` writes (signed and persisted by both, and not
 * rate-limited by either), `lookup`s of the clients' nodes (answered ones counted: the reference
 * limits lookups to 500/min per source IP, docs/protocol/registry.md §3, and refuses the rest), and
 * `get_key_info` reads of them, a read by node id that neither registry limits; the registry's CPU per
 * request and its peak RSS over the three.
 */
export async function registryFigures(impl: Implementation, opts: Options): Promise<Figures> {
  const reg = await impl.startRegistry();
  const sampler = peakSampler([reg.pid]);
  try {
    const figures: Figures = {};
    for (const [op, key] of [["set_tags", "writes"], ["lookup", "lookups"], ["get_key_info", "key_info"]]) {
      opts.progress(`${impl.name}: registry ${op}, ${opts.clients} clients, ${opts.seconds} s`);
      const r = await load(reg, op, opts);
      if (r.errors) opts.progress(`${impl.name}: ${r.errors} ${op} refused (${r.firstError})`);
      figures[key] = r.ok / r.seconds;
      figures[`${key}_cpu`] = r.cpuUs;
    }
    figures.registry_rss = sampler.stop()[0];
    return figures;
  } finally {
    sampler.stop();
    await reg.close();
  }
}
