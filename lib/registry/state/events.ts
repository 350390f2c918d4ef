/**
 * The registry's events: every change to registry state is one of these, applied
 * by `applyEvent` and appended to the write-ahead log. An event carries every value
 * the change needs (ids already allocated, times already read), so applying the
 * same events in the same order always yields the same state, here, after a
 * restart, or on a standby. Keys are snake_case because events are persisted and
 * exported as JSON.
 * @module
 */
import type { IdpJson } from "../identity/state.ts";

/** Who caused an event: `node:<id>`, `admin`, `network-token:<net>`, `anonymous` or `registry`. */
export type Actor = string;

/** Network roles, strongest first. */
export type Role = "owner" | "admin" | "member";

/** How a network admits joiners. */
export type JoinRule = "open" | "token" | "invite";

/**
 * How a `register` found its node: a fresh id (`new`), the live node holding the
 * key (`existing`), a node reaped for silence (`revived`, attributes kept), a
 * deregistered or purged node whose key is still indexed (`reclaimed`, attributes
 * reset), or an admin-approved takeover of a node by owner string (`owner_reclaim`).
 */
export type RegisterMode = "new" | "existing" | "revived" | "reclaimed" | "owner_reclaim";

interface Base {
  /** Sequence number, assigned by the store when the event is logged. */
  seq?: number;
  /** Replication epoch of the primary that produced it (absent = 0); raised by each promotion. */
  epoch?: number;
  /** Unix milliseconds when the registry produced the event. */
  t: number;
  /** Who caused it. */
  actor: Actor;
  /** Peer address of the request, when one caused it (audit only). */
  source?: string;
}

/** Every event kind with its fields. */
export type RegistryEvent =
  | Base & {
    kind: "node.registered";
    node_id: number;
    public_key: string;
    owner: string;
    real_addr: string;
    lan_addrs: string[];
    mode: RegisterMode;
  }
  | Base & { kind: "node.heartbeat"; node_id: number }
  | Base & { kind: "node.deregistered"; node_id: number }
  | Base & { kind: "node.reaped"; node_id: number }
  | Base & { kind: "node.purged"; node_id: number }
  | Base & { kind: "key.rotated"; node_id: number; public_key: string }
  | Base & { kind: "key.expiry_set"; node_id: number; expires_at: number }
  | Base & { kind: "key.expired_heartbeat_blocked"; node_id: number }
  | Base & { kind: "node.visibility_set"; node_id: number; public: boolean }
  | Base & { kind: "node.hostname_set"; node_id: number; hostname: string }
  | Base & { kind: "node.tags_set"; node_id: number; tags: string[] }
  | Base & { kind: "node.task_exec_set"; node_id: number; enabled: boolean }
  | Base & { kind: "score.updated"; node_id: number; delta: number }
  | Base & { kind: "score.set"; node_id: number; score: number }
  | Base & { kind: "trust.created"; node_a: number; node_b: number; via: "report" | "handshake" | "auto" }
  | Base & { kind: "trust.revoked"; node_a: number; node_b: number }
  | Base & {
    kind: "handshake.requested";
    from_node_id: number;
    to_node_id: number;
    justification: string;
    signature: string;
  }
  | Base & { kind: "handshake.auto_approved"; from_node_id: number; to_node_id: number; reason: string }
  | Base & { kind: "handshake.responded"; node_id: number; peer_id: number; accept: boolean }
  | Base & { kind: "handshakes.polled"; node_id: number }
  | Base & {
    kind: "network.created";
    network_id: number;
    name: string;
    join_rule: JoinRule;
    token_hash: string;
    admin_token_hash: string;
    enterprise: boolean;
    creator: number;
  }
  | Base & { kind: "network.joined"; network_id: number; node_id: number; via: string }
  | Base & { kind: "network.left"; network_id: number; node_id: number }
  | Base & { kind: "network.deleted"; network_id: number }
  | Base & { kind: "network.renamed"; network_id: number; name: string }
  | Base & { kind: "network.enterprise_set"; network_id: number; enterprise: boolean }
  | Base & {
    kind: "network.policy_set";
    network_id: number;
    max_members?: number;
    allowed_ports?: number[];
    description?: string;
  }
  | Base & { kind: "member.kicked"; network_id: number; node_id: number }
  | Base & { kind: "member.role_set"; network_id: number; node_id: number; role: Role }
  | Base & { kind: "network.ownership_transferred"; network_id: number; old_owner: number; new_owner: number }
  | Base & { kind: "invite.created"; network_id: number; inviter_id: number; target_node_id: number }
  | Base & { kind: "invite.responded"; network_id: number; node_id: number; accept: boolean }
  | Base & { kind: "invites.expired"; node_id: number; before: number }
  | Base & { kind: "auth.refused"; type: string; node_id: number; reason: string }
  | Base & { kind: "beacon.registered"; beacon_id: number; addr: string }
  // Identity integration (identity/state.ts, state/identity_apply.ts).
  | Base & { kind: "identity.webhook_set"; url: string }
  | Base & { kind: "identity.external_id_set"; node_id: number; external_id: string }
  /** `idp` null clears the IdP and the identity-webhook URL; otherwise the webhook URL becomes `idp.url`. */
  | Base & { kind: "idp.configured"; idp: IdpJson | null }
  | Base & {
    kind: "network.pre_assignments_set";
    network_id: number;
    entries: { external_id: string; role: "admin" | "member" }[];
  }
  | Base & {
    kind: "network.provisioned";
    network_id: number;
    name: string;
    created: boolean;
    actions: string[];
  }
  | Base & {
    kind: "directory.synced";
    network_id: number;
    total: number;
    mapped: number;
    unmapped: number;
    updated: number;
    disabled: number;
  }
  | Base & { kind: "audit_export.configured"; target: string; format: string; endpoint: string };

/** The `kind` strings. */
export type EventKind = RegistryEvent["kind"];

/** The event of one kind. */
export type EventOf<K extends EventKind> = Extract<RegistryEvent, { kind: K }>;

/**
 * Events that are applied and published but not written to the log: liveness
 * only. After a restart every node gets a fresh grace period instead.
 */
export const VOLATILE_EVENTS: ReadonlySet<EventKind> = new Set<EventKind>(["node.heartbeat"]);
