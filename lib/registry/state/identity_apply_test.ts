/** The identity events applied to an in-process state: effects, audit entries, snapshot round trip, cleanup. */
import { assert, assertEquals } from "../../../tests/assert.ts";
import { applyEvent } from "./apply.ts";
import type { RegistryEvent } from "./events.ts";
import { RegistryState } from "./model.ts";
import { snapshotOf, stateFromSnapshot } from "./snapshot.ts";
import { preAssignedRole } from "../identity/state.ts";
import type { NewEvent } from "../ops/context.ts";

const KEY = btoa(String.fromCharCode(...new Uint8Array(32).fill(7)));

function apply(s: RegistryState, events: NewEvent[]): void {
  let seq = s.seq;
  for (const ev of events) applyEvent(s, { t: 1_000 * ++seq, actor: "admin", seq, ...ev } as RegistryEvent);
}

Deno.test("identity events: external id, IdP (and its webhook URL), pre-assignments, syncs; snapshot round trip", () => {
  const s = new RegistryState();
  apply(s, [
    {
      kind: "node.registered",
      node_id: 4,
      public_key: KEY,
      owner: "",
      real_addr: "",
      lan_addrs: [],
      mode: "new",
    },
    {
      kind: "network.created",
      network_id: 1,
      name: "corp",
      join_rule: "open",
      token_hash: "",
      admin_token_hash: "",
      enterprise: true,
      creator: 0,
    },
    { kind: "identity.external_id_set", node_id: 4, external_id: "Alice@Corp" },
    { kind: "identity.external_id_set", node_id: 99, external_id: "ghost" }, // unknown node: no-op
    {
      kind: "idp.configured",
      idp: {
        type: "oidc",
        url: "http://idp/verify",
        issuer: "",
        client_id: "pilot",
        tenant_id: "",
        domain: "",
        jwks_url: "",
      },
    },
    {
      kind: "network.pre_assignments_set",
      network_id: 1,
      entries: [{ external_id: "alice@corp", role: "admin" }],
    },
    { kind: "network.pre_assignments_set", network_id: 42, entries: [{ external_id: "x", role: "admin" }] },
    { kind: "directory.synced", network_id: 1, total: 1, mapped: 0, unmapped: 1, updated: 0, disabled: 0 },
  ]);
  assertEquals(s.nodes.get(4)!.externalId, "Alice@Corp");
  assertEquals(s.identity.idp?.clientId, "pilot");
  assertEquals(s.identity.webhookUrl, "http://idp/verify");
  assertEquals(preAssignedRole(s.identity, 1, "ALICE@corp"), "admin");
  assertEquals(s.identity.preAssign.has(42), false);
  assertEquals(s.identity.lastSync.get(1), 8_000);
  const actions = s.audit.newest(20, 0).map((e) => e.action);
  for (
    const a of [
      "identity.external_id_set",
      "idp.configured",
      "network.pre_assignments_set",
      "directory.synced",
    ]
  ) {
    assert(actions.includes(a), `${a} missing from ${actions}`);
  }
  assertEquals(actions.filter((a) => a === "identity.external_id_set").length, 1);

  // The snapshot carries all of it.
  const copy = stateFromSnapshot(JSON.parse(JSON.stringify(snapshotOf(s))));
  assertEquals(copy.identity, s.identity);
  assertEquals(copy.nodes.get(4)!.externalId, "Alice@Corp");

  // Clearing the IdP clears the webhook URL; deleting the network drops its pre-assignments and sync time.
  apply(s, [{ kind: "idp.configured", idp: null }, { kind: "network.deleted", network_id: 1 }]);
  assertEquals([s.identity.idp, s.identity.webhookUrl], [null, ""]);
  assertEquals([s.identity.preAssign.size, s.identity.lastSync.size], [0, 0]);
  // An old snapshot without an identity section loads with empty identity state.
  const legacy = snapshotOf(new RegistryState());
  delete legacy.identity;
  assertEquals(stateFromSnapshot(legacy).identity.idp, null);
});
