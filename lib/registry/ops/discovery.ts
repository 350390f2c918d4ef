/**
 * Discovery handlers (docs/protocol/registry.md §4.6, §5.2) under the privacy model: a
 * private node's endpoint goes only to itself, to peers it trusts and to members
 * of a network it shares (other than the backbone). `lookup` never carries a
 * private endpoint; the backbone is listed only to the admin.
 * @module
 */
import { RequestError } from "../errors.ts";
import { readId, readNetworkId, readNodeId, readString } from "../fields.ts";
import type { NodeRecord } from "../state/model.ts";
import type { WireMessage } from "../wire.ts";
import { hasNetworkToken, proven, requireAdmin, requireNode } from "./authz.ts";
import { addressText, keyAgeDays, liveNode, network, rfc3339 } from "./common.ts";
import type { OpContext, OpSpec } from "./context.ts";
import { MAX_NAME_LENGTH } from "./validate.ts";

/** Largest page of `list_nodes` (ours; the reference always sends everything). */
export const MAX_LIST_NODES = 50_000;
/**
 * Page size when the request names none: about 1.5 MB of reply, well inside the
 * 16 MiB reply cap; larger listings continue from `next_after_node_id`.
 */
export const DEFAULT_LIST_NODES = 10_000;

function lookupReply(n: NodeRecord, ctx: OpContext): WireMessage {
  const reply: WireMessage = {
    type: "lookup_ok",
    node_id: n.id,
    address: addressText(0, n.id),
    networks: ctx.state.networksOf(n.id),
    public_key: n.publicKey,
    public: n.public,
    polo_score: n.poloScore,
  };
  if (n.hostname) reply.hostname = n.hostname;
  if (n.tags.length) reply.tags = n.tags;
  if (n.taskExec) reply.task_exec = true;
  if (n.public && n.realAddr) reply.real_addr = n.realAddr;
  if (n.externalId) reply.external_id = n.externalId;
  return reply;
}

const lookup: OpSpec = {
  rate: "query",
  write: false,
  run(req, ctx) {
    return lookupReply(liveNode(ctx, readNodeId(req, "node_id")), ctx);
  },
};

const resolve: OpSpec = {
  rate: "resolve",
  write: false,
  run(req, ctx) {
    const id = readNodeId(req, "node_id");
    const requester = readNodeId(req, "requester_id");
    liveNode(ctx, requester);
    requireNode(ctx, requester, false);
    const target = liveNode(ctx, id);
    if (!ctx.state.mayResolve(requester, target)) {
      throw new RequestError(
        `resolve denied: node ${id} is private (establish mutual trust first)`,
        "forbidden",
      );
    }
    const reply: WireMessage = { type: "resolve_ok", node_id: id, real_addr: target.realAddr };
    if (target.lanAddrs.length) reply.lan_addrs = target.lanAddrs;
    reply.key_age_days = keyAgeDays(target, ctx.now);
    return reply;
  },
};

const resolveHostname: OpSpec = {
  rate: "query",
  write: false,
  run(req, ctx) {
    const hostname = readString(req, "hostname", MAX_NAME_LENGTH + 1, true);
    const requester = readNodeId(req, "requester_id", false);
    const notFound = new RequestError(`hostname "${hostname}" not found`, "not_found");
    const id = ctx.state.hostnameIndex.get(hostname);
    const target = id !== undefined ? ctx.state.liveNode(id) : undefined;
    if (!target) throw notFound;
    if (!target.public) {
      // Strict: the requester must prove who it is. Reference: the claim is taken as sent.
      const counts = requester !== 0 && ctx.state.liveNode(requester) !== undefined &&
        (proven(ctx, requester) || ctx.config.compat === "reference");
      if (!counts || !ctx.state.mayResolve(requester, target)) throw notFound; // same answer as a missing name
    }
    return {
      type: "resolve_hostname_ok",
      node_id: target.id,
      address: addressText(0, target.id),
      public: target.public,
      hostname,
    };
  },
};

function memberEntry(ctx: OpContext, netId: number, nodeId: number, showPrivate: boolean): WireMessage {
  const role = netId ? ctx.state.roleOf(netId, nodeId) : undefined;
  const n = ctx.state.liveNode(nodeId);
  if (!n) {
    const e: WireMessage = { node_id: nodeId, address: addressText(netId, nodeId), offline: true };
    if (role) e.role = role;
    return e;
  }
  const e: WireMessage = {
    node_id: n.id,
    address: addressText(netId, n.id),
    public: n.public,
    polo_score: n.poloScore,
  };
  if (role) e.role = role;
  if (n.hostname) e.hostname = n.hostname;
  if (n.taskExec) e.task_exec = true;
  if (n.realAddr && (n.public || showPrivate)) e.real_addr = n.realAddr;
  if (n.tags.length) e.tags = n.tags;
  if (n.externalId) e.external_id = n.externalId;
  e.last_seen = rfc3339(n.lastSeen);
  return e;
}

const listNodes: OpSpec = {
  rate: "query",
  write: false,
  run(req, ctx) {
    const netId = readNetworkId(req, "network_id", false);
    const limit = readId(req, "limit", MAX_LIST_NODES) || DEFAULT_LIST_NODES;
    const after = readNodeId(req, "after_node_id", false);
    let ids: Iterable<number>;
    let showPrivate: boolean;
    if (netId === 0) {
      if (!ctx.authn.admin) {
        if (ctx.config.adminToken && ctx.authn.token) requireAdmin(ctx);
        throw new RequestError(
          "listing backbone nodes is not permitted (use lookup with a specific node_id)",
          "forbidden",
        );
      }
      ctx.actor = "admin";
      ids = [...ctx.state.nodes.values()].filter((n) => n.online).map((n) => n.id);
      showPrivate = true;
    } else {
      const net = network(ctx, netId);
      const member = readNodeId(req, "node_id", false);
      const isMember = member !== 0 && net.members.has(member) && proven(ctx, member);
      const token = hasNetworkToken(ctx, net);
      if (!isMember && !token && ctx.config.compat === "strict") {
        throw new RequestError(
          `listing network ${netId} requires membership: sign as a member (node_id) or present a token`,
          member !== 0 && proven(ctx, member) ? "forbidden" : "unauthorized",
        );
      }
      ids = net.members;
      // Fellow members (and token holders) may see private endpoints; the reference's anonymous listing may not.
      showPrivate = isMember || token;
    }
    const nodes: WireMessage[] = [];
    let next = 0;
    for (const id of [...ids].sort((a, b) => a - b)) {
      if (id <= after) continue;
      if (nodes.length >= limit) {
        next = nodes[nodes.length - 1].node_id as number;
        break;
      }
      nodes.push(memberEntry(ctx, netId, id, showPrivate));
    }
    const reply: WireMessage = { type: "list_nodes_ok", network_id: netId, nodes };
    if (next) reply.next_after_node_id = next;
    return reply;
  },
};

const listNetworks: OpSpec = {
  rate: "query",
  write: false,
  run(_req, ctx) {
    const networks: WireMessage[] = [
      {
        id: 0,
        name: "backbone",
        members: ctx.state.onlineCount,
        join_rule: "open",
        enterprise: false,
        created: 0,
      },
    ];
    for (const net of [...ctx.state.networks.values()].sort((a, b) => a.id - b.id)) {
      const e: WireMessage = {
        id: net.id,
        name: net.name,
        members: net.members.size,
        join_rule: net.joinRule,
        enterprise: net.enterprise,
        created: Math.floor(net.created / 1000),
      };
      if (net.enterprise && net.policy.maxMembers) e.max_members = net.policy.maxMembers;
      if (net.enterprise && net.policy.description) e.description = net.policy.description;
      networks.push(e);
    }
    return { type: "list_networks_ok", networks };
  },
};

const punch: OpSpec = {
  rate: "resolve",
  write: false,
  run(req, ctx) {
    const requester = readNodeId(req, "requester_id");
    const a = readNodeId(req, "node_a");
    const b = readNodeId(req, "node_b");
    if (requester !== a && requester !== b) {
      throw new RequestError("punch denied: requester must be participant", "forbidden");
    }
    liveNode(ctx, requester);
    requireNode(ctx, requester, false);
    const na = liveNode(ctx, a);
    const nb = liveNode(ctx, b);
    const other = requester === a ? nb : na;
    // Unlike the reference, punch obeys the privacy rule for the other party's endpoint.
    if (!ctx.state.mayResolve(requester, other)) {
      throw new RequestError(
        `punch denied: node ${other.id} is private (establish mutual trust first)`,
        "forbidden",
      );
    }
    return { type: "punch_ok", node_a: a, node_a_addr: na.realAddr, node_b: b, node_b_addr: nb.realAddr };
  },
};

/** Handlers by message type. */
export const DISCOVERY_OPS: Record<string, OpSpec> = {
  lookup,
  resolve,
  resolve_hostname: resolveHostname,
  list_nodes: listNodes,
  list_networks: listNetworks,
  punch,
};
