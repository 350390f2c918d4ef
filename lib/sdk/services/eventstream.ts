/**
 * The application side of the event stream (docs/protocol/services.md §6): subscribe to a topic on a peer's
 * broker (port 1002), receive its events, and publish on the same connection. Works over any
 * {@link ByteStream}; {@link EventSubscription.open} dials through the SDK.
 * @module
 */
import { utf8 } from "../../bytes.ts";
import type { Address } from "../../protocol/address.ts";
import { PORT_EVENT_STREAM } from "../../protocol/ports.ts";
import type { PilotClient } from "../client.ts";
import type { ByteStream, IoOptions } from "../../services/byte_stream_shape.ts";
import { StreamReader } from "../../services/stream_reader.ts";
import { encodeEvent, type StreamEvent } from "../../services/eventstream/codec.ts";
import { readEvent } from "../../services/eventstream/io.ts";
import { closeQuietly, settleQuietly } from "../../errors.ts";

/** Options of {@link EventSubscription.open} and {@link publishEvent}. */
export interface EventStreamOptions extends IoOptions {
  /** Port to dial (default 1002). */
  port?: number;
}

/**
 * One broker connection: its subscription topic was sent when it was opened; `next()` (or
 * `for await`) yields forwarded events, `publish()` sends events to the broker's other
 * subscribers (never back to this connection).
 *
 * @example
 * ```ts
 * import { EventSubscription, type PilotClient } from "../../../mod.ts";
 * async function watch(client: PilotClient, peer: string): Promise<void> {
 *   const sub = await EventSubscription.open(client, peer, "alerts");
 *   for await (const event of sub) console.log(event.topic, new TextDecoder().decode(event.payload));
 * }
 * console.assert(typeof watch === "function");
 * ```
 */
export class EventSubscription {
  readonly topic: string;
  readonly #stream: ByteStream;
  readonly #reader: StreamReader;
  #writes: Promise<void> = Promise.resolve();

  /** Wraps a stream on which the subscription event has already been written (see {@link subscribe}). */
  private constructor(stream: ByteStream, topic: string) {
    this.#stream = stream;
    this.#reader = new StreamReader(stream);
    this.topic = topic;
  }

  /** Sends the subscription event for `topic` (`*` for every topic) on `stream`. */
  static async subscribe(stream: ByteStream, topic: string, options?: IoOptions): Promise<EventSubscription> {
    const frame = encodeEvent({ topic, payload: new Uint8Array(0) });
    await stream.write(frame, options);
    return new EventSubscription(stream, topic);
  }

  /** Dials `target`'s broker through the SDK and subscribes to `topic`. */
  static async open(
    client: PilotClient,
    target: Address | string,
    topic: string,
    options: EventStreamOptions = {},
  ): Promise<EventSubscription> {
    encodeEvent({ topic, payload: new Uint8Array(0) }); // refuse an over-long topic before dialing
    const conn = await client.dial(target, options.port ?? PORT_EVENT_STREAM, options);
    try {
      return await EventSubscription.subscribe(conn, topic, options);
    } catch (err) {
      await closeQuietly(conn);
      throw err;
    }
  }

  /** The next forwarded event, or null once the broker closed the connection. */
  next(options?: IoOptions): Promise<StreamEvent | null> {
    return readEvent(this.#reader, { between: options, within: options });
  }

  /** Publishes one event (text payloads are sent as UTF-8). */
  publish(topic: string, payload: Uint8Array | string, options?: IoOptions): Promise<void> {
    let frame: Uint8Array;
    try {
      frame = encodeEvent({ topic, payload: typeof payload === "string" ? utf8(payload) : payload });
    } catch (err) {
      return Promise.reject(err);
    }
    const write = this.#writes.then(() => this.#stream.write(frame, options));
    this.#writes = settleQuietly(write, "reported elsewhere");
    return write;
  }

  /** Closes the connection (the broker drops the subscription). */
  close(): Promise<void> {
    return this.#stream.close();
  }

  /** Yields events until the broker closes the connection. */
  async *[Symbol.asyncIterator](): AsyncGenerator<StreamEvent> {
    for (;;) {
      const event = await this.next();
      if (event === null) return;
      yield event;
    }
  }
}

/**
 * Publishes one event to `target`'s broker the way `pilot publish` does: subscribe to `topic`,
 * publish on it, close (the broker never echoes to the publisher).
 *
 * @example
 * ```ts
 * import { type PilotClient, publishEvent } from "../../../mod.ts";
 * async function alert(client: PilotClient, peer: string, text: string): Promise<void> {
 *   await publishEvent(client, peer, "alerts", text, { timeoutMs: 10_000 });
 * }
 * console.assert(typeof alert === "function");
 * ```
 */
export async function publishEvent(
  client: PilotClient,
  target: Address | string,
  topic: string,
  payload: Uint8Array | string,
  options: EventStreamOptions = {},
): Promise<void> {
  const sub = await EventSubscription.open(client, target, topic, options);
  try {
    await sub.publish(topic, payload, options);
  } finally {
    await closeQuietly(sub);
  }
}
