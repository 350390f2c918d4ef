/**
 * The registry service without its sockets: request dispatch (global budget →
 * per-address budget for unsigned requests, or authenticate → per-node budget for
 * signed ones → global rate → handler → wait until durable → reply), the maintenance timer
 * (reaping silent nodes, purging long-dormant ones, pruning caches) and the
 * counters behind /metrics. `FrameServer` (server.ts) feeds it requests.
 * @module
 */
import { Logger } from "../log.ts";
import { Authenticator } from "./authn.ts";
import { RequestError } from "./errors.ts";
import {
  type CompatMode,
  type NewEvent,
  type OpContext,
  OPS,
  type OpSpec,
  UNSUPPORTED_TYPES,
} from "./ops/mod.ts";
import { DEFAULT_RATE_LIMITS, type RateCategory, RateLimiter, type RateLimits } from "./ratelimit.ts";
import { DEFAULT_NODE_LIMITS, nodeCategory, NodeLimiter, type NodeLimits } from "./node_limits.ts";
import {
  DEFAULT_GLOBAL_LIMITS,
  type GlobalLimits,
  LoadShedder,
  type WorkClass,
  workClass,
} from "./load_shed.ts";
import { SIGNER_FIELD } from "./auth.ts";
import { DEFAULT_MAX_NONCES, NonceCache } from "./replay.ts";
import { setAlignedInterval } from "../aligned_timer.ts";
import { errorReply, type Peer } from "./server.ts";
import type { RegistryEvent } from "./state/events.ts";
import type { RegistryState } from "./state/model.ts";
import { Store } from "./store/store.ts";
import { IdentityServices, type IdentityServicesOptions } from "./identity/services.ts";
import { AuditExporter, DEFAULT_FILE_DIR } from "./export/exporter.ts";
import type { WireMessage } from "./wire.ts";
import { type ReplicationOptions, Replicator } from "./replication/replicator.ts";
import { REPLICATION_TYPES } from "./replication/protocol.ts";

/** Nodes silent this long are reaped (the reference's stale threshold). */
export const DEFAULT_STALE_AFTER_MS = 3 * 60_000;
/** How often the reaper runs. */
export const DEFAULT_REAP_INTERVAL_MS = 60_000;
/** Reaped nodes keep their id, hostname, tags and memberships this long, then are purged. */
export const DEFAULT_DORMANT_RETENTION_MS = 30 * 86_400_000;
/** Longest `type` string echoed back in an error. */
const MAX_TYPE_ECHO = 64;

/** How sources are told apart for rate limiting. */
export type RateKey = "ip" | "connection";

/** Everything configurable about the registry service. */
export interface RegistryOptions {
  /** State directory; null = memory only. */
  dir: string | null;
  compat?: CompatMode;
  adminToken?: string;
  /** Per source address, for requests no registered node signed. */
  rateLimits?: RateLimits;
  rateBy?: RateKey;
  /** Per node, for requests a registered node signed. */
  nodeLimits?: NodeLimits;
  /** Across every source. */
  globalLimits?: GlobalLimits;
  /** The clock every limit, signature window and reap runs on (tests inject a fake one). */
  clock?: () => number;
  /** Heap in use, for the global budget (tests inject one). */
  heapUsed?: () => number;
  staleAfterMs?: number;
  reapIntervalMs?: number;
  dormantRetentionMs?: number;
  snapshotEveryEvents?: number;
  /** Events kept in memory for standbys to catch up from (older ones: a snapshot); none without replication. */
  retainEvents?: number;
  snapshotEveryBytes?: number;
  auditCapacity?: number;
  maxNonces?: number;
  logger?: Logger;
  /** Replication with standbys (replication/replicator.ts); absent = a lone primary. */
  replication?: ReplicationOptions;
  /** The only directory audit-export file sinks may write in (default `<dir>/audit-export`). */
  auditExportDir?: string;
  /** Called once if the store fails: the process should stop serving. */
  onFatal?: (err: Error) => void;
  /** Identity webhook and JWKS timeouts and cache lifetimes. */
  identity?: IdentityServicesOptions;
}

/** Per-type request counters. */
export interface TypeCounters {
  ok: number;
  error: number;
  seconds: number;
}

/** Why a request was refused before its handler ran (the `reason` of a refusal and its metric label). */
export type RefusalReason = "address_budget" | "node_budget" | "global_rate" | "in_flight" | "memory";

/** The refusal text when the global budget sheds a request ("rate limited" passes reference clients' filters). */
const BUSY = "rate limited: registry busy, try again later";
/** Longest wait a refusal asks for; a client retrying after it finds the budget refilled. */
const MAX_RETRY_AFTER_MS = 60_000;

/** A running registry service. */
export class Registry {
  readonly counters: Map<string, TypeCounters> = new Map();
  /** Per-address budgets (unauthenticated requests). */
  readonly limiter: RateLimiter;
  /** Per-node budgets (requests signed by a registered node). */
  readonly nodeLimiter: NodeLimiter;
  /** The global budget. */
  readonly shedder: LoadShedder;
  /** Refusals by `kind|reason` (kind: register, heartbeat, poll, lookup, write). */
  readonly refusals: Map<string, number> = new Map();
  readonly nonces: NonceCache;
  readonly beacons: Map<number, { addr: string; expires: number }> = new Map();
  readonly startedAt: number;
  readonly clock: () => number;
  authRefused = 0;
  readonly identity: IdentityServices;
  readonly #auth: Authenticator;
  readonly #stopReaping: () => void;
  readonly #log: Logger;
  readonly #opts: Required<
    Pick<RegistryOptions, "compat" | "adminToken" | "rateBy" | "staleAfterMs" | "dormantRetentionMs">
  >;
  #fatalReported = false;
  /** Set by startReplication; until then a registry configured for replication refuses writes. */
  #replicator: Replicator | null = null;

  private constructor(
    readonly store: Store,
    readonly options: RegistryOptions,
    /** Audit export and the registry webhook (export/exporter.ts). */
    readonly auditExport: AuditExporter,
  ) {
    this.#log = options.logger ?? new Logger("registry");
    this.clock = options.clock ?? Date.now;
    this.startedAt = this.clock();
    this.#opts = {
      compat: options.compat ?? "strict",
      adminToken: options.adminToken ?? "",
      rateBy: options.rateBy ?? "ip",
      staleAfterMs: options.staleAfterMs ?? DEFAULT_STALE_AFTER_MS,
      dormantRetentionMs: options.dormantRetentionMs ?? DEFAULT_DORMANT_RETENTION_MS,
    };
    this.limiter = new RateLimiter(options.rateLimits ?? { ...DEFAULT_RATE_LIMITS });
    this.nodeLimiter = new NodeLimiter(
      options.nodeLimits ?? structuredClone(DEFAULT_NODE_LIMITS) as NodeLimits,
    );
    this.shedder = new LoadShedder(
      options.globalLimits ?? { ...DEFAULT_GLOBAL_LIMITS },
      options.heapUsed,
      this.startedAt,
    );
    this.nonces = new NonceCache(options.maxNonces ?? DEFAULT_MAX_NONCES);
    this.identity = new IdentityServices(options.identity);
    this.#auth = new Authenticator(store.state, {
      compat: this.#opts.compat,
      adminToken: this.#opts.adminToken,
      notBefore: this.startedAt,
    }, this.nonces);
    // Liveness is not persisted: every node recovered from disk gets a full grace period.
    for (const n of store.state.nodes.values()) {
      if (n.online) n.lastSeen = Math.max(n.lastSeen, this.startedAt);
    }
    // On the process clock's multiples of the period: pilot up's other 30 s chores share the wake-up.
    this.#stopReaping = setAlignedInterval(
      () => this.maintain(this.clock()),
      options.reapIntervalMs ?? DEFAULT_REAP_INTERVAL_MS,
    );
  }

  /** Opens the store under `options.dir` and starts the service. */
  static async open(options: RegistryOptions): Promise<Registry> {
    const store = await Store.open({
      dir: options.dir,
      snapshotEveryEvents: options.snapshotEveryEvents,
      // Only standbys catch up from the in-memory tail: a lone primary keeps none (at 100 000
      // registrations it would hold ~27 MiB of event JSON; docs/benchmarks.md, "Registry memory").
      retainEvents: options.replication ? options.retainEvents : 0,
      snapshotEveryBytes: options.snapshotEveryBytes,
      auditCapacity: options.auditCapacity,
      logger: options.logger?.child("store"),
    });
    const auditExport = await AuditExporter.open(
      store,
      options.dir,
      options.logger?.child("export"),
      options.auditExportDir ?? (options.dir ? `${options.dir}/${DEFAULT_FILE_DIR}` : null),
    );
    const registry = new Registry(store, options, auditExport);
    // A standby applies the primary's events too; only the registry that accepts writes exports them.
    auditExport.exportWhile(() => registry.writeRefusal() === null);
    return registry;
  }

  /** The live state (read-only by convention). */
  get state(): RegistryState {
    return this.store.state;
  }

  /** The compatibility mode in force. */
  get compat(): CompatMode {
    return this.#opts.compat;
  }

  /** Handles one request; never throws. Bound, so it can be passed as a RequestHandler. */
  handle = async (req: WireMessage, peer: Peer): Promise<WireMessage> => {
    const started = performance.now();
    const type = typeof req.type === "string" ? req.type : "";
    const reply = await this.#dispatch(type, req, peer);
    const key = OPS.has(type) || REPLICATION_TYPES.has(type) ? type : "unknown";
    let c = this.counters.get(key);
    if (!c) this.counters.set(key, c = { ok: 0, error: 0, seconds: 0 });
    if (reply.type === "error") c.error++;
    else c.ok++;
    c.seconds += (performance.now() - started) / 1000;
    return reply;
  };

  async #dispatch(type: string, req: WireMessage, peer: Peer): Promise<WireMessage> {
    if (!type) return errorReply("invalid request: missing message type", "invalid_request");
    if (REPLICATION_TYPES.has(type)) {
      // Token-checked, but the unauthenticated status and the admin promote are still rate limited.
      if (type === "repl_status" || type === "repl_promote") {
        const throttled = this.#throttle(
          type === "repl_status" ? "read" : "write",
          type,
          req,
          peer,
          Date.now(),
        );
        if (throttled) return throttled;
      }
      return await this.#replication(type, req, peer);
    }
    if (type === "subscribe_replication") {
      // The reference's whole-snapshot push (≤ 64 KiB frames, its own snapshot schema) cannot carry
      // our state; docs/compat.md, "Replication and failover", says what does.
      return errorReply(
        "not supported by this registry: subscribe_replication (whole-snapshot replication); " +
          "standbys follow the event log with repl_fetch — run `pilot registry --standby-of`",
        "unsupported",
      );
    }
    const spec = OPS.get(type);
    if (!spec) {
      if (UNSUPPORTED_TYPES.has(type)) {
        return errorReply(`not supported by this registry: ${type}`, "unsupported");
      }
      return errorReply(`unknown message type: ${type.slice(0, MAX_TYPE_ECHO)}`, "unknown_type");
    }
    const refusal = this.writeRefusal();
    if (spec.write && refusal) return refusal;
    const now: number = this.clock();
    const cls = workClass(type, spec.rate);
    const shed = this.shedder.admit(cls, now);
    if (!shed.ok) {
      return this.#refuse(type, spec.rate, shed.reason, BUSY, shed.retryAfterMs);
    }
    try {
      return await this.#admitted(type, spec, cls, req, peer, now);
    } finally {
      this.shedder.done();
    }
  }

  async #admitted(
    type: string,
    spec: OpSpec,
    cls: WorkClass,
    req: WireMessage,
    peer: Peer,
    now: number,
  ): Promise<WireMessage> {
    // Unsigned, or claiming no registered node: charged to the address before any signature work.
    const claimed = this.#claimedNode(type, req);
    if (claimed === 0) {
      const throttled = this.#throttle(spec.rate, type, req, peer, now);
      if (throttled) return throttled;
    }
    const authn = this.#auth.authenticate(req, now);
    if (claimed !== 0) {
      const signer = type === "register" ? (authn.method !== "none" ? claimed : 0) : authn.node;
      const throttled = signer !== 0
        ? this.#throttleNode(type, spec.rate, signer, now)
        : this.#throttle(spec.rate, type, req, peer, now); // bad credentials: as anonymous
      if (throttled) return throttled;
    }
    const global = this.shedder.charge(cls, now);
    if (!global.ok) {
      return this.#refuse(type, spec.rate, global.reason, BUSY, global.retryAfterMs);
    }
    const events: Promise<void>[] = [];
    let lastSeq = 0;
    const source = `${peer.ip}:${peer.port}`;
    const ctx: OpContext = {
      state: this.store.state,
      config: {
        compat: this.#opts.compat,
        adminToken: this.#opts.adminToken,
        staleAfterMs: this.#opts.staleAfterMs,
      },
      now,
      peer,
      authn,
      actor: "anonymous",
      beacons: this.beacons,
      identity: this.identity,
      auditExport: this.auditExport,
      emit: (ev: NewEvent) => {
        // A read that would change state (e.g. polling an inbox) is a write on a standby.
        const refused = this.writeRefusal();
        if (refused) throw new RequestError(String(refused.error), "not_primary", refused);
        const full = { ...ev, t: now, actor: ctx.actor, source } as RegistryEvent;
        events.push(this.store.emit(full));
        lastSeq = Math.max(lastSeq, full.seq ?? 0);
      },
    };
    let reply: WireMessage;
    try {
      if (spec.prepare) ctx.prepared = await spec.prepare(req, ctx);
      reply = await spec.run(req, ctx);
    } catch (err) {
      if (!(err instanceof RequestError)) {
        this.#log.error("handler failed", { type, err });
        return errorReply("internal error", "internal");
      }
      reply = errorReply(err.message, err.code, err.extra);
      if (err.code === "unauthorized") {
        reply.server_time = now; // lets a client with a skewed clock re-sign
        if (spec.write && !this.writeRefusal()) {
          this.authRefused++;
          const nodeField = req.node_id ?? req.from_node_id ?? req.inviter_id ?? req.requester_id;
          ctx.actor = "anonymous";
          ctx.emit({
            kind: "auth.refused",
            type,
            node_id: typeof nodeField === "number" && Number.isSafeInteger(nodeField) ? nodeField : 0,
            reason: err.message,
          });
        }
      }
    }
    if (events.length > 0) {
      try {
        await Promise.all(events);
      } catch (err) {
        this.#fatal(err as Error);
        return errorReply("registry storage unavailable; write not acknowledged", "unavailable");
      }
      if (lastSeq > 0 && this.#replicator && !(await this.#replicator.replicated(lastSeq))) {
        return errorReply(
          "write is on the primary's disk but no standby confirmed it in time (sync replication)",
          "not_replicated",
        );
      }
    }
    return reply;
  }

  /**
   * Starts replication once the listener is bound (`advertise` is this
   * registry's address as its peers reach it): follows the primary as a standby,
   * or checks its peers for a newer epoch before accepting writes as a primary.
   */
  async startReplication(advertise: string): Promise<void> {
    if (!this.options.replication || this.#replicator) return;
    this.#replicator = await Replicator.open(
      this.store,
      this.options.replication,
      advertise,
      this.#opts.adminToken,
      this.#log.child("replication"),
      () => {
        // Liveness is not replicated: every node gets a full grace period with the new primary.
        const now = Date.now();
        for (const n of this.store.state.nodes.values()) if (n.online) n.lastSeen = Math.max(n.lastSeen, now);
      },
    );
  }

  /** The replicator, when replication is configured and started. */
  get replicator(): Replicator | null {
    return this.#replicator;
  }

  /** Why a write is refused here (a standby, or a primary still starting), or null when writes are accepted. */
  writeRefusal(): WireMessage | null {
    if (!this.options.replication) return null;
    if (!this.#replicator) {
      return errorReply("registry starting: replication not ready", "unavailable", { retry_after_ms: 500 });
    }
    return this.#replicator.refusal();
  }

  async #replication(type: string, req: WireMessage, peer: Peer): Promise<WireMessage> {
    if (this.#replicator) return await this.#replicator.handle(type, req, peer);
    if (type === "repl_status") {
      const seq = this.store.state.seq;
      return { type: "repl_status_ok", role: "primary", replication: false, epoch: 0, seq, durable_seq: seq };
    }
    return errorReply("replication not configured", "unsupported");
  }

  /**
   * The registered node a request says signed it (0: none, or no credentials attached),
   * read without verifying anything: it only picks the budget, the signature is checked next.
   */
  #claimedNode(type: string, req: WireMessage): number {
    const field = SIGNER_FIELD[type];
    if (!field || (req.auth === undefined && (typeof req.signature !== "string" || req.signature === ""))) {
      return 0;
    }
    const s = this.store.state;
    if (field === "public_key") {
      return typeof req.public_key === "string" ? s.keyIndex.get(req.public_key) ?? 0 : 0;
    }
    const id = req[field];
    return typeof id === "number" && s.nodes.has(id) ? id : 0;
  }

  /** Charges a request signed by `node` to its own budget. */
  #throttleNode(type: string, rate: RateCategory, node: number, now: number): WireMessage | null {
    const category = nodeCategory(type, rate);
    const decision = this.nodeLimiter.take(category, node, now);
    if (decision.ok) return null;
    const noun = category === "poll" ? "polls" : category === "lookup" ? "look-ups" : `${category}s`;
    return this.#refuse(
      type,
      rate,
      "node_budget",
      `rate limited: too many ${noun} from node ${node}`,
      decision.retryAfterMs,
    );
  }

  /** A refusal in the reference's error shape, plus when to retry and why. Counted for /metrics. */
  #refuse(
    type: string,
    rate: RateCategory,
    reason: RefusalReason,
    message: string,
    retryAfterMs: number,
  ): WireMessage {
    const kind = type === "register" ? "register" : nodeCategory(type, rate);
    const key = `${kind}|${reason}`;
    this.refusals.set(key, (this.refusals.get(key) ?? 0) + 1);
    const ms = Math.min(MAX_RETRY_AFTER_MS, Math.max(1, retryAfterMs));
    return errorReply(message, "throttled", {
      retry_after: Math.ceil(ms / 1000),
      retry_after_ms: ms,
      reason,
    });
  }

  #throttle(
    category: RateCategory,
    type: string,
    req: WireMessage,
    peer: Peer,
    now: number,
  ): WireMessage | null {
    const source = this.#opts.rateBy === "ip" ? peer.ip : `conn:${peer.connId}`;
    const decision = this.limiter.take(category, source, peer.ip, now);
    if (decision.ok) return null;
    // As in the reference: a throttled registration of an already-known key still goes through.
    if (
      type === "register" && typeof req.public_key === "string" &&
      this.store.state.keyIndex.has(req.public_key)
    ) {
      return null;
    }
    this.limiter.recordDenied(category);
    return this.#refuse(type, category, "address_budget", decision.message, decision.retryAfterMs);
  }

  #fatal(err: Error): void {
    if (this.#fatalReported) return;
    this.#fatalReported = true;
    this.#log.error("storage failed; refusing further writes", { err });
    this.options.onFatal?.(err);
  }

  /** One maintenance pass: reap silent nodes, purge long-dormant ones, prune caches. Runs on a timer. */
  maintain(now: number = Date.now()): Promise<void> {
    const s = this.store.state;
    const pending: Promise<void>[] = [];
    const emit = (ev: NewEvent) =>
      pending.push(this.store.emit({ ...ev, t: now, actor: "registry" } as RegistryEvent));
    if (!this.store.failed && !this.writeRefusal()) {
      for (const n of s.nodes.values()) {
        if (n.online && now - n.lastSeen > this.#opts.staleAfterMs) {
          emit({ kind: "node.reaped", node_id: n.id });
        } else if (!n.online && now - n.dormantSince > this.#opts.dormantRetentionMs) {
          emit({ kind: "node.purged", node_id: n.id });
        }
      }
    }
    this.nonces.prune(now);
    this.limiter.prune(now);
    this.nodeLimiter.prune(now);
    for (const [id, b] of this.beacons) if (b.expires <= now) this.beacons.delete(id);
    return Promise.all(pending).then(() => {}, (err) => this.#fatal(err));
  }

  /** Stops the timer and closes the store (writing a final snapshot unless told not to). */
  async close(options: { snapshot?: boolean } = {}): Promise<void> {
    this.#stopReaping();
    await this.#replicator?.close();
    await this.auditExport.close();
    await this.store.close(options);
  }
}
