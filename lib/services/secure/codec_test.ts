import fc from "fast-check";
import { assert, assertEquals, assertThrows } from "../../../tests/assert.ts";
import {
  AUTH_LABEL,
  AUTH_MESSAGE_LENGTH,
  authSignedBytes,
  decodeAuthMessage,
  decodeFrameLength,
  decodeSecureFrame,
  encodeAuthMessage,
  encodeSecureFrame,
  MAX_FRAME_BODY,
  MIN_FRAME_BODY,
  SecureChannelError,
  SecureFrameError,
} from "./codec.ts";

Deno.test("secure frames round-trip and lengths outside 28..16 MiB are refused", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 12, maxLength: 12 }),
      fc.uint8Array({ minLength: 16, maxLength: 300 }),
      (nonce, ct) => {
        const bytes = encodeSecureFrame(nonce, ct);
        assertEquals(decodeFrameLength(bytes), 12 + ct.length);
        const decoded = decodeSecureFrame(bytes);
        assert(decoded);
        assertEquals(decoded.nonce, nonce);
        assertEquals(decoded.ciphertextWithTag, ct);
        assertEquals(decoded.consumed, bytes.length);
        assertEquals(decodeSecureFrame(bytes.subarray(0, bytes.length - 1)), null);
      },
    ),
  );
  const prefix = (n: number) => new Uint8Array([n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
  assertThrows(() => decodeFrameLength(prefix(MIN_FRAME_BODY - 1)), SecureFrameError);
  assertThrows(() => decodeFrameLength(prefix(MAX_FRAME_BODY + 1)), SecureFrameError);
  assertEquals(decodeFrameLength(prefix(MAX_FRAME_BODY)), MAX_FRAME_BODY);
  assertThrows(() => encodeSecureFrame(new Uint8Array(11), new Uint8Array(16)), SecureFrameError);
});

Deno.test("auth messages are 92 bytes and round-trip", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 0xffff_ffff }),
      fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
      fc.uint8Array({ minLength: 16, maxLength: 16 }),
      fc.uint8Array({ minLength: 64, maxLength: 64 }),
      (nodeId, timestamp, nonce, signature) => {
        const bytes = encodeAuthMessage({ nodeId, timestamp, nonce, signature });
        assertEquals(bytes.length, AUTH_MESSAGE_LENGTH);
        assertEquals(decodeAuthMessage(bytes), { nodeId, timestamp, nonce, signature });
      },
    ),
  );
  assertThrows(() => decodeAuthMessage(new Uint8Array(91)), SecureFrameError);
});

Deno.test("the signed bytes are label · node id · X25519 key · timestamp · nonce", () => {
  const bytes = authSignedBytes(0x01020304, new Uint8Array(32).fill(7), 0x0506n, new Uint8Array(16).fill(9));
  const label = new TextEncoder().encode(AUTH_LABEL);
  assertEquals(bytes.subarray(0, label.length), label);
  assertEquals([...bytes.subarray(label.length, label.length + 4)], [1, 2, 3, 4]);
  assertEquals(bytes[label.length + 4], 7);
  assertEquals([...bytes.subarray(label.length + 36, label.length + 44)], [0, 0, 0, 0, 0, 0, 5, 6]);
  assertEquals(bytes.length, label.length + 4 + 32 + 8 + 16);
});

Deno.test("junk input raises only SecureChannelError", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 120 }), (junk) => {
      for (
        const f of [
          () => decodeSecureFrame(junk),
          () => decodeAuthMessage(junk),
          () => decodeFrameLength(junk),
        ]
      ) {
        try {
          f();
        } catch (err) {
          assert(err instanceof SecureChannelError, `unexpected ${err}`);
        }
      }
    }),
    { numRuns: 2000 },
  );
});
