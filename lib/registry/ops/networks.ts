/**
 * Network handlers (docs/protocol/registry.md §5.4, §5.5, §7): create, join (open, token,
 * invite), leave, delete, rename, the enterprise flag, roles (kick, promote,
 * demote, transfer ownership, each gated by its minimum role), policies and the
 * invite lifecycle.
 * @module
 */
import { RequestError } from "../errors.ts";
import { readArray, readBool, readNetworkId, readNodeId, readNumber, readString } from "../fields.ts";
import type { JoinRule, Role } from "../state/events.ts";
import { MAX_NETWORK_ID, type NetworkRecord } from "../state/model.ts";
import type { WireMessage } from "../wire.ts";
import { hasNetworkToken, requireAdmin, requireNode, requireRole, tokenHash, tokenMatches } from "./authz.ts";
import { addressText, knownNode, network } from "./common.ts";
import type { OpContext, OpSpec } from "./context.ts";
import { MAX_NAME_LENGTH, validateNetworkName } from "./validate.ts";
import { applyPreAssignment } from "./identity_hooks.ts";

/** Networks (besides the backbone) one node may belong to. */
export const MAX_NETWORKS_PER_NODE = 256;
/** Largest `max_members` policy value. */
export const MAX_MEMBERS_POLICY = 10_000;
/** Most ports in an `allowed_ports` policy. */
export const MAX_ALLOWED_PORTS = 100;
/** Longest policy description, in UTF-8 bytes. */
export const MAX_DESCRIPTION_BYTES = 256;
/** Longest token. */
export const MAX_TOKEN_LENGTH = 256;
/** Pending invites per node. */
export const INVITE_INBOX_LIMIT = 100;
/** Invites older than this expire. */
export const INVITE_TTL_MS = 30 * 86_400_000;

const JOIN_RULES: readonly JoinRule[] = ["open", "token", "invite"];

function notBackbone(id: number, verb: string): void {
  if (id === 0) throw new RequestError(`cannot ${verb} the backbone network`, "forbidden");
}

function requireEnterprise(net: NetworkRecord): void {
  if (!net.enterprise) throw new RequestError("enterprise feature: requires enterprise network", "forbidden");
}

function checkCapacity(net: NetworkRecord): void {
  if (net.policy.maxMembers && net.members.size >= net.policy.maxMembers) {
    throw new RequestError(`network ${net.id} membership limit reached (too many members)`, "limit");
  }
}

function checkMembershipCount(ctx: OpContext, nodeId: number): void {
  if ((ctx.state.memberOf.get(nodeId)?.size ?? 0) >= MAX_NETWORKS_PER_NODE) {
    throw new RequestError(`node ${nodeId} is in too many networks (max ${MAX_NETWORKS_PER_NODE})`, "limit");
  }
}

function requireMember(net: NetworkRecord, nodeId: number): Role {
  const role = net.roles.get(nodeId);
  if (!net.members.has(nodeId) || !role) {
    throw new RequestError(`node ${nodeId} is not a member of network ${net.id}`, "not_found");
  }
  return role;
}

const createNetwork: OpSpec = {
  rate: "write",
  write: true,
  run(req, ctx) {
    const name = readString(req, "name", MAX_NAME_LENGTH + 1);
    const rule = (readString(req, "join_rule", 16) || "open") as JoinRule;
    const token = readString(req, "token", MAX_TOKEN_LENGTH);
    const adminToken = readString(req, "network_admin_token", MAX_TOKEN_LENGTH);
    const enterprise = readBool(req, "enterprise");
    const creator = readNodeId(req, "node_id", false);
    requireAdmin(ctx);
    validateNetworkName(name);
    if (!JOIN_RULES.includes(rule)) throw new RequestError(`unknown join rule: ${rule} (invalid)`);
    if (rule === "token" && !token) throw new RequestError("token required for a token network");
    if (rule === "invite" && !enterprise) {
      throw new RequestError(
        "enterprise feature: invite-only networks require the enterprise flag",
        "forbidden",
      );
    }
    if (ctx.state.networkNames.has(name)) {
      throw new RequestError(`network "${name}" already exists`, "conflict");
    }
    if (creator) {
      knownNode(ctx, creator);
      checkMembershipCount(ctx, creator);
    }
    const id = ctx.state.nextNetwork;
    if (id > MAX_NETWORK_ID) {
      throw new RequestError("network ID space exhausted (too many networks)", "limit");
    }
    ctx.emit({
      kind: "network.created",
      network_id: id,
      name,
      join_rule: rule,
      token_hash: token ? tokenHash(token) : "",
      admin_token_hash: adminToken ? tokenHash(adminToken) : "",
      enterprise,
      creator,
    });
    return { type: "create_network_ok", network_id: id, name, enterprise };
  },
};

const joinNetwork: OpSpec = {
  rate: "write",
  write: true,
  run(req, ctx) {
    const nodeId = readNodeId(req, "node_id");
    const netId = readNetworkId(req, "network_id", false);
    const token = readString(req, "token", MAX_TOKEN_LENGTH);
    notBackbone(netId, "join");
    const net = network(ctx, netId);
    knownNode(ctx, nodeId);
    requireNode(ctx, nodeId, true);
    // The admin token authenticates the node; it does not bypass the join rule.
    if (net.joinRule === "token") {
      if (!tokenMatches(token, net.tokenHash)) {
        throw new RequestError(`invalid token for network ${netId}`, "unauthorized");
      }
    } else if (net.joinRule === "invite") {
      throw new RequestError(
        "cannot join: invite-only networks require invite_to_network + respond_invite flow",
        "forbidden",
      );
    }
    if (net.members.has(nodeId)) {
      throw new RequestError(`node ${nodeId} already in network ${netId}`, "conflict");
    }
    checkCapacity(net);
    checkMembershipCount(ctx, nodeId);
    ctx.emit({ kind: "network.joined", network_id: netId, node_id: nodeId, via: net.joinRule });
    applyPreAssignment(ctx, netId, nodeId);
    return { type: "join_network_ok", network_id: netId, address: addressText(netId, nodeId) };
  },
};

const leaveNetwork: OpSpec = {
  rate: "write",
  write: true,
  run(req, ctx) {
    const nodeId = readNodeId(req, "node_id");
    const netId = readNetworkId(req, "network_id", false);
    notBackbone(netId, "leave");
    const net = network(ctx, netId);
    knownNode(ctx, nodeId);
    requireNode(ctx, nodeId, true);
    const role = requireMember(net, nodeId);
    if (net.enterprise && role === "owner") {
      throw new RequestError("cannot leave network: owner must transfer ownership first", "forbidden");
    }
    ctx.emit({ kind: "network.left", network_id: netId, node_id: nodeId });
    return { type: "leave_network_ok", network_id: netId };
  },
};

const deleteNetwork: OpSpec = {
  rate: "write",
  write: true,
  run(req, ctx) {
    const netId = readNetworkId(req, "network_id", false);
    notBackbone(netId, "delete");
    const net = network(ctx, netId);
    requireRole(ctx, net, readNodeId(req, "node_id", false), ["owner"]);
    ctx.emit({ kind: "network.deleted", network_id: netId });
    return { type: "delete_network_ok", network_id: netId };
  },
};

const renameNetwork: OpSpec = {
  rate: "write",
  write: true,
  run(req, ctx) {
    const netId = readNetworkId(req, "network_id", false);
    const name = readString(req, "name", MAX_NAME_LENGTH + 1);
    notBackbone(netId, "rename");
    const net = network(ctx, netId);
    requireRole(ctx, net, readNodeId(req, "node_id", false), ["owner", "admin"]);
    validateNetworkName(name);
    const holder = ctx.state.networkNames.get(name);
    if (holder !== undefined && holder !== netId) {
      throw new RequestError(`network "${name}" already exists`, "conflict");
    }
    if (net.name !== name) ctx.emit({ kind: "network.renamed", network_id: netId, name });
    return { type: "rename_network_ok", network_id: netId, name };
  },
};

const setEnterprise: OpSpec = {
  rate: "write",
  write: true,
  run(req, ctx) {
    const netId = readNetworkId(req, "network_id", false);
    const enterprise = readBool(req, "enterprise");
    requireAdmin(ctx);
    notBackbone(netId, "change");
    const net = network(ctx, netId);
    if (net.enterprise !== enterprise) {
      ctx.emit({ kind: "network.enterprise_set", network_id: netId, enterprise });
    }
    return { type: "set_network_enterprise_ok", network_id: netId, enterprise };
  },
};

/** Shared prologue of kick/promote/demote: ROLE, then the enterprise gate, then state checks (reference order). */
function memberOp(
  req: WireMessage,
  ctx: OpContext,
  roles: Role[],
): [NetworkRecord, number, Role, Role | undefined] {
  const netId = readNetworkId(req, "network_id", false);
  const target = readNodeId(req, "target_node_id");
  notBackbone(netId, "manage members of");
  const net = network(ctx, netId);
  const callerRole = requireRole(ctx, net, readNodeId(req, "node_id", false), roles);
  requireEnterprise(net);
  return [net, target, requireMember(net, target), callerRole];
}

const kickMember: OpSpec = {
  rate: "write",
  write: true,
  run(req, ctx) {
    const [net, target, role, caller] = memberOp(req, ctx, ["owner", "admin"]);
    if (role === "owner") throw new RequestError("cannot kick the network owner", "forbidden");
    if (caller === "admin" && role === "admin") {
      throw new RequestError("cannot kick an admin: only the owner can", "forbidden");
    }
    ctx.emit({ kind: "member.kicked", network_id: net.id, node_id: target });
    return { type: "kick_member_ok", network_id: net.id, target_node_id: target };
  },
};

const promoteMember: OpSpec = {
  rate: "write",
  write: true,
  run(req, ctx) {
    const [net, target, role] = memberOp(req, ctx, ["owner"]);
    if (role === "owner") throw new RequestError("cannot promote the owner", "conflict");
    if (role === "admin") throw new RequestError(`node ${target} is already an admin`, "conflict");
    ctx.emit({ kind: "member.role_set", network_id: net.id, node_id: target, role: "admin" });
    return { type: "promote_member_ok", network_id: net.id, target_node_id: target, role: "admin" };
  },
};

const demoteMember: OpSpec = {
  rate: "write",
  write: true,
  run(req, ctx) {
    const [net, target, role] = memberOp(req, ctx, ["owner"]);
    if (role === "owner") throw new RequestError("cannot demote the owner", "conflict");
    if (role === "member") {
      throw new RequestError(`cannot demote: node ${target} is not an admin`, "conflict");
    }
    ctx.emit({ kind: "member.role_set", network_id: net.id, node_id: target, role: "member" });
    return { type: "demote_member_ok", network_id: net.id, target_node_id: target, role: "member" };
  },
};

const transferOwnership: OpSpec = {
  rate: "write",
  write: true,
  run(req, ctx) {
    const netId = readNetworkId(req, "network_id", false);
    const newOwner = readNodeId(req, "new_owner_id");
    notBackbone(netId, "transfer");
    const net = network(ctx, netId);
    requireRole(ctx, net, readNodeId(req, "node_id", false), ["owner"]);
    requireEnterprise(net);
    const role = requireMember(net, newOwner);
    if (role === "owner") throw new RequestError(`node ${newOwner} is already the owner`, "conflict");
    const oldOwner = ctx.state.ownerOf(netId);
    ctx.emit({
      kind: "network.ownership_transferred",
      network_id: netId,
      old_owner: oldOwner,
      new_owner: newOwner,
    });
    return { type: "transfer_ownership_ok", network_id: netId, old_owner: oldOwner, new_owner: newOwner };
  },
};

const getMemberRole: OpSpec = {
  rate: "read",
  write: false,
  run(req, ctx) {
    const netId = readNetworkId(req, "network_id", false);
    const target = readNodeId(req, "target_node_id");
    notBackbone(netId, "query roles in");
    const net = network(ctx, netId);
    return {
      type: "get_member_role_ok",
      network_id: netId,
      target_node_id: target,
      role: requireMember(net, target),
    };
  },
};

function policyReply(type: string, net: NetworkRecord, emptyPorts: null | []): WireMessage {
  return {
    type,
    network_id: net.id,
    max_members: net.policy.maxMembers,
    allowed_ports: net.policy.allowedPorts.length ? net.policy.allowedPorts : emptyPorts,
    description: net.policy.description,
  };
}

const setPolicy: OpSpec = {
  rate: "write",
  write: true,
  run(req, ctx) {
    const netId = readNetworkId(req, "network_id", false);
    notBackbone(netId, "set policy on");
    const net = network(ctx, netId);
    requireRole(ctx, net, readNodeId(req, "node_id", false), ["owner", "admin"]);
    requireEnterprise(net);
    const maxMembers = readNumber(req, "max_members");
    const rawPorts = readArray(req, "allowed_ports", MAX_ALLOWED_PORTS);
    const description = req.description === undefined ? undefined : readString(req, "description", 1024);
    if (maxMembers !== undefined) {
      if (!Number.isInteger(maxMembers) || maxMembers < 0 || maxMembers > MAX_MEMBERS_POLICY) {
        throw new RequestError(`invalid max_members: must be an integer 0-${MAX_MEMBERS_POLICY}`);
      }
      if (maxMembers && maxMembers < net.members.size) {
        throw new RequestError(
          `cannot set max_members ${maxMembers} below the current member count ${net.members.size}`,
          "conflict",
        );
      }
    }
    let ports: number[] | undefined;
    if (rawPorts !== undefined) {
      ports = [];
      for (const p of rawPorts) {
        if (typeof p !== "number" || !Number.isInteger(p) || p < 1 || p > 65535) {
          throw new RequestError("invalid allowed_ports: each must be an integer 1-65535");
        }
        if (!ports.includes(p)) ports.push(p);
      }
    }
    if (description !== undefined && new TextEncoder().encode(description).length > MAX_DESCRIPTION_BYTES) {
      throw new RequestError(`description too long (max ${MAX_DESCRIPTION_BYTES} bytes)`);
    }
    ctx.emit({
      kind: "network.policy_set",
      network_id: netId,
      ...(maxMembers !== undefined ? { max_members: maxMembers } : {}),
      ...(ports !== undefined ? { allowed_ports: ports } : {}),
      ...(description !== undefined ? { description } : {}),
    });
    return policyReply("set_network_policy_ok", net, null);
  },
};

const getPolicy: OpSpec = {
  rate: "read",
  write: false,
  run(req, ctx) {
    const netId = readNetworkId(req, "network_id", false);
    notBackbone(netId, "query policy of");
    return policyReply("get_network_policy_ok", network(ctx, netId), []);
  },
};

const inviteToNetwork: OpSpec = {
  rate: "write",
  write: true,
  run(req, ctx) {
    const netId = readNetworkId(req, "network_id", false);
    const inviter = readNodeId(req, "inviter_id");
    const target = readNodeId(req, "target_node_id");
    if (inviter === target) throw new RequestError("cannot invite yourself (invalid request)");
    notBackbone(netId, "invite to");
    knownNode(ctx, inviter);
    requireNode(ctx, inviter, true);
    const net = network(ctx, netId);
    requireEnterprise(net);
    if (net.joinRule !== "invite") {
      throw new RequestError(`network ${netId} is not invite-only (rule: ${net.joinRule}) (invalid)`);
    }
    if (!hasNetworkToken(ctx, net)) {
      const role = net.roles.get(inviter);
      if (!role) {
        throw new RequestError(`inviter ${inviter} is not a member of network ${netId}`, "forbidden");
      }
      if (role === "member") {
        throw new RequestError(
          `rbac: inviter ${inviter} has role member, requires owner or admin`,
          "forbidden",
        );
      }
    }
    knownNode(ctx, target);
    if (net.members.has(target)) {
      throw new RequestError(`node ${target} already in network ${netId}`, "conflict");
    }
    const inbox = ctx.state.invites.get(target) ?? [];
    if (inbox.some((i) => i.networkId === netId)) {
      return {
        type: "invite_to_network_ok",
        network_id: netId,
        target_node_id: target,
        status: "already_invited",
      };
    }
    if (inbox.length >= INVITE_INBOX_LIMIT) {
      throw new RequestError(`invite inbox full for node ${target} (too many invites)`, "limit");
    }
    checkCapacity(net);
    ctx.emit({ kind: "invite.created", network_id: netId, inviter_id: inviter, target_node_id: target });
    return { type: "invite_to_network_ok", network_id: netId, target_node_id: target };
  },
};

const pollInvites: OpSpec = {
  rate: "read", // polling never draws on the heartbeat budget
  write: true,
  run(req, ctx) {
    const id = readNodeId(req, "node_id");
    knownNode(ctx, id);
    requireNode(ctx, id, false);
    const before = ctx.now - INVITE_TTL_MS;
    const list = ctx.state.invites.get(id) ?? [];
    if (list.some((i) => i.t < before)) ctx.emit({ kind: "invites.expired", node_id: id, before });
    const invites = (ctx.state.invites.get(id) ?? []).map((i) => ({
      network_id: i.networkId,
      inviter_id: i.inviterId,
      timestamp: Math.floor(i.t / 1000),
    }));
    return { type: "poll_invites_ok", invites };
  },
};

const respondInvite: OpSpec = {
  rate: "write",
  write: true,
  run(req, ctx) {
    const id = readNodeId(req, "node_id");
    const netId = readNetworkId(req, "network_id", false);
    const accept = readBool(req, "accept");
    knownNode(ctx, id);
    requireNode(ctx, id, false);
    const invite = (ctx.state.invites.get(id) ?? []).find((i) => i.networkId === netId);
    if (!invite) {
      throw new RequestError(`no pending invite for node ${id} to network ${netId} (not found)`, "not_found");
    }
    if (invite.t < ctx.now - INVITE_TTL_MS) {
      throw new RequestError(`invite for node ${id} to network ${netId} has expired`, "forbidden");
    }
    const net = network(ctx, netId);
    if (accept) {
      requireEnterprise(net);
      checkCapacity(net); // the invite is kept when the network is full
      if (!net.members.has(id)) checkMembershipCount(ctx, id);
    }
    ctx.emit({ kind: "invite.responded", network_id: netId, node_id: id, accept });
    return { type: "respond_invite_ok", accepted: accept, network_id: netId };
  },
};

/** Handlers by message type. */
export const NETWORK_OPS: Record<string, OpSpec> = {
  create_network: createNetwork,
  join_network: joinNetwork,
  leave_network: leaveNetwork,
  delete_network: deleteNetwork,
  rename_network: renameNetwork,
  set_network_enterprise: setEnterprise,
  kick_member: kickMember,
  promote_member: promoteMember,
  demote_member: demoteMember,
  transfer_ownership: transferOwnership,
  get_member_role: getMemberRole,
  set_network_policy: setPolicy,
  get_network_policy: getPolicy,
  invite_to_network: inviteToNetwork,
  poll_invites: pollInvites,
  respond_invite: respondInvite,
};
