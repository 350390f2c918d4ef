/**
 * Reading event-stream events from a byte stream, shared by the broker and the client. Lengths
 * are checked before anything is buffered, and a payload may be charged to a {@link ByteBudget}
 * so one service bounds the memory all its connections hold.
 * @module
 */
import type { IoOptions } from "../byte_stream_shape.ts";
import type { ByteBudget } from "../byte_budget.ts";
import type { StreamReader } from "../stream_reader.ts";
import {
  checkPayloadLength,
  checkTopicLength,
  decodeTopic,
  EventStreamError,
  PAYLOAD_LENGTH_PREFIX,
  type StreamEvent,
  TOPIC_LENGTH_PREFIX,
} from "./codec.ts";

/** An event's payload did not fit the shared memory budget. */
export class EventBudgetError extends EventStreamError {}

/** Options of {@link readEvent}. */
export interface ReadEventOptions {
  /** Applies to the first byte of the event (the wait between events); default: no limit. */
  between?: IoOptions;
  /** Applies to every later read of the event (a stalled event). */
  within?: IoOptions;
  /** Charged with the payload length while it is read; released before returning. */
  budget?: ByteBudget;
}

/**
 * Reads one event, or null when the stream ends cleanly between events. Throws
 * `EventTooLargeError` for over-limit lengths, {@link EventBudgetError} when the payload does
 * not fit `budget`, `StreamEndedError` on truncation.
 */
export async function readEvent(
  reader: StreamReader,
  options: ReadEventOptions = {},
): Promise<StreamEvent | null> {
  const lengthBytes = await reader.readExactOrEnd(TOPIC_LENGTH_PREFIX, options.between);
  if (lengthBytes === null) return null;
  const topicLength = (lengthBytes[0] << 8) | lengthBytes[1];
  checkTopicLength(topicLength);
  const topic = decodeTopic(await reader.readExact(topicLength, options.within));
  const p = await reader.readExact(PAYLOAD_LENGTH_PREFIX, options.within);
  const payloadLength = ((p[0] << 24) | (p[1] << 16) | (p[2] << 8) | p[3]) >>> 0;
  checkPayloadLength(payloadLength);
  const budget = options.budget;
  if (budget && !budget.tryReserve(payloadLength)) {
    throw new EventBudgetError(`no memory for an event of ${payloadLength} bytes (${budget.used} in use)`);
  }
  try {
    return { topic, payload: await reader.readExact(payloadLength, options.within) };
  } finally {
    budget?.release(payloadLength);
  }
}
