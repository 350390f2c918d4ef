/** Trust declarations and the handshake relay. */
import { assert, assertEquals, assertMatch, assertRejects } from "../assert.ts";
import { toBase64, utf8 } from "../../lib/bytes.ts";
import { generateEd25519KeyPair, signEd25519, verifyEd25519 } from "../../lib/crypto/ed25519.ts";
import { fromBase64 } from "../../lib/bytes.ts";
import { RegistryClient, RegistryReplyError } from "../../lib/registry/client.ts";
import { ADMIN_TOKEN, cleanup, RawConn, registeredClient, startRegistry } from "./helpers.ts";

Deno.test("report_trust / check_trust / revoke_trust", async () => {
  const reg = await startRegistry();
  const raw = await RawConn.open(reg.addr.port);
  try {
    const a = await registeredClient(reg.address);
    const b = await registeredClient(reg.address);
    const [ia, ib] = [a.identity!.nodeId, b.identity!.nodeId];
    assertEquals((await a.checkTrust(ia, ib)).trusted, false);
    assertEquals((await a.reportTrust(ib)).type, "report_trust_ok");
    assertEquals((await b.checkTrust(ib, ia)).trusted, true);
    await assertRejects(() => a.reportTrust(ia), RegistryReplyError, /yourself/);
    await assertRejects(() => a.reportTrust(999), RegistryReplyError, /node 999 not found/);
    assertEquals((await raw.call({ type: "report_trust", node_id: ia, peer_id: ib })).code, "unauthorized");
    await b.revokeTrust(ia); // either side may end it
    assertEquals((await a.checkTrust(ia, ib)).trusted, false);
    await assertRejects(() => a.revokeTrust(ib), RegistryReplyError, /no trust pair/);
    // A shared non-backbone network also counts for check_trust.
    const admin = new RegistryClient({ address: reg.address, adminToken: ADMIN_TOKEN });
    const net = await admin.createNetwork({ name: "n1" });
    await a.joinNetwork(net.network_id as number);
    await b.joinNetwork(net.network_id as number);
    assertEquals((await a.checkTrust(ia, ib)).trusted, true);
    admin.close();
    a.close();
    b.close();
  } finally {
    raw.close();
    await reg.close();
    await cleanup(reg.dir);
  }
});

Deno.test("handshake relay: request, poll (with a verifiable signature), respond, trust in both directions", async () => {
  const reg = await startRegistry();
  try {
    const a = await registeredClient(reg.address);
    const b = await registeredClient(reg.address);
    const [ia, ib] = [a.identity!.nodeId, b.identity!.nodeId];
    const req = await a.requestHandshake(ib, "let me in");
    assertEquals(req.status, "delivered");
    await assertRejects(() => a.requestHandshake(ib), RegistryReplyError, /already pending/);
    const polled = await b.pollHandshakes();
    const reqs = polled.requests as { from_node_id: number; justification: string; signature: string }[];
    assertEquals(reqs.length, 1);
    assertEquals([reqs[0].from_node_id, reqs[0].justification], [ia, "let me in"]);
    // The receiver can verify the relayed signature against the sender's registered key.
    const key = fromBase64((await b.lookup(ia)).public_key as string);
    assert(verifyEd25519(key, utf8(`handshake:${ia}:${ib}`), fromBase64(reqs[0].signature)));
    assertEquals(((await b.pollHandshakes()).requests as unknown[]).length, 0); // delivered once
    const resp = await b.respondHandshake(ia, true);
    assertEquals([resp.accept, resp.peer_id], [true, ia]);
    const back = await a.pollHandshakes();
    const answer = (back.responses as { from_node_id: number; accept: boolean; timestamp: number }[])[0];
    assertEquals([answer.from_node_id, answer.accept, typeof answer.timestamp], [ib, true, "number"]);
    // Both consented: each may resolve the other although both are private.
    assertEquals(typeof (await a.resolve(ib)).real_addr, "string");
    assertEquals(typeof (await b.resolve(ia)).real_addr, "string");
    a.close();
    b.close();
  } finally {
    await reg.close();
    await cleanup(reg.dir);
  }
});

Deno.test("handshake relay refusals: bad relayed signature, unsigned, unknown target, self; reject answer", async () => {
  const reg = await startRegistry();
  const raw = await RawConn.open(reg.addr.port);
  try {
    const a = await registeredClient(reg.address);
    const b = await registeredClient(reg.address);
    const [ia, ib] = [a.identity!.nodeId, b.identity!.nodeId];
    const forgedSig = toBase64(signEd25519(generateEd25519KeyPair().seed, utf8(`handshake:${ia}:${ib}`)));
    await assertRejects(
      () => a.signed({ type: "request_handshake", from_node_id: ia, to_node_id: ib, signature: forgedSig }),
      RegistryReplyError,
      /handshake:/,
    );
    await assertRejects(
      () => a.signed({ type: "request_handshake", from_node_id: ia, to_node_id: ib }),
      RegistryReplyError,
      /signature verification failed/,
    );
    // A genuine relayed signature without the fresh auth (a replayable static form) is not enough in strict mode.
    const realSig = toBase64(signEd25519(a.identity!.seed, utf8(`handshake:${ia}:${ib}`)));
    const r = await raw.call({
      type: "request_handshake",
      from_node_id: ia,
      to_node_id: ib,
      signature: realSig,
    });
    assertEquals(r.code, "unauthorized");
    await assertRejects(() => a.requestHandshake(999), RegistryReplyError, /not found/);
    await assertRejects(() => a.requestHandshake(ia), RegistryReplyError, /yourself/);
    await a.requestHandshake(ib);
    await b.pollHandshakes();
    await b.respondHandshake(ia, false);
    const back = await a.pollHandshakes();
    assertEquals((back.responses as { accept: boolean }[])[0].accept, false);
    await assertRejects(() => a.resolve(ib), RegistryReplyError, /resolve denied/);
    // Answering a request that was never made grants only the responder's own consent.
    const c = await registeredClient(reg.address);
    await c.respondHandshake(ia, true);
    assertEquals(typeof (await a.resolve(c.identity!.nodeId)).real_addr, "string");
    await assertRejects(() => c.resolve(ia), RegistryReplyError, /resolve denied/);
    c.close();
    a.close();
    b.close();
  } finally {
    raw.close();
    await reg.close();
    await cleanup(reg.dir);
  }
});

Deno.test("auto-approval: a target that already trusts the requester, and mutual requests", async () => {
  const reg = await startRegistry();
  try {
    const a = await registeredClient(reg.address);
    const b = await registeredClient(reg.address);
    const c = await registeredClient(reg.address);
    const [ia, ib, ic] = [a.identity!.nodeId, b.identity!.nodeId, c.identity!.nodeId];
    // b already trusts a: a's request is approved by the registry at once.
    await b.reportTrust(ia);
    const r = await a.requestHandshake(ib);
    assertEquals([r.auto_approved, r.reason], [true, "trusted"]);
    assertEquals(((await b.pollHandshakes()).requests as unknown[]).length, 0);
    assertEquals(((await a.pollHandshakes()).responses as { accept: boolean }[])[0].accept, true);
    assertEquals(typeof (await b.resolve(ia)).real_addr, "string");
    // Mutual: c asks a, then a asks c before answering: both are approved.
    await c.requestHandshake(ia);
    const m = await a.requestHandshake(ic);
    assertEquals([m.auto_approved, m.reason], [true, "mutual"]);
    const forA = await a.pollHandshakes();
    const forC = await c.pollHandshakes();
    assertEquals((forA.requests as unknown[]).length, 0);
    assertEquals((forA.responses as { from_node_id: number }[])[0].from_node_id, ic);
    assertEquals((forC.responses as { from_node_id: number }[])[0].from_node_id, ia);
    assertEquals((await c.checkTrust(ia, ic)).trusted, true);
    for (const x of [a, b, c]) x.close();
  } finally {
    await reg.close();
    await cleanup(reg.dir);
  }
});

Deno.test("the handshake inbox is bounded", async () => {
  const reg = await startRegistry();
  try {
    const target = await registeredClient(reg.address);
    const tid = target.identity!.nodeId;
    const senders: RegistryClient[] = [];
    for (let i = 0; i < 101; i++) senders.push(await registeredClient(reg.address));
    for (let i = 0; i < 100; i++) await senders[i].requestHandshake(tid);
    const err = await senders[100].requestHandshake(tid).catch((e) => e);
    assertMatch(String(err.message), /inbox full/);
    for (const s of senders) s.close();
    target.close();
  } finally {
    await reg.close();
    await cleanup(reg.dir);
  }
});
