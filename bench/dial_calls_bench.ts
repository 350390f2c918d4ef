/**
 * How many JavaScript function calls a connection costs each daemon: a registry and two encrypted
 * `pilot daemon --public` with inspectors, an SDK client on daemon a that dials daemon b's echo port
 * (7), echoes 64 bytes and closes, N times. V8's precise coverage (call counts, exact rather than
 * sampled) is reset after a warm-up and read after the N connections; it prints, per daemon, the
 * calls per connection in all and the functions called most per connection. A set-up runs mostly
 * cold on small VMs (docs/benchmarks.md, "Request/response latency"), where each call costs about
 * ten times what it does hot, so calls that need not happen per connection are latency.
 *
 * With `--cpu-profile DIR` it samples instead of counting (coverage counters would slow the code it
 * measures): a CPU profile of each daemon over the same N connections (100 µs sampling), written to
 * DIR/a.cpuprofile and DIR/b.cpuprofile for bench/cpu_profile_summary.ts.
 *
 *   deno run -A bench/dial_calls_bench.ts [--dials 100] [--top 40] [--main PATH] [--cpu-profile DIR]
 * @module
 */
import { parseArgs } from "node:util";
import { type TestDaemon, TestNetwork } from "../tests/helpers/network.ts";
import { connect } from "../lib/sdk/mod.ts";
import { DIAL_SPACING_MS, dialEchoClose } from "./echo_probe.ts";
import { type Inspector, startInspected } from "./inspector.ts";
import { DAEMON_ENV, DAEMON_V8_FLAGS } from "../cli/daemon_process.ts";
import { setPilotLaunch } from "../tests/helpers/pilot.ts";

const { values } = parseArgs({
  args: Deno.args.filter((a) => a !== "--"),
  options: {
    dials: { type: "string", default: "100" },
    top: { type: "string", default: "40" },
    main: { type: "string" },
    "cpu-profile": { type: "string" },
  },
});
const PROFILE_DIR = values["cpu-profile"];
const SAMPLING_INTERVAL_US = 100;
const DIALS = Number(values.dials);
const TOP = Number(values.top);
const WARM_DIALS = 20;

interface FunctionCoverage {
  functionName: string;
  ranges: { startOffset: number; endOffset: number; count: number }[];
}
interface ScriptCoverage {
  url: string;
  functions: FunctionCoverage[];
}

/** Call counts since the last take, per "file:function" (a function's first range counts its calls). */
async function takeCalls(inspector: Inspector): Promise<Map<string, number>> {
  const { result } = await inspector.call("Profiler.takePreciseCoverage") as { result: ScriptCoverage[] };
  const calls = new Map<string, number>();
  for (const script of result) {
    const file = script.url.replace(/^file:\/\/.*?\/(lib|cli)\//, "$1/");
    for (const f of script.functions) {
      const count = f.ranges[0]?.count ?? 0;
      if (count === 0) continue;
      const key = `${file}:${f.functionName || "(anonymous)"}@${f.ranges[0].startOffset}`;
      calls.set(key, (calls.get(key) ?? 0) + count);
    }
  }
  return calls;
}

async function addDaemon(net: TestNetwork, name: string): Promise<[TestDaemon, Inspector]> {
  try {
    return await startInspected((flag) => {
      setPilotLaunch(values.main, [`--v8-flags=${DAEMON_V8_FLAGS.join(",")}`, flag]);
      return net.addDaemon(name, ["--public"], DAEMON_ENV);
    });
  } finally {
    setPilotLaunch();
  }
}

const net = await TestNetwork.start(["--memory"]);
const inspectors: Inspector[] = [];
try {
  const [a, inspectA] = await addDaemon(net, "a");
  const [b, inspectB] = await addDaemon(net, "b");
  inspectors.push(inspectA, inspectB);
  for (const i of inspectors) {
    await i.call("Profiler.enable");
    if (PROFILE_DIR) await i.call("Profiler.setSamplingInterval", { interval: SAMPLING_INTERVAL_US });
    else await i.call("Profiler.startPreciseCoverage", { callCount: true, detailed: false });
  }
  await using client = await connect(a.socket);
  const pace = () => new Promise((r) => setTimeout(r, DIAL_SPACING_MS));
  for (let i = 0; i < WARM_DIALS; i++) await dialEchoClose(client, b.address).then(pace);
  await new Promise((r) => setTimeout(r, 1_000)); // past the warm-up's closes
  // From here on: the profile starts, or the call counts start again from zero.
  for (const i of inspectors) await (PROFILE_DIR ? i.call("Profiler.start") : takeCalls(i));
  console.error(`[dial-calls] ${DIALS} dial + 64 B echo + close, ${DIAL_SPACING_MS} ms apart`);
  for (let i = 0; i < DIALS; i++) {
    await dialEchoClose(client, b.address);
    await pace();
    if ((i + 1) % 25 === 0) console.error(`[dial-calls] ${i + 1}/${DIALS}`);
  }
  await new Promise((r) => setTimeout(r, 1_000));
  if (PROFILE_DIR) {
    await Deno.mkdir(PROFILE_DIR, { recursive: true });
    for (const [name, inspector] of [["a", inspectA], ["b", inspectB]] as const) {
      const { profile } = await inspector.call("Profiler.stop") as { profile: unknown };
      await Deno.writeTextFile(`${PROFILE_DIR}/${name}.cpuprofile`, JSON.stringify(profile));
    }
    console.log(`profiles of ${DIALS} connections in ${PROFILE_DIR}/a.cpuprofile and b.cpuprofile`);
  } else {
    for (const [label, inspector] of [["a (dialer)", inspectA], ["b (echo)", inspectB]] as const) {
      const calls = await takeCalls(inspector);
      const total = [...calls.values()].reduce((s, n) => s + n, 0);
      console.log(`daemon ${label}: ${(total / DIALS).toFixed(0)} JS function calls per connection`);
      const rows = [...calls].sort((x, y) => y[1] - x[1]).slice(0, TOP);
      for (const [name, n] of rows) console.log(`  ${(n / DIALS).toFixed(1).padStart(8)}  ${name}`);
    }
  }
} finally {
  for (const i of inspectors) i.close();
  await net.close();
}
