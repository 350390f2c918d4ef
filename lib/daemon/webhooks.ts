/**
 * Daemon webhooks (docs/protocol/services.md §9): every daemon event is POSTed as JSON to one
 * configured URL. Emitting is O(1) and never blocks or throws — events go into a
 * bounded queue (full → dropped and counted) drained by a single delivery loop with
 * a per-request timeout and exponential-backoff retries — so a slow or dead
 * endpoint can never slow the packet path that emits.
 */
import { Ring } from "../transport/ring.ts";
import { Logger } from "../log.ts";
import { errorMessage, settleQuietly } from "../errors.ts";

/** Events waiting for delivery, at most (the reference's queue size). */
export const WEBHOOK_QUEUE_CAPACITY = 1024;
/** One POST may take this long before it counts as a failed attempt. */
export const WEBHOOK_TIMEOUT_MS = 5_000;
/** Attempts per event: the first plus two retries. */
export const WEBHOOK_MAX_ATTEMPTS = 3;
/** Wait before the first retry; doubled before each further one (1 s, 2 s). */
export const WEBHOOK_RETRY_BASE_MS = 1_000;
/** On close, queued events still get this long to go out. */
export const WEBHOOK_DRAIN_MS = 5_000;

/** The JSON body of one webhook POST. */
export interface WebhookEnvelope {
  event_id: number;
  event: string;
  node_id: number;
  timestamp: string;
  data?: Record<string, unknown>;
}

/** Delivery counters (exported as Prometheus families by lib/daemon/metrics.ts). */
export interface WebhookStats {
  /** Events accepted into the queue. */
  emitted: number;
  /** Events the endpoint acknowledged (status < 400). */
  delivered: number;
  /** Events given up on: 4xx, or every attempt failed. */
  failed: number;
  /** Events dropped because the queue was full or the emitter was closing. */
  dropped: number;
  /** Repeated attempts (each retry counts once). */
  retries: number;
  /** Events waiting now. */
  queued: number;
}

/** Tunables; the defaults are the reference's. Tests shrink them. */
export interface WebhookOptions {
  /** Initial target; empty = disabled. */
  url?: string;
  /** This node's id, read at emit time (it may change on re-registration). */
  nodeId: () => number;
  capacity?: number;
  timeoutMs?: number;
  maxAttempts?: number;
  retryBaseMs?: number;
  log?: Logger;
  /** Also sees every emitted event, with or without a URL (the status page's recent events). */
  tap?: (event: string, data: Record<string, unknown>) => void;
}

interface Pending {
  url: string;
  envelope: WebhookEnvelope;
}

/**
 * Queues daemon events and POSTs them, in order, to the configured URL. Create one per
 * daemon; {@link emit} from anywhere (it returns at once), {@link setUrl} to hot-swap
 * the target (event ids restart at 1), {@link close} on shutdown to drain briefly.
 */
export class WebhookEmitter {
  readonly #queue = new Ring<Pending>();
  readonly #capacity: number;
  readonly #timeoutMs: number;
  readonly #maxAttempts: number;
  readonly #retryBaseMs: number;
  readonly #nodeId: () => number;
  readonly #log: Logger;
  readonly #tap?: (event: string, data: Record<string, unknown>) => void;
  readonly #stats = { emitted: 0, delivered: 0, failed: 0, dropped: 0, retries: 0 };
  /** Aborts the in-flight request and backoff sleep when the drain deadline passes. */
  readonly #abort = new AbortController();
  #url = "";
  #nextId = 1;
  #running?: Promise<void>;
  #closed = false;

  constructor(options: WebhookOptions) {
    this.#nodeId = options.nodeId;
    this.#capacity = options.capacity ?? WEBHOOK_QUEUE_CAPACITY;
    this.#timeoutMs = options.timeoutMs ?? WEBHOOK_TIMEOUT_MS;
    this.#maxAttempts = options.maxAttempts ?? WEBHOOK_MAX_ATTEMPTS;
    this.#retryBaseMs = options.retryBaseMs ?? WEBHOOK_RETRY_BASE_MS;
    this.#log = options.log ?? new Logger("webhook");
    this.#tap = options.tap;
    this.setUrl(options.url ?? "");
  }

  /** The current target ("" when disabled). */
  get url(): string {
    return this.#url;
  }

  /** Whether emitted events go anywhere (a URL or a tap): emitters skip building them otherwise. */
  get wanted(): boolean {
    return this.#url !== "" || this.#tap !== undefined;
  }

  /**
   * Switches the target (empty disables). Event ids restart at 1; events already queued
   * still go to the target they were emitted for, as a closed reference client drains.
   */
  setUrl(url: string): void {
    this.#url = url.trim();
    this.#nextId = 1;
  }

  /**
   * Queues `event` with its `data` for delivery. Never blocks, never throws: without a
   * target it does nothing, and with a full queue the event is dropped and counted.
   */
  emit(event: string, data: Record<string, unknown>): void {
    this.#tap?.(event, data);
    if (!this.#url) return;
    if (this.#closed || this.#queue.length >= this.#capacity) {
      this.#stats.dropped++;
      return;
    }
    const envelope: WebhookEnvelope = {
      event_id: this.#nextId++,
      event,
      node_id: this.#nodeId(),
      timestamp: new Date().toISOString(),
    };
    if (data != null) envelope.data = data;
    this.#queue.push({ url: this.#url, envelope });
    this.#stats.emitted++;
    this.#kick();
  }

  /** Current counters. */
  stats(): WebhookStats {
    return { ...this.#stats, queued: this.#queue.length };
  }

  /**
   * Stops accepting events and gives queued ones up to `drainMs` to go out; whatever
   * is left then is dropped (counted) and the in-flight request aborted.
   */
  async close(drainMs = WEBHOOK_DRAIN_MS): Promise<void> {
    this.#closed = true;
    const running = this.#running;
    if (!running) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<void>((resolve) => timer = setTimeout(resolve, drainMs));
    await Promise.race([running, deadline]);
    clearTimeout(timer);
    if (this.#running) {
      this.#stats.dropped += this.#queue.length;
      this.#queue.clear();
      this.#abort.abort();
      await this.#running;
    }
  }

  /** Starts the delivery loop unless it runs; restarts it if events slipped in as it ended. */
  #kick(): void {
    if (this.#running) return;
    this.#running = this.#drain().catch((err) => {
      this.#log.error("webhook delivery loop failed", { err });
    }).finally(() => {
      this.#running = undefined;
      if (this.#queue.length > 0 && !this.#abort.signal.aborted) this.#kick();
    });
  }

  async #drain(): Promise<void> {
    // Start on a later turn so a burst of emits from one packet handler is queued first.
    await Promise.resolve();
    for (let item = this.#queue.peek(); item; item = this.#queue.peek()) {
      const outcome = await this.#deliver(item);
      // close() may have cleared the queue while we were delivering.
      if (this.#queue.peek() === item) this.#queue.shift();
      if (outcome === "delivered") this.#stats.delivered++;
      else if (outcome === "failed") this.#stats.failed++;
      else this.#stats.dropped++;
    }
  }

  /** Up to maxAttempts POSTs of one event; retries on transport errors and 5xx only. */
  async #deliver(item: Pending): Promise<"delivered" | "failed" | "aborted"> {
    let body: string;
    try {
      body = JSON.stringify(item.envelope);
    } catch (err) {
      // Unserialisable data (a BigInt, a cycle) is the emitter's bug; it must not stop the queue.
      this.#log.warn("webhook event not serialisable", { event: item.envelope.event, err });
      return "failed";
    }
    for (let attempt = 1;; attempt++) {
      if (this.#abort.signal.aborted) return "aborted";
      let retryable: boolean;
      let reason: string;
      try {
        const res = await fetch(item.url, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body,
          signal: AbortSignal.any([this.#abort.signal, AbortSignal.timeout(this.#timeoutMs)]),
        });
        if (res.body) await settleQuietly(res.body.cancel(), "cleanup");
        if (res.status < 400) return "delivered";
        retryable = res.status >= 500;
        reason = `HTTP ${res.status}`;
      } catch (err) {
        if (this.#abort.signal.aborted) return "aborted";
        retryable = true;
        reason = errorMessage(err);
      }
      if (!retryable || attempt >= this.#maxAttempts) {
        this.#log.warn("webhook delivery failed", {
          event: item.envelope.event,
          event_id: item.envelope.event_id,
          attempts: attempt,
          reason,
        });
        return "failed";
      }
      this.#stats.retries++;
      await sleep(this.#retryBaseMs * 2 ** (attempt - 1), this.#abort.signal);
    }
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}
