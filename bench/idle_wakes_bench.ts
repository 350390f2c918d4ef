/**
 * What an idle pilot costs while nothing happens: how often each process is woken and how much CPU
 * it spends per minute. On a Raspberry Pi or a small VM every wake-up of a sleeping process costs
 * power and a cold start (docs/benchmarks.md, "Idle wake-ups"). Two set-ups, each on loopback:
 *
 * - `up`: one `pilot up` process (registry, beacon and daemon together, the README's main job).
 * - `nodes`: a `pilot registry`, a `pilot beacon` and two daemons using both, after one dial +
 *   echo + close between the daemons, so each holds a peer with keys; with `--open N`, a client of
 *   daemon a also keeps N idle connections open to daemon b's echo port (as an agent holding
 *   connections would), each opened 1.3 s after the one before.
 *
 * After `--settle` seconds (past the start-up memory release and the first connection's TIME_WAIT)
 * it reads every thread's context switches and CPU from /proc, waits `--seconds`, reads again and
 * prints per process and per minute: wake-ups (voluntary context switches: the thread slept and was
 * woken) and preemptions of each thread that woke, and the CPU of all threads.
 *
 *   deno run -A bench/idle_wakes_bench.ts [--seconds 120] [--settle 45] [--main PATH] [--only up|nodes]
 *     [--v8-flags FLAGS] [--open N]
 *
 * --v8-flags: V8 flags for every process (default: the daemon's, cli/daemon_process.ts).
 * @module
 */
import { parseArgs } from "node:util";
import { type PilotProcess, startPilot, TestNetwork } from "../tests/helpers/network.ts";
import { setPilotLaunch } from "../tests/helpers/pilot.ts";
import { DAEMON_ENV, DAEMON_V8_FLAGS } from "../cli/daemon_process.ts";
import { connect } from "../lib/sdk/mod.ts";
import { dialEchoClose, ECHO_PORT } from "./echo_probe.ts";
import { threadDeltas, type ThreadSample, threadSamples } from "./thread_stats.ts";

const { values } = parseArgs({
  args: Deno.args.filter((a) => a !== "--"),
  options: {
    seconds: { type: "string", default: "120" },
    settle: { type: "string", default: "45" },
    main: { type: "string" },
    only: { type: "string" },
    "v8-flags": { type: "string" },
    open: { type: "string", default: "0" },
  },
});
const SECONDS = Number(values.seconds);
const SETTLE_S = Number(values.settle);
const OPEN = Number(values.open);
/** Spreads the open connections' phases over the seconds (their keepalives are not in step by chance). */
const OPEN_SPACING_MS = 1_300;
if (!(SECONDS > 0) || !(SETTLE_S >= 0) || !(Number.isInteger(OPEN) && OPEN >= 0)) {
  console.error("--seconds must be > 0, --settle >= 0 and --open a whole number >= 0");
  Deno.exit(64);
}
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Prints one process's wake-ups and CPU per minute over the measured window. */
function report(label: string, before: Map<string, ThreadSample>, after: Map<string, ThreadSample>): void {
  const perMinute = 60 / SECONDS;
  let wakes = 0, preempted = 0, cpuMs = 0;
  const rows: string[] = [];
  for (const [name, d] of threadDeltas(before, after)) {
    wakes += d.voluntary;
    preempted += d.involuntary;
    cpuMs += d.cpuMs;
    if (d.voluntary + d.involuntary > 0) {
      rows.push(
        `    ${name.padEnd(24)} ${(d.voluntary * perMinute).toFixed(1)} + ${
          (d.involuntary * perMinute).toFixed(1)
        }`,
      );
    }
  }
  console.log(
    `  ${label.padEnd(10)} ${(wakes * perMinute).toFixed(1)} wake-ups + ${
      (preempted * perMinute).toFixed(1)
    } ` +
      `preemptions a minute, CPU ${(cpuMs * perMinute).toFixed(0)} ms a minute`,
  );
  for (const row of rows) console.log(row);
}

/** Waits the settle time, then measures `processes` (label → pid) together over the window. */
async function measure(what: string, processes: Record<string, number>): Promise<void> {
  console.error(`[idle-wakes] ${what}: settling ${SETTLE_S} s, then measuring ${SECONDS} s`);
  await pause(SETTLE_S * 1000);
  const before = Object.entries(processes).map(([label, pid]) => [label, pid, threadSamples(pid)] as const);
  for (let left = SECONDS; left > 0; left -= Math.min(30, left)) {
    await pause(Math.min(30, left) * 1000);
    if (left > 30) console.error(`[idle-wakes] ${what}: ${SECONDS - left + 30}/${SECONDS} s`);
  }
  console.log(`${what}, idle ${SECONDS} s (after ${SETTLE_S} s):`);
  for (const [label, pid, samples] of before) report(label, samples, threadSamples(pid));
}

setPilotLaunch(values.main, [`--v8-flags=${values["v8-flags"] ?? DAEMON_V8_FLAGS.join(",")}`]);

if (!values.only || values.only === "up") {
  const dir = await Deno.makeTempDir({ prefix: "pilot-idle-" });
  let up: PilotProcess | undefined;
  try {
    up = await startPilot([
      "up",
      "--state",
      `${dir}/state`,
      "--socket",
      `${dir}/pilot.sock`,
      "--http",
      "127.0.0.1:0",
    ], DAEMON_ENV);
    await measure("pilot up", { up: up.child.pid });
  } finally {
    await up?.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

if (!values.only || values.only === "nodes") {
  const net = await TestNetwork.start();
  let beacon: PilotProcess | undefined;
  try {
    beacon = await startPilot(["beacon", "--listen", "127.0.0.1:0", "--http", "off"], DAEMON_ENV);
    const beaconFlags = ["--beacon", String(beacon.ready.listen)];
    const a = await net.addDaemon("a", ["--public", ...beaconFlags], DAEMON_ENV);
    const b = await net.addDaemon("b", ["--public", ...beaconFlags], DAEMON_ENV);
    await using client = await connect(a.socket);
    await dialEchoClose(client, b.address);
    const open = [];
    for (let i = 0; i < OPEN; i++) {
      open.push(await client.dial(b.address, ECHO_PORT, { timeoutMs: 10_000 }));
      await pause(OPEN_SPACING_MS);
    }
    await measure(`registry, beacon and two daemons${OPEN ? `, ${OPEN} idle connections a → b` : ""}`, {
      registry: net.registry!.child.pid,
      beacon: beacon.child.pid,
      "daemon a": a.process.child.pid,
      "daemon b": b.process.child.pid,
    });
    for (const conn of open) await conn.close();
  } finally {
    await beacon?.stop();
    await net.close();
  }
}
