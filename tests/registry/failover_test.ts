/**
 * Failover with real `pilot registry` subprocesses on loopback: a primary and a
 * standby under a stream of signed writes from many clients; the primary is
 * SIGKILLed at a random moment and the standby promoted. In sync mode every
 * acknowledged write must be on the new primary; in async mode the writes lost
 * are counted, reported, and must all be recent (acknowledged within the
 * replication lag bound before the kill). The killed registry is restarted with
 * its original command line: it must refuse writes (fenced by the new epoch)
 * and rejoin as a standby that catches up, becoming the next round's standby.
 * Rounds: PILOT_FAILOVER_ROUNDS (default 10 per mode, 20 in all).
 */
import { assert, assertEquals } from "../assert.ts";
import { ADMIN_TOKEN, newClient, RawConn, type RegistryProcess, spawnRegistry } from "./helpers.ts";
import type { RegistryClient } from "../../lib/registry/client.ts";
import { runPilot } from "../helpers/pilot.ts";
import { settleQuietly } from "../../lib/errors.ts";

const TOKEN = "failover-token-0123456789";
const ROUNDS = Number(Deno.env.get("PILOT_FAILOVER_ROUNDS") ?? 10);
const CLIENTS = 16;
/** An async-mode loss may only concern writes acknowledged this long before the kill. */
const ASYNC_LOSS_WINDOW_MS = 2_000;

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

async function until(cond: () => Promise<boolean>, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond().catch(() => false))) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function call(port: number, msg: Record<string, unknown>): Promise<Record<string, unknown>> {
  const c = await RawConn.open(port);
  try {
    return await c.call(msg);
  } finally {
    c.close();
  }
}

const status = (port: number) => call(port, { type: "repl_status", token: TOKEN });

interface Node {
  port: number;
  dir: string;
  args: string[];
  proc: RegistryProcess | null;
}

async function start(n: Node): Promise<void> {
  n.proc = await spawnRegistry(n.args);
}

async function kill(n: Node): Promise<void> {
  n.proc?.child.kill("SIGKILL");
  await n.proc?.child.status;
  n.proc = null;
}

/** One writer: registers, then sets its tags to v1, v2, … until told to stop or a write fails. */
async function writer(
  address: string,
  stop: { v: boolean },
  acked: { id: number; k: number; t: number }[],
): Promise<void> {
  let c: RegistryClient | null = null;
  try {
    c = newClient(address, { timeoutMs: 4_000, reconnectAttempts: 0 });
    await c.register({ listenAddr: ":4000" });
    const id = c.identity!.nodeId;
    for (let k = 1; !stop.v; k++) {
      await c.setTags([`v${k}`]);
      acked.push({ id, k, t: Date.now() });
    }
  } catch {
    /* the primary died: this writer is done */
  } finally {
    c?.close();
  }
}

async function probeWrite(port: number): Promise<void> {
  const probe = newClient(`127.0.0.1:${port}`, { timeoutMs: 5_000 });
  try {
    await probe.register({ listenAddr: ":4000" });
  } finally {
    probe.close();
  }
}

async function failoverRounds(mode: "sync" | "async"): Promise<void> {
  const dirs = [await Deno.makeTempDir(), await Deno.makeTempDir()];
  const ports = [freePort(), freePort()];
  const common = [
    "--replication-token",
    TOKEN,
    "--replication",
    mode,
    "--admin-token",
    ADMIN_TOKEN,
    "--rate-limit",
    "off",
    "--replication-heartbeat",
    "1s",
    "--sync-timeout",
    "3s",
  ];
  const nodes: Node[] = [
    {
      port: ports[0],
      dir: dirs[0],
      proc: null,
      args: [...common, "--listen", `127.0.0.1:${ports[0]}`, "--state", dirs[0]],
    },
    {
      port: ports[1],
      dir: dirs[1],
      proc: null,
      args: [
        ...common,
        "--listen",
        `127.0.0.1:${ports[1]}`,
        "--state",
        dirs[1],
        "--standby-of",
        `127.0.0.1:${ports[0]}`,
      ],
    },
  ];
  let totalAcked = 0;
  let totalLost = 0;
  let discarded = 0;
  const failoverMs: number[] = [];
  try {
    await Promise.all(nodes.map(start));
    let [primary, standby] = nodes;
    await until(async () => (await status(primary.port)).role === "primary", "first primary");
    for (let round = 0; round < ROUNDS; round++) {
      await until(
        async () => (await status(standby.port)).role === "standby",
        `round ${round}: standby ready`,
      );
      // A stream of signed writes from many clients, killed at a random moment.
      const stop = { v: false };
      const acked: { id: number; k: number; t: number }[] = [];
      const writers = Array.from(
        { length: CLIENTS },
        () => writer(`127.0.0.1:${primary.port}`, stop, acked),
      );
      // The kill must land after some acknowledged writes, however slow a loaded machine makes the first.
      await until(() => Promise.resolve(acked.length > 0), `round ${round}: a first acknowledged write`);
      await new Promise((r) => setTimeout(r, 300 + Math.random() * 1200));
      const killedAt = Date.now();
      await kill(primary);
      stop.v = true;
      await Promise.all(writers);
      assert(acked.length > 0, `round ${round}: no write was acknowledged before the kill`);

      // Promote the standby (once through the CLI, otherwise directly) and time the first accepted write.
      if (round === 0) {
        const r = await runPilot([
          "registry",
          "promote",
          "--registry",
          `127.0.0.1:${standby.port}`,
          "--admin-token",
          ADMIN_TOKEN,
          "--json",
        ]);
        assertEquals(r.code, 0, r.stderr + r.stdout);
      } else {
        const r = await call(standby.port, { type: "repl_promote", admin_token: ADMIN_TOKEN });
        assertEquals(r.type, "repl_promote_ok", JSON.stringify(r));
      }
      // Async: the new primary takes writes at once. Sync: only once a standby is back (below).
      if (mode === "async") {
        await probeWrite(standby.port);
        failoverMs.push(Date.now() - killedAt);
      }

      // Every acknowledged write on the new primary (sync); only recent ones may be missing (async).
      const last = new Map<number, { k: number; t: number }>();
      for (const a of acked) if ((last.get(a.id)?.k ?? 0) < a.k) last.set(a.id, a);
      let lost = 0;
      for (const [id, a] of last) {
        const r = await call(standby.port, { type: "lookup", node_id: id });
        const tags = (r.tags as string[] | undefined) ?? [];
        const have = r.type === "lookup_ok" && tags.length ? Number(tags[0].slice(1)) : 0;
        if (have >= a.k) continue;
        lost += a.k - have;
        if (mode === "sync") {
          throw new Error(`round ${round}: node ${id} acked v${a.k} but the new primary has v${have}`);
        }
        assert(
          killedAt - a.t <= ASYNC_LOSS_WINDOW_MS,
          `round ${round}: lost a write acknowledged ${killedAt - a.t} ms before the kill`,
        );
      }
      totalAcked += acked.length;
      totalLost += lost;

      // The old primary comes back with its original command line: fenced, it rejoins as a standby.
      await start(primary);
      const refused = await call(primary.port, { type: "heartbeat", node_id: acked[0].id });
      assertEquals(refused.type, "error", `round ${round}: the old primary accepted a write after promotion`);
      assert(refused.code === "not_primary" || refused.code === "unavailable", JSON.stringify(refused));
      await until(async () => {
        const [p, s] = await Promise.all([status(standby.port), status(primary.port)]);
        return s.role === "standby" && s.seq === p.seq && s.epoch === p.epoch;
      }, `round ${round}: old primary rejoins and catches up`).catch(async (err) => {
        const [p, s] = await Promise.all(
          [status(standby.port), status(primary.port)].map((x) => x.catch((e) => e)),
        );
        throw new Error(`${err.message}: new primary ${JSON.stringify(p)}, old primary ${JSON.stringify(s)}`);
      });
      if (mode === "sync") {
        await probeWrite(standby.port);
        failoverMs.push(Date.now() - killedAt);
      }
      // What the old primary had that never reached the new one is discarded at its rejoin, and reported.
      const rejoined = await status(primary.port);
      discarded += rejoined.discarded_events as number;
      if (mode === "async") assert((rejoined.discarded_events as number) >= lost, JSON.stringify(rejoined));
      [primary, standby] = [standby, primary];
    }
    const avg = failoverMs.reduce((a, b) => a + b, 0) / failoverMs.length;
    console.log(
      `${mode}: ${ROUNDS} failovers, ${totalAcked} acknowledged writes, ${totalLost} lost ` +
        `(${discarded} events discarded by rejoining old primaries); ` +
        `kill → first acknowledged write on the new primary${
          mode === "sync" ? " (after the old one rejoined as standby)" : ""
        }: mean ${avg.toFixed(0)} ms, max ${Math.max(...failoverMs)} ms`,
    );
    if (mode === "sync") assertEquals(totalLost, 0);
  } finally {
    await Promise.all(nodes.map(kill));
    for (const d of dirs) await settleQuietly(Deno.remove(d, { recursive: true }), "cleanup");
  }
}

Deno.test({
  name:
    "sync replication: SIGKILL the primary at random moments; every acknowledged write survives promotion",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: () => failoverRounds("sync"),
});

Deno.test({
  name: "async replication: SIGKILL the primary at random moments; the writes lost are recent and reported",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: () => failoverRounds("async"),
});
