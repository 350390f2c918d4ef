/**
 * End-to-end daemon figures on loopback: a registry and two encrypted daemons as real
 * `pilot` subprocesses; `pilot bench` of 64 MiB through the echo port (reference
 * semantics), `pilot ping` RTT percentiles (dial + echo per probe, as the reference CLI
 * measures), connection setup time, and daemon RSS idle and during the bench.
 *
 *   deno run -A bench/daemon_bench.ts [--mib 64] [--runs 3] [--pings 50]
 */
import { parseArgs } from "node:util";
import { type TestDaemon, TestNetwork } from "../tests/helpers/network.ts";
import { runPilot } from "../tests/helpers/pilot.ts";
import { connect } from "../lib/sdk/mod.ts";

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
  setups.sort((x, y) => x - y);
  console.log(
    `connection setup (dial→established, n=50): p50 ${pct(setups, 0.5).toFixed(3)} ms, p99 ${
      pct(setups, 0.99).toFixed(3)
    } ms`,
  );
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
  const echoMs = (pd.results as { echo_ms?: number }[]).map((r) => r.echo_ms!).filter((x) => x !== undefined)
    .sort((x, y) => x - y);
  console.log(
    `pilot ping (n=${pings}, dial+echo): p50 ${pd.p50_ms} ms, p99 ${pd.p99_ms} ms; echo alone p50 ${
      pct(echoMs, 0.5)
    } ms, p99 ${pct(echoMs, 0.99)} ms`,
  );

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
