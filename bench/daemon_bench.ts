/**
 * End-to-end daemon figures on loopback: a registry and two encrypted daemons as real
 * `pilot` subprocesses; `pilot bench` of 64 MiB through the echo port (reference
 * semantics), `pilot ping` RTT percentiles (dial + echo per probe, as the reference CLI
 * measures), connection setup time, and daemon RSS idle and during the bench. Latencies print p50
 * and p90, with a per-hop breakdown of a request/response: a bare UDP round trip between two
 * sockets of this process (the kernel and event-loop floor), an IPC round trip to the daemon
 * (Info), and an echo over an already open connection (SDK → IPC → daemon a → tunnel → daemon b's
 * echo service and back).
 *
 *   deno run -A bench/daemon_bench.ts [--mib 64] [--runs 3] [--pings 50]
 */
import dgram from "node:dgram";
import { parseArgs } from "node:util";
import { type TestDaemon, TestNetwork } from "../tests/helpers/network.ts";
import { runPilot } from "../tests/helpers/pilot.ts";
import { connect } from "../lib/sdk/mod.ts";
import { echoRoundTrip } from "./echo_probe.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    mib: { type: "string", default: "64" },
    runs: { type: "string", default: "3" },
    pings: { type: "string", default: "50" },
  },
});
const mib = Number(values.mib);
const runs = Number(values.runs);
const pings = Number(values.pings);

function rss(d: TestDaemon): number {
  const status = Deno.readTextFileSync(`/proc/${d.process.child.pid}/status`);
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024;
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)];
}

/** "p50 X ms, p90 Y ms" of `samples` (ms). */
function p50p90(samples: number[]): string {
  const s = [...samples].sort((x, y) => x - y);
  return `p50 ${pct(s, 0.5).toFixed(3)} ms, p90 ${pct(s, 0.9).toFixed(3)} ms`;
}

/** Round trips of a 64-byte datagram between two loopback node:dgram sockets of this process. */
async function udpRoundTrips(n: number): Promise<number[]> {
  const bound = (s: dgram.Socket) => new Promise<void>((resolve) => s.bind(0, "127.0.0.1", resolve));
  const a = dgram.createSocket("udp4");
  const b = dgram.createSocket("udp4");
  await Promise.all([bound(a), bound(b)]);
  b.on("message", (data, from) => b.send(data, from.port, from.address));
  const out: number[] = [];
  const payload = new Uint8Array(64);
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await new Promise<void>((resolve) => {
      a.once("message", () => resolve());
      a.send(payload, b.address().port, "127.0.0.1");
    });
    out.push(performance.now() - t0);
  }
  a.close();
  b.close();
  return out;
}

const net = await TestNetwork.start(["--memory"]);
try {
  const a = await net.addDaemon("a", ["--public"]);
  const b = await net.addDaemon("b", ["--public"]);
  console.error(`daemons up: a=${a.address} b=${b.address}`);
  await new Promise((r) => setTimeout(r, 1000));
  console.log(`idle RSS: a ${rss(a).toFixed(1)} MiB, b ${rss(b).toFixed(1)} MiB`);

  // Connection setup: dial + close over an established tunnel, many times.
  const client = await connect(a.socket);
  const warm = await client.dial(b.address, 7, { timeoutMs: 10_000 });
  await warm.close();
  const setups: number[] = [];
  for (let i = 0; i < 50; i++) {
    const t0 = performance.now();
    const c = await client.dial(b.address, 7, { timeoutMs: 10_000 });
    setups.push(performance.now() - t0);
    await c.close();
    await new Promise((r) => setTimeout(r, 110)); // stay under the per-source SYN rate limit (10/s)
  }
  console.log(`connection setup (dial→established, n=50): ${p50p90(setups)}`);

  // Per-hop breakdown of one request/response.
  const hops = 200;
  console.log(`  hop: UDP round trip, 64 B, in-process (n=${hops}): ${p50p90(await udpRoundTrips(hops))}`);
  const ipc: number[] = [];
  for (let i = 0; i < hops; i++) {
    const t0 = performance.now();
    await client.info();
    ipc.push(performance.now() - t0);
  }
  console.log(`  hop: IPC round trip (Info) (n=${hops}): ${p50p90(ipc)}`);
  const conn = await client.dial(b.address, 7, { timeoutMs: 10_000 });
  const echoes: number[] = [];
  const probe = new Uint8Array(64);
  for (let i = 0; i < hops; i++) {
    echoes.push(await echoRoundTrip(conn, probe));
  }
  await conn.close();
  console.log(`  hop: 64 B echo over an open connection (n=${hops}): ${p50p90(echoes)}`);
  await client.close();

  const ping = await runPilot([
    "ping",
    b.address,
    "--count",
    String(pings),
    "--interval",
    "110ms",
    "--socket",
    a.socket,
    "--json",
  ], { timeoutMs: 120_000 });
  const pd = JSON.parse(ping.stdout).data;
  const results = pd.results as { rtt_ms?: number; echo_ms?: number }[];
  const rtts = results.map((r) => r.rtt_ms).filter((x) => x !== undefined);
  const echoMs = results.map((r) => r.echo_ms).filter((x) => x !== undefined);
  console.log(
    `pilot ping (n=${pings}, dial+echo): ${
      rtts.length > 0 ? p50p90(rtts) : `p50 ${pd.p50_ms} ms`
    }, p99 ${pd.p99_ms} ms`,
  );
  console.log(`pilot ping echo alone: ${p50p90(echoMs)}`);

  for (let run = 1; run <= runs; run++) {
    let peakA = 0;
    let peakB = 0;
    const sampler = setInterval(() => {
      peakA = Math.max(peakA, rss(a));
      peakB = Math.max(peakB, rss(b));
    }, 50);
    const bench = await runPilot(["bench", b.address, String(mib), "--socket", a.socket, "--json"], {
      timeoutMs: 300_000,
    });
    clearInterval(sampler);
    const d = JSON.parse(bench.stdout).data;
    console.log(
      `pilot bench ${mib} MiB run ${run}: send ${d.send_mbps} MiB/s, total ${d.total_mbps} MiB/s ` +
        `(${d.total_duration_ms} ms); peak RSS a ${peakA.toFixed(1)} MiB, b ${peakB.toFixed(1)} MiB`,
    );
  }
} finally {
  await net.close();
}
