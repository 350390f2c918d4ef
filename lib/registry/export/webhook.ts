/**
 * The registry webhook (docs/protocol/registry.md §8): every audit entry POSTed as JSON to one URL,
 * retried with backoff; what still fails (or is refused with a 4xx) goes to a bounded
 * dead-letter queue. Unlike the reference's, the dead-letter queue is a file in the
 * state directory, so it survives restarts, and it can be replayed (`replay_webhook_dlq`).
 * @module
 */
import type { Logger } from "../../log.ts";
import type { AuditEntry } from "../state/audit.ts";
import { webhookBody } from "./format.ts";
import { JsonStateFile } from "./json_file.ts";
import { DeliveryQueue } from "./queue.ts";
import { postOnce } from "./sinks.ts";

/** Entries waiting for delivery (the reference's queue size). */
export const WEBHOOK_QUEUE_CAPACITY = 1024;
/** Attempts per event before it goes to the dead-letter queue (the reference's 3). */
export const WEBHOOK_MAX_ATTEMPTS = 3;
/** First retry after this, doubling. */
export const WEBHOOK_BACKOFF_BASE_MS = 500;
/** Longest wait between attempts. */
export const WEBHOOK_BACKOFF_MAX_MS = 8_000;
/** One POST may take this long (the reference's 5 s). */
export const WEBHOOK_TIMEOUT_MS = 5_000;
/** Dead letters kept; the oldest goes first (the reference's 100). */
export const WEBHOOK_DLQ_CAPACITY = 100;
/** The dead-letter queue's file in the state directory. */
export const WEBHOOK_DLQ_FILE = "webhook_dlq.json";

/** A queued or dead-lettered delivery. */
interface WebhookItem {
  event_id: number;
  entry: AuditEntry;
  /** Queued by a replay: the letter is still in the dead-letter queue. */
  replay?: boolean;
}

/** A dead letter as stored and as `get_webhook_dlq` lists it. */
export interface DeadLetter {
  event_id: number;
  action: string;
  timestamp: string;
  seq: number;
  details: Record<string, unknown>;
  error: string;
  failed_at: string;
  entry: AuditEntry;
}

/** See the module comment. */
/** Delivery counters of the registry webhook. */
export interface WebhookStats {
  delivered: number;
  retried: number;
  failed: number;
  dropped: number;
  queued: number;
  dlq_size: number;
}

export class WebhookDispatcher {
  #url = "";
  /** Sequence number of the last new (not replayed) entry delivered or dead-lettered; the exporter saves it. */
  cursor = 0;
  /** Called when `cursor` moves. */
  onProgress: () => void = () => {};
  #nextId = 1;
  #dlq: DeadLetter[] = [];
  /** Dead letters queued again by a replay and not yet delivered or failed. */
  #replaying = new Set<number>();
  /** The dead-letter queue as last written to disk: what is listed and counted, so nothing listed can be lost. */
  #saved: readonly DeadLetter[] = [];
  #queue: DeliveryQueue<WebhookItem>;
  #file: JsonStateFile;

  private constructor(dir: string | null, readonly log: Logger) {
    this.#file = new JsonStateFile(dir, WEBHOOK_DLQ_FILE);
    this.#queue = new DeliveryQueue<WebhookItem>({
      name: "webhook",
      capacity: WEBHOOK_QUEUE_CAPACITY,
      batchSize: 1,
      maxAttempts: WEBHOOK_MAX_ATTEMPTS,
      backoffBaseMs: WEBHOOK_BACKOFF_BASE_MS,
      backoffMaxMs: WEBHOOK_BACKOFF_MAX_MS,
      logger: log,
      deliver: ([item]) =>
        postOnce(this.#url, JSON.stringify(webhookBody(item.entry, item.event_id)), {
          "content-type": "application/json",
        }, WEBHOOK_TIMEOUT_MS),
      onDelivered: (batch) => this.#delivered(batch),
      onGiveUp: (batch, err) => this.#deadLetter(batch, err),
    });
  }

  /** Loads the dead-letter queue from `dir` (null = memory only). */
  static async open(dir: string | null, log: Logger): Promise<WebhookDispatcher> {
    const d = new WebhookDispatcher(dir, log);
    const stored = await d.#file.read().catch((err) => {
      log.error("webhook dead-letter file unreadable; starting empty", { err });
      return null;
    });
    if (Array.isArray(stored)) {
      d.#dlq = stored.filter(isDeadLetter).slice(-WEBHOOK_DLQ_CAPACITY);
      for (const l of d.#dlq) d.#nextId = Math.max(d.#nextId, l.event_id + 1);
      d.#saved = [...d.#dlq];
    }
    return d;
  }

  get url(): string {
    return this.#url;
  }

  /** Sets the URL ("" disables: new entries are no longer queued). */
  setUrl(url: string): void {
    this.#url = url;
  }

  /** Counters and sizes for `get_webhook` and /metrics. */
  get stats(): WebhookStats {
    const s = this.#queue.stats;
    return {
      delivered: s.delivered,
      retried: s.retried,
      failed: s.failed,
      dropped: s.dropped,
      queued: this.#queue.length,
      dlq_size: this.#saved.length,
    };
  }

  /** Queues an entry when a URL is set. Never blocks. */
  offer(entry: AuditEntry): void {
    if (!this.#url) return;
    this.#queue.push({ event_id: this.#nextId++, entry });
  }

  /** The dead letters on disk, oldest first. */
  deadLetters(): readonly DeadLetter[] {
    return this.#saved;
  }

  /**
   * Queues every dead letter for delivery again (keeping its event id, so a receiver can
   * tell a replay from a new event); returns how many were queued. A letter leaves the
   * dead-letter queue (and its file) only once delivered, so a crash mid-replay loses none.
   */
  replay(): number {
    if (!this.#url) return 0;
    let queued = 0;
    for (const l of this.#dlq) {
      if (this.#replaying.has(l.event_id)) continue;
      if (!this.#queue.push({ event_id: l.event_id, entry: l.entry, replay: true })) break;
      this.#replaying.add(l.event_id);
      queued++;
    }
    return queued;
  }

  #advance(batch: WebhookItem[]): void {
    const fresh = batch.filter((i) => !i.replay);
    if (fresh.length === 0) return;
    for (const i of fresh) this.cursor = Math.max(this.cursor, i.entry.seq);
    this.onProgress();
  }

  #delivered(batch: WebhookItem[]): void {
    this.#advance(batch);
    const done = new Set(batch.filter((i) => i.replay).map((i) => i.event_id));
    if (done.size === 0) return;
    for (const id of done) this.#replaying.delete(id);
    this.#dlq = this.#dlq.filter((l) => !done.has(l.event_id));
    this.#persist().catch((e) => this.log.error("webhook dead-letter file not written", { err: e }));
  }

  #deadLetter(batch: WebhookItem[], err: Error): void {
    this.#advance(batch);
    for (const item of batch) {
      if (item.replay) {
        // Still in the queue: only its last error changes.
        this.#replaying.delete(item.event_id);
        const letter = this.#dlq.find((l) => l.event_id === item.event_id);
        if (letter) {
          letter.error = err.message;
          letter.failed_at = new Date().toISOString();
        }
        continue;
      }
      const body = webhookBody(item.entry, item.event_id);
      this.#dlq.push({
        event_id: item.event_id,
        action: item.entry.action,
        timestamp: body.timestamp as string,
        seq: item.entry.seq,
        details: body.details as Record<string, unknown>,
        error: err.message,
        failed_at: new Date().toISOString(),
        entry: item.entry,
      });
    }
    if (this.#dlq.length > WEBHOOK_DLQ_CAPACITY) this.#dlq.splice(0, this.#dlq.length - WEBHOOK_DLQ_CAPACITY);
    this.#persist().catch((e) => this.log.error("webhook dead-letter file not written", { err: e }));
  }

  #persist(): Promise<void> {
    const snapshot = [...this.#dlq];
    return this.#file.write(snapshot).then(() => {
      this.#saved = snapshot;
    });
  }

  /** Waits up to `ms` for deliveries in flight; what is left is dead-lettered, so nothing is lost. */
  async close(ms: number): Promise<void> {
    const left = await this.#queue.close(ms);
    if (left.length > 0) this.#deadLetter(left, new Error("registry stopped before delivery"));
    await this.#persist().catch((err) => this.log.error("webhook dead-letter file not written", { err }));
  }
}

function isDeadLetter(v: unknown): v is DeadLetter {
  if (typeof v !== "object" || v === null) return false;
  const o = v as Record<string, unknown>;
  return Number.isSafeInteger(o.event_id) && typeof o.action === "string" && typeof o.entry === "object" &&
    o.entry !== null && typeof (o.entry as Record<string, unknown>).action === "string";
}
