/** A refusal for every message type not already covered elsewhere, over one raw connection. */
import { assertEquals, assertMatch } from "../assert.ts";
import { RegistryClient } from "../../lib/registry/client.ts";
import type { WireMessage } from "../../lib/registry/wire.ts";
import { ADMIN_TOKEN, cleanup, RawConn, registeredClient, startRegistry } from "./helpers.ts";

Deno.test("each message type refuses bad requests with a clear error and the connection stays usable", async () => {
  const reg = await startRegistry();
  const raw = await RawConn.open(reg.addr.port);
  const admin = new RegistryClient({ address: reg.address, adminToken: ADMIN_TOKEN });
  try {
    const a = await registeredClient(reg.address);
    const b = await registeredClient(reg.address);
    const [ia, ib] = [a.identity!.nodeId, b.identity!.nodeId];
    const net = await admin.plain({
      type: "create_network",
      name: "r",
      node_id: ia,
      enterprise: true,
      join_rule: "invite",
    }, {
      admin: true,
    });
    const nid = net.network_id as number;
    const cases: [WireMessage, RegExp][] = [
      [{ type: "get_key_info", node_id: 999 }, /node 999 not found/],
      [{ type: "rotate_key", node_id: ia, new_public_key: "AAAA" }, /invalid public key/],
      [{ type: "rotate_key", node_id: ia, new_public_key: b.publicKey }, /signature/],
      [{ type: "set_key_expiry", node_id: ia, expires_at: "2999-01-01T00:00:00Z" }, /more than 10 years/],
      [{ type: "punch", requester_id: ia, node_a: ib, node_b: 999 }, /requester must be participant/],
      [{ type: "punch", requester_id: ia, node_a: ia, node_b: ib }, /signature required/],
      [{ type: "poll_handshakes", node_id: ia }, /signature required/],
      [{ type: "respond_handshake", node_id: ia, peer_id: ib, accept: true }, /signature required/],
      [{ type: "request_handshake", from_node_id: ia, to_node_id: ib }, /signature required/],
      [{ type: "revoke_trust", node_id: ia, peer_id: ib }, /signature required/],
      [{ type: "check_trust", node_id: "x", peer_id: ib }, /invalid field node_id/],
      [{ type: "poll_invites", node_id: ia }, /signature required/],
      [{ type: "respond_invite", node_id: ia, network_id: nid, accept: true }, /signature required/],
      [
        { type: "invite_to_network", network_id: nid, inviter_id: ia, target_node_id: ib },
        /signature required/,
      ],
      [{ type: "leave_network", node_id: ia, network_id: nid }, /signature required/],
      [{ type: "get_network_policy", network_id: 999 }, /network 999 not found/],
      [{ type: "get_network_policy", network_id: 0 }, /backbone/],
      [{ type: "get_member_role", network_id: nid, target_node_id: ib }, /not a member/],
      [{ type: "set_network_policy", network_id: nid, max_members: 5 }, /node_id required/],
      [{ type: "rename_network", network_id: nid, name: "x", node_id: ia }, /signature required/],
      [
        { type: "transfer_ownership", network_id: nid, new_owner_id: ib, admin_token: "bad" },
        /invalid admin token/,
      ],
      [{ type: "set_network_enterprise", network_id: nid, enterprise: false }, /admin token required/],
      [{ type: "kick_member", network_id: 0, target_node_id: ib }, /backbone/],
      [{ type: "get_polo_score", node_id: 999 }, /not found/],
      [{ type: "update_polo_score", node_id: ia }, /delta required/],
      [{ type: "set_polo_score", node_id: ia, polo_score: 1.5 }, /integer/],
      [{ type: "beacon_register", beacon_id: 1 }, /addr required/],
      [{ type: "get_audit_log" }, /admin token required/],
      [{ type: "list_nodes", network_id: nid, node_id: ia }, /requires membership/],
      [{ type: "resolve", node_id: ib }, /requester_id required/],
      [{ type: "deregister", node_id: ia }, /signature required/],
    ];
    for (const [msg, re] of cases) {
      const r = await raw.call(msg);
      assertEquals(r.type, "error", JSON.stringify(msg));
      assertMatch(String(r.error), re, JSON.stringify(msg));
    }
    assertEquals((await raw.call({ type: "lookup", node_id: ia })).type, "lookup_ok");
    a.close();
    b.close();
  } finally {
    admin.close();
    raw.close();
    await reg.close();
    await cleanup(reg.dir);
  }
});
