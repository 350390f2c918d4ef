/** Discovery under the privacy model: the full public/private × trusted × shared-network matrix. */
import { assert, assertEquals, assertMatch, assertRejects } from "../assert.ts";
import { RegistryClient, RegistryReplyError } from "../../lib/registry/client.ts";
import { ADMIN_TOKEN, cleanup, RawConn, registeredClient, startRegistry } from "./helpers.ts";

Deno.test("privacy matrix: resolve, resolve_hostname, punch and lookup for every combination", async () => {
  const reg = await startRegistry();
  const admin = new RegistryClient({ address: reg.address, adminToken: ADMIN_TOKEN });
  const clients: RegistryClient[] = [admin];
  try {
    let n = 0;
    for (const isPublic of [true, false]) {
      for (const trusted of [true, false]) {
        for (const shared of [true, false]) {
          n++;
          const target = await registeredClient(reg.address, {}, {
            hostname: `target-${n}`,
            listenAddr: ":5000",
          });
          const requester = await registeredClient(reg.address);
          const bystander = await registeredClient(reg.address);
          clients.push(target, requester, bystander);
          const tid = target.identity!.nodeId;
          const rid = requester.identity!.nodeId;
          await target.setVisibility(isPublic);
          if (trusted) await target.reportTrust(rid);
          // The requester declaring trust on its own never opens the target.
          await requester.reportTrust(tid);
          if (shared) {
            const net = await admin.createNetwork({ name: `shared-${n}` });
            await target.joinNetwork(net.network_id as number);
            await requester.joinNetwork(net.network_id as number);
          }
          const expect = isPublic || trusted || shared;
          const label = `public=${isPublic} trusted=${trusted} shared=${shared}`;

          const resolved = await requester.resolve(tid).catch((e) => e);
          if (expect) assertEquals(resolved.real_addr, "127.0.0.1:5000", label);
          else {
            assert(resolved instanceof RegistryReplyError, label);
            assertMatch(resolved.message, /resolve denied: node \d+ is private/);
          }
          const byName = await requester.resolveHostname(`target-${n}`).catch((e) => e);
          if (expect) assertEquals(byName.node_id, tid, label);
          else assertMatch(String(byName.message), /not found/, label);
          const punched = await requester.punch(rid, tid).catch((e) => e);
          if (expect) assertEquals(punched.node_b_addr, "127.0.0.1:5000", label);
          else assertMatch(String(punched.message), /punch denied/, label);
          // lookup is anonymous: never a private endpoint.
          const looked = await bystander.lookup(tid);
          assertEquals(looked.real_addr, isPublic ? "127.0.0.1:5000" : undefined, label);
          // The target always resolves itself; an unrelated node only when public.
          assertEquals((await target.resolve(tid)).real_addr, "127.0.0.1:5000");
          const stranger = await bystander.resolve(tid).catch((e) => e);
          assertEquals(stranger instanceof RegistryReplyError, !isPublic, label);
        }
      }
    }
  } finally {
    for (const c of clients) c.close();
    await reg.close();
    await cleanup(reg.dir);
  }
});

Deno.test("resolve needs the requester's signature; resolve_hostname without one sees only public nodes", async () => {
  const reg = await startRegistry();
  const raw = await RawConn.open(reg.addr.port);
  try {
    const a = await registeredClient(reg.address, {}, { hostname: "pub" });
    const b = await registeredClient(reg.address, {}, { hostname: "priv" });
    await a.setVisibility(true);
    await b.reportTrust(a.identity!.nodeId);
    const r = await raw.call({
      type: "resolve",
      node_id: a.identity!.nodeId,
      requester_id: b.identity!.nodeId,
    });
    assertEquals(r.code, "unauthorized");
    assertEquals((await raw.call({ type: "resolve_hostname", hostname: "pub" })).node_id, a.identity!.nodeId);
    // An unsigned claim to be a trusted peer does not reveal a private name in strict mode.
    const claim = await raw.call({
      type: "resolve_hostname",
      hostname: "priv",
      requester_id: a.identity!.nodeId,
    });
    assertMatch(String(claim.error), /hostname "priv" not found/);
    assertEquals((await a.resolveHostname("priv")).node_id, b.identity!.nodeId);
    a.close();
    b.close();
  } finally {
    raw.close();
    await reg.close();
    await cleanup(reg.dir);
  }
});

Deno.test("list_nodes: backbone only for the admin; a network for its members, with private endpoints", async () => {
  const reg = await startRegistry();
  const raw = await RawConn.open(reg.addr.port);
  const admin = new RegistryClient({ address: reg.address, adminToken: ADMIN_TOKEN });
  try {
    const a = await registeredClient(reg.address, {}, { listenAddr: ":6001" });
    const b = await registeredClient(reg.address, {}, { listenAddr: ":6002" });
    const outsider = await registeredClient(reg.address);
    const r0 = await raw.call({ type: "list_nodes", network_id: 0 });
    assertMatch(String(r0.error), /listing backbone nodes is not permitted/);
    const wrong = await raw.call({ type: "list_nodes", network_id: 0, admin_token: "nope" });
    assertMatch(String(wrong.error), /invalid admin token/);
    const all = await admin.listNodes(0);
    assertEquals((all.nodes as unknown[]).length, 3);
    const page = await admin.listNodes(0, { limit: 2 });
    assertEquals((page.nodes as unknown[]).length, 2);
    assertEquals(page.next_after_node_id, 5);
    const rest = await admin.listNodes(0, { afterNodeId: 5 });
    assertEquals((rest.nodes as { node_id: number }[]).map((x) => x.node_id), [6]);

    const net = await admin.createNetwork({ name: "team", ...{} });
    const netId = net.network_id as number;
    await a.joinNetwork(netId);
    await b.joinNetwork(netId);
    const members = await a.listNodes(netId);
    const list = members.nodes as { node_id: number; address: string; real_addr?: string; role?: string }[];
    assertEquals(list.map((x) => x.node_id), [a.identity!.nodeId, b.identity!.nodeId]);
    assertEquals(list[1].address, `${netId}:${netId.toString(16).toUpperCase().padStart(4, "0")}.0000.0005`);
    assertEquals(list[1].real_addr, "127.0.0.1:6002"); // private, but a fellow member may see it
    assertEquals(list[1].role, "member");
    await assertRejects(() => outsider.listNodes(netId), RegistryReplyError, /requires membership/);
    const anon = await raw.call({ type: "list_nodes", network_id: netId });
    assertEquals(anon.type, "error");
    assertMatch(
      String((await raw.call({ type: "list_nodes", network_id: 999 })).error),
      /network 999 not found/,
    );
    a.close();
    b.close();
    outsider.close();
  } finally {
    admin.close();
    raw.close();
    await reg.close();
    await cleanup(reg.dir);
  }
});

Deno.test("list_networks includes the backbone and never shows tokens; lookup of unknown nodes fails", async () => {
  const reg = await startRegistry();
  const admin = new RegistryClient({ address: reg.address, adminToken: ADMIN_TOKEN });
  try {
    const a = await registeredClient(reg.address);
    await admin.createNetwork({ name: "secret", joinRule: "token", token: "s3cret" });
    const r = await a.listNetworks();
    const nets = r.networks as Record<string, unknown>[];
    assertEquals(nets[0], {
      id: 0,
      name: "backbone",
      members: 1,
      join_rule: "open",
      enterprise: false,
      created: 0,
    });
    assertEquals(nets[1].name, "secret");
    assert(!JSON.stringify(r).includes("s3cret"));
    await assertRejects(() => a.lookup(77), RegistryReplyError, /node 77 not found/);
    a.close();
  } finally {
    admin.close();
    await reg.close();
    await cleanup(reg.dir);
  }
});
