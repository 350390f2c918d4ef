/**
 * What a connection costs each daemon in CPU and in wake-ups: a registry and two encrypted
 * `pilot daemon --public`, an SDK client on daemon a dialing daemon b's echo port (7), N times
 * 110 ms apart (under the per-source SYN limit), first dial + close, then dial + a 64 B echo +
 * close. Per operation and per daemon it prints the CPU (utime + stime of every thread, from
 * /proc/PID/task/TID/stat, 10 ms ticks, so use a few hundred operations) and the context switches
 * (voluntary: the thread slept and was woken; involuntary: it was preempted), summed over threads,
 * with each thread that took part listed. A sleeping daemon that is woken costs more on small VMs
 * than the work it then does (docs/benchmarks.md, "Request/response latency").
 *
 *   deno run -A bench/connection_cpu_bench.ts [--ops 300] [--main PATH]
 * @module
 */
import { parseArgs } from "node:util";
import { TestNetwork } from "../tests/helpers/network.ts";
import { connect } from "../lib/sdk/mod.ts";
import { DIAL_SPACING_MS, dialEchoClose, ECHO_PROBE } from "./echo_probe.ts";
import { DAEMON_ENV, DAEMON_V8_FLAGS } from "../cli/daemon_process.ts";
import { setPilotLaunch } from "../tests/helpers/pilot.ts";
import { threadDeltas, type ThreadSample, threadSamples } from "./thread_stats.ts";

const { values } = parseArgs({
  args: Deno.args.filter((a) => a !== "--"),
  options: { ops: { type: "string", default: "300" }, main: { type: "string" } },
});
const OPS = Number(values.ops);
const WARM_OPS = 20;
/** Lets the last operation's closing packets and timers settle before and after a phase. */
const SETTLE_MS = 1_000;

/** Prints the per-operation difference between two samples of one daemon. */
function report(label: string, before: Map<string, ThreadSample>, after: Map<string, ThreadSample>): void {
  const total = { voluntary: 0, involuntary: 0, cpuMs: 0 };
  const rows: string[] = [];
  for (const [name, delta] of threadDeltas(before, after)) {
    const d = {
      voluntary: delta.voluntary / OPS,
      involuntary: delta.involuntary / OPS,
      cpuMs: delta.cpuMs / OPS,
    };
    total.voluntary += d.voluntary;
    total.involuntary += d.involuntary;
    total.cpuMs += d.cpuMs;
    if (d.voluntary + d.involuntary >= 0.05 || d.cpuMs > 0) {
      rows.push(
        `    ${name.padEnd(24)} switches ${d.voluntary.toFixed(2)} + ${d.involuntary.toFixed(2)}, ` +
          `CPU ${(d.cpuMs * 1000).toFixed(0)} µs`,
      );
    }
  }
  console.log(
    `  daemon ${label}: ${(total.cpuMs * 1000).toFixed(0)} µs of CPU, ${
      total.voluntary.toFixed(2)
    } voluntary + ` +
      `${total.involuntary.toFixed(2)} involuntary context switches per operation`,
  );
  for (const row of rows) console.log(row);
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const net = await TestNetwork.start(["--memory"]);
try {
  setPilotLaunch(values.main, [`--v8-flags=${DAEMON_V8_FLAGS.join(",")}`]);
  const a = await net.addDaemon("a", ["--public"], DAEMON_ENV);
  const b = await net.addDaemon("b", ["--public"], DAEMON_ENV);
  setPilotLaunch();
  await using client = await connect(a.socket);
  for (let i = 0; i < WARM_OPS; i++) {
    await dialEchoClose(client, b.address).then(() => pause(DIAL_SPACING_MS));
  }
  for (const echo of [false, true]) {
    await pause(SETTLE_MS);
    const beforeA = threadSamples(a.process.child.pid), beforeB = threadSamples(b.process.child.pid);
    const what = echo ? "dial + 64 B echo + close" : "dial + close";
    for (let i = 0; i < OPS; i++) {
      await dialEchoClose(client, b.address, echo ? ECHO_PROBE : null);
      await pause(DIAL_SPACING_MS);
      if ((i + 1) % 100 === 0) console.error(`[connection-cpu] ${what}: ${i + 1}/${OPS}`);
    }
    await pause(SETTLE_MS);
    console.log(`${what}, ${OPS} operations ${DIAL_SPACING_MS} ms apart:`);
    report("a (dialer)", beforeA, threadSamples(a.process.child.pid));
    report("b (echo)", beforeB, threadSamples(b.process.child.pid));
  }
} finally {
  await net.close();
}
