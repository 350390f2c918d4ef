/**
 * The event-stream broker (docs/protocol/services.md §6), written once against {@link PeerStream}: the daemon
 * runs it on port 1002. The first event of a connection is its subscription (its topic, `*` for
 * all; payload ignored); every later event is a publish, forwarded unchanged to every other
 * connection subscribed to that topic, plus every `*` subscriber when the topic is not `*`.
 * Nothing is stored or acknowledged.
 *
 * Beyond the reference's behaviour, a broker inside a daemon must not let one peer hurt the
 * others: fan-out never waits for a subscriber (each has its own write queue, and one that falls
 * {@link SUBSCRIBER_BACKLOG_BYTES} behind is disconnected); each connection may publish
 * {@link PUBLISH_RATE_PER_SECOND} events a second (burst {@link PUBLISH_BURST}), more are dropped;
 * and payloads being read share a memory budget.
 * @module
 */
import { Logger } from "../../log.ts";
import type { ServiceSessions } from "../context.ts";
import { type PeerStream, serveStreams } from "../byte_stream.ts";
import { ByteBudget } from "../byte_budget.ts";
import { StreamReader } from "../stream_reader.ts";
import { encodeEvent, type StreamEvent, WILDCARD_TOPIC } from "./codec.ts";
import { readEvent } from "./io.ts";
import { TokenBucket } from "../../net/token_bucket.ts";
import { closeQuietly } from "../../errors.ts";

/** Bytes queued for one subscriber before it is considered stuck and disconnected. */
export const SUBSCRIBER_BACKLOG_BYTES = 32 << 20;
/** Sustained publishes per second per connection. */
export const PUBLISH_RATE_PER_SECOND = 100;
/** Publishes a connection may make at once before the rate applies. */
export const PUBLISH_BURST = 200;
/** Bytes of event payload all connections may hold while reading (four maximal events). */
export const DEFAULT_MEMORY_BUDGET = 64 << 20;
/** How long an event may stall between two chunks before its connection is dropped. */
export const EVENT_IDLE_TIMEOUT_MS = 30_000;

/** Receives daemon events (`pubsub.*`) for webhooks. */
export type BrokerEventSink = (event: string, data: Record<string, unknown>) => void;

/** Options of {@link EventBroker}. */
export interface EventBrokerOptions {
  emit?: BrokerEventSink;
  log?: Logger;
  budget?: ByteBudget;
  idleTimeoutMs?: number;
  /** Clock in ms for the publish rate (tests). */
  now?: () => number;
}

/** Counters of one broker. */
export interface BrokerStats {
  published: number;
  delivered: number;
  /** Publishes dropped by the rate limit. */
  rateLimited: number;
  /** Subscribers disconnected for falling too far behind. */
  slowDropped: number;
}

class Subscriber {
  queued = 0;
  #chain: Promise<void> = Promise.resolve();
  #failed = false;
  readonly #publishes: TokenBucket;

  constructor(readonly stream: PeerStream, readonly topic: string, readonly remote: string, now: number) {
    this.#publishes = new TokenBucket(PUBLISH_RATE_PER_SECOND, PUBLISH_BURST, now);
  }

  /** Queues `bytes` behind earlier writes; `onFail` runs once if a write fails. */
  enqueue(bytes: Uint8Array, onFail: (err: unknown) => void): void {
    this.queued += bytes.length;
    this.#chain = this.#chain.then(async () => {
      try {
        // After one failure the stream is dead: later events are dropped, not attempted.
        if (!this.#failed) await this.stream.write(bytes);
      } catch (err) {
        this.#failed = true;
        onFail(err);
      } finally {
        this.queued -= bytes.length;
      }
    });
  }

  /** Takes a publish token (token bucket); false when the connection is over its rate. */
  takeToken(now: number): boolean {
    return this.#publishes.take(now);
  }
}

/** A publish/subscribe broker over byte streams. */
export class EventBroker {
  readonly stats: BrokerStats = { published: 0, delivered: 0, rateLimited: 0, slowDropped: 0 };
  readonly #byTopic = new Map<string, Set<Subscriber>>();
  readonly #emit: BrokerEventSink;
  readonly #log: Logger;
  readonly #budget: ByteBudget;
  readonly #idleTimeoutMs: number;
  readonly #now: () => number;

  constructor(options: EventBrokerOptions = {}) {
    this.#emit = options.emit ?? (() => {});
    this.#log = options.log ?? new Logger("eventstream");
    this.#budget = options.budget ?? new ByteBudget(DEFAULT_MEMORY_BUDGET);
    this.#idleTimeoutMs = options.idleTimeoutMs ?? EVENT_IDLE_TIMEOUT_MS;
    this.#now = options.now ?? (() => performance.now());
  }

  /** Number of live subscriptions (all topics). */
  get subscriberCount(): number {
    let n = 0;
    for (const set of this.#byTopic.values()) n += set.size;
    return n;
  }

  /** Runs one connection to its end; always closes the stream and drops its subscription. */
  async handle(stream: PeerStream): Promise<void> {
    const reader = new StreamReader(stream);
    const remote = `${stream.remoteAddr}:${stream.remotePort}`;
    const within = { timeoutMs: this.#idleTimeoutMs };
    let sub: Subscriber | undefined;
    try {
      const first = await readEvent(reader, { within, budget: this.#budget });
      if (first === null) return;
      sub = new Subscriber(stream, first.topic, remote, this.#now());
      this.#add(sub);
      this.#log.debug("subscribed", { topic: sub.topic, remote });
      this.#emit("pubsub.subscribed", { topic: sub.topic, remote });
      for (;;) {
        const event = await readEvent(reader, { within, budget: this.#budget });
        if (event === null) return;
        if (!sub.takeToken(this.#now())) {
          this.stats.rateLimited++;
          this.#log.debug("publish dropped: rate limit", { topic: event.topic, remote });
          continue;
        }
        this.#fanOut(event, sub);
      }
    } finally {
      if (sub) {
        this.#remove(sub);
        this.#emit("pubsub.unsubscribed", { topic: sub.topic, remote });
      }
      await closeQuietly(stream);
    }
  }

  /**
   * Publishes `event` from inside this process (no sending connection): forwarded as if a peer
   * had published it. Returns the number of subscribers it was queued for.
   */
  publish(event: StreamEvent): number {
    return this.#fanOut(event, undefined);
  }

  /** Queues `event` for the subscribers of its topic and the wildcard ones, except `from`. */
  #fanOut(event: StreamEvent, from: Subscriber | undefined): number {
    const bytes = encodeEvent(event);
    const targets = new Set<Subscriber>(this.#byTopic.get(event.topic));
    if (event.topic !== WILDCARD_TOPIC) {
      for (const s of this.#byTopic.get(WILDCARD_TOPIC) ?? []) targets.add(s);
    }
    if (from) targets.delete(from);
    let queued = 0;
    for (const target of targets) {
      if (target.queued + bytes.length > SUBSCRIBER_BACKLOG_BYTES) {
        this.stats.slowDropped++;
        this.#log.warn("subscriber dropped: too far behind", {
          remote: target.remote,
          queued: target.queued,
        });
        this.#remove(target);
        void closeQuietly(target.stream);
        continue;
      }
      target.enqueue(bytes, (err) => {
        this.#log.debug("subscriber write failed; removed", { remote: target.remote, err });
        this.#remove(target);
      });
      queued++;
    }
    this.stats.published++;
    this.stats.delivered += queued;
    this.#emit("pubsub.published", {
      topic: event.topic,
      size: event.payload.length,
      from: from?.remote ?? "",
    });
    return queued;
  }

  #add(sub: Subscriber): void {
    let set = this.#byTopic.get(sub.topic);
    if (!set) this.#byTopic.set(sub.topic, set = new Set());
    set.add(sub);
  }

  #remove(sub: Subscriber): void {
    const set = this.#byTopic.get(sub.topic);
    if (!set) return;
    set.delete(sub);
    if (set.size === 0) this.#byTopic.delete(sub.topic);
  }
}

/** Serves the broker on `port` of a daemon's session layer; returns the stop function. */
export function startEventStreamService(
  manager: Pick<ServiceSessions, "listen" | "unlisten">,
  port: number,
  options: EventBrokerOptions = {},
): () => void {
  const broker = new EventBroker(options);
  const log = options.log ?? new Logger("eventstream");
  return serveStreams(
    manager,
    port,
    (stream) => broker.handle(stream),
    (err) => log.debug("event-stream connection ended with an error", { err }),
  );
}
