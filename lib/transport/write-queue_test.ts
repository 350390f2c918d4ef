import fc from "fast-check";
import { assert, assertEquals, assertThrows } from "../../tests/assert.ts";
import { WriteQueue } from "./write-queue.ts";

Deno.test("write-queue: segments inside one chunk are views, spanning ones are copies", () => {
  const q = new WriteQueue();
  const big = new Uint8Array(10_000).map((_, i) => i & 0xff);
  q.push(big);
  const a = q.take(4096);
  assert(a.buffer === big.buffer);
  q.push(Uint8Array.of(1, 2, 3));
  q.take(4096);
  const tail = q.take(1808 + 2); // 1808 from big + 2 from the small chunk
  assert(tail.buffer !== big.buffer);
  assertEquals(tail[1808], 1);
  assertEquals(q.length, 1);
  assertEquals(q.byteAt(0), 3);
  assertEquals(q.byteAt(1), -1);
  assertThrows(() => q.take(2), RangeError);
  q.clear();
  assertEquals(q.length, 0);
});

Deno.test("write-queue: any writes and takes reproduce the byte stream", () => {
  fc.assert(fc.property(
    fc.array(fc.integer({ min: 0, max: 300 }), { maxLength: 30 }),
    fc.array(fc.integer({ min: 1, max: 500 }), { maxLength: 60 }),
    (writes, takes) => {
      const q = new WriteQueue();
      let written = 0, read = 0;
      for (const n of writes) {
        q.push(Uint8Array.from({ length: n }, (_, j) => (written + j) % 251));
        written += n;
      }
      for (const t of takes) {
        if (q.length === 0) break;
        const n = Math.min(t, q.length);
        assertEquals(q.byteAt(0), read % 251);
        const got = q.take(n);
        assertEquals(got.length, n);
        for (let j = 0; j < n; j++) assert(got[j] === (read + j) % 251);
        read += n;
        assertEquals(q.length, written - read);
      }
    },
  ));
});
