import fc from "fast-check";
import { assert, assertEquals, assertThrows } from "../../../tests/assert.ts";
import {
  decodeEvent,
  encodeEvent,
  EventStreamError,
  EventTooLargeError,
  MAX_EVENT_PAYLOAD,
  MAX_TOPIC_BYTES,
} from "./codec.ts";

Deno.test("event layout matches docs/protocol/services.md §6", () => {
  const bytes = encodeEvent({ topic: "ab", payload: new Uint8Array([9]) });
  assertEquals([...bytes], [0, 2, 0x61, 0x62, 0, 0, 0, 1, 9]);
});

Deno.test("events round-trip any UTF-8 topic and payload", () => {
  fc.assert(
    fc.property(
      fc.string({ maxLength: 200, unit: "grapheme" }),
      fc.uint8Array({ maxLength: 300 }),
      (topic, payload) => {
        const bytes = encodeEvent({ topic, payload });
        const decoded = decodeEvent(bytes);
        assert(decoded);
        assertEquals(decoded.event.topic, topic);
        assertEquals(decoded.event.payload, payload);
        assertEquals(decoded.consumed, bytes.length);
        for (const cut of [0, 1, bytes.length - 1]) {
          if (cut < bytes.length) assertEquals(decodeEvent(bytes.subarray(0, cut)), null);
        }
      },
    ),
  );
});

Deno.test("over-limit topics and payloads are refused both ways", () => {
  assertThrows(
    () => encodeEvent({ topic: "x".repeat(MAX_TOPIC_BYTES + 1), payload: new Uint8Array(0) }),
    EventTooLargeError,
  );
  encodeEvent({ topic: "x".repeat(MAX_TOPIC_BYTES), payload: new Uint8Array(0) });
  assertThrows(() => decodeEvent(new Uint8Array([0x04, 0x01])), EventTooLargeError);
  const big = new Uint8Array([0, 0, 0x01, 0, 0, 1]);
  assertThrows(() => decodeEvent(big), EventTooLargeError, new RegExp(String(MAX_EVENT_PAYLOAD)));
  assertThrows(() => decodeEvent(new Uint8Array([0, 1, 0xff, 0, 0, 0, 0])), EventStreamError, /UTF-8/);
});

Deno.test("junk input raises only EventStreamError", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (junk) => {
      try {
        decodeEvent(junk);
      } catch (err) {
        assert(err instanceof EventStreamError, `unexpected ${err}`);
      }
    }),
    { numRuns: 2000 },
  );
  // Small lengths so that the topic and payload paths are actually reached.
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 8 }), fc.uint8Array({ maxLength: 20 }), (tl, rest) => {
      try {
        decodeEvent(new Uint8Array([0, tl, ...rest]));
      } catch (err) {
        assert(err instanceof EventStreamError, `unexpected ${err}`);
      }
    }),
    { numRuns: 2000 },
  );
});
