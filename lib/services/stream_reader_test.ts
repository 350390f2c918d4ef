import fc from "fast-check";
import { assertEquals, assertRejects } from "../../tests/assert.ts";
import { StreamEndedError, StreamReader } from "./stream_reader.ts";
import { memoryStreamPair } from "./testing/memory_stream.ts";
import { StreamIoError } from "./byte_stream.ts";

Deno.test("StreamReader reassembles exact lengths across any chunking", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.uint8Array({ minLength: 1, maxLength: 600 }),
      fc.integer({ min: 1, max: 64 }),
      fc.array(fc.integer({ min: 0, max: 80 }), { minLength: 1, maxLength: 20 }),
      async (data, chunk, sizes) => {
        const { a, b } = memoryStreamPair({ chunkSize: chunk });
        await a.write(data);
        await a.close();
        const reader = new StreamReader(b);
        const got: number[] = [];
        let left = data.length;
        for (const size of sizes) {
          if (size > left) break;
          got.push(...await reader.readExact(size));
          left -= size;
        }
        const rest = await reader.readExact(left);
        got.push(...rest);
        assertEquals(new Uint8Array(got), data);
        assertEquals(await reader.readExactOrEnd(1), null);
      },
    ),
    { numRuns: 100 },
  );
});

Deno.test("StreamReader: end at a boundary is null, end mid-unit is StreamEndedError", async () => {
  const { a, b } = memoryStreamPair();
  await a.write(new Uint8Array([1, 2, 3]));
  await a.close();
  const reader = new StreamReader(b);
  assertEquals(await reader.readExactOrEnd(2), new Uint8Array([1, 2]));
  await assertRejects(() => reader.readExactOrEnd(4), StreamEndedError);
  assertEquals(reader.ended, true);
});

Deno.test("StreamReader.skip drops bytes and keeps the remainder", async () => {
  const { a, b } = memoryStreamPair({ chunkSize: 3 });
  await a.write(new Uint8Array([0, 1, 2, 3, 4, 5, 6, 7]));
  await a.close();
  const reader = new StreamReader(b);
  await reader.skip(5);
  assertEquals(await reader.readExact(3), new Uint8Array([5, 6, 7]));
  await assertRejects(() => reader.skip(1), StreamEndedError);
});

Deno.test("StreamReader passes the idle timeout to each chunk read", async () => {
  const { a, b } = memoryStreamPair();
  await a.write(new Uint8Array([9]));
  const reader = new StreamReader(b);
  await assertRejects(() => reader.readExact(2, { timeoutMs: 20 }), StreamIoError);
  await a.close();
});
