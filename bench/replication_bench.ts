/**
 * Replication benchmarks (docs/benchmarks.md, "Registry replication"):
 *
 *   deno run -A bench/replication_bench.ts [--seconds 5] [--failovers 5]
 *
 * Runs `pilot registry` subprocesses on loopback (a primary, and a standby for
 * the async and sync rows) and measures from the bench process: signed, durable
 * registrations/s with 1 and 50 clients for no standby, async and sync; the
 * standby's lag under the 50-client load (events between the primary's last
 * durable event and the standby's last acknowledged one, sampled every 100 ms);
 * and failover time, from SIGKILL of the primary to the first write accepted by
 * the new primary, for `pilot registry promote` issued at once and for
 * `--auto-failover` with a 2 s liveness window.
 */
import { generateEd25519KeyPair } from "../lib/crypto/ed25519.ts";
import { RegistryClient } from "../lib/registry/client.ts";
import { ignoreRejection, settleQuietly } from "../lib/errors.ts";

const TOKEN = "bench-replication-token-0123";
const ADMIN = "bench-admin-token-0123";

function flag(name: string, fallback: number): number {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Number(Deno.args[i + 1]) : fallback;
}

interface Proc {
  child: Deno.ChildProcess;
  address: string;
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

async function spawn(args: string[]): Promise<Proc> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("../main.ts", import.meta.url).pathname, "registry", "--json", ...args],
    stdout: "piped",
    stderr: "null",
    env: { PILOT_LOG: "error" },
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
  return { child, address: JSON.parse(text.split("\n")[0]).data.listen };
}

async function kill(p: Proc, signal: Deno.Signal = "SIGTERM"): Promise<void> {
  try {
    p.child.kill(signal);
  } catch { /* gone */ }
  await p.child.status;
}

async function status(address: string): Promise<Record<string, unknown>> {
  const c = new RegistryClient({ address, timeoutMs: 2_000, reconnectAttempts: 0 });
  try {
    return await c.request({ type: "repl_status", token: TOKEN });
  } finally {
    c.close();
  }
}

async function until(cond: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond().catch(() => false))) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 20));
  }
}

type Setup = "none" | "async" | "sync";

/** A primary (and a standby unless `none`) in fresh temporary directories. */
async function cluster(setup: Setup, extra: string[] = []): Promise<{ procs: Proc[]; dirs: string[] }> {
  const dirs = [await Deno.makeTempDir(), await Deno.makeTempDir()];
  const base = ["--rate-limit", "off", "--admin-token", ADMIN];
  const repl = setup === "none" ? [] : ["--replication-token", TOKEN, "--replication", setup, ...extra];
  const pPort = freePort();
  const primary = await spawn([...base, ...repl, "--listen", `127.0.0.1:${pPort}`, "--state", dirs[0]]);
  const procs = [primary];
  if (setup !== "none") {
    procs.push(
      await spawn([
        ...base,
        ...repl,
        "--listen",
        `127.0.0.1:${freePort()}`,
        "--state",
        dirs[1],
        "--standby-of",
        primary.address,
      ]),
    );
    await until(async () => ((await status(primary.address)).standbys as unknown[]).length === 1);
  }
  return { procs, dirs };
}

async function teardown(c: { procs: Proc[]; dirs: string[] }): Promise<void> {
  for (const p of c.procs) await kill(p, "SIGKILL");
  for (const d of c.dirs) await settleQuietly(Deno.remove(d, { recursive: true }), "cleanup");
}

async function writes(address: string, n: number, seconds: number, sampleLag: boolean) {
  const clients = Array.from({ length: n }, () => new RegistryClient({ address, timeoutMs: 30_000 }));
  const seeds = Array.from({ length: 3000 * n }, () => generateEd25519KeyPair().seed);
  let next = 0;
  let count = 0;
  const lags: number[] = [];
  let sampling = sampleLag;
  const sampler = (async () => {
    while (sampling) {
      const s = await settleQuietly(status(address), "optional detail");
      const sb = (s?.standbys as { acked_seq: number }[] | undefined)?.[0];
      if (s && sb) lags.push(Math.max(0, (s.durable_seq as number) - sb.acked_seq));
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  await Promise.all(clients.map(async (c) => {
    while (performance.now() < end) {
      c.setIdentity({ nodeId: 0, seed: seeds[next++ % seeds.length] });
      await c.register({ listenAddr: ":7000" });
      count++;
    }
  }));
  const perSecond = count / ((performance.now() - t0) / 1000);
  sampling = false;
  await sampler;
  for (const c of clients) c.close();
  lags.sort((a, b) => a - b);
  return { perSecond, lags };
}

async function throughput(seconds: number): Promise<string[]> {
  const rows: string[] = [];
  for (const setup of ["none", "async", "sync"] as Setup[]) {
    const c = await cluster(setup);
    try {
      const one = await writes(c.procs[0].address, 1, seconds, false);
      const fifty = await writes(c.procs[0].address, 50, seconds, setup !== "none");
      const lag = fifty.lags.length
        ? `${fifty.lags[Math.floor(fifty.lags.length / 2)]} / ${
          fifty.lags[fifty.lags.length - 1]
        } events (≈ ${
          (fifty.lags[Math.floor(fifty.lags.length / 2)] / fifty.perSecond * 1000).toFixed(1)
        } ms at that rate)`
        : "—";
      rows.push(`| ${setup} | ${one.perSecond.toFixed(0)} | ${fifty.perSecond.toFixed(0)} | ${lag} |`);
    } finally {
      await teardown(c);
    }
  }
  return rows;
}

/** Kill → first accepted write, with an operator promoting at once (`auto` false) or auto-failover. */
async function failover(auto: boolean): Promise<number> {
  const extra = auto
    ? ["--auto-failover", "--replication-liveness", "2s", "--replication-heartbeat", "1s"]
    : [];
  const c = await cluster("async", extra);
  try {
    const [primary, standby] = c.procs;
    const w = new RegistryClient({ address: primary.address, timeoutMs: 5_000 });
    for (let i = 0; i < 20; i++) {
      w.setIdentity({ nodeId: 0, seed: generateEd25519KeyPair().seed });
      await w.register({ listenAddr: ":7000" });
    }
    w.close();
    const probe = new RegistryClient({
      address: `${primary.address},${standby.address}`,
      timeoutMs: 60_000,
      identity: { nodeId: 0, seed: generateEd25519KeyPair().seed },
    });
    await until(async () => {
      const [p, s] = await Promise.all([status(primary.address), status(standby.address)]);
      return p.seq === s.seq;
    });
    const t0 = performance.now();
    await kill(primary, "SIGKILL");
    if (!auto) {
      const admin = new RegistryClient({ address: standby.address, timeoutMs: 5_000 });
      await admin.request({ type: "repl_promote", admin_token: ADMIN });
      admin.close();
    }
    for (;;) {
      try {
        await probe.register({ listenAddr: ":7000" });
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    probe.close();
    return performance.now() - t0;
  } finally {
    await teardown(c);
  }
}

if (import.meta.main) {
  const seconds = flag("seconds", 5);
  const failovers = flag("failovers", 5);
  console.log(`# registry replication, ${new Date().toISOString()}, ${Deno.build.target}`);
  console.log(
    "| standby | writes/s, 1 client | writes/s, 50 clients | standby lag, median / max (50 clients) |",
  );
  console.log("| --- | ---: | ---: | --- |");
  for (const row of await throughput(seconds)) console.log(row);
  const manual: number[] = [];
  for (let i = 0; i < failovers; i++) manual.push(await failover(false));
  const auto = [await failover(true), await failover(true)];
  const fmt = (xs: number[]) =>
    `mean ${(xs.reduce((a, b) => a + b, 0) / xs.length).toFixed(0)} ms, min ${
      Math.min(...xs).toFixed(0)
    }, max ${Math.max(...xs).toFixed(0)} (${xs.length} runs)`;
  console.log(`failover, promote at once: kill → first accepted write ${fmt(manual)}`);
  console.log(`failover, --auto-failover (liveness 2 s): kill → first accepted write ${fmt(auto)}`);
}
