import fc from "fast-check";
import { assertEquals } from "../../../tests/assert.ts";
import { applyEvent } from "./apply.ts";
import type { RegistryEvent } from "./events.ts";
import { RegistryState } from "./model.ts";
import { snapshotOf, stateFromSnapshot } from "./snapshot.ts";

const KEYS = ["a", "b", "c", "d", "e", "f"].map((c) => btoa(c.repeat(32)));

/** A random event over a small id space, so events often hit existing nodes and networks. */
const eventArb: fc.Arbitrary<RegistryEvent> = fc.tuple(
  fc.integer({ min: 0, max: 24 }),
  fc.integer({ min: 4, max: 9 }),
  fc.integer({ min: 4, max: 9 }),
  fc.integer({ min: 1, max: 3 }),
  fc.boolean(),
  fc.integer({ min: 0, max: 1_000_000 }),
).map(([k, n, m, net, flag, t]): RegistryEvent => {
  const base = { t: 1_700_000_000_000 + t, actor: `node:${n}` };
  switch (k) {
    case 0:
      return {
        ...base,
        kind: "node.registered",
        node_id: n,
        public_key: KEYS[n - 4],
        owner: "",
        real_addr: `1.2.3.4:${n}`,
        lan_addrs: [],
        mode: "new",
      };
    case 1:
      return {
        ...base,
        kind: "node.registered",
        node_id: n,
        public_key: KEYS[n - 4],
        owner: "o",
        real_addr: "5.6.7.8:1",
        lan_addrs: ["10.0.0.1:1"],
        mode: flag ? "existing" : "revived",
      };
    case 2:
      return { ...base, kind: "node.deregistered", node_id: n };
    case 3:
      return { ...base, kind: "node.reaped", node_id: n };
    case 4:
      return { ...base, kind: "node.hostname_set", node_id: n, hostname: flag ? `h${m}` : "" };
    case 5:
      return { ...base, kind: "node.tags_set", node_id: n, tags: flag ? ["x", `t${m}`] : [] };
    case 6:
      return { ...base, kind: "node.visibility_set", node_id: n, public: flag };
    case 7:
      return { ...base, kind: "trust.created", node_a: n, node_b: m, via: "report" };
    case 8:
      return { ...base, kind: "trust.revoked", node_a: n, node_b: m };
    case 9:
      return {
        ...base,
        kind: "handshake.requested",
        from_node_id: n,
        to_node_id: m,
        justification: "j",
        signature: "s",
      };
    case 10:
      return { ...base, kind: "handshake.responded", node_id: n, peer_id: m, accept: flag };
    case 11:
      return { ...base, kind: "handshakes.polled", node_id: n };
    case 12:
      return {
        ...base,
        kind: "network.created",
        network_id: net,
        name: `net${net}`,
        join_rule: "open",
        token_hash: "",
        admin_token_hash: "",
        enterprise: flag,
        creator: n,
      };
    case 13:
      return { ...base, kind: "network.joined", network_id: net, node_id: n, via: "open" };
    case 14:
      return { ...base, kind: "network.left", network_id: net, node_id: n };
    case 15:
      return {
        ...base,
        kind: "member.role_set",
        network_id: net,
        node_id: n,
        role: flag ? "admin" : "member",
      };
    case 16:
      return { ...base, kind: "network.ownership_transferred", network_id: net, old_owner: m, new_owner: n };
    case 17:
      return { ...base, kind: "invite.created", network_id: net, inviter_id: m, target_node_id: n };
    case 18:
      return { ...base, kind: "invite.responded", network_id: net, node_id: n, accept: flag };
    case 19:
      return { ...base, kind: "network.policy_set", network_id: net, max_members: m, allowed_ports: [n] };
    case 20:
      return { ...base, kind: "network.deleted", network_id: net };
    case 21:
      return { ...base, kind: "key.rotated", node_id: n, public_key: KEYS[m - 4] };
    case 22:
      return { ...base, kind: "score.updated", node_id: n, delta: flag ? 900_000 : -5 };
    case 23:
      return { ...base, kind: "handshake.auto_approved", from_node_id: n, to_node_id: m, reason: "mutual" };
    default:
      return { ...base, kind: "node.purged", node_id: n };
  }
});

function run(events: RegistryEvent[], state = new RegistryState()): RegistryState {
  for (const ev of events) applyEvent(state, structuredClone(ev));
  return state;
}

Deno.test("applyEvent is deterministic: the same events always give the same state", () => {
  fc.assert(
    fc.property(fc.array(eventArb, { maxLength: 80 }), (events) => {
      const seqd = events.map((e, i) => ({ ...e, seq: i + 1 }));
      assertEquals(snapshotOf(run(seqd)), snapshotOf(run(seqd)));
    }),
    { numRuns: 200 },
  );
});

Deno.test("snapshot round trip: a restored state equals the original and evolves identically", () => {
  fc.assert(
    fc.property(
      fc.array(eventArb, { maxLength: 60 }),
      fc.array(eventArb, { maxLength: 30 }),
      (head, tail) => {
        const all = [...head, ...tail].map((e, i) => ({ ...e, seq: i + 1 }));
        const original = run(all.slice(0, head.length));
        const restored = stateFromSnapshot(JSON.parse(JSON.stringify(snapshotOf(original))));
        assertEquals(snapshotOf(restored), snapshotOf(original));
        assertEquals(restored.onlineCount, original.onlineCount);
        assertEquals([...restored.hostnameIndex], [...original.hostnameIndex]);
        assertEquals(
          [...restored.memberOf].map(([k, v]) => [k, [...v]]),
          [...original.memberOf].map(([k, v]) => [k, [...v]]),
        );
        run(all.slice(head.length), original);
        run(all.slice(head.length), restored);
        assertEquals(snapshotOf(restored), snapshotOf(original));
      },
    ),
    { numRuns: 200 },
  );
});

Deno.test("indexes stay consistent with the records under any event sequence", () => {
  fc.assert(
    fc.property(fc.array(eventArb, { maxLength: 120 }), (events) => {
      const s = run(events);
      let online = 0;
      for (const n of s.nodes.values()) {
        if (n.online) online++;
        if (n.hostname) assertEquals(s.hostnameIndex.get(n.hostname), n.id);
      }
      assertEquals(s.onlineCount, online);
      for (const [name, id] of s.hostnameIndex) assertEquals(s.nodes.get(id)?.hostname, name);
      for (const net of s.networks.values()) {
        for (const m of net.members) {
          assertEquals(s.memberOf.get(m)?.has(net.id), true);
          assertEquals(net.roles.has(m), true);
        }
        assertEquals(net.roles.size, net.members.size);
        assertEquals([...net.roles.values()].filter((r) => r === "owner").length <= 1, true);
      }
      for (const [node, nets] of s.memberOf) {
        for (const id of nets) assertEquals(s.networks.get(id)?.members.has(node), true);
      }
    }),
    { numRuns: 300 },
  );
});

Deno.test("the audit ring keeps the newest entries with old and new values", () => {
  const s = new RegistryState({ auditCapacity: 3 });
  const t = 1_700_000_000_000;
  run([
    {
      t,
      actor: "node:4",
      kind: "node.registered",
      node_id: 4,
      public_key: KEYS[0],
      owner: "",
      real_addr: "",
      lan_addrs: [],
      mode: "new",
    },
    { t, actor: "node:4", kind: "node.visibility_set", node_id: 4, public: true },
    { t, actor: "admin", kind: "node.hostname_set", node_id: 4, hostname: "x" },
    { t, actor: "node:4", kind: "node.tags_set", node_id: 4, tags: ["a"] },
  ], s);
  const newest = s.audit.newest(10);
  assertEquals(newest.map((e) => e.action), ["tags.changed", "hostname.changed", "visibility.changed"]);
  assertEquals([newest[2].old, newest[2].new, newest[1].actor], ["private", "public", "admin"]);
});

Deno.test("a reap stamped before the node's last heartbeat records 0 s ago, not -0 (which JSON turns into 0)", () => {
  // Found by the round-trip property (seed -565437271): -0 in the audit made the restored snapshot differ.
  const events: RegistryEvent[] = [
    {
      seq: 1,
      t: 1_700_000_000_001,
      actor: "node:8",
      kind: "node.registered",
      node_id: 8,
      public_key: KEYS[4],
      owner: "",
      real_addr: "1.2.3.4:8",
      lan_addrs: [],
      mode: "new",
    },
    { seq: 2, t: 1_700_000_000_000, actor: "node:8", kind: "node.reaped", node_id: 8 },
  ];
  const original = run(events);
  assertEquals(
    snapshotOf(stateFromSnapshot(JSON.parse(JSON.stringify(snapshotOf(original))))),
    snapshotOf(original),
  );
});
