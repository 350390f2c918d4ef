/**
 * Snapshot codec: the whole RegistryState as one JSON object and back. Defaults
 * are omitted so that 100 000 mostly-default nodes stay small. Derived indexes
 * (hostnames, network names, memberships, counters) are rebuilt on load rather
 * than stored, so a snapshot cannot contradict itself.
 * @module
 */
import type { JoinRule, Role } from "./events.ts";
import type { AuditEntry } from "./audit.ts";
import { identityFromJson, identityToJson } from "../identity/state.ts";
import { RegistryStoreError } from "../errors.ts";
import {
  compactList,
  type NetworkRecord,
  newNodeRecord,
  type NodeRecord,
  RegistryState,
  type StateOptions,
} from "./model.ts";

/** Value of the `format` key. */
export const SNAPSHOT_FORMAT = "pilot-registry-snapshot";
/** Current snapshot schema version. */
export const SNAPSHOT_VERSION = 1;

/** Thrown when a snapshot object does not have the expected shape. */
export class SnapshotFormatError extends RegistryStoreError {}

type Json = Record<string, unknown>;

function nodeToJson(n: NodeRecord): Json {
  const o: Json = { id: n.id, public_key: n.publicKey };
  if (n.owner) o.owner = n.owner;
  if (n.realAddr) o.real_addr = n.realAddr;
  if (n.lanAddrs.length) o.lan_addrs = n.lanAddrs;
  if (n.public) o.public = true;
  if (n.hostname) o.hostname = n.hostname;
  if (n.tags.length) o.tags = n.tags;
  if (n.taskExec) o.task_exec = true;
  if (n.poloScore) o.polo_score = n.poloScore;
  if (n.lastSeen) o.last_seen = n.lastSeen;
  if (!n.online) o.dormant_since = n.dormantSince;
  if (n.keyCreated) o.key_created = n.keyCreated;
  if (n.keyRotated) o.key_rotated = n.keyRotated;
  if (n.keyRotations) o.key_rot_count = n.keyRotations;
  if (n.keyExpires) o.key_expires = n.keyExpires;
  if (n.externalId) o.external_id = n.externalId;
  return o;
}

function nodeFromJson(o: Json): NodeRecord {
  const id = num(o.id);
  return newNodeRecord({
    id,
    publicKey: str(o.public_key),
    owner: str(o.owner),
    realAddr: str(o.real_addr),
    lanAddrs: shared(strArray(o.lan_addrs)),
    public: o.public === true,
    hostname: str(o.hostname),
    tags: shared(strArray(o.tags)),
    taskExec: o.task_exec === true,
    poloScore: num(o.polo_score),
    lastSeen: num(o.last_seen),
    online: o.dormant_since === undefined,
    dormantSince: num(o.dormant_since),
    keyCreated: num(o.key_created),
    keyRotated: num(o.key_rotated),
    keyRotations: num(o.key_rot_count),
    keyExpires: num(o.key_expires),
    externalId: str(o.external_id),
  });
}

function networkToJson(n: NetworkRecord): Json {
  const o: Json = {
    id: n.id,
    name: n.name,
    join_rule: n.joinRule,
    members: [...n.members],
    roles: Object.fromEntries(n.roles),
    enterprise: n.enterprise,
    created: n.created,
  };
  if (n.tokenHash) o.token_hash = n.tokenHash;
  if (n.adminTokenHash) o.admin_token_hash = n.adminTokenHash;
  if (n.policy.maxMembers || n.policy.allowedPorts.length || n.policy.description) {
    o.policy = {
      max_members: n.policy.maxMembers,
      allowed_ports: n.policy.allowedPorts,
      description: n.policy.description,
    };
  }
  return o;
}

function networkFromJson(o: Json): NetworkRecord {
  const policy = (o.policy ?? {}) as Json;
  const roles = new Map<number, Role>();
  for (const [k, v] of Object.entries((o.roles ?? {}) as Json)) roles.set(Number(k), v as Role);
  return {
    id: num(o.id),
    name: str(o.name),
    joinRule: str(o.join_rule) as JoinRule,
    tokenHash: str(o.token_hash),
    adminTokenHash: str(o.admin_token_hash),
    members: new Set(numArray(o.members)),
    roles,
    policy: {
      maxMembers: num(policy.max_members),
      allowedPorts: numArray(policy.allowed_ports),
      description: str(policy.description),
    },
    enterprise: o.enterprise === true,
    created: num(o.created),
  };
}

/** The state as a plain JSON-able object. */
export function snapshotOf(s: RegistryState): Json {
  const inbox = (m: Map<number, unknown[]>) => Object.fromEntries([...m].map(([k, v]) => [String(k), v]));
  return {
    format: SNAPSHOT_FORMAT,
    version: SNAPSHOT_VERSION,
    seq: s.seq,
    next_node: s.nextNode,
    next_network: s.nextNetwork,
    nodes: [...s.nodes.values()].map(nodeToJson),
    networks: [...s.networks.values()].map(networkToJson),
    trust_pairs: [...s.trust],
    key_index: [...s.keyIndex],
    owner_index: [...s.ownerIndex],
    handshake_inbox: inbox(s.handshakeInbox),
    handshake_responses: inbox(s.handshakeResponses),
    invites: inbox(s.invites),
    audit_log: s.audit.all(),
    identity: identityToJson(s.identity),
  };
}

/** Rebuilds a state from `snapshotOf` output. Throws SnapshotFormatError on a foreign object. */
export function stateFromSnapshot(o: Json, options: StateOptions = {}): RegistryState {
  if (o.format !== SNAPSHOT_FORMAT) throw new SnapshotFormatError(`not a registry snapshot`);
  if (o.version !== SNAPSHOT_VERSION) {
    throw new SnapshotFormatError(`unsupported snapshot version ${o.version}`);
  }
  const s = new RegistryState(options);
  s.seq = num(o.seq);
  s.nextNode = num(o.next_node) || 1;
  s.nextNetwork = num(o.next_network) || 1;
  for (const raw of (o.nodes ?? []) as Json[]) {
    const n = nodeFromJson(raw);
    s.nodes.set(n.id, n);
    if (n.online) s.onlineCount++;
    if (n.hostname) s.hostnameIndex.set(n.hostname, n.id);
  }
  for (const raw of (o.networks ?? []) as Json[]) {
    const net = networkFromJson(raw);
    s.networks.set(net.id, net);
    s.networkNames.set(net.name, net.id);
    for (const m of net.members) {
      let set = s.memberOf.get(m);
      if (!set) s.memberOf.set(m, set = new Set());
      set.add(net.id);
    }
  }
  for (const k of strArray(o.trust_pairs)) s.trust.add(k);
  for (const [k, v] of (o.key_index ?? []) as [string, number][]) s.keyIndex.set(k, v);
  for (const [k, v] of (o.owner_index ?? []) as [string, number][]) s.ownerIndex.set(k, v);
  const loadInbox = <T>(m: Map<number, T[]>, raw: unknown) => {
    for (const [k, v] of Object.entries((raw ?? {}) as Record<string, T[]>)) m.set(Number(k), v);
  };
  loadInbox(s.handshakeInbox, o.handshake_inbox);
  loadInbox(s.handshakeResponses, o.handshake_responses);
  loadInbox(s.invites, o.invites);
  for (const e of (o.audit_log ?? []) as AuditEntry[]) s.audit.push(e);
  s.identity = identityFromJson(o.identity);
  return s;
}

function shared(list: string[]): readonly string[] {
  return compactList(list);
}
function num(v: unknown): number {
  return typeof v === "number" && Number.isFinite(v) ? v : 0;
}
function str(v: unknown): string {
  return typeof v === "string" ? v : "";
}
function strArray(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
}
function numArray(v: unknown): number[] {
  return Array.isArray(v) ? v.filter((x): x is number => typeof x === "number") : [];
}
