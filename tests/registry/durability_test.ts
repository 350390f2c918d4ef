/**
 * Durability: every acknowledged write survives SIGKILL at a random moment (subprocess), and
 * every kind of state survives a restart (in-process, replaying the log with and without a
 * final snapshot).
 */
import { assert, assertEquals } from "../assert.ts";
import { generateEd25519KeyPair } from "../../lib/crypto/ed25519.ts";
import { toBase64 } from "../../lib/bytes.ts";
import { RegistryClient } from "../../lib/registry/client.ts";
import { ADMIN_TOKEN, cleanup, registeredClient, spawnRegistry, startRegistry } from "./helpers.ts";
import type { WireMessage } from "../../lib/registry/wire.ts";
import { settleQuietly } from "../../lib/errors.ts";

const TOTAL = 1000;
const STREAMS = 4;

/** Kill rounds: each kills at a different random point, so a lost in-flight batch is likely to show. */
const ROUNDS = 3;

Deno.test({
  name: "SIGKILL at a random moment loses no acknowledged registration (1000 streamed, snapshots on)",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    for (let round = 0; round < ROUNDS; round++) await killRound();
  },
});

async function killRound(): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "pilot-dur-" });
  // Small snapshot interval so the kill may also land during a snapshot or log rotation.
  const args = ["--listen", "127.0.0.1:0", "--state", dir, "--rate-limit", "off", "--snapshot-every", "150"];
  const first = await spawnRegistry(args);
  const acked = new Map<string, number>(); // public key → node id
  const killAfter = 100 + Math.floor(Math.random() * (TOTAL - 200));
  let next = 0;
  let killed = false;
  const kill = () => {
    if (killed) return;
    killed = true;
    first.child.kill("SIGKILL");
  };
  const stream = async () => {
    const c = new RegistryClient({ address: first.address, timeoutMs: 5000, reconnectAttempts: 0 });
    try {
      while (next < TOTAL && !killed) {
        next++;
        const kp = generateEd25519KeyPair();
        c.setIdentity({ nodeId: 0, seed: kp.seed });
        const r = await settleQuietly(c.register({ listenAddr: ":7000" }), "expected in test"); // the kill
        if (!r) break;
        acked.set(toBase64(kp.publicKey), r.node_id);
        if (acked.size >= killAfter) kill();
      }
    } finally {
      c.close();
    }
  };
  await Promise.all(Array.from({ length: STREAMS }, stream));
  kill();
  await first.child.status;
  assert(acked.size >= killAfter, `acked ${acked.size} before the kill`);

  const second = await spawnRegistry(args);
  try {
    const c = new RegistryClient({ address: second.address, timeoutMs: 10_000 });
    const missing: string[] = [];
    for (const [key, id] of acked) {
      const l = await settleQuietly(c.lookup(id), "reported elsewhere"); // as a missing registration
      if (!l || l.public_key !== key) missing.push(`${id}`);
    }
    assertEquals(missing, [], `lost ${missing.length} of ${acked.size} acknowledged registrations`);
    // Ids stay unique after recovery: a new registration gets a fresh one.
    const extra = new RegistryClient({
      address: second.address,
      identity: { nodeId: 0, seed: generateEd25519KeyPair().seed },
    });
    const r = await extra.register();
    assert(![...acked.values()].includes(r.node_id));
    extra.close();
    c.close();
  } finally {
    second.child.kill("SIGTERM");
    const status = await second.child.status;
    assertEquals(status.code, 0, await second.stderr());
    await cleanup(dir);
  }
}

/** Builds one of everything, returns what to compare after a restart. */
async function populate(address: string): Promise<(address: string) => Promise<WireMessage[]>> {
  const admin = new RegistryClient({ address, adminToken: ADMIN_TOKEN });
  const a = await registeredClient(address, {}, { hostname: "keeper" });
  const b = await registeredClient(address);
  const c = await registeredClient(address);
  const [ia, ib, ic] = [a.identity!.nodeId, b.identity!.nodeId, c.identity!.nodeId];
  await a.setVisibility(true);
  await a.setTags(["db", "eu"]);
  await a.setTaskExec(true);
  await b.reportTrust(ia);
  await c.requestHandshake(ib, "pending one");
  const net = await admin.plain({
    type: "create_network",
    name: "persist",
    node_id: ia,
    enterprise: true,
    join_rule: "token",
    token: "tok",
    network_admin_token: "ntok",
  }, { admin: true });
  const nid = net.network_id as number;
  await b.joinNetwork(nid, "tok");
  await a.promoteMember(nid, ib);
  await a.setNetworkPolicy(nid, { max_members: 5, allowed_ports: [22], description: "kept" });
  const inv = await admin.plain({
    type: "create_network",
    name: "inv",
    node_id: ia,
    enterprise: true,
    join_rule: "invite",
  }, {
    admin: true,
  });
  await a.inviteToNetwork(inv.network_id as number, ic);
  await a.setKeyExpiry(new Date(Date.now() + 7 * 86_400_000));
  await c.rotateKey(generateEd25519KeyPair().seed);
  await b.updatePoloScore(ia, 7);
  for (const x of [a, b, c]) x.close();
  admin.close();
  return async (at: string) => {
    const q = new RegistryClient({ address: at, adminToken: ADMIN_TOKEN });
    const out = [
      await q.lookup(ia),
      await q.lookup(ib),
      await q.lookup(ic),
      await q.checkTrust(ia, ib),
      await q.listNetworks(),
      await q.getNetworkPolicy(nid),
      await q.getMemberRole(nid, ib),
      await q.getKeyInfo(ia),
      await q.getKeyInfo(ic),
      await q.resolveHostname("keeper"),
      await q.listNodes(nid),
      await q.getAuditLog({ limit: 1000 }),
    ];
    q.close();
    // last_seen moves with the restart grace period; compare everything else.
    return JSON.parse(JSON.stringify(out, (k, v) => k === "last_seen" ? undefined : v));
  };
}

for (const snapshot of [false, true]) {
  Deno.test(`every kind of state survives a restart (${snapshot ? "from a snapshot" : "by log replay"})`, async () => {
    const reg = await startRegistry();
    const dir = reg.dir;
    const query = await populate(reg.address);
    const before = await query(reg.address);
    await reg.close({ snapshot });
    const again = await startRegistry({ dir });
    try {
      assertEquals(again.registry.store.stats.snapshotLoaded, snapshot);
      assert(snapshot || again.registry.store.stats.replayedEvents >= 15);
      const after = await query(again.address);
      assertEquals(after, before);
      // Inbox and invites came back too.
      const pending = again.registry.state.handshakeInbox;
      assertEquals([...pending.values()].flat().length, 1);
      assertEquals([...again.registry.state.invites.values()].flat().length, 1);
    } finally {
      await again.close();
      await cleanup(dir);
    }
  });
}
