/** Handshake message codec: round trips, the reference's shape, strict field types, clock window, fuzz. */
import fc from "fast-check";
import { assert, assertEquals, assertThrows } from "../../../tests/assert.ts";
import { utf8 } from "../../bytes.ts";
import {
  canonicalText,
  decodeHandshake,
  encodeHandshake,
  freshness,
  HandshakeCodecError,
  type HandshakeMessage,
  handshakeSigningText,
  HandshakeType,
  MAX_CLOCK_AHEAD_S,
  MAX_MESSAGE_AGE_S,
  MAX_MESSAGE_BYTES,
  replayKey,
} from "./codec.ts";

const sample: HandshakeMessage = {
  type: HandshakeType.Request,
  node_id: 7,
  public_key: "AAAA",
  justification: "let me in",
  signature: "c2ln",
  reason: "",
  timestamp: 1_700_000_000,
};

const arbMessage: fc.Arbitrary<HandshakeMessage> = fc.record({
  type: fc.oneof(fc.constantFrom(...Object.values(HandshakeType)), fc.string({ maxLength: 20 })),
  node_id: fc.integer({ min: 0, max: 0xffff_ffff }),
  public_key: fc.base64String({ maxLength: 64 }),
  justification: fc.string({ maxLength: 300, unit: "grapheme" }),
  signature: fc.base64String({ maxLength: 100 }),
  reason: fc.string({ maxLength: 100 }),
  timestamp: fc.integer({ min: -(2 ** 40), max: 2 ** 40 }),
});

Deno.test("codec: the wire form has the reference's seven keys in its order", () => {
  const text = new TextDecoder().decode(encodeHandshake(sample));
  assertEquals(
    text,
    '{"type":"handshake_request","node_id":7,"public_key":"AAAA","justification":"let me in",' +
      '"signature":"c2ln","reason":"","timestamp":1700000000}',
  );
  assertEquals(text, canonicalText(sample));
});

Deno.test("codec: round trip of any valid message", () => {
  fc.assert(fc.property(arbMessage, (m) => {
    assertEquals(decodeHandshake(encodeHandshake(m)), { ...m });
  }));
});

Deno.test("codec: missing keys and nulls decode as zero values, unknown keys are ignored", () => {
  assertEquals(decodeHandshake(utf8('{"type":"handshake_accept","extra":[1,2],"reason":null}')), {
    type: "handshake_accept",
    node_id: 0,
    public_key: "",
    justification: "",
    signature: "",
    reason: "",
    timestamp: 0,
  });
});

Deno.test("codec: wrong field types and out-of-range numbers are refused", () => {
  const bad = [
    '{"type":1}',
    '{"node_id":"7"}',
    '{"node_id":-1}',
    '{"node_id":4294967296}',
    '{"node_id":1.5}',
    '{"timestamp":1.5}',
    '{"timestamp":"now"}',
    '{"timestamp":1e300}',
    '{"public_key":{}}',
    '{"signature":[]}',
    '{"justification":true}',
    "[]",
    "null",
    '"handshake_request"',
    "{",
    "",
  ];
  for (const text of bad) assertThrows(() => decodeHandshake(utf8(text)), HandshakeCodecError);
});

Deno.test("codec: invalid UTF-8 and oversized messages are refused", () => {
  assertThrows(() => decodeHandshake(new Uint8Array([0x7b, 0xff, 0x7d])), HandshakeCodecError, /UTF-8/);
  const big = utf8(JSON.stringify({ ...sample, justification: "x".repeat(MAX_MESSAGE_BYTES) }));
  assertThrows(() => decodeHandshake(big), HandshakeCodecError, /longer than/);
  assertThrows(
    () => encodeHandshake({ ...sample, justification: "x".repeat(MAX_MESSAGE_BYTES) }),
    HandshakeCodecError,
    /segment/,
  );
  assertThrows(() => encodeHandshake({ ...sample, node_id: 2 ** 32 }), HandshakeCodecError, /u32/);
  assertThrows(() => encodeHandshake({ ...sample, timestamp: 0.5 }), HandshakeCodecError, /timestamp/);
});

Deno.test("codec: random bytes raise only HandshakeCodecError", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: MAX_MESSAGE_BYTES + 16 }), (bytes) => {
      try {
        decodeHandshake(bytes);
      } catch (err) {
        assert(err instanceof HandshakeCodecError, `unexpected ${err}`);
      }
    }),
    { numRuns: 2000 },
  );
});

Deno.test("codec: random JSON values and truncated messages raise only HandshakeCodecError", () => {
  fc.assert(
    fc.property(fc.jsonValue(), (v) => {
      try {
        const m = decodeHandshake(utf8(JSON.stringify(v) ?? ""));
        assertEquals(typeof m.type, "string");
      } catch (err) {
        assert(err instanceof HandshakeCodecError, `unexpected ${err}`);
      }
    }),
    { numRuns: 1000 },
  );
  fc.assert(
    fc.property(arbMessage, fc.nat(), (m, cut) => {
      const bytes = encodeHandshake(m);
      const part = bytes.subarray(0, cut % bytes.length);
      try {
        decodeHandshake(part);
      } catch (err) {
        assert(err instanceof HandshakeCodecError, `unexpected ${err}`);
      }
    }),
  );
});

Deno.test("codec: the clock window is 5 minutes back and 30 seconds ahead", () => {
  const now = 1_700_000_000;
  assertEquals(freshness(now, now), "fresh");
  assertEquals(freshness(now - MAX_MESSAGE_AGE_S, now), "fresh");
  assertEquals(freshness(now - MAX_MESSAGE_AGE_S - 1, now), "too-old");
  assertEquals(freshness(now + MAX_CLOCK_AHEAD_S, now), "fresh");
  assertEquals(freshness(now + MAX_CLOCK_AHEAD_S + 1, now), "future");
});

Deno.test("codec: replay key is a hash of the canonical form (key order and spacing do not matter)", () => {
  const shuffled = utf8(
    ' { "timestamp":1700000000, "reason":"", "signature":"c2ln", "justification":"let me in",' +
      ' "public_key":"AAAA", "node_id":7, "type":"handshake_request" } ',
  );
  assertEquals(replayKey(decodeHandshake(shuffled)), replayKey(sample));
  assertEquals(replayKey(sample).length, 64);
  assert(replayKey({ ...sample, timestamp: sample.timestamp + 1 }) !== replayKey(sample));
});

Deno.test("codec: the signed text is handshake:<sender>:<receiver> in decimal", () => {
  assertEquals(handshakeSigningText(7, 4294967295), "handshake:7:4294967295");
});
