/**
 * Request/response latency on loopback, A/B in one run: for this checkout (and, with --main, other
 * checkouts' main.ts; repeat it for several) a registry and two encrypted `pilot daemon --public`
 * subprocesses; samples alternate between the variants so that all see the same machine load (on a
 * shared machine the load moves the figures more than most changes do). Per variant it prints p50/p90 of
 *
 * - connection setup: an SDK dial (dial → established, over an already keyed tunnel), then close; also
 *   its p50 in each quarter of the dials, since V8 optimises the path only after enough connections;
 * - `pilot ping` probes (dial + echo per probe, the variant's own CLI) and their echo alone;
 * - a 64-byte echo over an open connection, and an IPC round trip (Health, a request the daemon answers
 *   without work, so it is the IPC floor),
 *
 * and the CPU the two daemons spent per operation (utime + stime from /proc, 10 ms ticks, so only
 * large differences show). Dials are spaced 110 ms apart per variant: the per-source SYN rate limit
 * (10/s) would otherwise delay them by a SYN retransmission.
 *
 *   deno run -A bench/latency_bench.ts [--main PATH]... [--v8 FLAGS]... [--dials 60] [--hops 300]
 *     [--pings 45] [--paced 0]
 *
 * With `--paced S`, last, a 64-byte echo every 20 ms per variant for S seconds: a daemon under light,
 * steady traffic (a few % of a core), where the periodic memory release (lib/daemon/resident_memory.ts)
 * runs; its p50/p99/max, daemon a's VmRSS at the end, and the minor page faults both daemons took a
 * minute meanwhile (each release makes the pages the work still uses fault back in).
 *
 * The daemons run with the environment and V8 flags a daemon gets outside tests
 * (cli/daemon_process.ts); each `--v8 FLAGS` (comma-separated) adds a variant of this checkout whose
 * daemons run with those V8 flags instead (`--v8=--max-opt=1,…`: the value starts with a dash).
 */
import { parseArgs } from "node:util";
import { type TestDaemon, TestNetwork } from "../tests/helpers/network.ts";
import { runPilot, setPilotLaunch } from "../tests/helpers/pilot.ts";
import { connect, type PilotClient } from "../lib/sdk/mod.ts";
import { DIAL_SPACING_MS, ECHO_PORT, echoRoundTrip } from "./echo_probe.ts";
import { minorFaults, residentBytes } from "../tests/helpers/memory.ts";
import {
  CLOCK_TICKS_PER_SECOND,
  procStatFields,
  STARTUP_PAGE_RELEASE_DELAY_MS,
} from "../lib/daemon/resident_memory.ts";
import { DAEMON_ENV, DAEMON_V8_FLAGS } from "../cli/daemon_process.ts";
import { minorFaultMicros } from "./machine_probe.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    main: { type: "string", multiple: true },
    v8: { type: "string", multiple: true },
    dials: { type: "string", default: "60" },
    hops: { type: "string", default: "300" },
    pings: { type: "string", default: "45" },
    paced: { type: "string", default: "0" },
  },
});
const dials = Number(values.dials);
const hops = Number(values.hops);
const pacedSeconds = Number(values.paced);
const PACED_GAP_MS = 20;
const pingRounds = 3;
const pingsPerRound = Math.max(1, Math.round(Number(values.pings) / pingRounds));

interface Variant {
  label: string;
  /** `deno run` flags of the variant's daemons and CLI. */
  denoFlags: string[];
  main?: string;
  net: TestNetwork;
  a: TestDaemon;
  b: TestDaemon;
  client: PilotClient;
  samples: Record<"setup" | "ping" | "pingEcho" | "echo" | "ipc" | "paced", number[]>;
  cpu: string[];
}

function cpuMs(pid: number): number {
  const f = procStatFields(pid);
  return (Number(f[11]) + Number(f[12])) * 1000 / CLOCK_TICKS_PER_SECOND;
}

function daemonsCpuMs(v: Variant): number {
  return cpuMs(v.a.process.child.pid) + cpuMs(v.b.process.child.pid);
}

/** Minor page faults both daemons of a variant have taken so far. */
function daemonFaults(v: Variant): number {
  return minorFaults(v.a.process.child.pid) + minorFaults(v.b.process.child.pid);
}

function pct(samples: number[], p: number): number {
  const s = [...samples].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)];
}

async function startVariant(label: string, main?: string, v8Flags = DAEMON_V8_FLAGS): Promise<Variant> {
  const denoFlags = [`--v8-flags=${v8Flags.join(",")}`];
  setPilotLaunch(main, denoFlags);
  try {
    const net = await TestNetwork.start(["--memory"]);
    const a = await net.addDaemon("a", ["--public"], DAEMON_ENV);
    const b = await net.addDaemon("b", ["--public"], DAEMON_ENV);
    const client = await connect(a.socket);
    const warm = await client.dial(b.address, ECHO_PORT, { timeoutMs: 10_000 }); // keys the tunnel
    await warm.close();
    return {
      label,
      denoFlags,
      main,
      net,
      a,
      b,
      client,
      samples: { setup: [], ping: [], pingEcho: [], echo: [], ipc: [], paced: [] },
      cpu: [],
    };
  } finally {
    setPilotLaunch();
  }
}

/** Runs `op` on every variant in turn, `n` times; records each variant's daemons' CPU per op under `what`. */
async function alternate(
  vs: Variant[],
  what: string,
  n: number,
  op: (v: Variant, i: number) => Promise<void>,
) {
  const before = vs.map(daemonsCpuMs);
  for (let i = 0; i < n; i++) for (const v of vs) await op(v, i);
  vs.forEach((v, k) => v.cpu.push(`${what} ${((daemonsCpuMs(v) - before[k]) * 1000 / n).toFixed(0)} µs`));
}

const variants = [await startVariant("this")];
const v0HasSamples = (key: keyof Variant["samples"]) => variants[0].samples[key].length > 0;
for (const main of values.main ?? []) variants.push(await startVariant(main.split("/").slice(-2)[0], main));
for (const flags of values.v8 ?? []) variants.push(await startVariant(flags, undefined, flags.split(",")));
try {
  // Sampled as a settled daemon serves: after the start-up page release (lib/daemon/resident_memory.ts).
  await new Promise((r) => setTimeout(r, STARTUP_PAGE_RELEASE_DELAY_MS + 1000));
  await alternate(variants, "setup+close", dials, async (v) => {
    const t0 = performance.now();
    const c = await v.client.dial(v.b.address, ECHO_PORT, { timeoutMs: 10_000 });
    v.samples.setup.push(performance.now() - t0);
    await c.close();
    await new Promise((r) => setTimeout(r, DIAL_SPACING_MS / variants.length));
  });
  const conns = new Map<Variant, Awaited<ReturnType<PilotClient["dial"]>>>();
  for (const v of variants) conns.set(v, await v.client.dial(v.b.address, ECHO_PORT, { timeoutMs: 10_000 }));
  const probe = new Uint8Array(64);
  await alternate(variants, "echo", hops, async (v) => {
    v.samples.echo.push(await echoRoundTrip(conns.get(v)!, probe));
  });
  for (const conn of conns.values()) await conn.close();
  await alternate(variants, "ipc", hops, async (v) => {
    const t0 = performance.now();
    await v.client.health();
    v.samples.ipc.push(performance.now() - t0);
  });
  for (let round = 0; round < pingRounds; round++) {
    for (const v of variants) {
      setPilotLaunch(v.main, v.denoFlags);
      try {
        const args = [
          "ping",
          v.b.address,
          "--count",
          String(pingsPerRound),
          "--interval",
          `${DIAL_SPACING_MS}ms`,
        ];
        const ping = await runPilot([...args, "--socket", v.a.socket, "--json"], { timeoutMs: 120_000 });
        const results = JSON.parse(ping.stdout).data.results as { rtt_ms?: number; echo_ms?: number }[];
        for (const r of results) {
          if (r.rtt_ms !== undefined) v.samples.ping.push(r.rtt_ms);
          if (r.echo_ms !== undefined) v.samples.pingEcho.push(r.echo_ms);
        }
      } finally {
        setPilotLaunch();
      }
    }
  }
  if (pacedSeconds > 0) {
    for (const v of variants) {
      conns.set(v, await v.client.dial(v.b.address, ECHO_PORT, { timeoutMs: 10_000 }));
    }
    const rounds = Math.round(pacedSeconds * 1000 / PACED_GAP_MS);
    const faultsBefore = new Map(variants.map((v) => [v, daemonFaults(v)]));
    const t0 = performance.now();
    await alternate(variants, "paced echo", rounds, async (v, i) => {
      v.samples.paced.push(await echoRoundTrip(conns.get(v)!, probe));
      if (v === variants.at(-1)) {
        if (i % 1500 === 1499) {
          console.error(`[latency] paced echo ${Math.round((i + 1) * PACED_GAP_MS / 1000)} s`);
        }
        const due = t0 + (i + 1) * PACED_GAP_MS;
        await new Promise((r) => setTimeout(r, Math.max(0, due - performance.now())));
      }
    });
    for (const v of variants) {
      const rssMiB = residentBytes(v.a.process.child.pid, "VmRSS") / 2 ** 20;
      v.cpu.push(`daemon a VmRSS ${rssMiB.toFixed(1)} MiB after paced`);
      const faults = daemonFaults(v) - faultsBefore.get(v)!;
      v.cpu.push(`${(faults * 60 / pacedSeconds).toFixed(0)} minor page faults a minute (a + b) while paced`);
      await conns.get(v)!.close();
    }
  }
  const rows: [keyof Variant["samples"], string][] = [
    ["setup", "connection setup (dial → established)"],
    ["ping", "pilot ping rtt (dial + echo)"],
    ["pingEcho", "pilot ping echo alone"],
    ["echo", "64 B echo over an open connection"],
    ["ipc", "IPC round trip (Health)"],
    ["paced", `64 B echo every ${PACED_GAP_MS} ms`],
  ];
  for (const [key, title] of rows) {
    if (!v0HasSamples(key)) continue;
    const cells = variants.map((v) => {
      const s = v.samples[key];
      const tail = key === "paced"
        ? `, p99 ${pct(s, 0.99).toFixed(3)} ms, max ${Math.max(...s).toFixed(3)} ms`
        : "";
      return `${v.label} p50 ${pct(s, 0.5).toFixed(3)} ms, p90 ${
        pct(s, 0.9).toFixed(3)
      } ms${tail} (n=${s.length})`;
    });
    console.log(`${title}: ${cells.join(" | ")}`);
  }
  // How set-up changes as the daemons age: V8 optimises a function only after enough calls, so a
  // daemon's first few hundred connections run slower code than later ones.
  const quarters = variants.map((v) => {
    const s = v.samples.setup;
    const q = Math.max(1, Math.floor(s.length / 4));
    const p50s = [0, 1, 2, 3].map((i) =>
      pct(s.slice(i * q, i === 3 ? s.length : (i + 1) * q), 0.5).toFixed(3)
    );
    return `${v.label} ${p50s.join(" / ")} ms`;
  });
  console.log(`connection setup p50 by quarter of the dials: ${quarters.join(" | ")}`);
  for (const v of variants) console.log(`${v.label} daemons' CPU per op (a + b): ${v.cpu.join(", ")}`);
  console.log(`machine: a minor page fault ${minorFaultMicros().toFixed(2)} µs (bench/machine_probe.ts)`);
} finally {
  for (const v of variants) {
    await v.client.close();
    await v.net.close();
  }
}
