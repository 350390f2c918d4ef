import fc from "fast-check";
import { assertEquals, assertThrows } from "../../tests/assert.ts";
import { utf8 } from "../bytes.ts";
import { crc32, crc32Range, crc32Segments, crc32Simple } from "./checksum.ts";

Deno.test("CRC-32/IEEE check value: '123456789' → 0xCBF43926", () => {
  assertEquals(crc32(utf8("123456789")), 0xcbf43926);
  assertEquals(crc32Simple(utf8("123456789")), 0xcbf43926);
});

Deno.test("known values (zlib.crc32)", () => {
  assertEquals(crc32(new Uint8Array(0)), 0);
  assertEquals(crc32(utf8("a")), 0xe8b7be43);
  assertEquals(crc32(utf8("The quick brown fox jumps over the lazy dog")), 0x414fa339);
  assertEquals(crc32(new Uint8Array(32)), 0x190a55ad);
});

Deno.test("chaining, ranges and segments agree with the one-shot value", () => {
  const data = utf8("123456789");
  assertEquals(crc32(data.subarray(4), crc32(data.subarray(0, 4))), 0xcbf43926);
  assertEquals(crc32Range(data, 0, 9), 0xcbf43926);
  assertEquals(crc32Range(data, 3, 9, crc32Range(data, 0, 3)), 0xcbf43926);
  assertEquals(crc32Segments([data.subarray(0, 2), new Uint8Array(0), data.subarray(2)]), 0xcbf43926);
  assertThrows(() => crc32Range(data, 5, 4), RangeError);
  assertThrows(() => crc32Range(data, 0, 10), RangeError);
});

Deno.test("property: slice-by-16 equals the one-table loop; splitting anywhere does not change the result", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 100 }), fc.nat(), (data, at) => {
      const whole = crc32(data);
      assertEquals(whole, crc32Simple(data));
      const k = at % (data.length + 1);
      assertEquals(crc32(data.subarray(k), crc32(data.subarray(0, k))), whole);
      assertEquals(crc32Range(data, k, data.length, crc32Range(data, 0, k)), whole);
    }),
    { numRuns: 1000 },
  );
});
