/**
 * The registry service without its sockets: request dispatch (rate limit →
 * authenticate → handler → wait until durable → reply), the maintenance timer
 * (reaping silent nodes, purging long-dormant ones, pruning caches) and the
 * counters behind /metrics. `FrameServer` (server.ts) feeds it requests.
 * @module
 */
import { Logger } from "../log.ts";
import { Authenticator } from "./authn.ts";
import { RequestError } from "./errors.ts";
import { type CompatMode, type NewEvent, type OpContext, OPS, UNSUPPORTED_TYPES } from "./ops/mod.ts";
import { DEFAULT_RATE_LIMITS, type RateCategory, RateLimiter, type RateLimits } from "./ratelimit.ts";
import { DEFAULT_MAX_NONCES, NonceCache } from "./replay.ts";
import { errorReply, type Peer } from "./server.ts";
import type { RegistryEvent } from "./state/events.ts";
import type { RegistryState } from "./state/model.ts";
import { Store } from "./store/store.ts";
import { AuditExporter, DEFAULT_FILE_DIR } from "./export/exporter.ts";
import type { WireMessage } from "./wire.ts";

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
  rateLimits?: RateLimits;
  rateBy?: RateKey;
  staleAfterMs?: number;
  reapIntervalMs?: number;
  dormantRetentionMs?: number;
  snapshotEveryEvents?: number;
  snapshotEveryBytes?: number;
  auditCapacity?: number;
  maxNonces?: number;
  logger?: Logger;
  /** The only directory audit-export file sinks may write in (default `<dir>/audit-export`). */
  auditExportDir?: string;
  /** Called once if the store fails: the process should stop serving. */
  onFatal?: (err: Error) => void;
}

/** Per-type request counters. */
export interface TypeCounters {
  ok: number;
  error: number;
  seconds: number;
}

/** A running registry service. */
export class Registry {
  readonly counters: Map<string, TypeCounters> = new Map();
  readonly limiter: RateLimiter;
  readonly nonces: NonceCache;
  readonly beacons: Map<number, { addr: string; expires: number }> = new Map();
  readonly startedAt: number = Date.now();
  authRefused = 0;
  readonly #auth: Authenticator;
  readonly #timer: ReturnType<typeof setInterval>;
  readonly #log: Logger;
  readonly #opts: Required<
    Pick<RegistryOptions, "compat" | "adminToken" | "rateBy" | "staleAfterMs" | "dormantRetentionMs">
  >;
  #fatalReported = false;

  private constructor(
    readonly store: Store,
    readonly options: RegistryOptions,
    /** Audit export and the registry webhook (export/exporter.ts). */
    readonly auditExport: AuditExporter,
  ) {
    this.#log = options.logger ?? new Logger("registry");
    this.#opts = {
      compat: options.compat ?? "strict",
      adminToken: options.adminToken ?? "",
      rateBy: options.rateBy ?? "ip",
      staleAfterMs: options.staleAfterMs ?? DEFAULT_STALE_AFTER_MS,
      dormantRetentionMs: options.dormantRetentionMs ?? DEFAULT_DORMANT_RETENTION_MS,
    };
    this.limiter = new RateLimiter(options.rateLimits ?? { ...DEFAULT_RATE_LIMITS });
    this.nonces = new NonceCache(options.maxNonces ?? DEFAULT_MAX_NONCES);
    this.#auth = new Authenticator(store.state, {
      compat: this.#opts.compat,
      adminToken: this.#opts.adminToken,
      notBefore: this.startedAt,
    }, this.nonces);
    // Liveness is not persisted: every node recovered from disk gets a full grace period.
    for (const n of store.state.nodes.values()) {
      if (n.online) n.lastSeen = Math.max(n.lastSeen, this.startedAt);
    }
    this.#timer = setInterval(() => this.maintain(), options.reapIntervalMs ?? DEFAULT_REAP_INTERVAL_MS);
  }

  /** Opens the store under `options.dir` and starts the service. */
  static async open(options: RegistryOptions): Promise<Registry> {
    const store = await Store.open({
      dir: options.dir,
      snapshotEveryEvents: options.snapshotEveryEvents,
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
    return new Registry(store, options, auditExport);
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
    const key = OPS.has(type) ? type : "unknown";
    let c = this.counters.get(key);
    if (!c) this.counters.set(key, c = { ok: 0, error: 0, seconds: 0 });
    if (reply.type === "error") c.error++;
    else c.ok++;
    c.seconds += (performance.now() - started) / 1000;
    return reply;
  };

  async #dispatch(type: string, req: WireMessage, peer: Peer): Promise<WireMessage> {
    if (!type) return errorReply("invalid request: missing message type", "invalid_request");
    const spec = OPS.get(type);
    if (!spec) {
      if (UNSUPPORTED_TYPES.has(type)) {
        return errorReply(`not supported by this registry: ${type}`, "unsupported");
      }
      return errorReply(`unknown message type: ${type.slice(0, MAX_TYPE_ECHO)}`, "unknown_type");
    }
    const now: number = Date.now();
    const throttled = this.#throttle(spec.rate, type, req, peer, now);
    if (throttled) return throttled;
    const authn = await this.#auth.authenticate(req, now);
    const events: Promise<void>[] = [];
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
      auditExport: this.auditExport,
      emit: (ev: NewEvent) => {
        events.push(this.store.emit({ ...ev, t: now, actor: ctx.actor, source } as RegistryEvent));
      },
    };
    let reply: WireMessage;
    try {
      reply = await spec.run(req, ctx);
    } catch (err) {
      if (!(err instanceof RequestError)) {
        this.#log.error("handler failed", { type, err });
        return errorReply("internal error", "internal");
      }
      reply = errorReply(err.message, err.code, err.extra);
      if (err.code === "unauthorized") {
        reply.server_time = now; // lets a client with a skewed clock re-sign
        if (spec.write) {
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
    }
    return reply;
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
    return errorReply(decision.message, "throttled", { retry_after_ms: decision.retryAfterMs });
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
    if (!this.store.failed) {
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
    for (const [id, b] of this.beacons) if (b.expires <= now) this.beacons.delete(id);
    return Promise.all(pending).then(() => {}, (err) => this.#fatal(err));
  }

  /** Stops the timer and closes the store (writing a final snapshot unless told not to). */
  async close(options: { snapshot?: boolean } = {}): Promise<void> {
    clearInterval(this.#timer);
    await this.auditExport.close();
    await this.store.close(options);
  }
}
