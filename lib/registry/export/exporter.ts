/**
 * Audit export and the registry webhook, wired to the store: every audit entry the
 * state produces is handed, as it is applied, to each configured sink's bounded queue
 * and to the webhook. Handing over is a few array pushes on the request's stack;
 * formatting and I/O happen in the queues' workers, so export never slows a request.
 *
 * The configuration (sinks and the webhook URL) is kept in `audit_export.json` in the
 * state directory, not in the event log: endpoints name this machine's files and
 * collectors reachable from it, and a collector token should not be copied into every
 * snapshot, replica and backup of the log. Changes are still audited
 * (`audit_export.configured`), so the trail says who pointed export where.
 *
 * With the settings goes each sink's cursor: the sequence number of the last entry it
 * delivered (or gave up). It is saved every second, and at start every sink (and the
 * webhook) is handed the entries of the audit ring past its cursor, so entries queued when
 * the registry stopped or crashed are sent after the restart: at least once, as long as the
 * ring (1000 entries) still holds them.
 * @module
 */
import { Logger } from "../../log.ts";
import type { AuditEntry, AuditRing } from "../state/audit.ts";
import type { Store } from "../store/store.ts";
import type { SyslogOptions } from "./format.ts";
import { JsonStateFile } from "./json_file.ts";
import { DeliveryQueue, type DeliveryStats } from "./queue.ts";
import { type AuditSink, createSink, type SinkConfig } from "./sinks.ts";
import { WebhookDispatcher } from "./webhook.ts";

/** Entries waiting per sink (the reference's 1024). */
export const EXPORT_QUEUE_CAPACITY = 1024;
/** Attempts per batch before it is given up (counted as `failed`). */
export const EXPORT_MAX_ATTEMPTS = 8;
/** First retry after this, doubling… */
export const EXPORT_BACKOFF_BASE_MS = 200;
/** …up to this. */
export const EXPORT_BACKOFF_MAX_MS = 30_000;
/** A sink's worker waits this long after an entry arrives to send it with the ones that follow. */
export const EXPORT_LINGER_MS = 50;
/** Cursors are saved at most this often while entries are delivered. */
export const EXPORT_CURSOR_SAVE_MS = 1_000;
/** On shutdown, queues get this long to drain. */
export const EXPORT_DRAIN_MS = 2_000;
/** Most sinks at once. */
export const MAX_SINKS = 8;
/** The settings file in the state directory. */
export const EXPORT_CONFIG_FILE = "audit_export.json";
/** File sinks' directory inside the state directory, unless `--audit-export-dir` names another. */
export const DEFAULT_FILE_DIR = "audit-export";
/** The sink a request without `name` configures (the reference has exactly one). */
export const DEFAULT_SINK = "default";

/** A running sink. */
interface ActiveSink {
  config: SinkConfig;
  sink: AuditSink;
  queue: DeliveryQueue<AuditEntry>;
  /** Sequence number of the last entry delivered or given up. */
  cursor: number;
}

/** What `audit_export.json` holds. */
interface ExportSettings {
  sinks: SinkConfig[];
  webhook_url: string;
  /** Per sink name, the last sequence number delivered. */
  cursors?: Record<string, number>;
  webhook_cursor?: number;
}

/** Per-sink figures for `get_audit_export` and /metrics. */
export interface SinkStatus extends DeliveryStats {
  name: string;
  format: string;
  endpoint: string;
  queued: number;
}

/** See the module comment. */
export class AuditExporter {
  readonly webhook: WebhookDispatcher;
  #sinks = new Map<string, ActiveSink>();
  #file: JsonStateFile;
  #seen: number;
  #unsubscribe: () => void;
  #active: () => boolean = () => true;
  #syslog: SyslogOptions;
  #store: Store;
  /** Pending cursor save, armed by delivery progress (no timer while nothing is delivered). */
  #saveTimer: ReturnType<typeof setTimeout> | undefined;
  /** Cursors moved since the last save. */
  #dirty = false;
  #closing = false;

  private constructor(
    readonly ring: AuditRing,
    store: Store,
    dir: string | null,
    webhook: WebhookDispatcher,
    readonly log: Logger,
    /** Where file sinks may write (null: nowhere). */
    readonly fileDir: string | null,
  ) {
    this.webhook = webhook;
    this.#store = store;
    this.#file = new JsonStateFile(dir, EXPORT_CONFIG_FILE);
    webhook.onProgress = () => this.#progressed();
    this.#seen = ring.pushed;
    let hostname = "-";
    try {
      hostname = Deno.hostname();
    } catch { /* no permission */ }
    this.#syslog = { hostname, procId: String(Deno.pid) };
    this.#unsubscribe = store.subscribe(() => this.#collect());
  }

  /**
   * Starts export for `store` with the settings saved under `dir` (null = memory only); file
   * sinks write inside `fileDir` (default `<dir>/audit-export`).
   */
  static async open(
    store: Store,
    dir: string | null,
    log: Logger = new Logger("registry.export"),
    fileDir: string | null = dir ? `${dir}/${DEFAULT_FILE_DIR}` : null,
  ): Promise<AuditExporter> {
    const webhook = await WebhookDispatcher.open(dir, log.child("webhook"));
    const ex = new AuditExporter(store.state.audit, store, dir, webhook, log, fileDir);
    let saved: unknown = null;
    try {
      saved = await ex.#file.read();
    } catch (err) {
      log.error("audit export settings unreadable; export is off", { err });
    }
    if (saved && typeof saved === "object") {
      const s = saved as Partial<ExportSettings>;
      const cursors = s.cursors && typeof s.cursors === "object" ? s.cursors : {};
      for (const cfg of Array.isArray(s.sinks) ? s.sinks : []) {
        try {
          const cursor = Number.isSafeInteger(cursors[cfg.name]) ? cursors[cfg.name] : store.state.seq;
          const sink = ex.#start(cfg, cursor);
          ex.#backfill(`sink ${cfg.name}`, cursor, (e) => sink.queue.push(e));
        } catch (err) {
          log.error("saved audit export sink not started", { sink: cfg?.name, err });
        }
      }
      if (typeof s.webhook_url === "string") webhook.setUrl(s.webhook_url);
      if (webhook.url) {
        const cursor = Number.isSafeInteger(s.webhook_cursor) ? s.webhook_cursor! : store.state.seq;
        webhook.cursor = cursor;
        ex.#backfill("webhook", cursor, (e) => webhook.offer(e));
      }
    }
    if (!webhook.url) webhook.cursor = store.state.seq;
    return ex;
  }

  /** Hands `to` the ring's entries past `cursor` (those not delivered before the last stop). */
  #backfill(what: string, cursor: number, to: (e: AuditEntry) => void): void {
    const entries = this.ring.all().filter((e) => e.seq > cursor);
    if (entries.length === 0) return;
    if (
      this.ring.size === this.ring.capacity && entries.length === this.ring.size &&
      entries[0].seq > cursor + 1
    ) {
      this.log.warn("audit entries may be lost to export: the ring no longer reaches back to the cursor", {
        to: what,
        from_seq: cursor + 1,
        to_seq: entries[0].seq - 1,
      });
    }
    this.log.info("resending audit entries not delivered before the restart", {
      to: what,
      entries: entries.length,
    });
    for (const e of entries) to(e);
  }

  /** Hands the entries pushed since the last call to every sink and the webhook. */
  /**
   * Export only while `active()` holds. A registry that follows a primary passes "am I the
   * primary": a standby applies the same events, so exporting there too would send every entry
   * twice.
   */
  exportWhile(active: () => boolean): void {
    this.#active = active;
  }

  #collect(): void {
    const total = this.ring.pushed;
    const fresh = Math.min(total - this.#seen, this.ring.capacity);
    this.#seen = total;
    if (fresh <= 0 || !this.#active()) return;
    const entries = this.ring.newest(fresh).reverse();
    for (const e of entries) {
      for (const s of this.#sinks.values()) s.queue.push(e);
      this.webhook.offer(e);
    }
  }

  /** Cursors moved: saved {@link EXPORT_CURSOR_SAVE_MS} later, with whatever else moves meanwhile. */
  #progressed(): void {
    this.#dirty = true;
    if (this.#closing) return;
    this.#saveTimer ??= setTimeout(() => {
      this.#saveTimer = undefined;
      if (!this.#dirty) return;
      this.#dirty = false;
      this.#save().catch((err) => this.log.warn("audit export cursors not saved", { err }));
    }, EXPORT_CURSOR_SAVE_MS);
  }

  #start(cfg: SinkConfig, cursor: number): ActiveSink {
    const sink = createSink(cfg, this.#syslog, this.fileDir);
    const advance = (batch: AuditEntry[]) => {
      for (const e of batch) active.cursor = Math.max(active.cursor, e.seq);
      this.#progressed();
    };
    const queue = new DeliveryQueue<AuditEntry>({
      name: `audit export ${cfg.name}`,
      capacity: EXPORT_QUEUE_CAPACITY,
      batchSize: sink.batchSize,
      maxAttempts: EXPORT_MAX_ATTEMPTS,
      backoffBaseMs: EXPORT_BACKOFF_BASE_MS,
      backoffMaxMs: EXPORT_BACKOFF_MAX_MS,
      lingerMs: EXPORT_LINGER_MS,
      deliver: (batch) => sink.deliver(batch),
      onDelivered: advance,
      onGiveUp: advance,
      logger: this.log,
    });
    const active: ActiveSink = { config: cfg, sink, queue, cursor };
    this.#sinks.set(cfg.name, active);
    return active;
  }

  /** The sinks' settings (tokens left out). */
  sinkStatus(): SinkStatus[] {
    return [...this.#sinks.values()].map((s) => ({
      name: s.config.name,
      format: s.config.format,
      endpoint: s.config.endpoint,
      queued: s.queue.length,
      ...s.queue.stats,
    }));
  }

  /** Settings of one sink, or undefined. */
  sink(name: string): SinkConfig | undefined {
    return this.#sinks.get(name)?.config;
  }

  /** Number of sinks. */
  get size(): number {
    return this.#sinks.size;
  }

  /**
   * Adds or replaces sink `cfg.name` (validated by building it first), or removes it when
   * `cfg` is only a name; the settings are saved before this resolves.
   */
  async configure(name: string, cfg: SinkConfig | null): Promise<void> {
    if (cfg) {
      if (!this.#sinks.has(name) && this.#sinks.size >= MAX_SINKS) {
        throw new Error(`too many audit export sinks (max ${MAX_SINKS})`);
      }
      createSink(cfg, this.#syslog, this.fileDir).close(); // throws on a bad endpoint before anything changes
    }
    const old = this.#sinks.get(name);
    if (old) {
      this.#sinks.delete(name);
      old.queue.close(0).finally(() => old.sink.close());
    }
    if (cfg) this.#start(cfg, this.#store.state.seq);
    await this.#save();
  }

  /** Sets the webhook URL ("" disables) and saves it. */
  async setWebhook(url: string): Promise<void> {
    if (!this.webhook.url) this.webhook.cursor = this.#store.state.seq;
    this.webhook.setUrl(url);
    await this.#save();
  }

  #save(): Promise<void> {
    const settings: ExportSettings = {
      sinks: [...this.#sinks.values()].map((s) => s.config),
      webhook_url: this.webhook.url,
      cursors: Object.fromEntries([...this.#sinks.values()].map((s) => [s.config.name, s.cursor])),
      webhook_cursor: this.webhook.cursor,
    };
    return this.#file.write(settings);
  }

  /** Stops listening, gives the queues a moment to drain and saves the dead-letter queue. */
  async close(drainMs = EXPORT_DRAIN_MS): Promise<void> {
    this.#unsubscribe();
    this.#closing = true; // the final save below covers what the drain delivers
    clearTimeout(this.#saveTimer);
    this.#saveTimer = undefined;
    const sinks = [...this.#sinks.values()];
    await Promise.all([
      ...sinks.map(async (s) => {
        const left = await s.queue.close(drainMs);
        if (left.length) {
          this.log.warn("audit export stopped with entries undelivered", {
            sink: s.config.name,
            left: left.length,
          });
        }
        s.sink.close();
      }),
      this.webhook.close(drainMs),
    ]);
    await this.#save().catch((err) => this.log.warn("audit export cursors not saved", { err }));
  }
}
