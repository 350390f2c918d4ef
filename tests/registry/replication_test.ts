/**
 * Replication in-process: a standby follows the primary's events in order,
 * serves reads, refuses writes naming the primary; sync mode holds a write until
 * a standby has it; a standby far behind (log compacted) catches up from a
 * snapshot in bounded frames; promotion fences the old primary.
 */
import { assert, assertEquals } from "../assert.ts";
import { runPilot } from "../helpers/pilot.ts";
import { makeCert } from "./certs.ts";
import { ADMIN_TOKEN, cleanup, newClient, RawConn, registeredClient, startRegistry } from "./helpers.ts";
import type { RegistryService } from "../../lib/registry/service.ts";
import { readPersisted } from "../../lib/registry/replication/persisted.ts";

const TOKEN = "repl-token-0123456789";

async function until(cond: () => boolean | Promise<boolean>, what: string, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function replication(extra: Record<string, unknown> = {}) {
  return { token: TOKEN, heartbeatMs: 1_000, livenessMs: 2_000, syncTimeoutMs: 3_000, ...extra };
}

Deno.test("standby follows, serves reads, refuses writes naming the primary; sync mode waits for it", async () => {
  const primary = await startRegistry({ replication: replication({ mode: "sync" }) });
  const standby = await startRegistry({ replication: replication({ standbyOf: primary.address }) });
  try {
    const clients = await Promise.all(Array.from({ length: 10 }, () => registeredClient(primary.address)));
    // Sync mode: each register was acknowledged only once the standby had it, so it is there now.
    assertEquals(standby.registry.state.nodes.size, 10);
    assertEquals(standby.registry.state.seq, primary.registry.state.seq);
    const id = clients[3].identity!.nodeId;
    const onStandby = newClient(standby.address);
    const looked = await onStandby.lookup(id);
    assertEquals(looked.node_id, id);
    // The raw refusal names the primary…
    const raw = await RawConn.open(standby.addr.port);
    const refused = await raw.call({ type: "register", public_key: onStandby.publicKey });
    raw.close();
    assertEquals(refused.code, "not_primary");
    assert(String(refused.error).includes(primary.address), String(refused.error));
    assertEquals(refused.primary, primary.address);
    // …and a client follows it on its own.
    const moved = await registeredClient(standby.address);
    assertEquals(moved.currentAddress, primary.address);
    clients.push(moved);
    const st = primary.registry.replicator!.status();
    assertEquals(st.role, "primary");
    assertEquals(st.standbys.length, 1);
    for (const c of [...clients, onStandby]) c.close();
  } finally {
    await standby.close();
    await primary.close();
    await cleanup(standby.dir);
    await cleanup(primary.dir);
  }
});

Deno.test("a standby that was down catches up from a snapshot when the log was compacted, in bounded frames", async () => {
  const primary = await startRegistry({ replication: replication(), retainEvents: 50 });
  let standby: RegistryService & { dir: string | null } | null = null;
  const sdir = await Deno.makeTempDir({ prefix: "pilot-standby-" });
  try {
    standby = await startRegistry({ dir: sdir, replication: replication({ standbyOf: primary.address }) });
    await Promise.all(Array.from({ length: 5 }, () => registeredClient(primary.address)));
    await until(() => standby!.registry.state.seq === primary.registry.state.seq, "first catch-up");
    await standby.close();
    standby = null;
    const more = await Promise.all(Array.from({ length: 120 }, () => registeredClient(primary.address)));
    standby = await startRegistry({ dir: sdir, replication: replication({ standbyOf: primary.address }) });
    await until(() => standby!.registry.state.seq === primary.registry.state.seq, "snapshot catch-up");
    assertEquals(standby.registry.state.nodes.size, 125);
    assertEquals(standby.registry.replicator!.status().snapshots_installed, 1);
    // After the snapshot, new events stream again.
    const late = await registeredClient(primary.address);
    await until(() => standby!.registry.state.nodes.has(late.identity!.nodeId), "streaming after snapshot");
    for (const c of [...more, late]) c.close();
  } finally {
    await standby?.close();
    await primary.close();
    await cleanup(sdir);
    await cleanup(primary.dir);
  }
});

Deno.test("promote: the standby takes writes at a new epoch; the old primary is fenced and follows", async () => {
  const primary = await startRegistry({ replication: replication() });
  const standby = await startRegistry({ replication: replication({ standbyOf: primary.address }) });
  try {
    // A client given the standby first is sent on to the primary by the standby's refusal.
    const a = await registeredClient(`${standby.address},${primary.address}`);
    assertEquals(a.currentAddress, primary.address);
    await until(() => standby.registry.state.seq === primary.registry.state.seq, "replication");
    const promote = newClient(standby.address, { adminToken: ADMIN_TOKEN });
    const r = await promote.request({ type: "repl_promote", admin_token: ADMIN_TOKEN });
    assertEquals(r.epoch, 1);
    // The fence reaches the old primary, which now refuses writes naming the new one and follows it.
    await until(() => primary.registry.replicator!.role === "standby", "old primary fenced");
    const raw = await RawConn.open(primary.addr.port);
    const refused = await raw.call({ type: "heartbeat", node_id: a.identity!.nodeId });
    raw.close();
    assertEquals(refused.code, "not_primary");
    assertEquals(refused.primary, standby.address);
    const b = await registeredClient(standby.address);
    await until(
      () => primary.registry.state.nodes.has(b.identity!.nodeId),
      "old primary follows the new one",
    );
    assertEquals(primary.registry.replicator!.epoch, 1);
    // The same client follows the new primary without being told: the old one's refusal names it.
    await a.setHostname("after-failover");
    assertEquals(a.currentAddress, standby.address);
    assertEquals(standby.registry.state.hostnameIndex.get("after-failover"), a.identity!.nodeId);
    for (const c of [a, b, promote]) c.close();
  } finally {
    await standby.close();
    await primary.close();
    await cleanup(standby.dir);
    await cleanup(primary.dir);
  }
});

Deno.test("promote while new standbys are being recorded: every write of the replication file lands, the last is the newest", async () => {
  const primary = await startRegistry({ replication: replication() });
  const standby = await startRegistry({ replication: replication({ standbyOf: primary.address }) });
  try {
    // Listen addresses that nothing serves (the fencing that follows the promote reaches no one).
    const listens = Array.from({ length: 12 }, () => {
      const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      const addr = `127.0.0.1:${(l.addr as Deno.NetAddr).port}`;
      l.close();
      return addr;
    });
    const conns = await Promise.all(listens.map(() => RawConn.open(standby.addr.port)));
    const admin = await RawConn.open(standby.addr.port);
    // Each fetch naming a new standby rewrites the file, and so does the promote, all at once.
    const [promoted] = await Promise.all([
      admin.call({ type: "repl_promote", admin_token: ADMIN_TOKEN }),
      ...conns.map((c, i) =>
        c.call({
          type: "repl_fetch",
          token: TOKEN,
          from_seq: 1,
          acked_seq: 0,
          epoch: 0,
          last_epoch: 0,
          listen: listens[i],
        })
      ),
    ]);
    for (const c of [...conns, admin]) c.close();
    assertEquals(promoted.type, "repl_promote_ok", JSON.stringify(promoted));
    await until(async () => (await readPersisted(standby.dir))?.epoch === 1, "the promote's write");
    const file = (await readPersisted(standby.dir))!;
    assertEquals(file.role, "primary");
    assertEquals(file.epoch, 1);
    for (const l of listens) {
      assert(file.peers.includes(l), `${l} missing from ${JSON.stringify(file.peers)}`);
    }
  } finally {
    await standby.close();
    await primary.close();
    await cleanup(standby.dir);
    await cleanup(primary.dir);
  }
});

Deno.test("auto-failover: when the primary is gone past the liveness window one standby promotes, the other follows", async () => {
  const primary = await startRegistry({ replication: replication() });
  const opts = () => ({ replication: replication({ standbyOf: primary.address, autoFailover: true }) });
  const s1 = await startRegistry(opts());
  const s2 = await startRegistry(opts());
  const standbys = [s1, s2];
  try {
    const a = await registeredClient(primary.address);
    await until(
      () => standbys.every((s) => s.registry.state.seq === primary.registry.state.seq),
      "replication",
    );
    // Each standby learns the other from the primary's fetch replies.
    await until(
      () => standbys.every((s) => s.registry.replicator!.status().role === "standby"),
      "standbys settled",
    );
    await new Promise((r) => setTimeout(r, 1_500));
    const gone = Date.now();
    await primary.close();
    await until(
      () => standbys.some((s) => s.registry.replicator!.role === "primary"),
      "a standby promoted itself",
      20_000,
    );
    const elapsed = Date.now() - gone;
    assert(elapsed >= 2_000, `promoted after ${elapsed} ms, inside the liveness window`);
    const leader = standbys.find((s) => s.registry.replicator!.role === "primary")!;
    const other = standbys.find((s) => s !== leader)!;
    await until(
      () => other.registry.replicator!.primary === leader.address,
      "the other standby follows",
      20_000,
    );
    assertEquals(other.registry.replicator!.role, "standby");
    const b = await registeredClient(`${other.address},${leader.address}`);
    await until(() => other.registry.state.nodes.has(b.identity!.nodeId), "replication from the new primary");
    for (const c of [a, b]) c.close();
  } finally {
    for (const s of standbys) await s.close();
    await primary.close();
    for (const s of [...standbys, primary]) await cleanup(s.dir);
  }
});

Deno.test({
  name: "pilot registry status|promote and the replication flags from the command line",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const lone = await startRegistry();
    try {
      const st = await runPilot(["registry", "status", "--registry", lone.address]);
      assertEquals(st.code, 0, st.stderr);
      assert(st.stdout.includes("primary (replication off)"), st.stdout);
      const noToken = await runPilot(["registry", "promote", "--registry", lone.address]);
      assert(noToken.code !== 0 && noToken.stderr.includes("--admin-token"), noToken.stderr);
      const wrong = await runPilot([
        "registry",
        "promote",
        "--registry",
        lone.address,
        "--admin-token",
        "nope",
      ]);
      assert(wrong.code !== 0, wrong.stdout);
      const bare = await runPilot(["registry", "--memory", "--standby-of", lone.address]);
      assert(bare.code !== 0 && bare.stderr.includes("--standby-of needs --replication-token"), bare.stderr);
      const mode = await runPilot([
        "registry",
        "--memory",
        "--replication-token",
        "t",
        "--replication",
        "semi",
      ]);
      assert(mode.code !== 0 && mode.stderr.includes("async or sync"), mode.stderr);
    } finally {
      await lone.close();
      await cleanup(lone.dir);
    }
  },
});

Deno.test("replication between registries that listen with TLS only (CA-verified)", async () => {
  const certDir = await Deno.makeTempDir({ prefix: "pilot-repl-tls-" });
  const { cert, key, ca } = await makeCert(certDir, "reg");
  const tls = { cert, key };
  const caPem = ca;
  const primary = await startRegistry({
    tls,
    replication: replication({ mode: "sync", tls: { caCerts: [caPem] } }),
  });
  const standby = await startRegistry({
    tls,
    replication: replication({ standbyOf: primary.address, tls: { caCerts: [caPem] } }),
  });
  try {
    const c = await registeredClient(primary.address, { tls: { caCerts: [caPem] } });
    assertEquals(standby.registry.state.nodes.has(c.identity!.nodeId), true); // sync: already there
    c.close();
  } finally {
    await standby.close();
    await primary.close();
    for (const d of [standby.dir, primary.dir, certDir]) await cleanup(d);
  }
});
