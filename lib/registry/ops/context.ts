/**
 * What a request handler sees: the state, the registry's settings, the caller
 * (peer address and what it proved), the clock reading for this request, and
 * `emit`, which applies an event at once and queues it for the log. Handlers are
 * synchronous: validate, authorise, then emit, so no other request can interleave
 * between a check and the change it guards.
 * @module
 */
import type { RegistryEvent } from "../state/events.ts";
import type { RegistryState } from "../state/model.ts";
import type { Peer } from "../server.ts";
import type { WireMessage } from "../wire.ts";
import type { RateCategory } from "../ratelimit.ts";
import type { IdentityServices } from "../identity/services.ts";
import type { AuditExporter } from "../export/exporter.ts";

/** `strict`: our signed form only. `reference`: also what reference daemons and CLIs send. */
export type CompatMode = "strict" | "reference";

/** Settings the handlers consult. */
export interface OpConfig {
  compat: CompatMode;
  /** Global admin token; "" disables every admin-only operation. */
  adminToken: string;
  /** Nodes silent this long are reaped (made dormant). */
  staleAfterMs: number;
}

/** What the caller proved before the handler ran (authn.ts). */
export interface Authn {
  /** Node whose key signed the request (0 = none). Only valid while that node still has `key`. */
  node: number;
  /** base64 public key the signature was checked against. */
  key: string;
  /** How it was proved. */
  method: "auth" | "static" | "none";
  /** The `signature` field verified against the reference challenge (whatever the mode). */
  staticValid: boolean;
  /** A valid global admin token was presented. */
  admin: boolean;
  /** The raw `admin_token` text, for per-network token checks ("" if none). */
  token: string;
  /** Why a presented signature was rejected ("" when none was presented or it was fine). */
  failure: string;
}

/** An event as a handler writes it; the context stamps time, actor and source. */
export type NewEvent = RegistryEvent extends infer E
  ? E extends RegistryEvent ? Omit<E, "t" | "actor" | "source" | "seq"> : never
  : never;

/** Per-request context. */
export interface OpContext {
  readonly state: RegistryState;
  readonly config: OpConfig;
  readonly now: number;
  readonly peer: Peer;
  readonly authn: Authn;
  /** Who the audit trail names for events of this request; set by the authorisation checks. */
  actor: string;
  /** Soft (unlogged) beacon table. */
  readonly beacons: Map<number, { addr: string; expires: number }>;
  /** Applies and logs an event. */
  emit(ev: NewEvent): void;
  /** Identity webhook and JWKS clients (identity/services.ts). */
  readonly identity: IdentityServices;
  /** What the spec's `prepare` produced, if it has one. */
  prepared?: unknown;
  /** Audit export and the registry webhook (absent in registries built without them). */
  readonly auditExport?: AuditExporter;
}

/** A message type's handler and how the dispatcher treats it. */
export interface OpSpec {
  /** Rate-limit category. */
  rate: RateCategory;
  /** True when the type changes state: refused authentication is then audited. */
  write: boolean;
  /**
   * Optional I/O before `run` (an identity webhook, a JWKS download). It must not
   * change state; its result reaches `run` as `ctx.prepared`, and `run` re-checks
   * whatever the state may have changed meanwhile.
   */
  prepare?(req: WireMessage, ctx: OpContext): Promise<unknown>;
  /** Synchronous for state changes; only handlers that save settings outside the log return a promise. */
  run(req: WireMessage, ctx: OpContext): WireMessage | Promise<WireMessage>;
}
