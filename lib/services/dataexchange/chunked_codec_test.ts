import fc from "fast-check";
import { assertEquals, assertThrows } from "../../../tests/assert.ts";
import {
  ChunkedFrameError,
  ChunkedFrameType,
  decodeChunk,
  decodeEnd,
  decodeOffer,
  decodeResume,
  encodeChunk,
  encodeOffer,
  encodeResume,
  isChunkedFrameType,
  MAX_CHUNK_DATA_BYTES,
  MAX_OFFER_BYTES,
} from "./chunked_codec.ts";
import { FrameType } from "./codec.ts";

const digest = new Uint8Array(32).fill(0xab);

Deno.test("chunked offer layout: u64 size · 32-byte SHA-256 · u16 name length · name", () => {
  const bytes = encodeOffer({
    size: 0x1_0000_0002,
    sha256: digest,
    nameBytes: new TextEncoder().encode("a"),
  });
  assertEquals([...bytes.subarray(0, 8)], [0, 0, 0, 1, 0, 0, 0, 2]);
  assertEquals(bytes.subarray(8, 40), digest);
  assertEquals([...bytes.subarray(40)], [0, 1, 0x61]);
  assertEquals([...encodeResume(258)], [0, 0, 0, 0, 0, 0, 1, 2]);
  assertEquals([...encodeChunk({ offset: 1, data: new Uint8Array([9]) })], [0, 0, 0, 0, 0, 0, 0, 1, 9]);
  // The type numbers are far from the reference's 1…4, which a reference receiver knows.
  for (const t of Object.values(ChunkedFrameType)) assertEquals(isChunkedFrameType(t), true);
  for (const t of Object.values(FrameType)) assertEquals(isChunkedFrameType(t), false);
});

Deno.test("chunked frames round-trip", () => {
  fc.assert(fc.property(
    fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
    fc.uint8Array({ minLength: 32, maxLength: 32 }),
    fc.uint8Array({ maxLength: 255 }),
    fc.uint8Array({ minLength: 1, maxLength: 2000 }),
    (size, sha256, nameBytes, data) => {
      assertEquals(decodeOffer(encodeOffer({ size, sha256, nameBytes })), { size, sha256, nameBytes });
      assertEquals(decodeResume(encodeResume(size)), size);
      const chunk = decodeChunk(encodeChunk({ offset: size, data }));
      assertEquals([chunk.offset, chunk.data], [size, data]);
    },
  ));
});

Deno.test("chunked decoders refuse malformed payloads with ChunkedFrameError", () => {
  const offer = encodeOffer({ size: 5, sha256: digest, nameBytes: new TextEncoder().encode("x.bin") });
  assertThrows(() => decodeOffer(offer.subarray(0, offer.length - 1)), ChunkedFrameError, /name length/);
  assertThrows(() => decodeOffer(new Uint8Array([...offer, 0])), ChunkedFrameError, /name length/);
  assertThrows(() => decodeOffer(offer.subarray(0, 41)), ChunkedFrameError, /at least/);
  const huge = offer.slice();
  huge[0] = 0xff; // size 2^63-ish: beyond what a JS number holds exactly
  assertThrows(() => decodeOffer(huge), ChunkedFrameError, /2\^53-1/);
  const longName = offer.slice();
  longName[40] = 1; // name length 256+
  assertThrows(() => decodeOffer(longName), ChunkedFrameError, /exceeds 255/);
  assertThrows(() => decodeResume(new Uint8Array(7)), ChunkedFrameError);
  assertThrows(() => decodeChunk(new Uint8Array(8)), ChunkedFrameError, /1 to/);
  assertThrows(() => decodeChunk(new Uint8Array(8 + MAX_CHUNK_DATA_BYTES + 1)), ChunkedFrameError, /1 to/);
  assertThrows(() => decodeEnd(new Uint8Array(1)), ChunkedFrameError);
  assertThrows(() => encodeChunk({ offset: 0, data: new Uint8Array(0) }), ChunkedFrameError);
  assertThrows(
    () => encodeOffer({ size: -1, sha256: digest, nameBytes: new Uint8Array() }),
    ChunkedFrameError,
  );
  assertThrows(
    () => encodeOffer({ size: 1, sha256: digest.subarray(1), nameBytes: new Uint8Array() }),
    ChunkedFrameError,
  );
  assertEquals(MAX_OFFER_BYTES, 8 + 32 + 2 + 255);
});

Deno.test("chunked decoders on arbitrary bytes: a value or ChunkedFrameError, nothing else", () => {
  const decoders = [decodeOffer, decodeResume, decodeChunk, decodeEnd];
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 400 }), fc.nat(3), (bytes, which) => {
      try {
        decoders[which](bytes);
      } catch (err) {
        if (!(err instanceof ChunkedFrameError)) throw err;
      }
    }),
    { numRuns: 2000 },
  );
});
