/**
 * The Network Registry sub-command (ours, 0x10): the registry operations the reference
 * pilotctl sends to the registry itself, unsigned — network create/delete/rename, member
 * roles, policy, the audit log, lookup and register — made by the daemon instead, so they
 * are signed as the node in the dialect the daemon detected and reach the registry the
 * daemon uses. Only the operations listed here pass; each keeps only its own fields. The
 * registry's reply is returned as it sent it (docs/protocol/ipc.md §6.5).
 */
import type { RegistryRequest } from "../ipc/codec.ts";
import type { NetworkReply } from "../ipc/replies.ts";
import type { RegistryClient } from "../registry/client.ts";
import type { WireMessage } from "../registry/wire.ts";

/** How a registry operation is authorised. */
type Auth =
  /** No credentials: public information. */
  | "none"
  /** The global admin token. */
  | "admin"
  /** Signed as this node (owner or admin of the network), or an admin token. */
  | "role";

interface RegistryOp {
  /** Fields copied from the request (everything else is dropped). */
  fields: readonly string[];
  auth: Auth;
  /** The request's `node_id`, when absent, is this node (the creator of a network becomes its owner). */
  selfAsNode?: boolean;
}

/** The registry operations an IPC client may ask the daemon to make. */
export const REGISTRY_OPS: Readonly<Record<string, RegistryOp>> = {
  lookup: { fields: ["node_id"], auth: "none" },
  create_network: {
    fields: ["name", "join_rule", "token", "enterprise", "network_admin_token", "node_id"],
    auth: "admin",
    selfAsNode: true,
  },
  delete_network: { fields: ["network_id"], auth: "role" },
  rename_network: { fields: ["network_id", "name"], auth: "role" },
  promote_member: { fields: ["network_id", "target_node_id"], auth: "role" },
  demote_member: { fields: ["network_id", "target_node_id"], auth: "role" },
  kick_member: { fields: ["network_id", "target_node_id"], auth: "role" },
  get_member_role: { fields: ["network_id", "target_node_id"], auth: "none" },
  get_network_policy: { fields: ["network_id"], auth: "none" },
  set_network_policy: { fields: ["network_id", "max_members", "description", "allowed_ports"], auth: "role" },
  get_audit_log: { fields: ["network_id", "limit"], auth: "admin" },
  // Identity administration (`pilot provision`, `idp`, `provision-status`, `directory-*`).
  provision_network: { fields: ["blueprint"], auth: "admin" },
  get_provision_status: { fields: [], auth: "admin" },
  get_idp_config: { fields: [], auth: "admin" },
  set_idp_config: {
    fields: ["idp_type", "url", "issuer", "client_id", "tenant_id", "domain", "jwks_url"],
    auth: "admin",
  },
  directory_sync: { fields: ["network_id", "entries", "remove_unlisted"], auth: "admin" },
  directory_status: { fields: ["network_id"], auth: "admin" },
  // Audit export and the registry webhook (docs/protocol/registry.md §5.7).
  set_audit_export: {
    fields: ["format", "endpoint", "token", "index", "source", "name", "rotate_bytes", "keep_files"],
    auth: "admin",
  },
  get_audit_export: { fields: [], auth: "admin" },
  set_webhook: { fields: ["url"], auth: "admin" },
  get_webhook: { fields: [], auth: "admin" },
  get_webhook_dlq: { fields: [], auth: "admin" },
  replay_webhook_dlq: { fields: [], auth: "admin" },
};

/** What the Registry sub-command uses of the daemon. */
export interface RegistryOpNode {
  nodeId(): number;
  readonly registry: Pick<RegistryClient, "request" | "plain" | "signed">;
  /** Registers the node again with its own endpoint and key; resolves to the registry's reply. */
  register?(): Promise<WireMessage>;
}

/**
 * Makes registry request `req` for an IPC client. An `admin_token` in the request is used
 * instead of the daemon's own (`--admin-token`). Throws `Error("network registry: …")` for a
 * request that is not allowed; registry failures propagate for the caller to prefix.
 */
export async function registryRequest(node: RegistryOpNode, req: RegistryRequest): Promise<NetworkReply> {
  if (req.type === "register") {
    if (!node.register) throw new Error("network registry: this daemon cannot re-register on request");
    return await node.register();
  }
  const op = Object.hasOwn(REGISTRY_OPS, req.type) ? REGISTRY_OPS[req.type] : undefined;
  if (!op) throw new Error(`network registry: operation "${req.type}" is not available over IPC`);
  const msg: WireMessage = { type: req.type };
  for (const field of op.fields) if (req[field] !== undefined) msg[field] = req[field];
  if (op.selfAsNode && !msg.node_id && node.nodeId()) msg.node_id = node.nodeId();
  const token = req.admin_token;
  if (token !== undefined && typeof token !== "string") {
    throw new Error("network registry: admin_token must be a string");
  }
  // The client's token replaces the daemon's; without one the daemon's is attached.
  if (token) msg.admin_token = token;
  const admin = !token;
  const { registry } = node;
  switch (op.auth) {
    case "none":
      return await registry.request(msg);
    case "admin":
      return await registry.plain(msg, { admin });
    case "role":
      if (!node.nodeId()) return await registry.plain(msg, { admin });
      return await registry.signed({ ...msg, node_id: node.nodeId() }, { admin });
  }
}
