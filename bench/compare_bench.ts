/**
 * Ours against another implementation, same workloads in one run (docs/benchmarks.md, "Comparison
 * with the reference"):
 *
 *   deno task bench:compare [--other DIR] [--udp-buffers BYTES] [--mib 64] [--bench-runs 3]
 *                           [--stock-mib 4] [--pings 10] [--idle 5] [--clients 4] [--seconds 5]
 *                           [--repeat 1]
 *
 * DIR holds the other implementation's `daemon`, `pilotctl`, `registry` and `beacon` (Go reference
 * flags); without --other only ours runs. Prints one table: ours, theirs, ours ÷ theirs. With
 * --repeat N the sides take turns N times (so both see the same machine load) and each cell is the
 * median with the range.
 * --udp-buffers sets net.core.rmem_default and wmem_default (root) while the other implementation's
 * daemons run, and restores them after: a daemon that does not size its UDP socket buffers itself gets
 * the kernel default (ours sizes its own, so it is unaffected). Both sides also run one bench of
 * --stock-mib MiB on fresh daemons with the stock defaults (its own row; 0 skips it), so the table shows
 * what such a daemon gets either way.
 */
import { parseArgs } from "node:util";
import { type Implementation, other, ours } from "./compare/implementations.ts";
import { comparisonTable, type Figures } from "./compare/table.ts";
import {
  daemonFigures,
  METRICS,
  type Options,
  registryFigures,
  stockBenchFigures,
} from "./compare/workloads.ts";
import { fdatasyncMs, minorFaultMicros } from "./machine_probe.ts";

const { values } = parseArgs({
  // `deno task bench:compare -- --other DIR` passes the "--" through.
  args: Deno.args[0] === "--" ? Deno.args.slice(1) : Deno.args,
  options: {
    other: { type: "string" },
    "udp-buffers": { type: "string" },
    mib: { type: "string", default: "64" },
    "stock-mib": { type: "string", default: "4" },
    "bench-runs": { type: "string", default: "3" },
    pings: { type: "string", default: "10" },
    idle: { type: "string", default: "5" },
    clients: { type: "string", default: "4" },
    seconds: { type: "string", default: "5" },
    repeat: { type: "string", default: "1" },
  },
});

const opts: Options = {
  mib: Number(values.mib),
  stockMib: Number(values["stock-mib"]),
  benchRuns: Number(values["bench-runs"]),
  pings: Number(values.pings),
  idleSeconds: Number(values.idle),
  clients: Number(values.clients),
  seconds: Number(values.seconds),
  progress: (text) => console.error(`[compare] ${text}`),
};

const SYSCTLS = ["net.core.rmem_default", "net.core.wmem_default"];

async function sysctl(args: string[]): Promise<string> {
  const out = await new Deno.Command("sysctl", { args, stdout: "piped", stderr: "piped" }).output();
  if (out.code !== 0) throw new Error(`sysctl ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  return new TextDecoder().decode(out.stdout).trim();
}

/** Runs `fn` with the UDP buffer defaults set to `bytes` (when given), restoring them after. */
async function withUdpBuffers<T>(bytes: string | undefined, fn: () => Promise<T>): Promise<T> {
  if (!bytes) return await fn();
  const before = await Promise.all(SYSCTLS.map((k) => sysctl(["-n", k])));
  opts.progress(`setting ${SYSCTLS.map((k) => `${k}=${bytes}`).join(" ")} (was ${before.join(", ")})`);
  await sysctl(["-w", ...SYSCTLS.map((k) => `${k}=${bytes}`)]);
  try {
    return await fn();
  } finally {
    await sysctl(["-w", ...SYSCTLS.map((k, i) => `${k}=${before[i]}`)]);
    opts.progress(`restored ${SYSCTLS.join(", ")} to ${before.join(", ")}`);
  }
}

async function measure(impl: Implementation, udpBuffers?: string): Promise<Figures> {
  const daemons = await withUdpBuffers(udpBuffers, () => daemonFigures(impl, opts));
  const stock = await stockBenchFigures(impl, opts);
  return { ...daemons, ...stock, ...(await registryFigures(impl, opts)) };
}

const dir = values.other;
const theirs = dir ? other(dir) : undefined;
console.log(
  `Comparison: ${Deno.build.target}, ${navigator.hardwareConcurrency} cores, deno ${Deno.version.deno}, ` +
    `${new Date().toISOString()}; ${opts.mib} MiB bench × ${opts.benchRuns}` +
    `${values["udp-buffers"] ? ` (theirs with UDP buffer defaults ${values["udp-buffers"]} B)` : ""}, ` +
    `${opts.stockMib} MiB stock-buffers bench, ${opts.pings} pings, ` +
    `${opts.clients} registry clients × ${opts.seconds} s${dir ? `; theirs: ${dir}` : ""}`,
);
const oursRuns: Figures[] = [];
const theirRuns: Figures[] = [];
const repeats = Number(values.repeat);
const syncs: number[] = [];
const faults: number[] = [];
for (let round = 1; round <= repeats; round++) {
  syncs.push(await fdatasyncMs());
  faults.push(minorFaultMicros());
  opts.progress(
    `round ${round}/${repeats}; fdatasync of a 512-byte append: p50 ${syncs.at(-1)!.toFixed(2)} ms; ` +
      `minor page fault ${faults.at(-1)!.toFixed(2)} µs`,
  );
  oursRuns.push(await measure(ours));
  if (theirs) theirRuns.push(await measure(theirs, values["udp-buffers"]));
}
console.log(comparisonTable(METRICS, oursRuns, theirs ? theirRuns : undefined));
console.log(
  `fdatasync of a 512-byte append, p50 at the start of each round: ${
    syncs.map((s) => s.toFixed(2)).join(", ")
  } ms; a minor page fault: ${faults.map((f) => f.toFixed(2)).join(", ")} µs`,
);
