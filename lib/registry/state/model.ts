/**
 * The registry's in-memory model: nodes, networks, trust pairs, relay inboxes,
 * invites and the audit ring, plus the indexes every query needs. It is changed
 * only by `applyEvent` (apply.ts); everything here is a read or an index helper,
 * so the model can be rebuilt from a snapshot plus the event log.
 * @module
 */
import type { JoinRule, Role } from "./events.ts";
import { AuditRing, DEFAULT_AUDIT_CAPACITY } from "./audit.ts";
import { type IdentityState, newIdentityState } from "../identity/state.ts";

/** Network 0: every node is a member. */
export const BACKBONE_ID = 0;
/**
 * First node id handed out. The draft reserves nodes 1–3 for the registry, beacon
 * and nameserver addresses; the reference ignores that and starts at 1.
 */
export const FIRST_NODE_ID = 4;
/** Largest node id (u32). */
export const MAX_NODE_ID = 0xffff_ffff;
/** Largest network id; 65535 is reserved by the draft, so the last allocated id is 65534. */
export const MAX_NETWORK_ID = 0xfffe;

/** One registered node. Times are Unix milliseconds; 0 means "not set". */
export interface NodeRecord {
  id: number;
  /** Standard base64 of the 32-byte Ed25519 key. */
  publicKey: string;
  owner: string;
  /** `ip:port` the node is reachable on, or "". */
  realAddr: string;
  lanAddrs: readonly string[];
  public: boolean;
  hostname: string;
  tags: readonly string[];
  taskExec: boolean;
  poloScore: number;
  /** Last heartbeat or registration (volatile). */
  lastSeen: number;
  /** False once reaped for silence: kept dormant so that re-registration restores it. */
  online: boolean;
  /** When the node went dormant (0 while online). */
  dormantSince: number;
  keyCreated: number;
  keyRotated: number;
  keyRotations: number;
  keyExpires: number;
  externalId: string;
}

/** A network's stored policy. */
export interface NetworkPolicy {
  /** 0 = unlimited. */
  maxMembers: number;
  allowedPorts: number[];
  description: string;
}

/** One network other than the backbone (whose members are implicit: every live node). */
export interface NetworkRecord {
  id: number;
  name: string;
  joinRule: JoinRule;
  /** Hex SHA-256 of the join token, or "". Tokens are never stored in the clear. */
  tokenHash: string;
  /** Hex SHA-256 of the per-network admin token, or "". */
  adminTokenHash: string;
  /** Members in join order. */
  members: Set<number>;
  roles: Map<number, Role>;
  policy: NetworkPolicy;
  enterprise: boolean;
  created: number;
}

/**
 * A relayed trust request. It stays until answered (or superseded) so that an
 * answer can be matched to a real request; `delivered` marks it as already
 * returned by a poll.
 */
export interface HandshakeRequest {
  from: number;
  delivered: boolean;
  justification: string;
  /** base64 signature over `handshake:<from>:<to>`, relayed so the receiver can verify it too. */
  signature: string;
  t: number;
}

/** A relayed answer waiting for the requester. */
export interface HandshakeResponse {
  from: number;
  accept: boolean;
  t: number;
}

/** A pending network invitation. */
export interface Invite {
  networkId: number;
  inviterId: number;
  t: number;
}

/** Options fixed for the life of a state (they must match on every replica). */
export interface StateOptions {
  auditCapacity?: number;
}

/** The whole registry state. */
export class RegistryState {
  nextNode = FIRST_NODE_ID;
  nextNetwork = 1;
  /** Sequence number of the last applied logged event. */
  seq = 0;
  readonly nodes: Map<number, NodeRecord> = new Map();
  readonly networks: Map<number, NetworkRecord> = new Map();
  /**
   * Directed trust edges keyed `truster>trustee`: "truster consents to trustee
   * seeing its endpoint". The reference keeps unordered pairs that either side
   * can create alone; directed edges make consent explicit (see docs/compat.md).
   */
  readonly trust: Set<string> = new Set();
  readonly handshakeInbox: Map<number, HandshakeRequest[]> = new Map();
  readonly handshakeResponses: Map<number, HandshakeResponse[]> = new Map();
  /** Invites keyed by target node. */
  readonly invites: Map<number, Invite[]> = new Map();
  /** Public key → node id, kept after deregistration so the same key gets the same id back. */
  readonly keyIndex: Map<string, number> = new Map();
  /** Owner string → node id. */
  readonly ownerIndex: Map<string, number> = new Map();
  /** Hostname → node id (live and dormant nodes). */
  readonly hostnameIndex: Map<string, number> = new Map();
  /** Network name → id. */
  readonly networkNames: Map<string, number> = new Map();
  /** Node → non-backbone networks it belongs to. */
  readonly memberOf: Map<number, Set<number>> = new Map();
  readonly audit: AuditRing;
  /** Identity webhook, IdP, pre-assignments, directory syncs (identity/state.ts). */
  identity: IdentityState = newIdentityState();
  /** Count of online nodes, kept by apply for cheap metrics. */
  onlineCount = 0;

  constructor(options: StateOptions = {}) {
    this.audit = new AuditRing(options.auditCapacity ?? DEFAULT_AUDIT_CAPACITY);
  }

  /** The node if it is registered and online. */
  liveNode(id: number): NodeRecord | undefined {
    const n = this.nodes.get(id);
    return n && n.online ? n : undefined;
  }

  /** Networks of a node, backbone first, then ascending. */
  networksOf(id: number): number[] {
    const set = this.memberOf.get(id);
    const list = set ? [...set].sort((a, b) => a - b) : [];
    return [BACKBONE_ID, ...list];
  }

  /** True when both nodes share a network other than the backbone. */
  shareNetwork(a: number, b: number): boolean {
    const sa = this.memberOf.get(a);
    const sb = this.memberOf.get(b);
    if (!sa || !sb) return false;
    const [small, large] = sa.size <= sb.size ? [sa, sb] : [sb, sa];
    for (const net of small) if (large.has(net)) return true;
    return false;
  }

  /** True when either node has declared trust in the other (the reference's unordered pair). */
  isTrusted(a: number, b: number): boolean {
    return this.trust.has(trustKey(a, b)) || this.trust.has(trustKey(b, a));
  }

  /** True when `truster` has declared trust in `trustee`. */
  trusts(truster: number, trustee: number): boolean {
    return this.trust.has(trustKey(truster, trustee));
  }

  /**
   * The privacy rule: may `requester` see `target`'s endpoint? Public nodes: yes;
   * private nodes: only themselves, peers the target trusts, and members of a
   * shared non-backbone network.
   */
  mayResolve(requester: number, target: NodeRecord): boolean {
    if (target.public || requester === target.id) return true;
    return this.trusts(target.id, requester) || this.shareNetwork(requester, target.id);
  }

  /** The role of a node in a network, or undefined. */
  roleOf(networkId: number, nodeId: number): Role | undefined {
    return this.networks.get(networkId)?.roles.get(nodeId);
  }

  /** The owner of a network, or 0. */
  ownerOf(networkId: number): number {
    const net = this.networks.get(networkId);
    if (!net) return 0;
    for (const [id, role] of net.roles) if (role === "owner") return id;
    return 0;
  }
}

/** The key of the directed trust edge "truster trusts trustee". */
export function trustKey(truster: number, trustee: number): string {
  return `${truster}>${trustee}`;
}

/** One shared empty list: most nodes have no tags or LAN addresses, and lists are replaced, never mutated. */
export const NO_STRINGS: readonly string[] = Object.freeze([]);

/**
 * `list` as the state keeps it: the shared empty list, or an exact-size copy. An array built by
 * push or filter keeps spare slots (17 for one element: ~150 bytes, per node, on the LAN address
 * list of every registration; docs/benchmarks.md, "Registry memory").
 */
export function compactList(list: readonly string[]): readonly string[] {
  return list.length ? list.slice() : NO_STRINGS;
}

/** A fresh node record with defaults for everything not given. */
export function newNodeRecord(
  fields: Pick<NodeRecord, "id" | "publicKey"> & Partial<NodeRecord>,
): NodeRecord {
  // Every field named in one literal, so that all are in-object: one added by a spread would go
  // to a separate property array (~40 bytes more per node).
  return {
    id: fields.id,
    publicKey: fields.publicKey,
    owner: fields.owner ?? "",
    realAddr: fields.realAddr ?? "",
    lanAddrs: fields.lanAddrs ?? NO_STRINGS,
    public: fields.public ?? false,
    hostname: fields.hostname ?? "",
    tags: fields.tags ?? NO_STRINGS,
    taskExec: fields.taskExec ?? false,
    poloScore: fields.poloScore ?? 0,
    lastSeen: fields.lastSeen ?? 0,
    online: fields.online ?? true,
    dormantSince: fields.dormantSince ?? 0,
    keyCreated: fields.keyCreated ?? 0,
    keyRotated: fields.keyRotated ?? 0,
    keyRotations: fields.keyRotations ?? 0,
    keyExpires: fields.keyExpires ?? 0,
    externalId: fields.externalId ?? "",
  };
}
