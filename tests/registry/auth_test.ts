/** Authentication of writes: forged, tampered, replayed, stale and reference-style requests; the audit trail. */
import { assert, assertEquals, assertMatch, assertRejects } from "../assert.ts";
import { toBase64, utf8 } from "../../lib/bytes.ts";
import { generateEd25519KeyPair, signEd25519 } from "../../lib/crypto/ed25519.ts";
import { signRequest } from "../../lib/registry/auth.ts";
import { RegistryClient, RegistryReplyError } from "../../lib/registry/client.ts";
import type { WireMessage } from "../../lib/registry/wire.ts";
import { ADMIN_TOKEN, cleanup, RawConn, registeredClient, startRegistry } from "./helpers.ts";

Deno.test("forged and tampered signatures are refused and audited", async () => {
  const reg = await startRegistry();
  const admin = new RegistryClient({ address: reg.address, adminToken: ADMIN_TOKEN });
  const raw = await RawConn.open(reg.addr.port);
  try {
    const a = await registeredClient(reg.address);
    const id = a.identity!.nodeId;
    // Signed by a key that is not the node's.
    const forged = await signRequest(
      { type: "set_tags", node_id: id, tags: ["evil"] },
      generateEd25519KeyPair().seed,
    );
    const r1 = await raw.call(forged);
    assertEquals(r1.code, "unauthorized");
    assertMatch(String(r1.error), /does not match the registered key/);
    assertEquals(typeof r1.server_time, "number");
    // Signed by the right key, then altered.
    const good = await signRequest({ type: "set_tags", node_id: id, tags: ["ok"] }, a.identity!.seed);
    const r2 = await raw.call({ ...good, tags: ["evil"] });
    assertEquals(r2.code, "unauthorized");
    // A malformed auth object.
    const r3 = await raw.call({ type: "set_tags", node_id: id, tags: [], auth: { ts: "now" } });
    assertMatch(String(r3.error), /auth.ts must be an integer/);
    assertEquals((await a.lookup(id)).tags, undefined);
    const entries = (await admin.getAuditLog({ limit: 10 })).entries as WireMessage[];
    const refused = entries.filter((e) => e.action === "auth.refused");
    assertEquals(refused.length, 3);
    assertEquals(refused[0].node_id, id);
    assertMatch(String(refused[0].details), /type=set_tags/);
    assertMatch(String(refused[0].source), /^127\.0\.0\.1:\d+$/);
    a.close();
  } finally {
    admin.close();
    raw.close();
    await reg.close();
    await cleanup(reg.dir);
  }
});

Deno.test("strict mode refuses replayed, stale and future-dated requests", async () => {
  const reg = await startRegistry();
  const raw = await RawConn.open(reg.addr.port);
  const raw2 = await RawConn.open(reg.addr.port);
  try {
    const a = await registeredClient(reg.address);
    const id = a.identity!.nodeId;
    const msg = await signRequest({ type: "set_visibility", node_id: id, public: true }, a.identity!.seed);
    assertEquals((await raw.call(msg)).type, "set_visibility_ok");
    const again = await raw.call(msg);
    assertMatch(String(again.error), /replayed request/);
    const elsewhere = await raw2.call(msg); // on another connection too
    assertMatch(String(elsewhere.error), /replayed request/);
    const stale = await signRequest(
      { type: "heartbeat", node_id: id },
      a.identity!.seed,
      Date.now() - 120_000,
    );
    assertMatch(String((await raw.call(stale)).error), /outside the ±60 s window/);
    const future = await signRequest(
      { type: "heartbeat", node_id: id },
      a.identity!.seed,
      Date.now() + 120_000,
    );
    assertMatch(String((await raw.call(future)).error), /outside the ±60 s window/);
    // Reference-style static signatures are not accepted in strict mode.
    const sig = toBase64(signEd25519(a.identity!.seed, utf8(`heartbeat:${id}`)));
    const r = await raw.call({ type: "heartbeat", node_id: id, signature: sig });
    assertMatch(String(r.error), /accepted only with --compat reference/);
    a.close();
  } finally {
    raw.close();
    raw2.close();
    await reg.close();
    await cleanup(reg.dir);
  }
});

Deno.test("a request captured before a restart cannot be replayed after it", async () => {
  const first = await startRegistry();
  const dir = first.dir;
  let captured: WireMessage;
  let id: number;
  {
    const a = await registeredClient(first.address);
    id = a.identity!.nodeId;
    captured = await signRequest({ type: "set_visibility", node_id: id, public: true }, a.identity!.seed);
    const raw = await RawConn.open(first.addr.port);
    assertEquals((await raw.call(captured)).type, "set_visibility_ok");
    raw.close();
    a.close();
    await first.close();
  }
  await new Promise((r) => setTimeout(r, 5));
  const second = await startRegistry({ dir });
  try {
    const raw = await RawConn.open(second.addr.port);
    assertMatch(String((await raw.call(captured)).error), /predates the registry's start/);
    raw.close();
  } finally {
    await second.close();
    await cleanup(dir);
  }
});

Deno.test("admin token: compared exactly, wrong or missing refused and audited; disabled when unset", async () => {
  const reg = await startRegistry();
  const raw = await RawConn.open(reg.addr.port);
  try {
    const a = await registeredClient(reg.address);
    const id = a.identity!.nodeId;
    for (const token of ["", "x", ADMIN_TOKEN.slice(0, -1), ADMIN_TOKEN + "x"]) {
      const r = await raw.call({ type: "deregister", node_id: id, admin_token: token });
      assertEquals(r.type, "error", `token ${JSON.stringify(token)}`);
    }
    assertEquals((await raw.call({ type: "get_audit_log", admin_token: "nope" })).code, "unauthorized");
    assertEquals(
      (await raw.call({ type: "deregister", node_id: id, admin_token: ADMIN_TOKEN })).type,
      "deregister_ok",
    );
    a.close();
  } finally {
    raw.close();
    await reg.close();
    await cleanup(reg.dir);
  }
  const off = await startRegistry({ adminToken: "" });
  const raw2 = await RawConn.open(off.addr.port);
  try {
    const r = await raw2.call({ type: "create_network", name: "x", admin_token: "" });
    assertMatch(String(r.error), /admin operations are disabled/);
  } finally {
    raw2.close();
    await off.close();
    await cleanup(off.dir);
  }
});

Deno.test("audit trail: actor and old/new values for security-relevant changes, filtered by network, bounded", async () => {
  const reg = await startRegistry({ auditCapacity: 50 });
  const admin = new RegistryClient({ address: reg.address, adminToken: ADMIN_TOKEN });
  try {
    const a = await registeredClient(reg.address, {}, { hostname: "aud" });
    const b = await registeredClient(reg.address);
    const [ia, ib] = [a.identity!.nodeId, b.identity!.nodeId];
    await a.setVisibility(true);
    await a.reportTrust(ib);
    await a.revokeTrust(ib);
    const net = await admin.plain(
      { type: "create_network", name: "aud-net", node_id: ia, enterprise: true },
      {
        admin: true,
      },
    );
    const nid = net.network_id as number;
    await b.joinNetwork(nid);
    await a.promoteMember(nid, ib);
    await a.setNetworkPolicy(nid, { max_members: 9 });
    await a.setKeyExpiry(new Date(Date.now() + 86_400_000 * 30));
    await a.rotateKey(generateEd25519KeyPair().seed);
    const all = (await admin.getAuditLog({ limit: 1000 })).entries as WireMessage[];
    const find = (action: string) => all.find((e) => e.action === action)!;
    assert(all.some((e) => e.action === "node.registered" && e.node_id === ia && e.actor === `node:${ia}`));
    assertEquals([find("visibility.changed").old, find("visibility.changed").new], ["private", "public"]);
    assertEquals(find("visibility.changed").actor, `node:${ia}`);
    assertMatch(String(find("trust.created").details), new RegExp(`node_a=${ia}, node_b=${ib}`));
    assert(find("trust.revoked"));
    assertEquals(find("network.created").actor, "admin");
    assertEquals([find("member.promoted").old, find("member.promoted").new], ["member", "admin"]);
    assertEquals((find("network.policy_changed").new as { max_members: number }).max_members, 9);
    assertEquals(find("key.expiry_set").old, null);
    assert(find("key.rotated").old !== find("key.rotated").new);
    assert(typeof find("hostname.changed").timestamp === "string");
    // Newest first, filtered by network.
    const netOnly = (await admin.getAuditLog({ networkId: nid })).entries as WireMessage[];
    assert(netOnly.length >= 4 && netOnly.every((e) => e.network_id === nid));
    assertEquals(netOnly[0].action, "network.policy_changed");
    // Bounded ring.
    for (let i = 0; i < 60; i++) await a.setTags([`t${i}`]);
    assertEquals(((await admin.getAuditLog({ limit: 1000 })).entries as unknown[]).length, 50);
    await assertRejects(() => a.plain({ type: "get_audit_log" }), RegistryReplyError, /admin token required/);
    a.close();
    b.close();
  } finally {
    admin.close();
    await reg.close();
    await cleanup(reg.dir);
  }
});

Deno.test("polo score: strict mode needs a signing reporter or the admin; a node may only lower its own", async () => {
  const reg = await startRegistry();
  const admin = new RegistryClient({ address: reg.address, adminToken: ADMIN_TOKEN });
  const raw = await RawConn.open(reg.addr.port);
  try {
    const a = await registeredClient(reg.address);
    const b = await registeredClient(reg.address);
    const [ia, ib] = [a.identity!.nodeId, b.identity!.nodeId];
    assertEquals((await b.updatePoloScore(ia, -3)).polo_score, -3);
    await assertRejects(() => a.updatePoloScore(ia, 100), RegistryReplyError, /raise your own polo score/);
    assertEquals((await a.updatePoloScore(ia, -1)).polo_score, -4); // spending its own point
    assertEquals((await raw.call({ type: "update_polo_score", node_id: ia, delta: 5 })).type, "error");
    assertEquals((await raw.call({ type: "set_polo_score", node_id: ia, polo_score: 5 })).type, "error");
    await assertRejects(() => b.updatePoloScore(ia, 2_000_000), RegistryReplyError, /within/);
    assertEquals((await admin.setPoloScore(ia, 999_999)).polo_score, 999_999);
    assertEquals((await b.updatePoloScore(ia, 1_000_000)).polo_score, 1_000_000); // clamped
    assertEquals((await raw.call({ type: "get_polo_score", node_id: ia })).polo_score, 1_000_000);
    assertEquals((await a.lookup(ia)).polo_score, 1_000_000);
    assertEquals((await a.getPoloScore(ib)).polo_score, 0);
    a.close();
    b.close();
  } finally {
    admin.close();
    raw.close();
    await reg.close();
    await cleanup(reg.dir);
  }
});

Deno.test("beacons: admin-registered in strict mode, listed until their TTL", async () => {
  const reg = await startRegistry();
  const admin = new RegistryClient({ address: reg.address, adminToken: ADMIN_TOKEN });
  const raw = await RawConn.open(reg.addr.port);
  try {
    assertEquals(
      (await raw.call({ type: "beacon_register", beacon_id: 7, addr: "127.0.0.1:9001" })).type,
      "error",
    );
    assertEquals((await admin.beaconRegister(7, "127.0.0.1:9001")).beacon_id, 7);
    await admin.beaconRegister(7, "127.0.0.1:9001");
    assertEquals((await raw.call({ type: "beacon_list" })).beacons, [{ id: 7, addr: "127.0.0.1:9001" }]);
    await assertRejects(() => admin.beaconRegister(0, "x:1"), RegistryReplyError, /beacon_id required/);
    const audits = ((await admin.getAuditLog()).entries as WireMessage[]).filter((e) =>
      e.action === "beacon.registered"
    );
    assertEquals(audits.length, 1); // refreshes are not audited
    reg.registry.beacons.get(7)!.expires = Date.now() - 1;
    assertEquals((await raw.call({ type: "beacon_list" })).beacons, []);
  } finally {
    admin.close();
    raw.close();
    await reg.close();
    await cleanup(reg.dir);
  }
});
