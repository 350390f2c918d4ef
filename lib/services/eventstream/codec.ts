/**
 * Event-stream events (port 1002, docs/protocol/services.md §6), in the reference's binary framing rather than
 * the draft's text commands (§12): `u16 topic_len · topic (UTF-8) · u32 payload_len · payload`,
 * big-endian, topic at most 1024 bytes and payload at most 16 MiB. Pure codec: no I/O.
 * @module
 */
import { PilotError } from "../../errors.ts";

/** Longest topic in UTF-8 bytes. */
export const MAX_TOPIC_BYTES = 1024;
/** Largest event payload (2^24). */
export const MAX_EVENT_PAYLOAD = 1 << 24;
/** Bytes of the topic-length prefix. */
export const TOPIC_LENGTH_PREFIX = 2;
/** Bytes of the payload-length prefix. */
export const PAYLOAD_LENGTH_PREFIX = 4;
/** The topic that subscribes to every topic. */
export const WILDCARD_TOPIC = "*";

/** Base class of every event-stream failure. */
export class EventStreamError extends PilotError {}

/** An event's topic or payload is over its limit, or its topic is not UTF-8. */
export class EventTooLargeError extends EventStreamError {}

/** One event: a topic and opaque payload bytes. */
export interface StreamEvent {
  topic: string;
  payload: Uint8Array;
}

const encoder = new TextEncoder();
const strictDecoder = new TextDecoder("utf-8", { fatal: true });

/** Encodes an event into one buffer; throws {@link EventTooLargeError} over the limits. */
export function encodeEvent(event: StreamEvent): Uint8Array {
  const topic = encoder.encode(event.topic);
  checkTopicLength(topic.length);
  checkPayloadLength(event.payload.length);
  const out = new Uint8Array(
    TOPIC_LENGTH_PREFIX + topic.length + PAYLOAD_LENGTH_PREFIX + event.payload.length,
  );
  const view = new DataView(out.buffer);
  view.setUint16(0, topic.length);
  out.set(topic, TOPIC_LENGTH_PREFIX);
  view.setUint32(TOPIC_LENGTH_PREFIX + topic.length, event.payload.length);
  out.set(event.payload, TOPIC_LENGTH_PREFIX + topic.length + PAYLOAD_LENGTH_PREFIX);
  return out;
}

/** Throws {@link EventTooLargeError} when a topic length is over {@link MAX_TOPIC_BYTES}. */
export function checkTopicLength(length: number): void {
  if (length > MAX_TOPIC_BYTES) {
    throw new EventTooLargeError(`topic of ${length} bytes exceeds ${MAX_TOPIC_BYTES}`);
  }
}

/** Throws {@link EventTooLargeError} when a payload length is over {@link MAX_EVENT_PAYLOAD}. */
export function checkPayloadLength(length: number): void {
  if (length > MAX_EVENT_PAYLOAD) {
    throw new EventTooLargeError(`event payload of ${length} bytes exceeds ${MAX_EVENT_PAYLOAD}`);
  }
}

/** Decodes topic bytes; throws {@link EventStreamError} unless they are UTF-8. */
export function decodeTopic(bytes: Uint8Array): string {
  try {
    return strictDecoder.decode(bytes);
  } catch {
    throw new EventStreamError("event topic is not valid UTF-8");
  }
}

/**
 * Decodes one complete event from the start of `bytes`: the event and the bytes it used, or null
 * when `bytes` holds only part of one. Throws {@link EventStreamError} for an over-limit length or
 * a non-UTF-8 topic.
 */
export function decodeEvent(bytes: Uint8Array): { event: StreamEvent; consumed: number } | null {
  if (bytes.length < TOPIC_LENGTH_PREFIX) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const topicLength = view.getUint16(0);
  checkTopicLength(topicLength);
  const payloadAt = TOPIC_LENGTH_PREFIX + topicLength + PAYLOAD_LENGTH_PREFIX;
  if (bytes.length < payloadAt) return null;
  const payloadLength = view.getUint32(TOPIC_LENGTH_PREFIX + topicLength);
  checkPayloadLength(payloadLength);
  const consumed = payloadAt + payloadLength;
  if (bytes.length < consumed) return null;
  const topic = decodeTopic(bytes.subarray(TOPIC_LENGTH_PREFIX, TOPIC_LENGTH_PREFIX + topicLength));
  return { event: { topic, payload: bytes.subarray(payloadAt, consumed) }, consumed };
}
