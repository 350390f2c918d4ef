/** Node lifecycle messages over real TCP against an in-process registry. */
import { assert, assertEquals, assertMatch, assertRejects } from "../assert.ts";
import { generateEd25519KeyPair } from "../../lib/crypto/ed25519.ts";
import { RegistryClient, RegistryReplyError } from "../../lib/registry/client.ts";
import { ADMIN_TOKEN, cleanup, newClient, RawConn, registeredClient, startRegistry } from "./helpers.ts";
import { toBase64 } from "../../lib/bytes.ts";

Deno.test("register assigns sequential ids from 4, reports the observed endpoint and address", async () => {
  const reg = await startRegistry();
  try {
    const a = newClient(reg.address);
    const r = await a.register({ listenAddr: "0.0.0.0:37000", lanAddrs: ["192.168.1.5:37000"] });
    assertEquals(r.type, "register_ok");
    assertEquals(r.node_id, 4);
    assertEquals(r.address, "0:0000.0000.0004");
    assertEquals(r.observed_addr, "127.0.0.1:37000");
    assertEquals(r.mode, "new");
    const b = await registeredClient(reg.address);
    assertEquals(b.identity!.nodeId, 5);
    a.close();
    b.close();
  } finally {
    await reg.close();
    await cleanup(reg.dir);
  }
});

Deno.test("register refusals: missing key, bad key, unsigned in strict mode, forged proof", async () => {
  const reg = await startRegistry();
  const raw = await RawConn.open(reg.addr.port);
  try {
    let r = await raw.call({ type: "register" });
    assertEquals(r.type, "error");
    assertMatch(String(r.error), /requires public_key/);
    r = await raw.call({ type: "register", public_key: "AAAA" });
    assertMatch(String(r.error), /invalid public key/);
    const kp = generateEd25519KeyPair();
    r = await raw.call({ type: "register", public_key: toBase64(kp.publicKey), listen_addr: ":1" });
    assertEquals(r.code, "unauthorized");
    assertMatch(String(r.error), /proof of key possession/);
    // A proof signed by a different key does not count.
    const other = newClient(reg.address);
    const forged = await other.signed({ type: "register", public_key: toBase64(kp.publicKey) }).catch((e) =>
      e
    );
    assert(forged instanceof RegistryReplyError);
    assertEquals(forged.code, "unauthorized");
    other.close();
  } finally {
    raw.close();
    await reg.close();
    await cleanup(reg.dir);
  }
});

Deno.test("re-registration with the same key keeps id, hostname, tags and memberships; new endpoint needs the key", async () => {
  const reg = await startRegistry({ staleAfterMs: 200, reapIntervalMs: 100_000 });
  try {
    const a = await registeredClient(reg.address, {}, { hostname: "alpha" });
    const id = a.identity!.nodeId;
    await a.setTags(["gpu", "#eu"]);
    const admin = new RegistryClient({ address: reg.address, adminToken: ADMIN_TOKEN });
    const net = await admin.createNetwork({ name: "lab" });
    await a.joinNetwork(net.network_id as number);
    // Same key, live node: same id ("existing").
    const again = await a.register({ listenAddr: ":4100" });
    assertEquals([again.node_id, again.mode, again.observed_addr], [id, "existing", "127.0.0.1:4100"]);
    // Silent past the stale threshold: reaped, but kept dormant.
    await new Promise((r) => setTimeout(r, 300));
    await reg.registry.maintain();
    await assertRejects(() => a.lookup(id), RegistryReplyError, /not found/);
    const back = await a.register({ listenAddr: ":4200" });
    assertEquals([back.node_id, back.mode, back.hostname], [id, "revived", "alpha"]);
    const l = await a.lookup(id);
    assertEquals(l.tags, ["gpu", "eu"]);
    assertEquals(l.networks, [0, net.network_id]);
    a.close();
    admin.close();
  } finally {
    await reg.close();
    await cleanup(reg.dir);
  }
});

Deno.test("register with a hostname another node holds returns hostname_error and no hostname", async () => {
  const reg = await startRegistry();
  try {
    const a = await registeredClient(reg.address, {}, { hostname: "taken" });
    const b = newClient(reg.address);
    const r = await b.register({ hostname: "taken" });
    assertEquals(r.hostname, undefined);
    assertMatch(r.hostname_error!, /already in use by node 4/);
    const c = newClient(reg.address);
    const bad = await c.register({ hostname: "Bad_Name" });
    assertMatch(bad.hostname_error!, /invalid hostname/);
    c.close();
    a.close();
    b.close();
  } finally {
    await reg.close();
    await cleanup(reg.dir);
  }
});

Deno.test("heartbeat: ok with time, refused unsigned or for unknown nodes", async () => {
  const reg = await startRegistry();
  const raw = await RawConn.open(reg.addr.port);
  try {
    const a = await registeredClient(reg.address);
    const hb = await a.heartbeat();
    assert(Math.abs((hb.time as number) - Date.now() / 1000) < 5);
    const r = await raw.call({ type: "heartbeat", node_id: a.identity!.nodeId });
    assertEquals(r.code, "unauthorized");
    const r2 = await raw.call({ type: "heartbeat", node_id: 999 });
    assertMatch(String(r2.error), /node 999 not found/);
    a.close();
  } finally {
    raw.close();
    await reg.close();
    await cleanup(reg.dir);
  }
});

Deno.test("deregister removes the node; the same key later reclaims its id with fresh attributes", async () => {
  const reg = await startRegistry();
  try {
    const a = await registeredClient(reg.address, {}, { hostname: "gone" });
    const id = a.identity!.nodeId;
    await a.setVisibility(true);
    await a.deregister();
    await assertRejects(() => a.lookup(id), RegistryReplyError, /not found/);
    const b = await registeredClient(reg.address, {}, { hostname: "gone" }); // hostname released
    assertEquals(b.identity!.nodeId, id + 1);
    const r = await a.register();
    assertEquals([r.node_id, r.mode], [id, "reclaimed"]);
    assertEquals((await a.lookup(id)).public, false);
    // Unknown node: still ok, as in the reference.
    const raw = await RawConn.open(reg.addr.port);
    assertEquals((await raw.call({ type: "deregister", node_id: 12345 })).type, "deregister_ok");
    raw.close();
    a.close();
    b.close();
  } finally {
    await reg.close();
    await cleanup(reg.dir);
  }
});

Deno.test("rotate_key: signed by the current key, then the new key signs; key info tracks it", async () => {
  const reg = await startRegistry();
  try {
    const a = await registeredClient(reg.address);
    const id = a.identity!.nodeId;
    const oldSeed = a.identity!.seed;
    const next = generateEd25519KeyPair();
    const r = await a.rotateKey(next.seed);
    assertEquals(r.public_key, toBase64(next.publicKey));
    await a.heartbeat(); // signs with the new key
    const info = await a.getKeyInfo();
    assertEquals(info.rotate_count, 1);
    assert(typeof info.rotated_at === "string");
    // The old key no longer authorises anything.
    const stale = new RegistryClient({ address: reg.address, identity: { nodeId: id, seed: oldSeed } });
    await assertRejects(() => stale.heartbeat(), RegistryReplyError, /signature verification failed/);
    // Rotating onto another node's key is refused.
    const b = await registeredClient(reg.address);
    await assertRejects(
      () => a.signed({ type: "rotate_key", node_id: id, new_public_key: b.publicKey }),
      RegistryReplyError,
      /already registered to node/,
    );
    stale.close();
    a.close();
    b.close();
  } finally {
    await reg.close();
    await cleanup(reg.dir);
  }
});

Deno.test("set_key_expiry: enterprise members only, validated, warns and then blocks heartbeats", async () => {
  const reg = await startRegistry();
  try {
    const a = await registeredClient(reg.address);
    const soon = new Date(Date.now() + 3_600_000);
    await assertRejects(() => a.setKeyExpiry(soon), RegistryReplyError, /enterprise feature/);
    const admin = new RegistryClient({ address: reg.address, adminToken: ADMIN_TOKEN });
    const net = await admin.createNetwork({ name: "corp", enterprise: true });
    await a.joinNetwork(net.network_id as number);
    await assertRejects(() => a.setKeyExpiry(new Date(Date.now() - 1000)), RegistryReplyError, /future/);
    await assertRejects(() => a.setKeyExpiry("not-a-time"), RegistryReplyError, /RFC 3339/);
    const r = await a.setKeyExpiry(soon);
    assertEquals(typeof r.expires_at, "string");
    const hb = await a.heartbeat();
    assertEquals(hb.key_expiry_warning, true);
    const info = await a.getKeyInfo();
    assertEquals(info.expires_at, r.expires_at);
    // Expire it through the admin (a past time is refused, so set it and move the clock by editing state).
    reg.registry.state.nodes.get(a.identity!.nodeId)!.keyExpires = Date.now() - 1;
    await assertRejects(() => a.heartbeat(), RegistryReplyError, /key expired at/);
    const audit = await admin.getAuditLog({ limit: 5 });
    assertEquals((audit.entries as { action: string }[])[0].action, "key.expired_heartbeat_blocked");
    await a.setKeyExpiry(null);
    await a.heartbeat();
    a.close();
    admin.close();
  } finally {
    await reg.close();
    await cleanup(reg.dir);
  }
});

Deno.test("set_visibility / set_hostname / set_tags / set_task_exec: success, validation and refusal", async () => {
  const reg = await startRegistry();
  const raw = await RawConn.open(reg.addr.port);
  try {
    const a = await registeredClient(reg.address);
    const b = await registeredClient(reg.address);
    const id = a.identity!.nodeId;
    assertEquals((await a.setVisibility(true)).visibility, "public");
    assertEquals((await a.setHostname("web-1")).hostname, "web-1");
    await assertRejects(() => b.setHostname("web-1"), RegistryReplyError, /already in use by node/);
    await assertRejects(() => a.setHostname("localhost"), RegistryReplyError, /reserved/);
    await assertRejects(() => a.setHostname("-bad"), RegistryReplyError, /invalid hostname/);
    assertEquals((await a.setTags(["#ml", "ml", "gpu"])).tags, ["ml", "gpu"]);
    await assertRejects(
      () => a.setTags(Array.from({ length: 11 }, (_, i) => `t${i}`)),
      RegistryReplyError,
      /too many tags/,
    );
    // Duplicates collapse (a hundred copies of two tags are fine), but a huge raw list is refused outright.
    assertEquals((await a.setTags(Array.from({ length: 100 }, (_, i) => `t${i % 2}`))).tags, ["t0", "t1"]);
    await assertRejects(
      () => a.setTags(Array.from({ length: 101 }, () => "t0")),
      RegistryReplyError,
      /too many entries in tags \(max 100\)/,
    );
    await assertRejects(() => a.setTags(["UPPER"]), RegistryReplyError, /invalid tag/);
    assertEquals((await a.setTags([])).tags, null);
    assertEquals((await a.setTaskExec(true)).task_exec, true);
    const l = await b.lookup(id);
    assertEquals([l.public, l.hostname, l.task_exec, l.real_addr], [true, "web-1", true, "127.0.0.1:4000"]);
    // Unsigned and wrongly typed writes are refused.
    for (
      const msg of [
        { type: "set_visibility", node_id: id, public: false },
        { type: "set_hostname", node_id: id, hostname: "x" },
        { type: "set_tags", node_id: id, tags: [] },
        { type: "set_task_exec", node_id: id, enabled: false },
      ]
    ) {
      assertEquals((await raw.call(msg)).code, "unauthorized");
    }
    const typed = await raw.call({ type: "set_visibility", node_id: "4", public: true });
    assertMatch(String(typed.error), /invalid field node_id/);
    // Another node's signature does not authorise writes to this node.
    await assertRejects(
      () => b.signed({ type: "set_visibility", node_id: id, public: false }),
      RegistryReplyError,
      /signature/,
    );
    // The admin token does.
    const admin = new RegistryClient({ address: reg.address, adminToken: ADMIN_TOKEN });
    assertEquals(
      (await admin.plain({ type: "set_visibility", node_id: id, public: false }, { admin: true })).visibility,
      "private",
    );
    a.close();
    b.close();
    admin.close();
  } finally {
    raw.close();
    await reg.close();
    await cleanup(reg.dir);
  }
});

Deno.test("dormant nodes are purged after the retention period: hostname freed, key reclaims a fresh record", async () => {
  const reg = await startRegistry({ staleAfterMs: 50, dormantRetentionMs: 50, reapIntervalMs: 100_000 });
  try {
    const a = await registeredClient(reg.address, {}, { hostname: "brief" });
    const id = a.identity!.nodeId;
    await a.setTags(["x"]);
    await new Promise((r) => setTimeout(r, 80));
    await reg.registry.maintain(); // reaped: dormant
    assertEquals(reg.registry.state.nodes.get(id)?.online, false);
    assertEquals(reg.registry.state.hostnameIndex.get("brief"), id); // still reserved while dormant
    await new Promise((r) => setTimeout(r, 80));
    await reg.registry.maintain(); // purged
    assertEquals(reg.registry.state.nodes.has(id), false);
    const b = await registeredClient(reg.address, {}, { hostname: "brief" });
    assertEquals((await b.lookup(b.identity!.nodeId)).hostname, "brief");
    const back = await a.register();
    assertEquals([back.node_id, back.mode, back.hostname], [id, "reclaimed", undefined]);
    assertEquals((await a.lookup(id)).tags, undefined);
    const actions = reg.registry.state.audit.newest(20).map((e) => e.action);
    assert(actions.includes("node.reaped") && actions.includes("node.purged"));
    a.close();
    b.close();
  } finally {
    await reg.close();
    await cleanup(reg.dir);
  }
});
