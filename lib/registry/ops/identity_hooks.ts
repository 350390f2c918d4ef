/**
 * The identity steps inside other operations (docs/protocol/registry.md §9.1, §9.4): the
 * identity webhook during `register`, and role pre-assignments applied by `join_network`.
 * Kept apart from ops/identity.ts so that nodes.ts and networks.ts need not import it.
 * @module
 */
import { readString } from "../fields.ts";
import { preAssignedRole } from "../identity/state.ts";
import { verifyIdentityToken } from "../identity/webhook.ts";
import type { WireMessage } from "../wire.ts";
import type { OpContext } from "./context.ts";

/** Longest `register.identity_token`. */
export const MAX_IDENTITY_TOKEN_LENGTH = 8192;

/**
 * `register`'s I/O: the external id vouched for by the identity webhook, or "" when none
 * applies. In strict mode the webhook is asked only for a request signed by the key being
 * registered: an unproven one is refused anyway, and must not make the registry POST for
 * whoever knows a (public) key, whose re-registrations skip the rate limit.
 */
export async function verifyRegistrationIdentity(req: WireMessage, ctx: OpContext): Promise<string> {
  const token = readString(req, "identity_token", MAX_IDENTITY_TOKEN_LENGTH);
  const url = ctx.state.identity.webhookUrl;
  if (!token || !url) return "";
  const possession = ctx.authn.method !== "none" && ctx.authn.key === req.public_key;
  if (ctx.config.compat === "strict" && !possession) return "";
  return await verifyIdentityToken(url, token, ctx.identity.webhookTimeoutMs);
}

/** Records the webhook's external id on the node just registered and echoes it. */
export function recordRegistrationIdentity(ctx: OpContext, nodeId: number, reply: WireMessage): void {
  const externalId = typeof ctx.prepared === "string" ? ctx.prepared : "";
  if (!externalId) return;
  if (ctx.state.nodes.get(nodeId)?.externalId !== externalId) {
    ctx.emit({ kind: "identity.external_id_set", node_id: nodeId, external_id: externalId });
  }
  reply.external_id = externalId;
}

/** After a join: the role pre-assigned to the node's external id, if any. */
export function applyPreAssignment(ctx: OpContext, netId: number, nodeId: number): void {
  const n = ctx.state.nodes.get(nodeId);
  const role = n ? preAssignedRole(ctx.state.identity, netId, n.externalId) : undefined;
  if (role && role !== ctx.state.roleOf(netId, nodeId)) {
    ctx.emit({ kind: "member.role_set", network_id: netId, node_id: nodeId, role });
  }
}
