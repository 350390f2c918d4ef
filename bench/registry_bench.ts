/**
 * Registry benchmarks (docs/benchmarks.md, "Registry"):
 *
 *   deno run -A bench/registry_bench.ts [--nodes 100000] [--seconds 5] [--clients 1,4,50]
 *     [--throughput-only | --scale-only] [--v8-flags FLAG,FLAG]
 *
 * Runs `pilot registry` as a subprocess on loopback, driven by bench/registry_load.ts in a
 * third process (so the registry and the load generator each get a core, and the generator's
 * work never bounds the figure), and measures: durable, signed registrations/s, signed set_tags
 * writes/s (bench:compare's write workload, each client on a node of its own) and lookups/s
 * with 1, 4 and 50 concurrent clients; fsyncs per registration (group commit); the registry
 * process's CPU time per request; resident memory with N registered nodes; and the time to
 * restart with N nodes on disk, from a snapshot and from the log alone.
 * `deno bench -A bench/registry_bench.ts` only times the pure pieces (codec, signing form).
 */
import { generateEd25519KeyPair } from "../lib/crypto/ed25519.ts";
import { canonicalJson, signRequest } from "../lib/registry/auth.ts";
import { fillRegistry } from "./registry_fill.ts";
import { decodeBody, encodeFrame } from "../lib/registry/wire.ts";
import { ignoreRejection } from "../lib/errors.ts";
import { DAEMON_ENV, REGISTRY_V8_FLAGS } from "../cli/daemon_process.ts";

interface Proc {
  child: Deno.ChildProcess;
  address: string;
  http: string;
  info: Record<string, unknown>;
  startMs: number;
}

/** The registry's V8 flags: cli/daemon_process.ts's unless `--v8-flags A,B` says otherwise. */
const v8Flags = (() => {
  const i = Deno.args.indexOf("--v8-flags");
  return i >= 0 ? Deno.args[i + 1] : REGISTRY_V8_FLAGS.join(",");
})();

async function spawn(args: string[]): Promise<Proc> {
  const t0 = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("../main.ts", import.meta.url).pathname, "registry", "--json", ...args],
    // As deno.json's registry task starts it (docs/benchmarks.md, "Registry memory").
    env: { ...DAEMON_ENV, DENO_V8_FLAGS: v8Flags },
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("registry exited during startup");
    text += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  ignoreRejection(child.stdout.cancel(), "cleanup");
  const info = JSON.parse(text.split("\n")[0]).data;
  return { child, address: info.listen, http: info.http, info, startMs: performance.now() - t0 };
}

async function stop(p: Proc, signal: Deno.Signal = "SIGTERM"): Promise<void> {
  p.child.kill(signal);
  await p.child.status;
}

function rssMiB(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kb / 1024;
}

async function metric(p: Proc, name: string): Promise<number> {
  const text = await (await fetch(`http://${p.http}/metrics`)).text();
  const m = new RegExp(`^${name} (\\S+)$`, "m").exec(text);
  return m ? Number(m[1]) : NaN;
}

interface LoadResult {
  count: number;
  perSecond: number;
  errors: number;
  cpuUs: number;
}

/** Runs bench/registry_load.ts in its own process against `address`; returns its figures. */
async function load(p: Proc, op: string, clients: number, seconds: number, maxId = 0): Promise<LoadResult> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("./registry_load.ts", import.meta.url).pathname,
      "--address",
      p.address,
      "--pid",
      String(p.child.pid),
      "--op",
      op,
      "--clients",
      String(clients),
      "--seconds",
      String(seconds),
      "--max-id",
      String(maxId),
    ],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error(`registry_load.ts failed (${op}, ${clients} clients)`);
  return JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").pop()!);
}

/** Runs `op` from a separate load process; adds the fsyncs the registry issued meanwhile. */
async function measured(p: Proc, op: string, clients: number, seconds: number, maxId = 0) {
  const syncs0 = await metric(p, "pilot_registry_wal_fsyncs_total");
  const r = await load(p, op, clients, seconds, maxId);
  return { ...r, syncs: (await metric(p, "pilot_registry_wal_fsyncs_total")) - syncs0 };
}

async function throughput(seconds: number, clientCounts: number[]): Promise<string[]> {
  const dir = await Deno.makeTempDir({ prefix: "pilot-bench-" });
  const rows: string[] = [];
  const p = await spawn([
    "--listen",
    "127.0.0.1:0",
    "--state",
    dir,
    "--rate-limit",
    "off",
    "--http",
    "127.0.0.1:0",
  ]);
  try {
    let registered = 0;
    for (const n of clientCounts) {
      const reg = await measured(p, "register", n, seconds);
      registered += reg.count;
      // bench:compare's write workload: signed set_tags, each client on a node of its own.
      const tags = await measured(p, "set_tags", n, seconds);
      registered += n;
      const look = await measured(p, "lookup", n, seconds, 4 + registered);
      if (reg.errors > 0) console.error(`${reg.errors} registrations refused`);
      if (tags.errors > 0) console.error(`${tags.errors} set_tags writes refused`);
      rows.push(
        `| ${n} | ${reg.perSecond.toFixed(0)} | ${(reg.count / reg.syncs).toFixed(1)} | ${
          reg.cpuUs.toFixed(0)
        } | ${tags.perSecond.toFixed(0)} | ${(tags.count / tags.syncs).toFixed(1)} | ${
          tags.cpuUs.toFixed(0)
        } | ${look.perSecond.toFixed(0)} | ${look.cpuUs.toFixed(0)} |`,
      );
      console.log(rows[rows.length - 1]);
    }
  } finally {
    await stop(p);
    await Deno.remove(dir, { recursive: true });
  }
  return rows;
}

async function scale(nodes: number): Promise<string[]> {
  const dir = await Deno.makeTempDir({ prefix: "pilot-bench-" });
  const base = ["--listen", "127.0.0.1:0", "--state", dir, "--rate-limit", "off", "--compat", "reference"];
  const rows: string[] = [];
  try {
    // Everything in the log: snapshots only at shutdown.
    const p = await spawn([...base, "--snapshot-every", "100000000", "--http", "127.0.0.1:0"]);
    const idleRss = rssMiB(p.child.pid);
    const fillSeconds = await fillRegistry(p.address, nodes);
    await new Promise((r) => setTimeout(r, 500));
    const rss = rssMiB(p.child.pid);
    const heap = (await metric(p, "pilot_registry_heap_used_bytes")) / 1024 / 1024;
    rows.push(`- Fill: ${nodes} registrations over 50 connections in ${fillSeconds.toFixed(1)} s.`);
    rows.push(
      `- Resident memory: ${idleRss.toFixed(0)} MiB empty, ${rss.toFixed(0)} MiB with ${nodes} nodes ` +
        `(~${((rss - idleRss) * 1024 * 1024 / nodes).toFixed(0)} B per node); V8 heap in use ${
          heap.toFixed(0)
        } MiB.`,
    );
    await stop(p, "SIGKILL"); // no final snapshot: the next start replays the whole log
    const fromLog = await spawn([...base, "--http", "127.0.0.1:0"]);
    const heapAfter = (await metric(fromLog, "pilot_registry_heap_used_bytes")) / 1024 / 1024;
    rows.push(
      `- Restart from the log alone (${fromLog.info.replayed_events} events): state loaded in ` +
        `${fromLog.info.load_ms} ms; process ready in ${fromLog.startMs.toFixed(0)} ms; ` +
        `then ${rssMiB(fromLog.child.pid).toFixed(0)} MiB resident, ${heapAfter.toFixed(0)} MiB heap.`,
    );
    await stop(fromLog); // clean stop writes a snapshot
    const size = [...Deno.readDirSync(dir)].map((e) => Deno.statSync(`${dir}/${e.name}`).size).reduce((
      a,
      b,
    ) => a + b);
    const fromSnap = await spawn(base);
    rows.push(
      `- Restart from the snapshot (${(size / 1024 / 1024).toFixed(1)} MiB on disk): state loaded in ` +
        `${fromSnap.info.load_ms} ms; process ready in ${fromSnap.startMs.toFixed(0)} ms.`,
    );
    await stop(fromSnap);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  return rows;
}

function flag(name: string, fallback: number): number {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Number(Deno.args[i + 1]) : fallback;
}

if (import.meta.main) {
  const seconds = flag("seconds", 5);
  const nodes = flag("nodes", 100_000);
  const i = Deno.args.indexOf("--clients");
  const clientCounts = i >= 0 ? Deno.args[i + 1].split(",").map(Number) : [1, 4, 50];
  console.log(
    `Registry benchmark, ${Deno.build.target}, deno ${Deno.version.deno}, ${new Date().toISOString()}`,
  );
  console.log(
    "\n| clients | registrations/s (signed, durable) | registrations per fsync | registry CPU µs/registration " +
      "| set_tags writes/s (signed, durable) | writes per fsync | registry CPU µs/write " +
      "| lookups/s | registry CPU µs/lookup |",
  );
  console.log("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
  if (!Deno.args.includes("--scale-only")) await throughput(seconds, clientCounts);
  if (!Deno.args.includes("--throughput-only")) {
    console.log("");
    for (const row of await scale(nodes)) console.log(row);
  }
} else {
  const kp = generateEd25519KeyPair();
  const req = { type: "set_tags", node_id: 42, tags: ["gpu", "eu"] };
  Deno.bench("registry: encode + decode a lookup_ok frame", () => {
    decodeBody(
      encodeFrame({ type: "lookup_ok", node_id: 42, address: "0:0000.0000.002A", public: true }).subarray(4),
    );
  });
  Deno.bench("registry: canonical JSON of a request", () => {
    canonicalJson(req);
  });
  Deno.bench("registry: sign a request (auth form)", async () => {
    await signRequest(req, kp.seed);
  });
}
