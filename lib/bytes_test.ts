import fc from "fast-check";
import { assertEquals, assertThrows } from "../tests/assert.ts";
import { fromBase64, readU16, readU32, readU64, toBase64, writeU16, writeU32, writeU64 } from "./bytes.ts";

Deno.test("bytes: u16/u32/u64 round-trip edge values big-endian at an offset", () => {
  const buf = new Uint8Array(11);
  for (const v of [0, 1, 0x7fff, 0x8000, 0xffff]) {
    writeU16(buf, 1, v);
    assertEquals(readU16(buf, 1), v);
  }
  for (const v of [0, 1, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff]) {
    writeU32(buf, 3, v);
    assertEquals(readU32(buf, 3), v); // never negative, even with the top bit set
  }
  for (const v of [0n, 1n, 0xffff_ffffn, 0x1_0000_0000n, 0x8000_0000_0000_0000n, 0xffff_ffff_ffff_ffffn]) {
    writeU64(buf, 3, v);
    assertEquals(readU64(buf, 3), v);
  }
});

Deno.test("bytes: byte order matches DataView's big-endian", () => {
  const buf = new Uint8Array(8);
  writeU32(buf, 0, 0x01020304);
  writeU16(buf, 4, 0x0506);
  assertEquals([...buf.subarray(0, 6)], [1, 2, 3, 4, 5, 6]);
  writeU64(buf, 0, 0x0102030405060708n);
  assertEquals(new DataView(buf.buffer).getBigUint64(0), 0x0102030405060708n);
  const view = new Uint8Array(buf.buffer, 2, 4); // a subarray: offsets are relative to it
  assertEquals(readU32(view, 0), 0x03040506);
});

Deno.test("bytes: writes keep the low bits of out-of-range values", () => {
  const buf = new Uint8Array(8);
  writeU16(buf, 0, 0x1_2345);
  assertEquals(readU16(buf, 0), 0x2345);
  writeU32(buf, 0, -1);
  assertEquals(readU32(buf, 0), 0xffff_ffff);
  writeU64(buf, 0, -1n);
  assertEquals(readU64(buf, 0), 0xffff_ffff_ffff_ffffn);
});

Deno.test("bytes: a field past the end throws RangeError and writes nothing", () => {
  const buf = new Uint8Array(7);
  assertThrows(() => readU16(buf, 6), RangeError);
  assertThrows(() => readU32(buf, 4), RangeError);
  assertThrows(() => readU64(buf, 0), RangeError);
  assertThrows(() => readU32(buf, -1), RangeError);
  assertThrows(() => writeU32(buf, 4, 1), RangeError);
  assertThrows(() => writeU64(buf, 0, 0xffn), RangeError);
  assertThrows(() => writeU16(buf, Number.NaN, 1), RangeError);
  assertEquals([...buf], [0, 0, 0, 0, 0, 0, 0]);
});

Deno.test("bytes: base64 matches RFC 4648's vectors and round-trips any bytes, subarrays included", () => {
  const vectors: [string, string][] = [
    ["", ""],
    ["f", "Zg=="],
    ["fo", "Zm8="],
    ["foo", "Zm9v"],
    ["foob", "Zm9vYg=="],
    ["fooba", "Zm9vYmE="],
    ["foobar", "Zm9vYmFy"],
  ];
  const text = new TextEncoder();
  for (const [plain, encoded] of vectors) {
    assertEquals(toBase64(text.encode(plain)), encoded);
    assertEquals([...fromBase64(encoded)], [...text.encode(plain)]);
  }
  assertEquals(toBase64(new Uint8Array([0xfb, 0xff, 0xbf])), "+/+/"); // the standard alphabet
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(8), (bytes, skip) => {
      const view = bytes.subarray(Math.min(skip, bytes.length));
      const encoded = toBase64(view);
      assertEquals(encoded, btoa(String.fromCharCode(...view)));
      assertEquals([...fromBase64(encoded)], [...view]);
    }),
  );
});

Deno.test("bytes: fromBase64 refuses malformed text with a TypeError", () => {
  for (const bad of ["Q", "QQ=", "a-_b", "!!!!", "Q==="]) assertThrows(() => fromBase64(bad), TypeError);
});
