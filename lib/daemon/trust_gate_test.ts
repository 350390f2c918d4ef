/**
 * The privacy gate as the trust service uses it: the local deny set refuses first, the
 * local trusted set answers next, the registry last (a real in-process registry),
 * invalidation after a revocation is
 * never undone by an answer that was already on its way, and the session manager
 * answers a refused SYN with RST when asked to.
 */
import { assert, assertEquals } from "../../tests/assert.ts";
import { registeredClient, startRegistry } from "../../tests/registry/helpers.ts";
import { Logger } from "../log.ts";
import { TrustGate } from "./trust_gate.ts";
import { Address } from "../protocol/address.ts";
import { FLAG_RST, FLAG_SYN, PROTO_STREAM } from "../protocol/header.ts";
import type { Packet } from "../protocol/packet.ts";
import { SimNet } from "../transport/testing/sim.ts";

const quiet = new Logger("test", "silent");

Deno.test("gate: local trust first, then the registry; invalidate drops a stale verdict", async () => {
  const reg = await startRegistry();
  try {
    const a = await registeredClient(reg.address);
    const b = await registeredClient(reg.address);
    const c = await registeredClient(reg.address);
    const [ia, ib, ic] = [a.identity!.nodeId, b.identity!.nodeId, c.identity!.nodeId];
    const local = new Set<number>();
    let isPublic = false;
    const gate = new TrustGate(a, () => ia, () => isPublic, quiet, (n) => local.has(n));

    assertEquals(await gate.allows(ib), false); // nobody trusts anybody
    local.add(ib);
    assertEquals(gate.allows(ib), true); // answered synchronously from the local set
    local.delete(ib);

    await a.reportTrust(ic);
    gate.invalidate(ic);
    assertEquals(await gate.allows(ic), true); // registry pair
    assertEquals(gate.allows(ic), true); // cached
    await a.revokeTrust(ic);
    gate.invalidate(ic);
    assertEquals(await gate.allows(ic), false);
    assertEquals(gate.refused, 2);

    // A check started before a revocation must not be cached after it.
    await a.reportTrust(ic);
    gate.invalidate(ic);
    const early = gate.allows(ic);
    const revoked = a.revokeTrust(ic); // queued behind the check on the same connection
    gate.invalidate(ic);
    assertEquals(await early, true);
    await revoked;
    assertEquals(await gate.allows(ic), false, "the early 'trusted' answer was not cached");

    isPublic = true;
    assertEquals(gate.allows(ib), true);
    for (const x of [a, b, c]) x.close();
  } finally {
    await reg.close();
    if (reg.dir) await Deno.remove(reg.dir, { recursive: true });
  }
});

Deno.test("gate: a revoked peer is refused at once though the registry would admit it; public still admits it", async () => {
  const reg = await startRegistry();
  try {
    const a = await registeredClient(reg.address);
    const b = await registeredClient(reg.address);
    const [ia, ib] = [a.identity!.nodeId, b.identity!.nodeId];
    const denied = new Set<number>();
    const local = new Set<number>();
    let isPublic = false;
    const gate = new TrustGate(a, () => ia, () => isPublic, quiet, (n) => local.has(n), (n) => denied.has(n));

    await a.reportTrust(ib); // what a shared network also gives: check_trust says yes
    assertEquals(await gate.allows(ib), true);
    assertEquals(gate.refused, 0);

    denied.add(ib);
    // Answered synchronously (no registry round trip), even over a cached "trusted" and the local set.
    assertEquals(gate.allows(ib), false);
    local.add(ib);
    assertEquals(gate.allows(ib), false);
    assertEquals(gate.refused, 2, "counted like any other refusal");
    assertEquals(gate.allows(ia), true, "this node itself is never denied");

    isPublic = true; // a public node admits everyone, revoked or not
    assertEquals(gate.allows(ib), true);
    isPublic = false;

    denied.delete(ib); // trust re-established: the other rules apply again
    local.delete(ib);
    gate.invalidate(ib);
    assertEquals(await gate.allows(ib), true);
    assertEquals(gate.refused, 2);
    for (const x of [a, b]) x.close();
  } finally {
    await reg.close();
    if (reg.dir) await Deno.remove(reg.dir, { recursive: true });
  }
});

function syn(node: number, srcPort: number): Packet {
  return {
    version: 1,
    flags: FLAG_SYN,
    protocol: PROTO_STREAM,
    src: new Address(0, node),
    dst: new Address(0, 2),
    srcPort,
    dstPort: 1000,
    seq: 0,
    ack: 0,
    window: 512,
    payload: new Uint8Array(0),
  };
}

Deno.test("gate: with rstUntrusted the session manager refuses an untrusted SYN with RST (sync and async gates)", async () => {
  for (const trustGate of [() => false, () => Promise.resolve(false)]) {
    const net = new SimNet(1, { delayMs: 1 });
    const out: Packet[] = [];
    net.tap = (pkt) => out.push(pkt);
    const m = net.addNode(2, { trustGate, rstUntrusted: true });
    m.listen(1000);
    m.onPacket(syn(9, 50000));
    await new Promise((r) => setTimeout(r, 0));
    const rst = out.filter((p) => p.flags === FLAG_RST);
    assertEquals(rst.length, 1);
    assertEquals([rst[0].dst.node, rst[0].dstPort, rst[0].srcPort], [9, 50000, 1000]);
    assertEquals(m.counters.synUntrusted, 1);
    assert(m.liveConnections === 0);
  }
});
