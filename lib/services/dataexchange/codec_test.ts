import fc from "fast-check";
import { assert, assertEquals, assertThrows } from "../../../tests/assert.ts";
import {
  DataExchangeError,
  decodeFilePayload,
  decodeFrame,
  decodeFrameHeader,
  encodeFileFrame,
  encodeFrame,
  formatAck,
  formatRefusal,
  FrameTooLargeError,
  FrameType,
  MAX_PAYLOAD_LENGTH,
  parseAck,
  typeName,
} from "./codec.ts";

Deno.test("data-exchange frame layout matches docs/protocol/services.md §5", () => {
  const bytes = encodeFrame(FrameType.Text, new TextEncoder().encode("hi"));
  assertEquals([...bytes], [0, 0, 0, 1, 0, 0, 0, 2, 0x68, 0x69]);
  const file = encodeFileFrame(new TextEncoder().encode("a.txt"), new Uint8Array([7]));
  assertEquals([...file], [0, 0, 0, 4, 0, 0, 0, 8, 0, 5, 0x61, 0x2e, 0x74, 0x78, 0x74, 7]);
  assertEquals(typeName(1), "TEXT");
  assertEquals(typeName(2), "BINARY");
  assertEquals(typeName(3), "JSON");
  assertEquals(typeName(4), "FILE");
  assertEquals(typeName(99), "UNKNOWN(99)");
});

Deno.test("frames round-trip for every type and payload", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 0xffff_ffff }).filter((t) => t !== FrameType.File),
      fc.uint8Array({ maxLength: 300 }),
      (type, payload) => {
        const decoded = decodeFrame(encodeFrame(type, payload));
        assert(decoded);
        assertEquals(decoded.frame.type, type);
        assertEquals(decoded.frame.payload, payload);
        assertEquals(decoded.consumed, 8 + payload.length);
      },
    ),
  );
});

Deno.test("FILE frames round-trip name and data; an overrunning name makes nameless data", () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 60 }), fc.uint8Array({ maxLength: 200 }), (name, data) => {
      const nameBytes = new TextEncoder().encode(name);
      if (nameBytes.length > 255) return;
      const decoded = decodeFrame(encodeFileFrame(nameBytes, data));
      assert(decoded);
      assertEquals(decoded.frame.name, name);
      assertEquals(decoded.frame.payload, data);
    }),
  );
  const overrun = new Uint8Array([0, 9, 1, 2, 3]);
  assertEquals(decodeFilePayload(overrun), { nameBytes: null, data: overrun });
  assertEquals(decodeFilePayload(new Uint8Array([1])).nameBytes, null);
});

Deno.test("partial frames decode to null; oversized headers are refused", () => {
  const bytes = encodeFrame(FrameType.Binary, new Uint8Array(10));
  for (let n = 0; n < bytes.length; n++) assertEquals(decodeFrame(bytes.subarray(0, n)), null);
  const big = new Uint8Array([0, 0, 0, 1, 0x01, 0, 0, 1]);
  const err = assertThrows(() => decodeFrameHeader(big), FrameTooLargeError) as FrameTooLargeError;
  assertEquals(err.length, MAX_PAYLOAD_LENGTH + 1);
  assertEquals(err.type, 1);
  // Exactly 16 MiB is allowed, as the reference allows it.
  assertEquals(decodeFrameHeader(new Uint8Array([0, 0, 0, 2, 0x01, 0, 0, 0])).length, MAX_PAYLOAD_LENGTH);
  assertThrows(() => encodeFrame(1, new Uint8Array(MAX_PAYLOAD_LENGTH + 1)), FrameTooLargeError);
  assertThrows(() => encodeFileFrame(new Uint8Array(256), new Uint8Array(0)), DataExchangeError);
});

Deno.test("junk input raises only DataExchangeError", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (junk) => {
      try {
        decodeFrame(junk);
        decodeFilePayload(junk);
      } catch (err) {
        assert(err instanceof DataExchangeError, `unexpected ${err}`);
      }
    }),
    { numRuns: 2000 },
  );
});

Deno.test("acknowledgement texts format and parse", () => {
  assertEquals(formatAck(FrameType.Text, 5), "ACK TEXT 5 bytes");
  assertEquals(parseAck("ACK FILE 123 bytes"), {
    ok: true,
    text: "ACK FILE 123 bytes",
    typeName: "FILE",
    bytes: 123,
  });
  const refusal = formatRefusal(FrameType.File, "disk full");
  assertEquals(refusal, "ERR FILE save failed: disk full");
  assertEquals(parseAck(refusal).error, "disk full");
  assertEquals(parseAck(refusal).ok, false);
  assertEquals(parseAck("hello").ok, false);
});
