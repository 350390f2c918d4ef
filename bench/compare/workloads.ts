/**
 * The workloads bench/compare_bench.ts runs against each implementation, the same way for both: daemon
 * memory idle and during a bench, ping rtt (a dial per probe), bench MiB/s, registry signed writes and
 * lookups with a few clients and the registry's memory under that load.
 * @module
 */
import { generateEd25519KeyPair } from "../../lib/crypto/ed25519.ts";
import { RegistryClient } from "../../lib/registry/client.ts";
import type { Implementation } from "./implementations.ts";
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
  { key: "lookups", label: "registry lookups/s (answered)", unit: "ops/s", better: "higher", digits: 0 },
  { key: "key_info", label: "registry get_key_info reads/s", unit: "ops/s", better: "higher", digits: 0 },
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
        rates.push(await pair.bench(opts.mib));
        opts.progress(`${impl.name}: ${rates.at(-1)!.toFixed(1)} MiB/s`);
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
    const rate = await pair.bench(opts.stockMib);
    opts.progress(`${impl.name}: ${rate.toFixed(1)} MiB/s`);
    return { bench_stock: rate };
  } finally {
    await pair.close();
  }
}

/** Runs `op` on every client in a loop for `seconds`; counts fulfilled and rejected operations. */
async function load(
  clients: RegistryClient[],
  seconds: number,
  op: (c: RegistryClient, i: number) => Promise<unknown>,
): Promise<{ ok: number; failed: number; seconds: number }> {
  let ok = 0;
  let failed = 0;
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  await Promise.all(clients.map(async (c, w) => {
    for (let i = 0; performance.now() < end; i++) {
      try {
        await op(c, w * 1_000_000 + i);
        ok++;
      } catch {
        failed++;
      }
    }
  }));
  return { ok, failed, seconds: (performance.now() - t0) / 1000 };
}

/**
 * The registry workloads: each client registers a node of its own, then signed `set_tags` writes
 * (signed and persisted by both, and not rate-limited by either), `lookup`s of those nodes, and
 * `get_key_info` reads of them: a read by node id that no registry rate-limits, whereas the reference
 * limits lookups to 500/min per source IP (docs/protocol/registry.md §3) and our client then backs off.
 */
export async function registryFigures(impl: Implementation, opts: Options): Promise<Figures> {
  const reg = await impl.startRegistry();
  const clients: RegistryClient[] = [];
  try {
    const ids: number[] = [];
    for (let i = 0; i < opts.clients; i++) {
      const c = new RegistryClient({ address: reg.address, signing: reg.signing, timeoutMs: 30_000 });
      clients.push(c);
      c.setIdentity({ nodeId: 0, seed: generateEd25519KeyPair().seed });
      ids.push((await c.register({ listenAddr: "127.0.0.1:7000" })).node_id);
    }
    const sampler = peakSampler([reg.pid]);
    try {
      opts.progress(`${impl.name}: registry signed writes, ${opts.clients} clients, ${opts.seconds} s`);
      const writes = await load(clients, opts.seconds, (c, i) => c.setTags([`t${i % 1000}`]));
      if (writes.failed) opts.progress(`${impl.name}: ${writes.failed} writes failed`);
      opts.progress(`${impl.name}: registry lookups, ${opts.clients} clients, ${opts.seconds} s`);
      const lookups = await load(clients, opts.seconds, (c, i) => c.lookup(ids[i % ids.length]));
      if (lookups.failed) opts.progress(`${impl.name}: ${lookups.failed} lookups refused or failed`);
      opts.progress(`${impl.name}: registry get_key_info reads, ${opts.clients} clients, ${opts.seconds} s`);
      const keyInfo = await load(clients, opts.seconds, (c, i) => c.getKeyInfo(ids[i % ids.length]));
      if (keyInfo.failed) opts.progress(`${impl.name}: ${keyInfo.failed} get_key_info reads failed`);
      const [peak] = sampler.stop();
      return {
        writes: writes.ok / writes.seconds,
        lookups: lookups.ok / lookups.seconds,
        key_info: keyInfo.ok / keyInfo.seconds,
        registry_rss: peak,
      };
    } finally {
      sampler.stop();
    }
  } finally {
    for (const c of clients) c.close();
    await reg.close();
  }
}
