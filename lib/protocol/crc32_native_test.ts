import fc from "fast-check";
import { crc32 as zlibCrc32 } from "node:zlib";
import { assertEquals } from "../../tests/assert.ts";
import { crc32Simple } from "./checksum.ts";
import { nativeCrc32, openLibzCrc32 } from "./crc32_native.ts";

const libz = openLibzCrc32();

Deno.test("crc32_native: a Linux process with FFI uses the system zlib", () => {
  assertEquals(nativeCrc32.source, libz ? "libz" : "node:zlib");
});

Deno.test("crc32_native: libz, node:zlib and the JS loop agree, chained from any initial value", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 0, maxLength: 5000 }),
      fc.nat({ max: 0xffff_ffff }),
      (data, initial) => {
        const expected = crc32Simple(data, initial);
        assertEquals(nativeCrc32.crc32(data, initial), expected);
        assertEquals(zlibCrc32(data, initial) >>> 0, expected);
        if (libz) assertEquals(libz(data, initial), expected);
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("crc32_native: a subarray is checksummed from its own offset", () => {
  const data = crypto.getRandomValues(new Uint8Array(9000));
  const part = data.subarray(1234, 7000);
  assertEquals(nativeCrc32.crc32(part, 0), crc32Simple(part));
});
