/**
 * `--compat reference`: exactly what a reference daemon and pilotctl send (unsigned
 * registration, static-string signatures, unsigned score writes) is accepted, while
 * forgeries still fail and our signed clients keep working. Raw frames, no client library.
 */
import { assert, assertEquals, assertMatch } from "../assert.ts";
import { toBase64, utf8 } from "../../lib/bytes.ts";
import { generateEd25519KeyPair, signEd25519 } from "../../lib/crypto/ed25519.ts";
import type { WireMessage } from "../../lib/registry/wire.ts";
import { ADMIN_TOKEN, cleanup, RawConn, registeredClient, startRegistry } from "./helpers.ts";

const sig = (seed: Uint8Array, challenge: string) => toBase64(signEd25519(seed, utf8(challenge)));

/** A reference daemon's session: register, then the calls of docs/protocol/registry.md §14, static signatures only. */
async function referenceDaemon(conn: RawConn, hostname?: string) {
  const kp = generateEd25519KeyPair();
  const reg = await conn.call({
    type: "register",
    listen_addr: "0.0.0.0:37100",
    public_key: toBase64(kp.publicKey),
    lan_addrs: ["192.168.0.10:37100"],
  });
  const id = reg.node_id as number;
  const call = (m: WireMessage) => conn.call(m);
  return { kp, id, reg, call, hostname };
}

Deno.test("compat reference: a reference daemon's full session is accepted", async () => {
  const reg = await startRegistry({ compat: "reference" });
  const conn = await RawConn.open(reg.addr.port);
  const conn2 = await RawConn.open(reg.addr.port);
  try {
    const d = await referenceDaemon(conn);
    const seed = d.kp.seed;
    assertEquals(d.reg.type, "register_ok");
    assertEquals(d.reg.observed_addr, "127.0.0.1:37100");
    const id = d.id;
    const ok = async (m: WireMessage) => {
      const r = await d.call(m);
      assertEquals(r.type, `${m.type}_ok`, `${m.type}: ${r.error}`);
      return r;
    };
    await ok({
      type: "set_visibility",
      node_id: id,
      public: true,
      signature: sig(seed, `set_visibility:${id}`),
    });
    await ok({
      type: "set_hostname",
      node_id: id,
      hostname: "refd",
      signature: sig(seed, `set_hostname:${id}`),
    });
    await ok({ type: "set_tags", node_id: id, tags: ["ref"], signature: sig(seed, `set_tags:${id}`) });
    await ok({
      type: "set_task_exec",
      node_id: id,
      enabled: true,
      signature: sig(seed, `set_task_exec:${id}`),
    });
    const hb = await ok({ type: "heartbeat", node_id: id, signature: sig(seed, `heartbeat:${id}`) });
    assertEquals(typeof hb.time, "number");
    // A second reference daemon, and the trust/relay calls between them.
    const e = await referenceDaemon(conn2);
    const eid = e.id;
    await ok({
      type: "report_trust",
      node_id: id,
      peer_id: eid,
      signature: sig(seed, `report_trust:${id}:${eid}`),
    });
    const rs = await e.call({
      type: "resolve",
      node_id: id,
      requester_id: eid,
      signature: sig(e.kp.seed, `resolve:${eid}:${id}`),
    });
    assertEquals(rs.real_addr, "127.0.0.1:37100");
    const hs = await e.call({
      type: "request_handshake",
      from_node_id: eid,
      to_node_id: id,
      justification: "hi",
      signature: sig(e.kp.seed, `handshake:${eid}:${id}`),
    });
    assertEquals(hs.type, "request_handshake_ok");
    const polled = await ok({
      type: "poll_handshakes",
      node_id: id,
      signature: sig(seed, `poll_handshakes:${id}`),
    });
    assert(Array.isArray(polled.requests) && Array.isArray(polled.responses));
    await ok({
      type: "respond_handshake",
      node_id: id,
      peer_id: eid,
      accept: true,
      signature: sig(seed, `respond:${id}:${eid}`),
    });
    assertEquals((await d.call({ type: "check_trust", node_id: id, peer_id: eid })).trusted, true);
    // Networks: pilotctl creates with the admin token and node_id 0; the daemon joins with a static signature.
    const net = await d.call({
      type: "create_network",
      name: "refnet",
      admin_token: ADMIN_TOKEN,
      node_id: 0,
    });
    const nid = net.network_id as number;
    await ok({
      type: "join_network",
      node_id: id,
      network_id: nid,
      inviter_id: 0,
      signature: sig(seed, `join_network:${id}:${nid}`),
    });
    const members = await d.call({ type: "list_nodes", network_id: nid }); // unauthenticated, as the reference
    assertEquals((members.nodes as unknown[]).length, 1);
    await ok({ type: "update_polo_score", node_id: eid, delta: 1 }); // unsigned, as the reference sends it
    assertEquals((await d.call({ type: "get_polo_score", node_id: eid })).polo_score, 1);
    await ok({
      type: "leave_network",
      node_id: id,
      network_id: nid,
      signature: sig(seed, `leave_network:${id}:${nid}`),
    });
    // Re-registration after "3 failed heartbeats": unsigned, same key, same id.
    const again = await d.call({
      type: "register",
      listen_addr: ":37200",
      public_key: toBase64(d.kp.publicKey),
    });
    assertEquals([again.node_id, again.hostname], [id, "refd"]);
    // Shutdown in the reference is just a close; deregister is also accepted with its static signature.
    await ok({ type: "deregister", node_id: eid, signature: sig(e.kp.seed, `deregister:${eid}`) });
  } finally {
    conn.close();
    conn2.close();
    await reg.close();
    await cleanup(reg.dir);
  }
});

Deno.test("compat reference: forged static signatures fail, and our signed client still works", async () => {
  const reg = await startRegistry({ compat: "reference" });
  const conn = await RawConn.open(reg.addr.port);
  try {
    const d = await referenceDaemon(conn);
    const other = generateEd25519KeyPair().seed;
    const r = await d.call({
      type: "set_tags",
      node_id: d.id,
      tags: ["x"],
      signature: sig(other, `set_tags:${d.id}`),
    });
    assertEquals(r.code, "unauthorized");
    const wrongChallenge = await d.call({
      type: "set_tags",
      node_id: d.id,
      tags: ["x"],
      signature: sig(d.kp.seed, `set_visibility:${d.id}`),
    });
    assertEquals(wrongChallenge.code, "unauthorized");
    const unsigned = await d.call({ type: "set_tags", node_id: d.id, tags: ["x"] });
    assertMatch(String(unsigned.error), /signature required/);
    // Role-gated writes still need a token or a fresh signature: a claimed node_id is not enough.
    const net = await d.call({ type: "create_network", name: "n", admin_token: ADMIN_TOKEN, node_id: d.id });
    const del = await d.call({ type: "delete_network", network_id: net.network_id, node_id: d.id });
    assertEquals(del.code, "unauthorized");
    const ours = await registeredClient(reg.address);
    assertEquals((await ours.heartbeat()).type, "heartbeat_ok");
    ours.close();
  } finally {
    conn.close();
    await reg.close();
    await cleanup(reg.dir);
  }
});

Deno.test("strict mode refuses the reference daemon's unsigned registration and static signatures", async () => {
  const reg = await startRegistry({ compat: "strict" });
  const conn = await RawConn.open(reg.addr.port);
  try {
    const kp = generateEd25519KeyPair();
    const r = await conn.call({ type: "register", listen_addr: ":1", public_key: toBase64(kp.publicKey) });
    assertEquals(r.code, "unauthorized");
    const ours = await registeredClient(reg.address);
    const id = ours.identity!.nodeId;
    const hb = await conn.call({
      type: "heartbeat",
      node_id: id,
      signature: sig(ours.identity!.seed, `heartbeat:${id}`),
    });
    assertEquals(hb.code, "unauthorized");
    assertEquals((await conn.call({ type: "update_polo_score", node_id: id, delta: 1 })).type, "error");
    ours.close();
  } finally {
    conn.close();
    await reg.close();
    await cleanup(reg.dir);
  }
});

Deno.test("our client in reference signing mode talks to a compat registry", async () => {
  const reg = await startRegistry({ compat: "reference" });
  try {
    const a = await registeredClient(reg.address, { signing: "reference" });
    const b = await registeredClient(reg.address, { signing: "both" });
    await a.heartbeat();
    await b.heartbeat();
    await a.setTags(["x"]);
    await a.requestHandshake(b.identity!.nodeId);
    assertEquals(((await b.pollHandshakes()).requests as unknown[]).length, 1);
    a.close();
    b.close();
  } finally {
    await reg.close();
    await cleanup(reg.dir);
  }
});
