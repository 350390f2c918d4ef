/**
 * Authorisation checks shared by the handlers: "this node signed", "this is the
 * admin", "this caller holds one of these roles in the network". Each failure
 * is a RequestError with code `unauthorized` (nothing valid was proved; audited
 * for writes) or `forbidden` (proved, but not allowed).
 * @module
 */
// node:crypto, which the registry loads anyway, rather than @noble/hashes (~1 MiB more resident).
import { createHash } from "node:crypto";
import { constantTimeEqual, utf8 } from "../../bytes.ts";
import { RequestError } from "../errors.ts";
import type { Role } from "../state/events.ts";
import type { NetworkRecord } from "../state/model.ts";
import type { OpContext } from "./context.ts";

/** Hex SHA-256 of a token: how join and per-network admin tokens are stored. */
export function tokenHash(token: string): string {
  return createHash("sha256").update(utf8(token)).digest("hex");
}

/** Constant-time comparison of a presented token with a stored hash. */
export function tokenMatches(token: string, hash: string): boolean {
  if (!token || !hash) return false;
  return constantTimeEqual(utf8(tokenHash(token)), utf8(hash));
}

/** True when the request was signed by `nodeId`'s current key. */
export function proven(ctx: OpContext, nodeId: number): boolean {
  if (nodeId === 0 || ctx.authn.node !== nodeId) return false;
  const n = ctx.state.nodes.get(nodeId);
  return n !== undefined && n.publicKey === ctx.authn.key;
}

/** The error for "nothing valid was proved", worded after what was presented. */
export function unauthorized(ctx: OpContext): RequestError {
  if (ctx.authn.failure) {
    return new RequestError(`signature verification failed: ${ctx.authn.failure}`, "unauthorized");
  }
  if (ctx.authn.token && !ctx.authn.admin) return new RequestError("invalid admin token", "unauthorized");
  return new RequestError(
    ctx.config.compat === "strict"
      ? "signature required: sign the request (auth) with the node's key"
      : "signature required for authenticated node",
    "unauthorized",
  );
}

/** Requires a signature by `nodeId` (or, when `adminFallback`, the global admin token). */
export function requireNode(ctx: OpContext, nodeId: number, adminFallback: boolean): void {
  if (proven(ctx, nodeId)) {
    ctx.actor = `node:${nodeId}`;
    return;
  }
  if (adminFallback && ctx.authn.admin) {
    ctx.actor = "admin";
    return;
  }
  throw unauthorized(ctx);
}

/** Requires the global admin token. */
export function requireAdmin(ctx: OpContext): void {
  if (!ctx.config.adminToken) {
    throw new RequestError("admin operations are disabled (no admin token configured)", "forbidden");
  }
  if (!ctx.authn.admin) {
    throw new RequestError(ctx.authn.token ? "invalid admin token" : "admin token required", "unauthorized");
  }
  ctx.actor = "admin";
}

/** True when the request carries the global token or this network's admin token. */
export function hasNetworkToken(ctx: OpContext, net: NetworkRecord): boolean {
  if (ctx.authn.admin) return true;
  return tokenMatches(ctx.authn.token, net.adminTokenHash);
}

/**
 * Requires the global token, the network's admin token, or a signature by
 * `nodeId` while it holds one of `roles` in `net`. Returns the caller's role
 * (`undefined` for a token).
 */
export function requireRole(
  ctx: OpContext,
  net: NetworkRecord,
  nodeId: number,
  roles: Role[],
): Role | undefined {
  if (ctx.authn.admin) {
    ctx.actor = "admin";
    return undefined;
  }
  if (tokenMatches(ctx.authn.token, net.adminTokenHash)) {
    ctx.actor = `network-token:${net.id}`;
    return undefined;
  }
  if (nodeId === 0) {
    if (ctx.authn.token) throw new RequestError("invalid admin token", "unauthorized");
    throw new RequestError("rbac: node_id required for role-based authorization", "unauthorized");
  }
  if (!proven(ctx, nodeId)) throw unauthorized(ctx);
  ctx.actor = `node:${nodeId}`;
  const role = net.roles.get(nodeId);
  if (!role) throw new RequestError(`rbac: node ${nodeId} is not a member of network ${net.id}`, "forbidden");
  if (!roles.includes(role)) {
    throw new RequestError(
      `rbac: node ${nodeId} has role ${role}, requires ${roles.join(" or ")}`,
      "forbidden",
    );
  }
  return role;
}
