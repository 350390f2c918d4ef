/**
 * Registry memory (docs/benchmarks.md, "Registry memory"):
 *
 *   deno run -A bench/registry_memory_bench.ts [--nodes 10000] [--connections 0] [--clients 4]
 *     [--seconds 5] [--live 0] [--heartbeat-ms 30000] [--repeat 1]
 *     [--side LABEL=MAIN_TS[;v8=FLAG,FLAG][;env=K=V,K=V]] ...
 *
 * Starts `pilot registry` (a subprocess on 127.0.0.1, temporary state directory, `--rate-limit off`,
 * `--compat reference` so the fill can be unsigned), fills it with N nodes over 50 connections, then
 * reports its resident memory from /proc/<pid>/status (VmRSS, VmHWM, RssAnon, RssFile, in MiB):
 * empty (4 s after start, once start-up pages are released), idle with N nodes, at the peak of samples every 50 ms under the load of `deno task
 * bench:compare` (each of `--clients` registers a node, then signed `set_tags` writes, `lookup`s and
 * `get_key_info` reads, `--seconds` each), and idle after it. With `--connections C`, also idle with C
 * more connections open that have each sent one lookup, as the daemons of a real registry's nodes
 * each keep one (they are closed again before the load). With `--live S`, the nodes get real keys
 * and then heartbeat for S seconds as a live registry's daemons do (each once per `--heartbeat-ms`,
 * signed, spread evenly), while RSS is sampled every second: its median over the second half, its
 * value at the end, and the registry's CPU share over the phase.
 *
 * Each `--side` is one way of starting the registry: another checkout's main.ts, the V8 flags
 * (DENO_V8_FLAGS) and extra environment; or, with `;reference`, the Go reference's `registry`
 * executable (`--side ref=/path/to/registry;reference`), which is filled from 127.1.x.y source
 * addresses, ten nodes each (its registration limit per address), whose heartbeats come from
 * 127.2.x.y, twenty nodes each (its limit is 50 a minute per address), and whose clients sign in
 * its dialect. Without `--side`, this checkout is started the way
 * deno.json's registry task starts it (cli/daemon_process.ts). With several sides they take turns `--repeat` times
 * and every cell is the median with the range.
 */
import { parseArgs } from "node:util";
import { generateEd25519KeyPair } from "../lib/crypto/ed25519.ts";
import { RegistryClient } from "../lib/registry/client.ts";
import { RegistryReplyError } from "../lib/registry/errors.ts";
import {
  fillFromManySources,
  fillRegistry,
  heartbeatFromManySources,
  heartbeatRegistry,
  type KeyedNode,
} from "./registry_fill.ts";
import { encodeFrame } from "../lib/registry/wire.ts";
import { ignoreRejection, settleQuietly } from "../lib/errors.ts";
import { DAEMON_ENV, REGISTRY_V8_FLAGS } from "../cli/daemon_process.ts";
import { sampleProcess, STARTUP_PAGE_RELEASE_DELAY_MS } from "../lib/daemon/resident_memory.ts";

interface Side {
  label: string;
  /** main.ts (or a bundle's main.js), or the reference registry's executable with `reference`. */
  main: string;
  v8: string[];
  env: Record<string, string>;
  /** `main` is the Go reference's `registry` (docs/benchmarks.md, "Comparison with the reference"). */
  reference?: boolean;
}

const { values } = parseArgs({
  args: Deno.args,
  options: {
    nodes: { type: "string", default: "10000" },
    connections: { type: "string", default: "0" },
    clients: { type: "string", default: "4" },
    seconds: { type: "string", default: "5" },
    repeat: { type: "string", default: "1" },
    live: { type: "string", default: "0" },
    "heartbeat-ms": { type: "string", default: "30000" },
    side: { type: "string", multiple: true },
    "probe-signal": { type: "string" },
  },
});

const MAIN = new URL("../main.ts", import.meta.url).pathname;

function parseSide(spec: string): Side {
  const [head, ...opts] = spec.split(";");
  const eq = head.indexOf("=");
  const side: Side = {
    label: eq < 0 ? head : head.slice(0, eq),
    main: eq < 0 ? MAIN : head.slice(eq + 1),
    v8: [],
    env: {},
  };
  for (const o of opts) {
    if (o === "reference") side.reference = true;
    else if (o.startsWith("v8=")) side.v8 = o.slice(3).split(",").filter((f) => f);
    else if (o.startsWith("env=")) {
      for (const kv of o.slice(4).split(",").filter((x) => x)) {
        const i = kv.indexOf("=");
        side.env[kv.slice(0, i)] = kv.slice(i + 1);
      }
    } else throw new Error(`--side: unknown option "${o}"`);
  }
  return side;
}

/** The fields of /proc/<pid>/status this bench reports, in MiB. */
interface Mem {
  rss: number;
  hwm: number;
  anon: number;
  file: number;
}

function mem(pid: number): Mem {
  // A wrapper main.ts may answer this signal with heap statistics or a heap snapshot.
  if (values["probe-signal"]) Deno.kill(pid, values["probe-signal"] as Deno.Signal);
  return sample(pid);
}

/** VmRSS and the rest without the probe signal (sampled every 50 ms). */
function sample(pid: number): Mem {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kb = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN) / 1024;
  return { rss: kb("VmRSS"), hwm: kb("VmHWM"), anon: kb("RssAnon"), file: kb("RssFile") };
}

interface Registry {
  child: Deno.ChildProcess;
  address: string;
}

/** Opens `n` connections to `address` that have each sent one lookup and read its reply. */
async function openConnections(address: string, n: number): Promise<Deno.Conn[]> {
  const [hostname, port] = [address.slice(0, address.lastIndexOf(":")), Number(address.split(":").pop())];
  const frame = encodeFrame({ type: "lookup", node_id: 1 });
  const reply = new Uint8Array(4096);
  const conns: Deno.Conn[] = [];
  for (let i = 0; i < n; i++) {
    const c = await Deno.connect({ hostname, port });
    conns.push(c);
    for (let off = 0; off < frame.length;) off += await c.write(frame.subarray(off));
    if ((await c.read(reply)) === null) throw new Error(`connection ${i} closed by the registry`);
    if (i % 1000 === 999) console.error(`[regmem]   ${i + 1} connections open`);
  }
  return conns;
}

/** Starts the reference's registry on a free loopback port; ready once it accepts connections. */
async function startReference(side: Side, dir: string): Promise<Registry> {
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = probe.addr.port;
  probe.close();
  const child = new Deno.Command(side.main, {
    // -beacon names a loopback port: its default is a public host.
    args: ["-addr", `127.0.0.1:${port}`, "-beacon", "127.0.0.1:9", "-store", `${dir}/registry.json`],
    env: side.env,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  for (let i = 0; i < 100; i++) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return { child, address: `127.0.0.1:${port}` };
    } catch {
      await sleep(100);
    }
  }
  child.kill("SIGKILL");
  await child.status;
  throw new Error(`reference registry (${side.main}) did not listen on ${port} within 10 s`);
}

async function start(side: Side, dir: string, connections = 0): Promise<Registry> {
  if (side.reference) return await startReference(side, dir);
  const env: Record<string, string> = { ...side.env };
  if (side.v8.length) env.DENO_V8_FLAGS = side.v8.join(",");
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      side.main,
      "registry",
      "--json",
      "--listen",
      "127.0.0.1:0",
      "--state",
      dir,
      "--rate-limit",
      "off",
      "--compat",
      "reference",
      // Room for the open connections on top of the fill's and the load's.
      "--max-connections",
      String(Math.max(10_000, connections + 1_000)),
      "--max-connections-per-source",
      String(Math.max(2_048, connections + 1_000)),
    ],
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`registry (${side.label}) exited during startup`);
    text += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  ignoreRejection(child.stdout.cancel(), "cleanup");
  return { child, address: JSON.parse(text.split("\n")[0]).data.listen };
}

/**
 * Runs `op` on every client in a loop for `seconds`; operations answered per second (a refusal,
 * e.g. the reference's lookup limit, is not counted).
 */
async function loop(
  clients: RegistryClient[],
  seconds: number,
  op: (c: RegistryClient, i: number) => Promise<unknown>,
): Promise<number> {
  let ok = 0;
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  await Promise.all(clients.map(async (c, w) => {
    for (let i = 0; performance.now() < end; i++) {
      try {
        await op(c, w * 1_000_000 + i);
        ok++;
      } catch (err) {
        if (!(err instanceof RegistryReplyError)) throw err;
      }
    }
  }));
  return ok / ((performance.now() - t0) / 1000);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Figures = Record<string, number>;

/** RSS of a registry whose nodes heartbeat, sampled every second for `seconds`. */
async function livePhase(
  side: Side,
  address: string,
  pid: number,
  nodes: KeyedNode[],
  seconds: number,
  heartbeatMs: number,
): Promise<{ median: number; end: Mem; cpuPct: number }> {
  const stop = new AbortController();
  const beats = side.reference
    ? heartbeatFromManySources(address, nodes, heartbeatMs, "reference", stop.signal)
    : heartbeatRegistry(address, nodes, heartbeatMs, stop.signal);
  const cpu0 = sampleProcess(pid);
  const t0 = performance.now();
  const samples: number[] = [];
  try {
    for (let s = 1; s <= seconds; s++) {
      await sleep(t0 + s * 1000 - performance.now());
      samples.push(sample(pid).rss);
      if (s % 15 === 0) console.error(`[regmem]   live ${s}/${seconds} s: ${samples.at(-1)!.toFixed(1)} MiB`);
    }
  } finally {
    stop.abort();
  }
  const cpu = sampleProcess(pid);
  const wallS = (performance.now() - t0) / 1000;
  const sent = await beats;
  console.error(`[regmem]   ${sent} heartbeats in ${wallS.toFixed(0)} s`);
  return {
    median: median(samples.slice(Math.floor(samples.length / 2))),
    end: mem(pid),
    cpuPct: (cpu.cpuMs - cpu0.cpuMs) / 10 / wallS,
  };
}

async function run(
  side: Side,
  nodes: number,
  connections: number,
  clientCount: number,
  seconds: number,
  live: number,
  heartbeatMs: number,
): Promise<Figures> {
  const dir = await Deno.makeTempDir({ prefix: "pilot-regmem-" });
  let reg: Registry | undefined;
  const clients: RegistryClient[] = [];
  try {
    reg = await start(side, dir, connections);
    const pid = reg.child.pid;
    // Filled once the registry has released its start-up pages (lib/daemon/resident_memory.ts), as a
    // real registry's nodes register after that: the pages their requests use count again.
    await sleep(STARTUP_PAGE_RELEASE_DELAY_MS + 1000);
    const empty = mem(pid);
    const keyed: KeyedNode[] | undefined = live > 0 ? [] : undefined;
    const fillSeconds = side.reference
      ? await fillFromManySources(reg.address, nodes, keyed)
      : await fillRegistry(reg.address, nodes, keyed);
    await sleep(2000);
    const idle = mem(pid);
    const alive = keyed ? await livePhase(side, reg.address, pid, keyed, live, heartbeatMs) : undefined;
    let connected = idle;
    if (connections > 0) {
      const open = await openConnections(reg.address, connections);
      await sleep(2000);
      connected = mem(pid);
      for (const c of open) c.close();
      await sleep(500);
    }
    const ids: number[] = [];
    for (let i = 0; i < clientCount; i++) {
      const signing = side.reference ? "reference" : "strict";
      const c = new RegistryClient({ address: reg.address, signing, timeoutMs: 30_000 });
      clients.push(c);
      c.setIdentity({ nodeId: 0, seed: generateEd25519KeyPair().seed });
      ids.push((await c.register({ listenAddr: "127.0.0.1:7000" })).node_id);
    }
    let peak = mem(pid);
    const timer = setInterval(() => {
      const m = sample(pid);
      if (m.rss > peak.rss) peak = m;
    }, 50);
    let writes, lookups, keyInfo;
    try {
      writes = await loop(clients, seconds, (c, i) => c.setTags([`t${i % 1000}`]));
      lookups = await loop(clients, seconds, (c, i) => c.lookup(ids[i % ids.length]));
      keyInfo = await loop(clients, seconds, (c, i) => c.getKeyInfo(ids[i % ids.length]));
    } finally {
      clearInterval(timer);
    }
    const loaded = mem(pid);
    for (const c of clients.splice(0)) c.close();
    await sleep(2000);
    const after = mem(pid);
    return {
      fill_s: fillSeconds,
      empty_rss: empty.rss,
      idle_rss: idle.rss,
      idle_anon: idle.anon,
      idle_file: idle.file,
      idle_hwm: idle.hwm,
      live_median_rss: alive?.median ?? NaN,
      live_end_rss: alive?.end.rss ?? NaN,
      live_end_anon: alive?.end.anon ?? NaN,
      live_end_file: alive?.end.file ?? NaN,
      live_cpu_pct: alive?.cpuPct ?? NaN,
      connected_rss: connected.rss,
      connected_anon: connected.anon,
      load_peak_rss: peak.rss,
      load_peak_anon: peak.anon,
      load_peak_file: peak.file,
      load_hwm: loaded.hwm,
      after_rss: after.rss,
      writes,
      lookups,
      key_info: keyInfo,
    };
  } finally {
    for (const c of clients) c.close();
    if (reg) {
      reg.child.kill("SIGKILL");
      await reg.child.status;
    }
    await settleQuietly(Deno.remove(dir, { recursive: true }), "cleanup");
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function cell(xs: number[], digits: number): string {
  const m = median(xs).toFixed(digits);
  return xs.length < 2 ? m : `${m} (${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)})`;
}

const ROWS: [string, string, number][] = [
  ["fill_s", "fill time, s", 1],
  ["empty_rss", "VmRSS empty", 1],
  ["idle_rss", "VmRSS idle with N nodes", 1],
  ["idle_anon", "  RssAnon", 1],
  ["idle_file", "  RssFile", 1],
  ["idle_hwm", "  VmHWM (fill included)", 1],
  ["live_median_rss", "VmRSS live (nodes heartbeat), median of the second half", 1],
  ["live_end_rss", "VmRSS live, at the end", 1],
  ["live_end_anon", "  RssAnon", 1],
  ["live_end_file", "  RssFile", 1],
  ["live_cpu_pct", "  registry CPU while live, % of a core", 1],
  ["connected_rss", "VmRSS idle with N nodes and C open connections", 1],
  ["connected_anon", "  RssAnon", 1],
  ["load_peak_rss", "VmRSS peak under load", 1],
  ["load_peak_anon", "  RssAnon at the peak", 1],
  ["load_peak_file", "  RssFile at the peak", 1],
  ["load_hwm", "  VmHWM after the load", 1],
  ["after_rss", "VmRSS 2 s after the load", 1],
  ["writes", "signed set_tags writes/s", 0],
  ["lookups", "lookups/s", 0],
  ["key_info", "get_key_info reads/s", 0],
];

if (import.meta.main) {
  const nodes = Number(values.nodes);
  const connections = Number(values.connections);
  const clientCount = Number(values.clients);
  const seconds = Number(values.seconds);
  const repeat = Number(values.repeat);
  const live = Number(values.live);
  const heartbeatMs = Number(values["heartbeat-ms"]);
  const sides = values.side?.length
    ? values.side.map(parseSide)
    : [{ label: "this checkout", main: MAIN, v8: [...REGISTRY_V8_FLAGS], env: { ...DAEMON_ENV } }];
  console.log(
    `Registry memory: ${Deno.build.target}, ${navigator.hardwareConcurrency} cores, deno ${Deno.version.deno}, ` +
      `${
        new Date().toISOString()
      }; ${nodes} nodes, ${connections} open connections, ${clientCount} clients × ${seconds} s per workload, ` +
      `${repeat} run(s) per side; MiB unless stated`,
  );
  for (const s of sides) {
    console.log(`- ${s.label}: ${s.main} v8=[${s.v8.join(" ")}] env=${JSON.stringify(s.env)}`);
  }
  for (const side of sides) {
    // One unmeasured start per side first: the first run of a checkout also fills deno's code cache.
    const dir = await Deno.makeTempDir({ prefix: "pilot-regmem-" });
    const reg = await start(side, dir);
    reg.child.kill("SIGTERM");
    await reg.child.status;
    await Deno.remove(dir, { recursive: true });
  }
  const results = sides.map(() => [] as Figures[]);
  for (let r = 1; r <= repeat; r++) {
    for (const [i, side] of sides.entries()) {
      console.error(`[regmem] run ${r}/${repeat}: ${side.label}`);
      const f = await run(side, nodes, connections, clientCount, seconds, live, heartbeatMs);
      console.error(`[regmem]   ${JSON.stringify(f, (_, v) => typeof v === "number" ? +v.toFixed(1) : v)}`);
      results[i].push(f);
    }
  }
  const header = ["measure", ...sides.map((s) => s.label)];
  const rows = ROWS.map(([key, label, digits]) => [
    label,
    ...results.map((runs) => cell(runs.map((f) => f[key]), digits)),
  ]);
  const widths = header.map((_, c) => Math.max(...[header, ...rows].map((r) => r[c].length)));
  const line = (r: string[]) =>
    `| ${r.map((t, c) => (c ? t.padStart(widths[c]) : t.padEnd(widths[c]))).join(" | ")} |`;
  console.log(line(header));
  console.log(`| ${widths.map((w, c) => (c ? "-".repeat(w - 1) + ":" : "-".repeat(w))).join(" | ")} |`);
  for (const r of rows) console.log(line(r));
}
