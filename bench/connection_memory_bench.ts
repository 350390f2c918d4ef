/**
 * What each open connection costs the two daemons: a registry and two encrypted `pilot daemon
 * --public` (started as tests/helpers/network.ts starts them, with the daemons' production V8 flags
 * and environment), then one SDK client on daemon a that dials daemon b's echo port (7) N times,
 * echoes 64 bytes on each and keeps them all open. Prints each daemon's RssAnon and VmRSS before,
 * with the connections open (after they idled), and after they are closed, and the cost per
 * connection. Dials are paced at 9 a second, under the per-source SYN limit (docs/protocol/transport.md §9).
 *
 * With --cycles N it opens and closes them N times, sampling again once the closed ones are past
 * TIME_WAIT, so a leak shows as growth from cycle to cycle.
 *
 * With --inspect the daemons run with an inspector and every sample follows a full garbage collection,
 * so the heap column counts live objects only; --snapshot (implies --inspect) also lists what the
 * open connections hold by constructor, from heap snapshots before and with them open (a snapshot
 * costs the daemon ~150 MiB of RSS while it is taken, so the "closed" RSS figures then include it).
 *
 *   deno run -A bench/connection_memory_bench.ts [--connections 300] [--cycles 1] [--settle 5] [--inspect | --snapshot]
 *     [--main PATH]
 * @module
 */
import { parseArgs } from "node:util";
import { type TestDaemon, TestNetwork } from "../tests/helpers/network.ts";
import { residentBytes } from "../tests/helpers/memory.ts";
import { connect } from "../lib/sdk/mod.ts";
import type { Connection } from "../lib/sdk/mod.ts";
import { heapByConstructor, type Inspector, startInspected } from "./inspector.ts";
import { TIME_WAIT_GRANULARITY_MS, TIME_WAIT_MS } from "../lib/transport/stream_constants.ts";
import { DIAL_SPACING_MS, ECHO_PORT, ECHO_PROBE } from "./echo_probe.ts";
import { DAEMON_ENV, DAEMON_V8_FLAGS } from "../cli/daemon_process.ts";
import { setPilotLaunch } from "../tests/helpers/pilot.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    connections: { type: "string", default: "300" },
    settle: { type: "string", default: "5" },
    cycles: { type: "string", default: "1" },
    inspect: { type: "boolean", default: false },
    snapshot: { type: "boolean", default: false },
    main: { type: "string" },
  },
});
const count = Number(values.connections);
const settleMs = Number(values.settle) * 1000;
const cycles = Number(values.cycles);
if (values.snapshot) values.inspect = true;
if (!Number.isInteger(count) || count < 1) throw new Error("--connections must be a positive integer");
if (!Number.isInteger(cycles) || cycles < 1) throw new Error("--cycles must be a positive integer");
const launchFlags = [`--v8-flags=${DAEMON_V8_FLAGS.join(",")}`];
setPilotLaunch(values.main, launchFlags);

const MIB = 1024 * 1024;

interface Sample {
  anon: number;
  rss: number;
  heap: number;
}

/** Constructors listed by --snapshot. */
const SNAPSHOT_ROWS = 25;

type HeapRows = ReturnType<typeof heapByConstructor>;

/** Per constructor, how much `after` holds over `before`, largest growth first. */
function heapGrowth(before: HeapRows, after: HeapRows): HeapRows {
  const was = new Map(before.map((r) => [r.name, r]));
  return after
    .map((r) => ({
      name: r.name,
      count: r.count - (was.get(r.name)?.count ?? 0),
      bytes: r.bytes - (was.get(r.name)?.bytes ?? 0),
    }))
    .sort((x, y) => y.bytes - x.bytes);
}

/**
 * The daemon's resident memory from /proc and its V8 heap in use from its metrics endpoint, in MiB;
 * with an inspector, after a full garbage collection (the heap then counts live objects only).
 */
async function sample(d: TestDaemon, inspector?: Inspector): Promise<Sample> {
  await inspector?.collectGarbage();
  const pid = d.process.child.pid;
  const metrics = await (await fetch(`${d.http}/metrics`)).text();
  const heap = /^pilot_heap_used_bytes (\d+)/m.exec(metrics);
  if (!heap) throw new Error("no pilot_heap_used_bytes in the daemon's metrics");
  return {
    anon: residentBytes(pid, "RssAnon") / MIB,
    rss: residentBytes(pid, "VmRSS") / MIB,
    heap: Number(heap[1]) / MIB,
  };
}

/** Starts a daemon, with an inspector on a free port when --inspect is given. */
async function addDaemon(net: TestNetwork, name: string): Promise<[TestDaemon, Inspector | undefined]> {
  if (!values.inspect) return [await net.addDaemon(name, ["--public"], DAEMON_ENV), undefined];
  try {
    return await startInspected((flag) => {
      setPilotLaunch(values.main, [...launchFlags, flag]);
      return net.addDaemon(name, ["--public"], DAEMON_ENV);
    });
  } finally {
    setPilotLaunch(values.main, launchFlags);
  }
}

const net = await TestNetwork.start(["--memory"]);
const inspectors: Inspector[] = [];
try {
  const [a, inspectA] = await addDaemon(net, "a");
  const [b, inspectB] = await addDaemon(net, "b");
  for (const i of [inspectA, inspectB]) if (i) inspectors.push(i);
  const both = async () => ({ a: await sample(a, inspectA), b: await sample(b, inspectB) });
  await using client = await connect(a.socket);
  // One warm-up connection keys the tunnel and loads the stream code before the first sample.
  const warm = await client.dial(b.address, ECHO_PORT, { timeoutMs: 10_000 });
  await warm.write(new Uint8Array(64));
  await warm.read({ timeoutMs: 5_000 });
  await warm.close();
  await new Promise((r) => setTimeout(r, settleMs));
  const before = await both();
  const snapshot = async (i?: Inspector) =>
    i && values.snapshot ? heapByConstructor(await i.heapSnapshot()) : [];
  const heapBefore = { a: await snapshot(inspectA), b: await snapshot(inspectB) };
  let heapHeld = heapBefore;
  const cell = (x: Sample) => `${x.anon.toFixed(1)} / ${x.rss.toFixed(1)} / ${x.heap.toFixed(1)}`;
  const rows: string[] = [];
  for (let cycle = 1; cycle <= cycles; cycle++) {
    const open: Connection[] = [];
    for (let i = 0; i < count; i++) {
      const started = performance.now();
      const conn = await client.dial(b.address, ECHO_PORT, { timeoutMs: 10_000 });
      await conn.write(ECHO_PROBE);
      await conn.read({ timeoutMs: 5_000 });
      open.push(conn);
      if ((i + 1) % 50 === 0) console.error(`[connections] cycle ${cycle}: ${i + 1}/${count} open`);
      const wait = DIAL_SPACING_MS - (performance.now() - started);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    await new Promise((r) => setTimeout(r, settleMs));
    const held = await both();
    if (cycle === cycles) heapHeld = { a: await snapshot(inspectA), b: await snapshot(inspectB) };
    await Promise.all(open.map((c) => c.close()));
    // Past TIME_WAIT (which ends on a whole second), so the closed connections are gone from both tables.
    await new Promise((r) => setTimeout(r, settleMs + TIME_WAIT_MS + TIME_WAIT_GRANULARITY_MS));
    const closed = await both();
    for (const name of ["a", "b"] as const) {
      const per = (x: number, y: number) => ((x - y) * 1024 / count).toFixed(1);
      rows.push(
        `| ${cycle} | ${name} | ${cell(before[name])} | ${cell(held[name])} | ${cell(closed[name])} | ${
          per(held[name].anon, before[name].anon)
        } / ${per(held[name].heap, before[name].heap)} |`,
      );
    }
  }
  console.log(
    `${count} connections per cycle; MiB of RssAnon / VmRSS / V8 heap in use ${
      values.inspect ? "(live, after a full GC)" : "(garbage included)"
    }`,
  );
  console.log(
    "| cycle | daemon | before any | held open | closed | KiB per open connection (RssAnon / heap) |",
  );
  console.log("| --: | --- | --: | --: | --: | --: |");
  for (const r of rows) console.log(r);
  if (values.snapshot) {
    for (const name of ["a", "b"] as const) {
      console.log(`\nDaemon ${name}: heap growth per open connection by constructor (last cycle, bytes)`);
      for (const g of heapGrowth(heapBefore[name], heapHeld[name]).slice(0, SNAPSHOT_ROWS)) {
        console.log(
          `${(g.bytes / count).toFixed(0).padStart(8)}  ${
            (g.count / count).toFixed(2).padStart(7)
          }×  ${g.name}`,
        );
      }
    }
  }
} finally {
  for (const i of inspectors) i.close();
  await net.close();
}
