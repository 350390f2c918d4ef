/** Networks: lifecycle, join rules, invites, policies, the enterprise flag, and the RBAC matrix. */
import { assert, assertEquals, assertMatch, assertRejects } from "../assert.ts";
import { RegistryClient, RegistryReplyError } from "../../lib/registry/client.ts";
import type { WireMessage } from "../../lib/registry/wire.ts";
import { ADMIN_TOKEN, cleanup, RawConn, registeredClient, startRegistry } from "./helpers.ts";
import { closeQuietly } from "../../lib/errors.ts";

Deno.test("create / join (open, token) / leave / rename / delete, with their refusals", async () => {
  const reg = await startRegistry();
  const admin = new RegistryClient({ address: reg.address, adminToken: ADMIN_TOKEN });
  const raw = await RawConn.open(reg.addr.port);
  try {
    const a = await registeredClient(reg.address);
    const b = await registeredClient(reg.address);
    const [ia, ib] = [a.identity!.nodeId, b.identity!.nodeId];
    // create_network is admin-only and validated.
    const noTok = await raw.call({ type: "create_network", name: "x" });
    assertMatch(String(noTok.error), /admin token required/);
    const badTok = await raw.call({ type: "create_network", name: "x", admin_token: "wrong" });
    assertMatch(String(badTok.error), /invalid admin token/);
    for (
      const [name, re] of [["", /required/], ["Bad", /lowercase/], ["backbone", /reserved/], [
        "a".repeat(64),
        /too long/,
      ]]
    ) {
      await assertRejects(
        () => admin.createNetwork({ name: name as string }),
        RegistryReplyError,
        re as RegExp,
      );
    }
    await assertRejects(
      () => admin.createNetwork({ name: "inv", joinRule: "invite" }),
      RegistryReplyError,
      /enterprise/,
    );
    await assertRejects(
      () => admin.createNetwork({ name: "tok", joinRule: "token" }),
      RegistryReplyError,
      /token required/,
    );
    const open = await admin.plain({ type: "create_network", name: "open-net", node_id: ia }, {
      admin: true,
    });
    assertEquals([open.network_id, open.name, open.enterprise], [1, "open-net", false]);
    await assertRejects(
      () => admin.createNetwork({ name: "open-net" }),
      RegistryReplyError,
      /already exists/,
    );
    assertEquals((await a.getMemberRole(1, ia)).role, "owner");
    // join: open
    const j = await b.joinNetwork(1);
    assertEquals(j.address, `1:0001.0000.${ib.toString(16).toUpperCase().padStart(4, "0")}`);
    await assertRejects(() => b.joinNetwork(1), RegistryReplyError, /already in network/);
    await assertRejects(() => b.joinNetwork(0), RegistryReplyError, /cannot join the backbone/);
    await assertRejects(() => b.joinNetwork(42), RegistryReplyError, /network 42 not found/);
    assertEquals((await raw.call({ type: "join_network", node_id: ib, network_id: 1 })).code, "unauthorized");
    // join: token
    const tok = await admin.createNetwork({ name: "tok-net", joinRule: "token", token: "open-sesame" });
    const tid = tok.network_id as number;
    await assertRejects(() => b.joinNetwork(tid), RegistryReplyError, /invalid token/);
    await assertRejects(() => b.joinNetwork(tid, "wrong"), RegistryReplyError, /invalid token/);
    // The admin token authenticates but does not bypass the rule.
    const viaAdmin = await admin.plain({ type: "join_network", node_id: ib, network_id: tid }, {
      admin: true,
    }).catch((e) => e);
    assertMatch(String(viaAdmin.message), /invalid token/);
    await b.joinNetwork(tid, "open-sesame");
    // leave
    assertEquals((await b.leaveNetwork(tid)).network_id, tid);
    await assertRejects(() => b.leaveNetwork(tid), RegistryReplyError, /not a member/);
    await assertRejects(() => b.leaveNetwork(0), RegistryReplyError, /cannot leave the backbone/);
    // rename / delete by the owner; refused for a plain member.
    await assertRejects(
      () => b.renameNetwork(1, "renamed"),
      RegistryReplyError,
      /rbac: node \d+ has role member/,
    );
    assertEquals((await a.renameNetwork(1, "renamed")).name, "renamed");
    await assertRejects(() => a.renameNetwork(1, "tok-net"), RegistryReplyError, /already exists/);
    await assertRejects(() => b.deleteNetwork(1), RegistryReplyError, /rbac/);
    assertEquals((await a.deleteNetwork(1)).network_id, 1);
    assertEquals((await b.lookup(ib)).networks, [0]);
    await assertRejects(() => a.deleteNetwork(0), RegistryReplyError, /backbone/);
    // The reference's weakness: a claimed node_id without a signature is not a role.
    const claimed = await raw.call({ type: "delete_network", network_id: tid, node_id: ia });
    assertEquals(claimed.code, "unauthorized");
    a.close();
    b.close();
  } finally {
    admin.close();
    raw.close();
    await reg.close();
    await cleanup(reg.dir);
  }
});

Deno.test("invites: invite-only enterprise network, poll, accept/reject, max_members at invite and accept", async () => {
  const reg = await startRegistry();
  const admin = new RegistryClient({ address: reg.address, adminToken: ADMIN_TOKEN });
  try {
    const owner = await registeredClient(reg.address);
    const x = await registeredClient(reg.address);
    const y = await registeredClient(reg.address);
    const z = await registeredClient(reg.address);
    const [io, ix, iy, iz] = [owner, x, y, z].map((c) => c.identity!.nodeId);
    const net = await admin.plain(
      { type: "create_network", name: "corp", join_rule: "invite", enterprise: true, node_id: io },
      { admin: true },
    );
    const nid = net.network_id as number;
    await assertRejects(() => x.joinNetwork(nid), RegistryReplyError, /invite-only/);
    await assertRejects(() => owner.inviteToNetwork(nid, io), RegistryReplyError, /yourself/);
    await assertRejects(() => x.inviteToNetwork(nid, y.identity!.nodeId), RegistryReplyError, /not a member/);
    assertEquals((await owner.inviteToNetwork(nid, ix)).target_node_id, ix);
    assertEquals((await owner.inviteToNetwork(nid, ix)).status, "already_invited");
    const inv = await x.pollInvites();
    assertEquals((inv.invites as { network_id: number; inviter_id: number }[])[0].inviter_id, io);
    assertEquals(((await x.pollInvites()).invites as unknown[]).length, 1); // not consumed by polling
    assertEquals((await x.respondInvite(nid, true)).accepted, true);
    assertEquals((await x.getMemberRole(nid, ix)).role, "member");
    await assertRejects(() => x.respondInvite(nid, true), RegistryReplyError, /no pending invite/);
    await owner.inviteToNetwork(nid, iy);
    assertEquals((await y.respondInvite(nid, false)).accepted, false);
    assertEquals(((await y.pollInvites()).invites as unknown[]).length, 0);
    // Members cannot invite.
    await assertRejects(() => x.inviteToNetwork(nid, iz), RegistryReplyError, /has role member/);
    // max_members: 3 members max; owner + x = 2; invite y; z's invite is refused once full.
    await owner.setNetworkPolicy(nid, { max_members: 3 });
    await owner.inviteToNetwork(nid, iy);
    await owner.inviteToNetwork(nid, iz);
    await y.respondInvite(nid, true);
    await assertRejects(() => z.respondInvite(nid, true), RegistryReplyError, /membership limit/);
    assertEquals(((await z.pollInvites()).invites as unknown[]).length, 1); // kept after the refusal
    const w = await registeredClient(reg.address);
    await assertRejects(
      () => owner.inviteToNetwork(nid, w.identity!.nodeId),
      RegistryReplyError,
      /membership limit/,
    );
    for (const c of [owner, x, y, z, w]) c.close();
  } finally {
    admin.close();
    await reg.close();
    await cleanup(reg.dir);
  }
});

Deno.test("policies: validation, enterprise gate, max_members on join, allowed_ports stored", async () => {
  const reg = await startRegistry();
  const admin = new RegistryClient({ address: reg.address, adminToken: ADMIN_TOKEN });
  try {
    const owner = await registeredClient(reg.address);
    const a = await registeredClient(reg.address);
    const b = await registeredClient(reg.address);
    const net = await admin.plain({ type: "create_network", name: "p", node_id: owner.identity!.nodeId }, {
      admin: true,
    });
    const nid = net.network_id as number;
    await assertRejects(
      () => owner.setNetworkPolicy(nid, { max_members: 2 }),
      RegistryReplyError,
      /enterprise feature/,
    );
    assertEquals((await admin.setNetworkEnterprise(nid, true)).enterprise, true);
    await assertRejects(
      () => owner.setNetworkPolicy(nid, { max_members: -1 }),
      RegistryReplyError,
      /max_members/,
    );
    await assertRejects(
      () => owner.setNetworkPolicy(nid, { allowed_ports: [0] }),
      RegistryReplyError,
      /allowed_ports/,
    );
    await assertRejects(
      () => owner.setNetworkPolicy(nid, { description: "x".repeat(300) }),
      RegistryReplyError,
      /too long/,
    );
    const set = await owner.setNetworkPolicy(nid, {
      max_members: 2,
      allowed_ports: [80, 443, 80],
      description: "web",
    });
    assertEquals([set.max_members, set.allowed_ports, set.description], [2, [80, 443], "web"]);
    const got = await a.getNetworkPolicy(nid);
    assertEquals([got.max_members, got.allowed_ports, got.description], [2, [80, 443], "web"]);
    await a.joinNetwork(nid);
    await assertRejects(() => b.joinNetwork(nid), RegistryReplyError, /membership limit/);
    await assertRejects(
      () => owner.setNetworkPolicy(nid, { max_members: 1 }),
      RegistryReplyError,
      /below the current/,
    );
    // Only present keys change.
    const partial = await owner.setNetworkPolicy(nid, { description: "api" });
    assertEquals([partial.max_members, partial.allowed_ports], [2, [80, 443]]);
    const list = (await a.listNetworks()).networks as WireMessage[];
    assertEquals([list[1].max_members, list[1].description], [2, "api"]);
    for (const c of [owner, a, b]) c.close();
  } finally {
    admin.close();
    await reg.close();
    await cleanup(reg.dir);
  }
});

Deno.test("enterprise flag is admin-only; an owner cannot leave an enterprise network", async () => {
  const reg = await startRegistry();
  const admin = new RegistryClient({ address: reg.address, adminToken: ADMIN_TOKEN });
  try {
    const owner = await registeredClient(reg.address);
    const net = await admin.plain({ type: "create_network", name: "e", node_id: owner.identity!.nodeId }, {
      admin: true,
    });
    const nid = net.network_id as number;
    await assertRejects(
      () => owner.plain({ type: "set_network_enterprise", network_id: nid, enterprise: true }),
      RegistryReplyError,
      /admin token required/,
    );
    await admin.setNetworkEnterprise(nid, true);
    await assertRejects(() => owner.leaveNetwork(nid), RegistryReplyError, /transfer ownership first/);
    await assertRejects(() => admin.setNetworkEnterprise(0, true), RegistryReplyError, /backbone/);
    const audit = await admin.getAuditLog({ networkId: nid });
    const change = (audit.entries as WireMessage[]).find((e) => e.action === "network.enterprise_changed")!;
    assertEquals([change.old, change.new, change.actor], [false, true, "admin"]);
    owner.close();
  } finally {
    admin.close();
    await closeQuietly(reg);
    await cleanup(reg.dir);
  }
});

type Actor = "owner" | "admin" | "member" | "outsider" | "network-token" | "global-admin";
type Op = "kick" | "promote" | "demote" | "transfer" | "rename" | "policy" | "delete" | "invite";

/** Minimum roles: owner-only ops and owner-or-admin ops; tokens pass everything. */
const ALLOWED: Record<Op, Actor[]> = {
  kick: ["owner", "admin", "network-token", "global-admin"],
  promote: ["owner", "network-token", "global-admin"],
  demote: ["owner", "network-token", "global-admin"],
  transfer: ["owner", "network-token", "global-admin"],
  rename: ["owner", "admin", "network-token", "global-admin"],
  policy: ["owner", "admin", "network-token", "global-admin"],
  delete: ["owner", "network-token", "global-admin"],
  invite: ["owner", "admin", "network-token", "global-admin"],
};

Deno.test("RBAC matrix: each role × each gated operation", async () => {
  const reg = await startRegistry();
  const admin = new RegistryClient({ address: reg.address, adminToken: ADMIN_TOKEN });
  const people = {
    owner: await registeredClient(reg.address),
    admin: await registeredClient(reg.address),
    member: await registeredClient(reg.address),
    outsider: await registeredClient(reg.address),
  };
  const id = (who: keyof typeof people) => people[who].identity!.nodeId;
  let seq = 0;
  try {
    for (const op of Object.keys(ALLOWED) as Op[]) {
      for (
        const actor of ["owner", "admin", "member", "outsider", "network-token", "global-admin"] as Actor[]
      ) {
        seq++;
        const netToken = `net-token-${seq}`;
        const target = await registeredClient(reg.address);
        const tid = target.identity!.nodeId;
        const rule = op === "invite" ? "invite" : "open";
        const net = await admin.plain({
          type: "create_network",
          name: `rbac-${seq}`,
          node_id: id("owner"),
          enterprise: true,
          join_rule: rule,
          network_admin_token: netToken,
        }, { admin: true });
        const nid = net.network_id as number;
        const members = op === "invite"
          ? [people.admin, people.member]
          : [people.admin, people.member, target];
        for (const m of members) {
          if (rule === "invite") {
            await admin.plain({
              type: "invite_to_network",
              network_id: nid,
              inviter_id: id("owner"),
              target_node_id: m.identity!.nodeId,
            }, { admin: true });
            await m.respondInvite(nid, true);
          } else await m.joinNetwork(nid);
        }
        await admin.plain({ type: "promote_member", network_id: nid, target_node_id: id("admin") }, {
          admin: true,
        });
        if (op === "demote") {
          await admin.plain({ type: "promote_member", network_id: nid, target_node_id: tid }, {
            admin: true,
          });
        }
        const body: Record<Op, WireMessage> = {
          kick: { type: "kick_member", network_id: nid, target_node_id: tid },
          promote: { type: "promote_member", network_id: nid, target_node_id: tid },
          demote: { type: "demote_member", network_id: nid, target_node_id: tid },
          transfer: { type: "transfer_ownership", network_id: nid, new_owner_id: tid },
          rename: { type: "rename_network", network_id: nid, name: `renamed-${seq}` },
          policy: { type: "set_network_policy", network_id: nid, max_members: 50 },
          delete: { type: "delete_network", network_id: nid },
          invite: { type: "invite_to_network", network_id: nid, target_node_id: tid },
        };
        const msg = body[op];
        let reply: WireMessage | Error;
        const send = (c: RegistryClient, m: WireMessage, signed: boolean) =>
          (signed ? c.signed(m) : c.request(m)).catch((e: Error) => e);
        if (actor === "global-admin") {
          reply = await send(admin, {
            ...msg,
            ...(op === "invite" ? { inviter_id: id("owner") } : {}),
            admin_token: ADMIN_TOKEN,
          }, false);
        } else if (actor === "network-token") {
          // An outsider's signature plus the network's own admin token.
          const field = op === "invite" ? "inviter_id" : "node_id";
          reply = await send(
            people.outsider,
            { ...msg, [field]: id("outsider"), admin_token: netToken },
            true,
          );
        } else {
          const field = op === "invite" ? "inviter_id" : "node_id";
          reply = await send(people[actor], { ...msg, [field]: id(actor) }, true);
        }
        const label = `${op} by ${actor}`;
        const expectOk = ALLOWED[op].includes(actor);
        if (expectOk) {
          assert(!(reply instanceof Error), `${label}: ${reply instanceof Error ? reply.message : ""}`);
          assertEquals((reply as WireMessage).type, `${msg.type}_ok`, label);
        } else {
          assert(reply instanceof RegistryReplyError, label);
          assert(["forbidden", "unauthorized"].includes(reply.code ?? ""), `${label}: ${reply.message}`);
        }
        target.close();
      }
    }
  } finally {
    for (const c of Object.values(people)) c.close();
    admin.close();
    await reg.close();
    await cleanup(reg.dir);
  }
});

Deno.test("role state checks: owner unkickable, admins only kicked by the owner, transfer demotes the old owner", async () => {
  const reg = await startRegistry();
  const admin = new RegistryClient({ address: reg.address, adminToken: ADMIN_TOKEN });
  try {
    const [o, a1, a2, m] = await Promise.all([0, 1, 2, 3].map(() => registeredClient(reg.address)));
    const net = await admin.plain(
      { type: "create_network", name: "roles", node_id: o.identity!.nodeId, enterprise: true },
      { admin: true },
    );
    const nid = net.network_id as number;
    for (const c of [a1, a2, m]) await c.joinNetwork(nid);
    await o.promoteMember(nid, a1.identity!.nodeId);
    await o.promoteMember(nid, a2.identity!.nodeId);
    await assertRejects(
      () => o.promoteMember(nid, a1.identity!.nodeId),
      RegistryReplyError,
      /already an admin/,
    );
    await assertRejects(() => o.demoteMember(nid, m.identity!.nodeId), RegistryReplyError, /not an admin/);
    await assertRejects(
      () => a1.kickMember(nid, o.identity!.nodeId),
      RegistryReplyError,
      /cannot kick the network owner/,
    );
    await assertRejects(() => a1.kickMember(nid, a2.identity!.nodeId), RegistryReplyError, /only the owner/);
    await a1.kickMember(nid, m.identity!.nodeId);
    await assertRejects(() => m.getMemberRole(nid, m.identity!.nodeId), RegistryReplyError, /not a member/);
    const t = await o.transferOwnership(nid, a2.identity!.nodeId);
    assertEquals([t.old_owner, t.new_owner], [o.identity!.nodeId, a2.identity!.nodeId]);
    assertEquals((await o.getMemberRole(nid, o.identity!.nodeId)).role, "admin");
    assertEquals((await o.getMemberRole(nid, a2.identity!.nodeId)).role, "owner");
    for (const c of [o, a1, a2, m]) c.close();
  } finally {
    admin.close();
    await reg.close();
    await cleanup(reg.dir);
  }
});
