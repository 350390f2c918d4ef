import { assertEquals, assertRejects } from "../../tests/assert.ts";
import { REGISTRY_OPS, type RegistryOpNode, registryRequest } from "./ipc_registry.ts";
import type { WireMessage } from "../registry/wire.ts";

/** A registry that records how each message was sent. */
function recordingNode(nodeId = 7): { node: RegistryOpNode; sent: [string, WireMessage, boolean?][] } {
  const sent: [string, WireMessage, boolean?][] = [];
  const reply = (msg: WireMessage) => Promise.resolve({ type: `${msg.type}_ok` });
  const node: RegistryOpNode = {
    nodeId: () => nodeId,
    registry: {
      request: (msg) => (sent.push(["request", msg]), reply(msg)),
      plain: (msg, o) => (sent.push(["plain", msg, o?.admin]), reply(msg)),
      signed: (msg, o) => (sent.push(["signed", msg, o?.admin]), reply(msg)),
    },
    register: () => Promise.resolve({ type: "register_ok", node_id: nodeId }),
  };
  return { node, sent };
}

Deno.test("registry requests over IPC: only the listed operations pass, with only their own fields", async () => {
  const { node, sent } = recordingNode();
  for (
    const type of ["set_polo_score", "beacon_register", "deregister", "rotate_key", "__proto__", "toString"]
  ) {
    await assertRejects(
      () => registryRequest(node, { type, node_id: 9 }),
      Error,
      new RegExp(`operation "${type}" is not available over IPC`),
    );
  }
  assertEquals(sent, []);
  await registryRequest(node, { type: "lookup", node_id: 9, admin_token: "t", extra: "dropped" });
  assertEquals(sent.pop(), ["request", { type: "lookup", node_id: 9, admin_token: "t" }]);
  await assertRejects(
    () => registryRequest(node, { type: "lookup", admin_token: 5 }),
    Error,
    /admin_token must be a string/,
  );
});

Deno.test("registry requests over IPC: role operations are signed as the node; the client's token replaces the daemon's", async () => {
  const { node, sent } = recordingNode(7);
  await registryRequest(node, { type: "kick_member", network_id: 3, target_node_id: 9, node_id: 99 });
  assertEquals(sent.pop(), [
    "signed",
    { type: "kick_member", network_id: 3, target_node_id: 9, node_id: 7 },
    true,
  ]);
  await registryRequest(node, { type: "delete_network", network_id: 3, admin_token: "mine" });
  assertEquals(sent.pop(), ["signed", {
    type: "delete_network",
    network_id: 3,
    admin_token: "mine",
    node_id: 7,
  }, false]);
  // create_network: this node is the creator unless the client names one; the admin token is plain.
  await registryRequest(node, { type: "create_network", name: "lab" });
  assertEquals(sent.pop(), ["plain", { type: "create_network", name: "lab", node_id: 7 }, true]);
  await registryRequest(node, { type: "create_network", name: "lab", node_id: 4 });
  assertEquals(sent.pop(), ["plain", { type: "create_network", name: "lab", node_id: 4 }, true]);
  await registryRequest(node, { type: "get_audit_log", network_id: 2, limit: 5 });
  assertEquals(sent.pop(), ["plain", { type: "get_audit_log", network_id: 2, limit: 5 }, true]);
  assertEquals(await registryRequest(node, { type: "register" }), { type: "register_ok", node_id: 7 });
  // The identity administration operations are admin-token requests, never signed as the node.
  await registryRequest(node, {
    type: "directory_sync",
    network_id: 1,
    entries: [{ external_id: "a" }],
    x: 1,
  });
  assertEquals(sent.pop(), ["plain", {
    type: "directory_sync",
    network_id: 1,
    entries: [{ external_id: "a" }],
  }, true]);
  // Audit export settings: admin, plain, only their own fields.
  await registryRequest(node, { type: "set_audit_export", format: "json", endpoint: "/x", node_id: 3 });
  assertEquals(sent.pop(), ["plain", { type: "set_audit_export", format: "json", endpoint: "/x" }, true]);
  assertEquals(Object.keys(REGISTRY_OPS).length, 23);
});
