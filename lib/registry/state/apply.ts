/**
 * `applyEvent`: the only code that changes a RegistryState. It is deterministic
 * (no clock, no randomness, no I/O: every value comes from the event), total (an
 * event that no longer fits the state, e.g. one naming a node since removed, is a
 * no-op rather than an error, so replaying a log never fails half-way), and it
 * writes the audit entry for each security-relevant change with old and new values.
 * @module
 */
import type { EventOf, RegistryEvent, Role } from "./events.ts";
import { VOLATILE_EVENTS } from "./events.ts";
import type { AuditEntry } from "./audit.ts";
import { compactList, type NetworkRecord, newNodeRecord, type RegistryState, trustKey } from "./model.ts";
import { identityHandlers } from "./identity_apply.ts";

/** Requests (and, separately, answers) held per node; the reference's inbox size. */
export const HANDSHAKE_INBOX_LIMIT = 100;
/** Scores are clamped to ±this. */
export const MAX_POLO_SCORE = 1_000_000;

/** Applies one event to `state` (and its audit entry, if any). */
export function applyEvent(state: RegistryState, ev: RegistryEvent): void {
  if (ev.seq !== undefined && !VOLATILE_EVENTS.has(ev.kind)) state.seq = Math.max(state.seq, ev.seq);
  const handler = HANDLERS[ev.kind] as (s: RegistryState, e: RegistryEvent) => void;
  handler(state, ev);
}

/** One handler per event kind; the compiler checks that none is missing. */
export type Handlers = { [K in RegistryEvent["kind"]]: (s: RegistryState, e: EventOf<K>) => void };

function audit(
  s: RegistryState,
  ev: RegistryEvent,
  action: string,
  fields: Partial<Pick<AuditEntry, "network_id" | "node_id" | "details" | "old" | "new">> = {},
): void {
  const entry: AuditEntry = {
    seq: ev.seq ?? 0,
    t: ev.t,
    action,
    actor: ev.actor,
    network_id: fields.network_id ?? 0,
    node_id: fields.node_id ?? 0,
  };
  if (ev.source) entry.source = ev.source;
  if (fields.details) entry.details = fields.details;
  if (fields.old !== undefined) entry.old = fields.old;
  if (fields.new !== undefined) entry.new = fields.new;
  s.audit.push(entry);
}

function addMember(s: RegistryState, net: NetworkRecord, nodeId: number, role: Role): void {
  net.members.add(nodeId);
  net.roles.set(nodeId, role);
  let set = s.memberOf.get(nodeId);
  if (!set) s.memberOf.set(nodeId, set = new Set());
  set.add(net.id);
  dropInvites(s, (target, inv) => target === nodeId && inv.networkId === net.id);
}

function removeMember(s: RegistryState, net: NetworkRecord, nodeId: number): void {
  net.members.delete(nodeId);
  net.roles.delete(nodeId);
  const set = s.memberOf.get(nodeId);
  if (set) {
    set.delete(net.id);
    if (set.size === 0) s.memberOf.delete(nodeId);
  }
  dropInvites(
    s,
    (target, inv) => inv.networkId === net.id && (target === nodeId || inv.inviterId === nodeId),
  );
}

function dropInvites(
  s: RegistryState,
  match: (target: number, inv: { networkId: number; inviterId: number; t: number }) => boolean,
): void {
  for (const [target, list] of s.invites) {
    const kept = list.filter((inv) => !match(target, inv));
    if (kept.length === list.length) continue;
    if (kept.length === 0) s.invites.delete(target);
    else s.invites.set(target, kept);
  }
}

/** Removes every trace of a node except its key/owner index entries and trust pairs. */
function removeNode(s: RegistryState, ev: RegistryEvent, nodeId: number): string[] {
  const node = s.nodes.get(nodeId);
  if (!node) return [];
  const nets: string[] = [];
  for (const netId of s.memberOf.get(nodeId) ?? []) {
    const net = s.networks.get(netId);
    if (!net) continue;
    nets.push(String(netId));
    const wasOwner = net.roles.get(nodeId) === "owner";
    removeMember(s, net, nodeId);
    if (wasOwner && net.members.size > 0) {
      audit(s, ev, "network.owner_lost", { network_id: netId, node_id: nodeId });
    }
  }
  s.memberOf.delete(nodeId);
  s.invites.delete(nodeId);
  dropInvites(s, (_t, inv) => inv.inviterId === nodeId);
  s.handshakeInbox.delete(nodeId);
  s.handshakeResponses.delete(nodeId);
  if (node.hostname && s.hostnameIndex.get(node.hostname) === nodeId) s.hostnameIndex.delete(node.hostname);
  if (node.online) s.onlineCount--;
  s.nodes.delete(nodeId);
  return nets;
}

function queueResponse(s: RegistryState, to: number, from: number, accept: boolean, t: number): void {
  let list = s.handshakeResponses.get(to);
  if (!list) s.handshakeResponses.set(to, list = []);
  list.push({ from, accept, t });
  if (list.length > HANDSHAKE_INBOX_LIMIT) list.shift();
}

function dropRequest(s: RegistryState, inboxOf: number, from: number): boolean {
  const list = s.handshakeInbox.get(inboxOf);
  if (!list) return false;
  const kept = list.filter((r) => r.from !== from);
  if (kept.length === list.length) return false;
  if (kept.length === 0) s.handshakeInbox.delete(inboxOf);
  else s.handshakeInbox.set(inboxOf, kept);
  return true;
}

function policyView(net: NetworkRecord): Record<string, unknown> {
  return {
    max_members: net.policy.maxMembers,
    allowed_ports: [...net.policy.allowedPorts],
    description: net.policy.description,
  };
}

const HANDLERS: Handlers = {
  "node.registered"(s, ev) {
    const existing = s.nodes.get(ev.node_id);
    if (ev.mode === "existing" || ev.mode === "revived") {
      if (!existing) return;
      const old = existing.realAddr;
      existing.realAddr = ev.real_addr;
      existing.lanAddrs = compactList(ev.lan_addrs);
      existing.lastSeen = ev.t;
      if (!existing.owner && ev.owner) {
        existing.owner = ev.owner;
        s.ownerIndex.set(ev.owner, ev.node_id);
      }
      if (!existing.online) {
        existing.online = true;
        existing.dormantSince = 0;
        s.onlineCount++;
      }
      audit(s, ev, "node.re_registered", {
        node_id: ev.node_id,
        details: { mode: ev.mode },
        old: { real_addr: old },
        new: { real_addr: ev.real_addr },
      });
      return;
    }
    if (ev.mode === "owner_reclaim" && existing) {
      if (s.keyIndex.get(existing.publicKey) === ev.node_id) s.keyIndex.delete(existing.publicKey);
      const oldKey = existing.publicKey;
      existing.publicKey = ev.public_key;
      existing.realAddr = ev.real_addr;
      existing.lanAddrs = compactList(ev.lan_addrs);
      existing.lastSeen = ev.t;
      existing.keyCreated = ev.t;
      existing.keyRotated = 0;
      existing.keyRotations = 0;
      existing.keyExpires = 0;
      if (!existing.online) {
        existing.online = true;
        existing.dormantSince = 0;
        s.onlineCount++;
      }
      s.keyIndex.set(ev.public_key, ev.node_id);
      audit(s, ev, "node.re_registered", {
        node_id: ev.node_id,
        details: { mode: ev.mode, owner: ev.owner },
        old: { public_key: oldKey },
        new: { public_key: ev.public_key },
      });
      return;
    }
    if (existing) return; // a "new"/"reclaimed" event for a live id cannot be applied twice
    const node = newNodeRecord({
      id: ev.node_id,
      publicKey: ev.public_key,
      owner: ev.owner,
      realAddr: ev.real_addr,
      lanAddrs: compactList(ev.lan_addrs),
      lastSeen: ev.t,
      keyCreated: ev.t,
    });
    s.nodes.set(node.id, node);
    s.onlineCount++;
    s.keyIndex.set(ev.public_key, node.id);
    if (ev.owner) s.ownerIndex.set(ev.owner, node.id);
    if (node.id >= s.nextNode) s.nextNode = node.id + 1;
    audit(s, ev, ev.mode === "new" ? "node.registered" : "node.re_registered", {
      node_id: node.id,
      details: { mode: ev.mode },
      new: { public_key: ev.public_key, real_addr: ev.real_addr },
    });
  },
  "node.heartbeat"(s, ev) {
    const n = s.nodes.get(ev.node_id);
    if (n && n.online) n.lastSeen = Math.max(n.lastSeen, ev.t);
  },
  "node.deregistered"(s, ev) {
    if (!s.nodes.has(ev.node_id)) return;
    const nets = removeNode(s, ev, ev.node_id);
    audit(s, ev, "node.deregistered", { node_id: ev.node_id, details: { networks: nets.join(" ") } });
  },
  "node.reaped"(s, ev) {
    const n = s.nodes.get(ev.node_id);
    if (!n || !n.online) return;
    n.online = false;
    n.dormantSince = ev.t;
    s.onlineCount--;
    audit(s, ev, "node.reaped", {
      node_id: ev.node_id,
      // max(0, …) also turns -0 into 0, which a JSON round trip would do anyway.
      details: {
        reason: "stale_heartbeat",
        last_seen_ago_s: Math.max(0, Math.round((ev.t - n.lastSeen) / 1000)),
      },
    });
  },
  "node.purged"(s, ev) {
    if (!s.nodes.has(ev.node_id)) return;
    const nets = removeNode(s, ev, ev.node_id);
    audit(s, ev, "node.purged", { node_id: ev.node_id, details: { networks: nets.join(" ") } });
  },
  "key.rotated"(s, ev) {
    const n = s.nodes.get(ev.node_id);
    if (!n) return;
    const old = n.publicKey;
    if (s.keyIndex.get(old) === n.id) s.keyIndex.delete(old);
    n.publicKey = ev.public_key;
    n.keyRotated = ev.t;
    n.keyRotations++;
    s.keyIndex.set(ev.public_key, n.id);
    audit(s, ev, "key.rotated", { node_id: n.id, old: old, new: ev.public_key });
  },
  "key.expiry_set"(s, ev) {
    const n = s.nodes.get(ev.node_id);
    if (!n) return;
    const old = n.keyExpires;
    n.keyExpires = ev.expires_at;
    audit(s, ev, ev.expires_at ? "key.expiry_set" : "key.expiry_cleared", {
      node_id: n.id,
      old: old ? new Date(old).toISOString() : null,
      new: ev.expires_at ? new Date(ev.expires_at).toISOString() : null,
    });
  },
  "key.expired_heartbeat_blocked"(s, ev) {
    audit(s, ev, "key.expired_heartbeat_blocked", { node_id: ev.node_id });
  },
  "node.visibility_set"(s, ev) {
    const n = s.nodes.get(ev.node_id);
    if (!n) return;
    const old = n.public;
    n.public = ev.public;
    audit(s, ev, "visibility.changed", {
      node_id: n.id,
      old: old ? "public" : "private",
      new: ev.public ? "public" : "private",
    });
  },
  "node.hostname_set"(s, ev) {
    const n = s.nodes.get(ev.node_id);
    if (!n) return;
    const holder = ev.hostname ? s.hostnameIndex.get(ev.hostname) : undefined;
    if (holder !== undefined && holder !== n.id) return; // taken meanwhile: a no-op, never a steal
    const old = n.hostname;
    if (old && s.hostnameIndex.get(old) === n.id) s.hostnameIndex.delete(old);
    n.hostname = ev.hostname;
    if (ev.hostname) s.hostnameIndex.set(ev.hostname, n.id);
    audit(s, ev, "hostname.changed", { node_id: n.id, old, new: ev.hostname });
  },
  "node.tags_set"(s, ev) {
    const n = s.nodes.get(ev.node_id);
    if (!n) return;
    const old = n.tags;
    n.tags = compactList(ev.tags);
    audit(s, ev, "tags.changed", { node_id: n.id, old, new: n.tags });
  },
  "node.task_exec_set"(s, ev) {
    const n = s.nodes.get(ev.node_id);
    if (!n) return;
    const old = n.taskExec;
    n.taskExec = ev.enabled;
    audit(s, ev, "task_exec.changed", { node_id: n.id, old, new: ev.enabled });
  },
  "score.updated"(s, ev) {
    const n = s.nodes.get(ev.node_id);
    if (!n) return;
    const old = n.poloScore;
    n.poloScore = Math.max(-MAX_POLO_SCORE, Math.min(MAX_POLO_SCORE, old + ev.delta));
    audit(s, ev, "polo_score.updated", {
      node_id: n.id,
      details: { delta: ev.delta },
      old,
      new: n.poloScore,
    });
  },
  "score.set"(s, ev) {
    const n = s.nodes.get(ev.node_id);
    if (!n) return;
    const old = n.poloScore;
    n.poloScore = Math.max(-MAX_POLO_SCORE, Math.min(MAX_POLO_SCORE, ev.score));
    audit(s, ev, "polo_score.set", { node_id: n.id, old, new: n.poloScore });
  },
  "trust.created"(s, ev) {
    const key = trustKey(ev.node_a, ev.node_b);
    if (s.trust.has(key)) return;
    s.trust.add(key);
    audit(s, ev, "trust.created", {
      node_id: ev.node_a,
      details: { node_a: ev.node_a, node_b: ev.node_b, via: ev.via },
    });
  },
  "trust.revoked"(s, ev) {
    const a = s.trust.delete(trustKey(ev.node_a, ev.node_b));
    const b = s.trust.delete(trustKey(ev.node_b, ev.node_a));
    if (!a && !b) return;
    audit(s, ev, "trust.revoked", { node_id: ev.node_a, details: { node_a: ev.node_a, node_b: ev.node_b } });
  },
  "handshake.requested"(s, ev) {
    const to = ev.to_node_id;
    const list = (s.handshakeInbox.get(to) ?? []).filter((r) => r.from !== ev.from_node_id);
    list.push({
      from: ev.from_node_id,
      delivered: false,
      justification: ev.justification,
      signature: ev.signature,
      t: ev.t,
    });
    // Bounded: the oldest already-delivered request gives way to a new one.
    if (list.length > HANDSHAKE_INBOX_LIMIT) {
      const i = list.findIndex((r) => r.delivered);
      list.splice(i >= 0 ? i : 0, 1);
    }
    s.handshakeInbox.set(to, list);
    audit(s, ev, "handshake.relayed", {
      node_id: ev.from_node_id,
      details: { from: ev.from_node_id, to },
    });
  },
  "handshake.auto_approved"(s, ev) {
    const { from_node_id: from, to_node_id: to } = ev;
    s.trust.add(trustKey(from, to));
    s.trust.add(trustKey(to, from));
    queueResponse(s, from, to, true, ev.t);
    // A mutual request: the target's own pending request is answered too.
    if (dropRequest(s, from, to)) queueResponse(s, to, from, true, ev.t);
    audit(s, ev, "handshake.auto_approved", { node_id: from, details: { from, to, reason: ev.reason } });
  },
  "handshake.responded"(s, ev) {
    const responder = ev.node_id;
    const requester = ev.peer_id;
    const requested = dropRequest(s, responder, requester);
    if (ev.accept) {
      s.trust.add(trustKey(responder, requester));
      // The requester consented by asking; without a request only the responder's consent exists.
      if (requested) s.trust.add(trustKey(requester, responder));
    }
    queueResponse(s, requester, responder, ev.accept, ev.t);
    audit(s, ev, "handshake.responded", {
      node_id: responder,
      details: { peer_id: requester, accept: ev.accept, requested },
    });
  },
  "handshakes.polled"(s, ev) {
    for (const r of s.handshakeInbox.get(ev.node_id) ?? []) r.delivered = true;
    s.handshakeResponses.delete(ev.node_id);
  },
  "network.created"(s, ev) {
    if (s.networks.has(ev.network_id)) return;
    const net: NetworkRecord = {
      id: ev.network_id,
      name: ev.name,
      joinRule: ev.join_rule,
      tokenHash: ev.token_hash,
      adminTokenHash: ev.admin_token_hash,
      members: new Set(),
      roles: new Map(),
      policy: { maxMembers: 0, allowedPorts: [], description: "" },
      enterprise: ev.enterprise,
      created: ev.t,
    };
    s.networks.set(net.id, net);
    s.networkNames.set(net.name, net.id);
    if (net.id >= s.nextNetwork) s.nextNetwork = net.id + 1;
    if (ev.creator && s.nodes.has(ev.creator)) addMember(s, net, ev.creator, "owner");
    audit(s, ev, "network.created", {
      network_id: net.id,
      node_id: ev.creator,
      details: { name: ev.name, join_rule: ev.join_rule, enterprise: ev.enterprise },
    });
  },
  "network.joined"(s, ev) {
    const net = s.networks.get(ev.network_id);
    if (!net || net.members.has(ev.node_id) || !s.nodes.has(ev.node_id)) return;
    addMember(s, net, ev.node_id, "member");
    audit(s, ev, "network.joined", { network_id: net.id, node_id: ev.node_id, details: { via: ev.via } });
  },
  "network.left"(s, ev) {
    const net = s.networks.get(ev.network_id);
    if (!net || !net.members.has(ev.node_id)) return;
    const role = net.roles.get(ev.node_id);
    removeMember(s, net, ev.node_id);
    audit(s, ev, "network.left", { network_id: net.id, node_id: ev.node_id, old: role ?? null });
  },
  "network.deleted"(s, ev) {
    const net = s.networks.get(ev.network_id);
    if (!net) return;
    for (const m of [...net.members]) removeMember(s, net, m);
    dropInvites(s, (_t, inv) => inv.networkId === net.id);
    s.networks.delete(net.id);
    if (s.networkNames.get(net.name) === net.id) s.networkNames.delete(net.name);
    s.identity.preAssign.delete(net.id);
    s.identity.lastSync.delete(net.id);
    audit(s, ev, "network.deleted", { network_id: net.id, details: { name: net.name } });
  },
  "network.renamed"(s, ev) {
    const net = s.networks.get(ev.network_id);
    if (!net) return;
    const holder = s.networkNames.get(ev.name);
    if (holder !== undefined && holder !== net.id) return;
    const old = net.name;
    s.networkNames.delete(old);
    net.name = ev.name;
    s.networkNames.set(ev.name, net.id);
    audit(s, ev, "network.renamed", { network_id: net.id, old, new: ev.name });
  },
  "network.enterprise_set"(s, ev) {
    const net = s.networks.get(ev.network_id);
    if (!net) return;
    const old = net.enterprise;
    net.enterprise = ev.enterprise;
    // Enabling enterprise on a network without an owner makes its first member the owner.
    if (ev.enterprise && net.members.size > 0 && ![...net.roles.values()].includes("owner")) {
      net.roles.set(net.members.values().next().value!, "owner");
    }
    audit(s, ev, "network.enterprise_changed", { network_id: net.id, old, new: ev.enterprise });
  },
  "network.policy_set"(s, ev) {
    const net = s.networks.get(ev.network_id);
    if (!net) return;
    const old = policyView(net);
    if (ev.max_members !== undefined) net.policy.maxMembers = ev.max_members;
    if (ev.allowed_ports !== undefined) net.policy.allowedPorts = [...ev.allowed_ports];
    if (ev.description !== undefined) net.policy.description = ev.description;
    audit(s, ev, "network.policy_changed", { network_id: net.id, old, new: policyView(net) });
  },
  "member.kicked"(s, ev) {
    const net = s.networks.get(ev.network_id);
    if (!net || !net.members.has(ev.node_id)) return;
    const role = net.roles.get(ev.node_id);
    removeMember(s, net, ev.node_id);
    audit(s, ev, "member.kicked", { network_id: net.id, node_id: ev.node_id, old: role ?? null });
  },
  "member.role_set"(s, ev) {
    const net = s.networks.get(ev.network_id);
    if (!net || !net.members.has(ev.node_id)) return;
    const old = net.roles.get(ev.node_id) ?? "member";
    net.roles.set(ev.node_id, ev.role);
    const action = ev.role === "admin" && old === "member" ? "member.promoted" : "member.demoted";
    audit(s, ev, action, { network_id: net.id, node_id: ev.node_id, old, new: ev.role });
  },
  "network.ownership_transferred"(s, ev) {
    const net = s.networks.get(ev.network_id);
    if (!net || !net.members.has(ev.new_owner)) return;
    for (const [id, role] of net.roles) if (role === "owner") net.roles.set(id, "admin");
    net.roles.set(ev.new_owner, "owner");
    audit(s, ev, "network.ownership_transferred", {
      network_id: net.id,
      node_id: ev.new_owner,
      old: ev.old_owner,
      new: ev.new_owner,
    });
  },
  "invite.created"(s, ev) {
    let list = s.invites.get(ev.target_node_id);
    if (!list) s.invites.set(ev.target_node_id, list = []);
    if (list.some((i) => i.networkId === ev.network_id)) return;
    list.push({ networkId: ev.network_id, inviterId: ev.inviter_id, t: ev.t });
    audit(s, ev, "invite.created", {
      network_id: ev.network_id,
      node_id: ev.target_node_id,
      details: { inviter_id: ev.inviter_id },
    });
  },
  "invite.responded"(s, ev) {
    dropInvites(s, (target, inv) => target === ev.node_id && inv.networkId === ev.network_id);
    const net = s.networks.get(ev.network_id);
    if (ev.accept && net && !net.members.has(ev.node_id) && s.nodes.has(ev.node_id)) {
      addMember(s, net, ev.node_id, "member");
    }
    audit(s, ev, "invite.responded", {
      network_id: ev.network_id,
      node_id: ev.node_id,
      details: { accept: ev.accept },
    });
  },
  "invites.expired"(s, ev) {
    const list = s.invites.get(ev.node_id);
    if (!list) return;
    const kept = list.filter((i) => i.t >= ev.before);
    if (kept.length === list.length) return;
    if (kept.length === 0) s.invites.delete(ev.node_id);
    else s.invites.set(ev.node_id, kept);
    audit(s, ev, "invite.expired_cleanup", {
      node_id: ev.node_id,
      details: { removed: list.length - kept.length },
    });
  },
  "auth.refused"(s, ev) {
    audit(s, ev, "auth.refused", { node_id: ev.node_id, details: { type: ev.type, reason: ev.reason } });
  },
  "beacon.registered"(s, ev) {
    audit(s, ev, "beacon.registered", { details: { beacon_id: ev.beacon_id, addr: ev.addr } });
  },
  ...identityHandlers(audit),
  "audit_export.configured"(s, ev) {
    audit(s, ev, "audit_export.configured", {
      details: { target: ev.target, format: ev.format, endpoint: ev.endpoint },
    });
  },
};
